"""``hf-reft reinforced train``: PPO from a warm-up folder, end to end on a tiny model."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest
import torch
from transformers import AutoModelForCausalLM

from hf_reft.cli import main
from hf_reft.reinforced.ppo_stage import PPO_INFO_NAME
from hf_reft.reinforced.sft import WARMUP_INFO_NAME, WarmupInfo
from hf_reft.reinforced.value_head import VALUE_HEAD_FILE, PolicyWithValueHead

from tiny_models import make_tokenizer, tiny_config


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a shared CPU: one thread per test process is fastest and deterministic
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def warmup(tmp_path):
    """A tiny 'warm-up' folder (full model + tokenizer + warm-up record) and a question file."""
    torch.manual_seed(0)
    folder = tmp_path / "warmup"
    AutoModelForCausalLM.from_config(tiny_config("llama")).save_pretrained(folder)
    make_tokenizer().save_pretrained(folder)
    (folder / WARMUP_INFO_NAME).write_text(json.dumps(asdict(WarmupInfo(format="nl", policy="full"))))
    questions = tmp_path / "questions.json"
    rows = [
        {"question": f"Tom has {i} apples and buys 5 more. How many?", "answer_value": str(i + 5)}
        for i in range(8)
    ]
    questions.write_text(json.dumps(rows))
    return folder, questions


def test_train_from_a_warm_up_folder(warmup, tmp_path):
    folder, questions = warmup
    out = tmp_path / "ppo"
    argv = ["reinforced", "train", "--model", str(folder), "--output", str(out), "--data", str(questions)]
    argv += ["--max-steps", "2", "--batch-size", "2", "--samples-per-question", "2", "--max-new-tokens", "4"]
    argv += ["--mini-batches", "2", "--learning-rate", "1e-3"]
    argv += ["--eval-data", str(questions), "--eval-limit", "3", "--eval-steps", "1", "--no-leak-check"]
    assert main(argv) == 0
    assert (out / VALUE_HEAD_FILE).is_file() and (out / "model.safetensors").is_file()
    assert (out / "checkpoints").is_dir() and (out / "tokenizer.json").is_file()
    summary = json.loads((out / PPO_INFO_NAME).read_text())
    assert summary["steps"] == 2 and summary["format"] == "nl" and summary["kl_coef"] == 0.05
    assert summary["samples_per_question"] == 2 and summary["policy"] == "full"
    # the warm-up record travels along, so evaluation prompts the PPO policy the same way
    assert json.loads((out / WARMUP_INFO_NAME).read_text())["format"] == "nl"
    trained = PolicyWithValueHead.from_pretrained(out, require_value_head=True)
    assert trained.value_head.hidden_size == 64
    # a random tiny model never states an answer: reward 0 everywhere (learning is tested in test_reinforced_trainer)
    assert summary["first_reward"] == summary["last_reward"] == 0.0
    assert [e["step"] for e in summary["evaluations"]] == [1, 2]
    assert all(e["eval_samples"] == 3 and e["eval_accuracy"] == 0.0 for e in summary["evaluations"])


def test_bad_arguments_are_usage_errors(warmup, tmp_path, capsys):
    folder, questions = warmup
    (folder / WARMUP_INFO_NAME).unlink()
    base = ["reinforced", "train", "--model", str(folder), "--output", str(tmp_path / "o")]
    cases = [
        ([*base, "--data", str(questions)], "Pass format='nl' or 'program' (--format)"),
        ([*base, "--format", "nl", "--data", str(tmp_path / "missing.json")], "missing.json"),
        ([*base, "--format", "nl", "--data", str(questions), "--answer-column", "gold"], "--answer-column"),
        ([*base, "--format", "nl", "--eval-steps", "5"], "--eval-steps needs --eval-data"),
        (
            [*base, "--format", "nl", "--batch-size", "3", "--mini-batches", "2"],
            "--mini-batches 2 must divide",
        ),
        ([*base, "--format", "nl", "--resume"], "--resume: no checkpoint"),
        (["reinforced", "train", "--output", str(tmp_path / "o")], "--model is required"),
        ([*base, "--format", "nl", "--data", "svamp-nl", "--test-set", "svamp-nl"], "--no-leak-check"),
        (
            [*base, "--format", "nl", "--data", str(questions), "--eval-data", str(questions)],
            "--no-leak-check",
        ),
    ]
    for argv, message in cases:
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err


def test_flags_that_mirror_a_config_field_take_its_default():
    import dataclasses

    from hf_reft.cli import build_parser
    from hf_reft.reinforced.configuration import ReinforcedConfig
    from hf_reft.representation.configuration import ReftConfig

    def defaults(config):
        return {f.name: f.default for f in dataclasses.fields(config)}

    ppo = build_parser().parse_args(["reinforced", "train", "--model", "m", "--output", "o"])
    for name in (
        "samples_per_question",
        "ppo_epochs",
        "num_mini_batches",
        "vf_coef",
        "max_new_tokens",
        "temperature",
        "top_k",
    ):
        assert getattr(ppo, name) == defaults(ReinforcedConfig)[name], name
    reft = defaults(ReftConfig)
    for argv in (["representation", "train", "--output", "o"], ["reinforced", "sft", "--output", "o"]):
        args = build_parser().parse_args(argv)
        assert (args.positions, args.rank, args.intervention, args.share_weights) == (
            reft["positions"], reft["rank"], reft["intervention"], reft["share_weights"],
        )  # fmt: skip
        assert args.layers == [reft["layers"]]
