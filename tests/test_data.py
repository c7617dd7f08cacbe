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
    hold_out_questions,
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


def test_held_out_questions_take_every_row_of_a_question_and_only_those():
    rows = [
        {"question": "Tom has 3 apples.", "answer_cot": "a"},
        {"question": "tom has 3 apples", "answer_cot": "b"},  # the same question, another solution
        *({"question": f"Question {i}?", "answer_cot": "c"} for i in range(20)),
    ]
    data = Dataset.from_list(rows)
    train, held = hold_out_questions(data, "question", 5, seed=3)
    assert len({normalize_question(q) for q in held["question"]}) == 5
    assert len(train) + len(held) == len(data)
    check_no_overlap(train["question"], held["question"])  # the leak rule agrees
    again, held_again = hold_out_questions(data, "question", 5, seed=3)
    assert held_again["question"] == held["question"] and again["question"] == train["question"]
    other = hold_out_questions(data, "question", 5, seed=4)[1]
    assert other["question"] != held["question"]
    with pytest.raises(ValueError, match="21 distinct questions; choose a size between 1 and 20"):
        hold_out_questions(data, "question", 21)
    with pytest.raises(ValueError, match="No column 'instruction'"):
        hold_out_questions(data, "instruction", 2)


def test_svamp_program_validation_questions_are_held_out_whole():
    data = Dataset.from_list(json.loads((SHARED / "mwp-reft" / "svamp_python_sdp.json").read_text()))
    train, validation = hold_out_questions(data, "question", 300, seed=0)
    assert len({normalize_question(q) for q in validation["question"]}) == 300
    check_no_overlap(train["question"], validation["question"])


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


# ------------------------------------------------------------------------- sources: files, folders, the Hub
ROWS = [{"question": f"What is {i} + 1?", "answer_value": i + 1} for i in range(6)]


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl", ".json", ".arrow"])
def test_local_files_of_every_type_datasets_reads(tmp_path, suffix):
    from datasets import Dataset

    from hf_reft.data import load_data

    dataset = Dataset.from_list(ROWS)
    path = tmp_path / f"questions{suffix}"
    if suffix == ".csv":
        dataset.to_csv(path, index=False)
    elif suffix == ".parquet":
        dataset.to_parquet(path)
    elif suffix == ".jsonl":
        dataset.to_json(path)
    elif suffix == ".json":
        path.write_text(json.dumps(ROWS))
    else:
        dataset.save_to_disk(tmp_path / "saved")
        path = next((tmp_path / "saved").glob("*.arrow"))
    loaded, spec = load_data(str(path), limit=4)
    assert spec is None and loaded["question"] == [r["question"] for r in ROWS[:4]]
    assert [int(v) for v in loaded["answer_value"]] == [1, 2, 3, 4]


def test_folders_and_bad_paths(tmp_path):
    from datasets import Dataset, DatasetDict

    from hf_reft.data import DataSource, load_data

    DatasetDict({"train": Dataset.from_list(ROWS[:4]), "test": Dataset.from_list(ROWS[4:])}).save_to_disk(
        tmp_path / "saved"
    )
    assert len(load_data(str(tmp_path / "saved"))[0]) == 4  # save_to_disk folder, train split by default
    assert len(load_data(str(tmp_path / "saved"), default_split="test")[0]) == 2
    assert len(load_data(DataSource(str(tmp_path / "saved"), split="test"))[0]) == 2
    with pytest.raises(ValueError, match=r"splits \['test', 'train'\], not 'dev'"):
        load_data(DataSource(str(tmp_path / "saved"), split="dev"))
    (tmp_path / "csvs").mkdir()
    Dataset.from_list(ROWS).to_csv(tmp_path / "csvs" / "train.csv", index=False)
    assert len(load_data(str(tmp_path / "csvs"))[0]) == 6  # a folder of data files
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match=r"Cannot read notes\.txt"):
        load_data(str(tmp_path / "notes.txt"))
    with pytest.raises(FileNotFoundError, match="neither a local file"):
        load_data("my-questions.csv")  # a missing file is not taken for a Hub id


def test_a_missing_named_set_names_where_it_comes_from(tmp_path):
    from hf_reft.data import load_data

    with pytest.raises(FileNotFoundError, match=r"lqtrung1998/mwp_ReFT.*--data"):
        load_data("svamp-test", tmp_path)
    with pytest.raises(FileNotFoundError, match="openai/gsm8k"):
        load_data("gsm8k-train", tmp_path)


def test_a_hub_dataset_with_config_and_split(hub, tmp_path):
    from datasets import Dataset

    from hf_reft.data import DataSource, load_data

    repo = hub.repo_id("arithmetic")
    hub.api.create_repo(repo, repo_type="dataset")
    folder = tmp_path / "repo"
    for config, rows in (("easy", ROWS[:4]), ("hard", ROWS[4:])):
        (folder / config).mkdir(parents=True)
        Dataset.from_list(rows).to_parquet(folder / config / "train.parquet")
        Dataset.from_list(rows[:1]).to_parquet(folder / config / "test.parquet")
    (folder / "README.md").write_text(
        "---\nconfigs:\n"
        "- config_name: easy\n  data_files:\n  - split: train\n    path: easy/train.parquet\n"
        "  - split: test\n    path: easy/test.parquet\n"
        "- config_name: hard\n  data_files:\n  - split: train\n    path: hard/train.parquet\n"
        "  - split: test\n    path: hard/test.parquet\n---\n"
    )
    hub.api.upload_folder(folder_path=str(folder), repo_id=repo, repo_type="dataset")
    easy, spec = load_data(DataSource(repo, config="easy"))
    assert spec is None and easy["question"] == [r["question"] for r in ROWS[:4]]
    assert load_data(DataSource(repo, config="hard", split="test"))[0]["question"] == [ROWS[4]["question"]]
    assert len(load_data(DataSource(repo, config="easy"), default_split="test")[0]) == 1
