"""hf_reft.data: tokenization with prompt masking, the collator, named sets, the leak check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from datasets import Dataset

from hf_reft.data import (
    IGNORE_INDEX,
    DataLeakError,
    SupervisedCollator,
    check_no_overlap,
    load_data,
    normalize_question,
    prepare_supervised_dataset,
    tokenize_example,
)
from hf_reft.data.sources import resolve_data_file

from tiny_models import make_tokenizer

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="module")
def tok():
    return make_tokenizer()


def test_prompt_is_masked_and_eos_appended(tok):
    ex = tokenize_example(tok, "Question: 3 + 5\n", "8")
    prompt_ids = tok("Question: 3 + 5\n")["input_ids"]
    response_ids = tok("8", add_special_tokens=False)["input_ids"]
    assert ex["input_ids"] == prompt_ids + response_ids + [tok.eos_token_id]
    assert ex["labels"] == [IGNORE_INDEX] * len(prompt_ids) + response_ids + [tok.eos_token_id]
    assert ex["prompt_length"] == len(prompt_ids)
    assert ex["attention_mask"] == [1] * len(ex["input_ids"])


def test_chat_messages_use_the_template(tok):
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    ex = tokenize_example(tok, messages=messages)
    prompt = tok.apply_chat_template(messages[:1], tokenize=False, add_generation_prompt=True)
    n = len(tok(prompt, add_special_tokens=False)["input_ids"])
    assert ex["prompt_length"] == n
    assert tok.decode(ex["input_ids"][n:-1]) == "hello"
    with pytest.raises(ValueError, match="must end with the assistant"):
        tokenize_example(tok, messages=messages[:1])


def test_truncation_keeps_prompt_tail(tok):
    ex = tokenize_example(tok, "The quick brown fox jumps over the lazy dog", "8 9 0 1 2", max_length=6)
    assert len(ex["input_ids"]) == 6
    long_prompt = tokenize_example(tok, "The quick brown fox jumps over the lazy dog " * 3, "8", max_length=5)
    assert long_prompt["prompt_length"] == 4 and len(long_prompt["input_ids"]) == 5


def test_prepare_dataset_with_template_and_errors(tok):
    ds = Dataset.from_list(
        [{"question": "3 + 5", "answer_cot": "8"}, {"question": "1 + 1", "answer_cot": "2"}]
    )
    out = prepare_supervised_dataset(
        ds, tok, prompt_template="Question:\n{question}\nAnswer reasoning:\n", response_column="answer_cot"
    )
    assert out.column_names == ["input_ids", "attention_mask", "labels", "prompt_length"]
    assert tok.decode(out[0]["input_ids"][: out[0]["prompt_length"]]).startswith("Question:\n3 + 5")
    with pytest.raises(ValueError, match=r"Columns \['answer'\] not in the dataset"):
        prepare_supervised_dataset(ds, tok, prompt_column="question", response_column="answer")
    with pytest.raises(ValueError, match="names column 'nope'"):
        prepare_supervised_dataset(ds, tok, prompt_template="{nope}", response_column="answer_cot")
    chat = prepare_supervised_dataset(
        ds, tok, prompt_column="question", response_column="answer_cot", use_chat_template=True
    )
    assert tok.decode(chat[0]["input_ids"]).startswith("<s>user\n3 + 5</s>")


@pytest.mark.parametrize("side", ["left", "right"])
def test_collator_pads_either_side(tok, side):
    a = tokenize_example(tok, "Question: 3", "8")
    b = tokenize_example(tok, "Question: 3 + 5 + 6 + 7", "21")
    batch = SupervisedCollator.for_tokenizer(tok, padding_side=side, return_prompt_lengths=True)([a, b])
    n = len(b["input_ids"])
    assert batch["input_ids"].shape == (2, n) and batch["labels"].shape == (2, n)
    pad = n - len(a["input_ids"])
    row = batch["input_ids"][0].tolist()
    if side == "right":
        assert (
            row[: len(a["input_ids"])] == a["input_ids"]
            and row[len(a["input_ids"]) :] == [tok.pad_token_id] * pad
        )
        assert batch["attention_mask"][0].tolist() == [1] * len(a["input_ids"]) + [0] * pad
    else:
        assert row[pad:] == a["input_ids"] and row[:pad] == [tok.pad_token_id] * pad
        assert batch["labels"][0, :pad].tolist() == [IGNORE_INDEX] * pad
    assert batch["prompt_lengths"].tolist() == [a["prompt_length"], b["prompt_length"]]


def test_collator_classification_labels_and_bad_side(tok):
    batch = SupervisedCollator(pad_token_id=0)(
        [{"input_ids": [5, 6], "labels": 1}, {"input_ids": [5], "labels": 0}]
    )
    assert batch["labels"].tolist() == [1, 0]
    with pytest.raises(ValueError, match="padding_side"):
        SupervisedCollator(pad_token_id=0, padding_side="middle")


def test_normalisation():
    assert normalize_question("Julia played tag with 16 kids on Monday.") == normalize_question(
        "julia played tag with 16 kids on monday ."
    )
    assert normalize_question("It costs $1,000.00!") == "it costs 1000"


def test_leak_check_refuses_math10k_against_svamp_test():
    train = json.loads((SHARED / "llm-adapters" / "math_data.json").read_text())
    test = json.loads((SHARED / "mwp-reft" / "svamp_test_set.json").read_text())
    with pytest.raises(DataLeakError, match=r"\d+ questions of math10k are also in svamp-test") as err:
        check_no_overlap(
            [r["instruction"] for r in train],
            [r["question"] for r in test],
            train_name="math10k",
            test_name="svamp-test",
        )
    leaked = int(str(err.value).split()[0])
    assert leaked >= 700  # the data README counts 800 of SVAMP's 1,000


def test_clean_pair_passes():
    train = json.loads((SHARED / "mwp-reft" / "svamp_nl.json").read_text())
    test = json.loads((SHARED / "mwp-reft" / "svamp_test_set.json").read_text())
    check_no_overlap([r["question"] for r in train], [r["question"] for r in test])


def test_named_sets(monkeypatch):
    ds, spec = load_data("svamp-test", SHARED, limit=5)
    assert len(ds) == 5 and spec.question == "question" and spec.benchmark == "svamp"
    with pytest.raises(FileNotFoundError, match="Named sets:"):
        resolve_data_file("no-such-set")
    monkeypatch.delenv("HF_REFT_DATA_DIR", raising=False)
    monkeypatch.chdir("/")
    with pytest.raises(FileNotFoundError, match="--data-dir"):
        resolve_data_file("svamp-test")
    with pytest.raises(ValueError, match="limit must be positive"):
        load_data("svamp-test", SHARED, limit=0)
