"""Warm-up SFT: the paper's prompts, prompt-masked data, one Trainer path for a full model and a
LoReFT adapter, and checkpoints that load back with ``from_pretrained``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from datasets import Dataset
from transformers import AutoModelForCausalLM, AutoTokenizer

import hf_reft
from hf_reft.data import IGNORE_INDEX, DataLeakError
from hf_reft.reinforced.prompts import FORMATS, build_prompt, get_format
from hf_reft.reinforced.sft import (
    WARMUP_INFO_NAME,
    default_test_sets,
    is_adapter,
    load_policy,
    prepare_warmup_dataset,
    read_warmup_info,
    warmup_sft,
)

from tiny_models import make_tokenizer, tiny_config

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def nl_rows(n: int = 8) -> list[dict[str, str]]:
    return [
        {
            "question": f"Tom has {i} apples and buys 5 more. How many?",
            "answer_cot": f"{i} + 5 = {i + 5}. Therefore, the answer is <{i + 5}>.",
            "answer_value": str(i + 5),
        }
        for i in range(n)
    ]


def program_rows(n: int = 8) -> list[dict[str, str]]:
    return [
        {
            "question": f"Tom has {i} apples and buys 5 more. How many?",
            "answer_cot": f"def solution():\n    return {i} + 5",
            "answer_value": str(i + 5),
        }
        for i in range(n)
    ]


@pytest.fixture
def tok():
    return make_tokenizer()


@pytest.fixture
def tiny_base(tmp_path, tok):
    """A tiny random Llama saved with its tokenizer, as a base model folder.

    Initialised with larger weights than usual (std 0.2) so that its logits are not near-uniform
    whatever the hidden states: edits of the prompt's hidden states (LoReFT) can then move the loss.
    """
    torch.manual_seed(0)
    folder = tmp_path / "base"
    AutoModelForCausalLM.from_config(tiny_config("llama", initializer_range=0.2)).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


# ------------------------------------------------------------------------------------------ prompts


def test_the_paper_prompt_in_both_formats():
    # mwp_ReFT: instruction 'Question:\n', cot_trigger '\nAnswer reasoning:\n', for nl and python alike
    assert build_prompt("  How many? ", "nl") == "Question:\nHow many?\nAnswer reasoning:\n"
    assert build_prompt("How many?", "program") == "Question:\nHow many?\nAnswer reasoning:\n"
    assert FORMATS["program"].is_program and not FORMATS["nl"].is_program
    assert get_format("nl").train_set == "svamp-nl" and get_format("program").train_set == "svamp-program"
    with pytest.raises(ValueError, match=r"'nl'.*'program'"):
        get_format("python")


def test_chat_template_rendering_matches_training(tok):
    rendered = get_format("nl").render("How many?", tok, use_chat_template=True)
    assert rendered == "<s>user\nQuestion:\nHow many?\nAnswer reasoning:\n</s>\n<s>assistant\n"
    with pytest.raises(ValueError, match="tokenizer"):
        get_format("nl").render("How many?", use_chat_template=True)
    data = prepare_warmup_dataset(Dataset.from_list(nl_rows(1)), tok, "nl", use_chat_template=True)
    prompt_ids = data[0]["input_ids"][: data[0]["prompt_length"]]
    assert tok.decode(prompt_ids) == get_format("nl").render(
        nl_rows(1)[0]["question"], tok, use_chat_template=True
    )


# --------------------------------------------------------------------------------------------- data


@pytest.mark.parametrize("fmt, rows", [("nl", nl_rows), ("program", program_rows)])
def test_loss_covers_the_chain_of_thought_only(tok, fmt, rows):
    row = rows(1)[0]
    data = prepare_warmup_dataset(Dataset.from_list([row]), tok, fmt)
    example = data[0]
    prompt = build_prompt(row["question"], fmt)
    n_prompt = len(tok(prompt)["input_ids"])
    assert example["prompt_length"] == n_prompt
    assert example["labels"][:n_prompt] == [IGNORE_INDEX] * n_prompt
    target = example["labels"][n_prompt:]
    assert IGNORE_INDEX not in target and target[-1] == tok.eos_token_id
    assert tok.decode(example["input_ids"][:n_prompt]) == prompt
    assert tok.decode(target[:-1]) == row["answer_cot"]


def test_max_length_cuts_the_target(tok):
    data = prepare_warmup_dataset(Dataset.from_list(nl_rows(1)), tok, "nl", max_length=30, drop_longer=False)
    assert len(data[0]["input_ids"]) == 30 and len(data[0]["labels"]) == 30


def test_longer_examples_are_dropped_by_default(tok):
    with pytest.raises(ValueError, match="raise --max-length"):
        prepare_warmup_dataset(Dataset.from_list(nl_rows(1)), tok, "nl", max_length=30)
    kept = prepare_warmup_dataset(Dataset.from_list(nl_rows(2)), tok, "nl", max_length=4096)
    assert len(kept) == 2


def test_real_svamp_data_tokenizes_in_both_formats():
    tokenizer = AutoTokenizer.from_pretrained(hf_reft.default_chat_model_path())
    for fmt in ("nl", "program"):
        rows, _ = hf_reft.data.load_data(get_format(fmt).train_set, SHARED, limit=20)
        data = prepare_warmup_dataset(rows, tokenizer, fmt, max_length=320)
        assert len(data) == 20
        first = data[0]
        target = tokenizer.decode([t for t in first["labels"] if t != IGNORE_INDEX], skip_special_tokens=True)
        assert target == rows[0]["answer_cot"]
        if fmt == "program":
            assert target.startswith("def solution():")
        else:
            assert "Therefore, the answer is" in target


def test_format_and_columns_are_checked(tok):
    with pytest.raises(ValueError, match="--format program"):
        prepare_warmup_dataset(Dataset.from_list(nl_rows()), tok, "program")
    with pytest.raises(ValueError, match="--format nl"):
        prepare_warmup_dataset(Dataset.from_list(program_rows()), tok, "nl")
    with pytest.raises(ValueError, match=r"has no column 'answer_cot'.*--target-column"):
        prepare_warmup_dataset(Dataset.from_list([{"question": "q", "answer": "a"}]), tok, "nl")


def test_default_test_sets_follow_the_benchmark():
    assert default_test_sets("svamp-nl") == ["svamp-test"]
    assert default_test_sets("svamp-program") == ["svamp-test"]
    assert default_test_sets("gsm8k-train") == ["gsm8k-test"]
    assert default_test_sets("math10k") == ["svamp-test"]  # the leaky set is checked too
    assert default_test_sets("my.json") == []


def test_training_on_test_questions_is_refused(tmp_path, tok):
    test_file = tmp_path / "test.json"
    test_file.write_text(
        json.dumps([{"question": "TOM has 3 apples and buys 5 more - how many", "answer_value": "8"}])
    )
    model = AutoModelForCausalLM.from_config(tiny_config("llama"))
    with pytest.raises(DataLeakError, match="1 questions"):
        warmup_sft(
            model, Dataset.from_list(nl_rows()), tmp_path / "out", tokenizer=tok, test_sets=[str(test_file)]
        )
    assert not (tmp_path / "out").exists()


# ----------------------------------------------------------------------------------------- training


def _losses(result) -> list[float]:
    return [entry["loss"] for entry in result.log_history if "loss" in entry]


def _logits(model, tok, text: str = "Question:\nTom has 2 apples") -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return model(**tok(text, return_tensors="pt")).logits


@pytest.mark.parametrize("fmt, rows", [("nl", nl_rows), ("program", program_rows)])
def test_full_model_warm_up_learns_saves_and_reloads(tmp_path, tok, tiny_base, fmt, rows):
    out = tmp_path / f"warmup-{fmt}"
    result = warmup_sft(
        str(tiny_base),
        Dataset.from_list(rows()),
        out,
        format=fmt,
        max_steps=10,
        learning_rate=1e-2,
        logging_steps=1,
        per_device_train_batch_size=8,
        seed=0,
    )
    losses = _losses(result)
    assert losses[-1] < 0.6 * losses[0], losses
    assert not is_adapter(result.model)
    files = {p.name for p in out.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "README.md", WARMUP_INFO_NAME} <= files
    assert not [f for f in files if f.endswith((".bin", ".pt", ".pth", ".pkl"))]
    assert "checkpoints" not in files  # the Trainer's scratch checkpoints are gone once the policy is saved
    info = read_warmup_info(out)
    assert info.format == fmt and info.policy == "full" and info.steps == 10 and info.train_examples == 8
    assert info.base_model == str(tiny_base) and info.final_loss == pytest.approx(losses[-1])
    assert info.prompt_format().prompt("q") == build_prompt("q", fmt)
    card = (out / "README.md").read_text()
    assert "library_name: hf-reft" in card and f"`{fmt}`" in card
    again, again_tok = load_policy(out)
    assert torch.equal(_logits(again, again_tok), _logits(result.model, tok))
    plain = AutoModelForCausalLM.from_pretrained(out)  # an ordinary transformers model
    assert torch.equal(_logits(plain, tok), _logits(result.model, tok))


def test_adapter_warm_up_takes_the_same_path(tmp_path, tok, tiny_base):
    config = hf_reft.ReftConfig(layers="all", positions="f3+l3", rank=4)
    out = tmp_path / "warmup-adapter"
    result = warmup_sft(
        str(tiny_base),
        Dataset.from_list(nl_rows()),
        out,
        format="nl",
        adapter_config=config,
        max_steps=10,
        learning_rate=5e-2,
        logging_steps=1,
        per_device_train_batch_size=8,
        seed=0,
    )
    losses = _losses(result)
    assert losses[-1] < 0.85 * losses[0], losses
    assert is_adapter(result.model)
    base = AutoModelForCausalLM.from_pretrained(tiny_base)
    trained_base = result.model.model
    assert all(torch.equal(a, b) for a, b in zip(base.parameters(), trained_base.parameters(), strict=True))
    info = read_warmup_info(out)
    assert (
        info.policy == "adapter"
        and info.trainable_parameters == result.model.get_nb_trainable_parameters()[0]
    )
    assert info.base_model == str(tiny_base)
    reloaded = AutoModelForCausalLM.from_pretrained(out)  # base from the adapter's config + interventions
    assert type(reloaded).__name__ == "ReftModelForCausalLM"
    inputs = tok("Question:\nTom has 2 apples", return_tensors="pt")
    with torch.no_grad():
        assert torch.allclose(reloaded(**inputs).logits, result.model.eval()(**inputs).logits, atol=1e-6)
        assert not torch.allclose(reloaded(**inputs).logits, base(**inputs).logits, atol=1e-4)
    policy, policy_tok = load_policy(out)
    assert is_adapter(policy) and policy_tok.eos_token_id == tok.eos_token_id


def test_a_new_adapter_over_an_adapter_is_refused(tmp_path, tok, tiny_base):
    config = hf_reft.ReftConfig(layers=[1], positions="f1", rank=2)
    warmup_sft(
        str(tiny_base), Dataset.from_list(nl_rows(2)), tmp_path / "a", adapter_config=config, max_steps=1
    )
    with pytest.raises(ValueError, match="already a LoReFT adapter"):
        load_policy(tmp_path / "a", adapter_config=config)


def test_loaded_model_needs_its_tokenizer(tmp_path):
    model = AutoModelForCausalLM.from_config(tiny_config("llama"))
    with pytest.raises(ValueError, match="tokenizer"):
        warmup_sft(model, Dataset.from_list(nl_rows()), tmp_path / "out")
