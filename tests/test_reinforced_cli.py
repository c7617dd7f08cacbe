"""``hf-reft reinforced sft|evaluate``: end to end on a tiny model, the Hub push, and one clear
error per bad argument."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from huggingface_hub import ModelCard
from transformers import AutoModelForCausalLM

from hf_reft.cli import build_parser, main
from hf_reft.reinforced.cli import SUBCOMMANDS
from hf_reft.reinforced.sft import WARMUP_INFO_NAME, read_warmup_info

from tiny_models import make_tokenizer, tiny_config

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def files(tmp_path):
    """A tiny base model folder, NL and program training files and a test file."""
    torch.manual_seed(0)
    base = tmp_path / "base"
    AutoModelForCausalLM.from_config(tiny_config("llama")).save_pretrained(base)
    make_tokenizer().save_pretrained(base)
    questions = [f"Tom has {i} apples and buys 5 more. How many?" for i in range(8)]
    nl = [
        {"question": q, "answer_cot": f"{i} + 5 = {i + 5}. Therefore, the answer is <{i + 5}>."}
        for i, q in enumerate(questions)
    ]
    programs = [
        {"question": q, "answer_cot": f"def solution():\n    return {i} + 5"} for i, q in enumerate(questions)
    ]
    test = [
        {"question": f"Ann has {i} pears and eats 1. How many?", "answer_value": str(i - 1)} for i in range(3)
    ]
    paths = {"base": base}
    for name, rows in (("nl", nl), ("program", programs), ("test", test)):
        paths[name] = tmp_path / f"{name}.json"
        paths[name].write_text(json.dumps(rows))
    return paths


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    """Run the CLI; usage errors exit with status 2 (``SystemExit``)."""
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_the_group_lists_its_commands(capsys):
    code, out, _ = run(["reinforced"], capsys)
    assert code == 2 and "sft" in out and "evaluate" in out
    assert [f.__name__ for f in SUBCOMMANDS] == [
        "add_sft_command",
        "add_evaluate_command",
        "add_train_command",
        "add_verifier_command",
    ]
    help_text = build_parser().parse_args(["reinforced", "sft", "--output", "x"])
    assert help_text.format == "nl" and help_text.batch_size == 8


def test_sft_then_evaluate(files, tmp_path, capsys):
    out = tmp_path / "warmup"
    argv = [
        "reinforced",
        "sft",
        "--model",
        str(files["base"]),
        "--format",
        "program",
        "--data",
        str(files["program"]),
    ]
    argv += ["--output", str(out), "--max-steps", "2", "--batch-size", "4", "--learning-rate", "1e-3"]
    code, stdout, err = run(argv, capsys)
    assert code == 0, err
    assert "Warm-up policy (full, program) saved to" in stdout and "2 steps" in stdout
    info = read_warmup_info(out)
    assert (
        info.format == "program" and info.steps == 2 and info.batch_size == 4 and info.learning_rate == 1e-3
    )
    report = tmp_path / "eval.json"
    argv = [
        "reinforced",
        "evaluate",
        "--model",
        str(out),
        "--data",
        str(files["test"]),
        "--output",
        str(report),
    ]
    argv += [
        "--max-new-tokens",
        "4",
        "--vote-k",
        "2",
        "--vote-limit",
        "2",
        "--no-progress",
        "--dtype",
        "bfloat16",
    ]
    code, stdout, err = run(argv, capsys)
    assert code == 0, err
    assert "| program |" in stdout and "vote@2" in stdout
    data = json.loads(report.read_text())
    assert data["settings"]["format"] == "program"  # read from the warm-up folder
    assert data["settings"]["dtype"] == "bfloat16"
    assert data["summary"]["greedy_n"] == 3 and data["summary"]["vote_n"] == 2
    assert report.with_suffix(".jsonl").is_file()  # the resume cache


def test_sft_of_a_loreft_adapter(files, tmp_path, capsys):
    out = tmp_path / "adapter"
    argv = [
        "reinforced",
        "sft",
        "--model",
        str(files["base"]),
        "--data",
        str(files["nl"]),
        "--output",
        str(out),
    ]
    argv += ["--max-steps", "1", "--adapter", "--layers", "1", "2", "--positions", "f2+l2", "--rank", "2"]
    code, stdout, err = run(argv, capsys)
    assert code == 0, err
    assert "Warm-up policy (adapter, nl)" in stdout
    config = json.loads((out / "config.json").read_text())
    assert config["model_type"] == "reft" and config["layers"] == [1, 2] and config["rank"] == 2
    assert read_warmup_info(out).policy == "adapter"


def test_sft_pushes_to_the_hub(files, tmp_path, capsys, hub):
    repo = hub.repo_id("warmup-nl")
    argv = [
        "reinforced",
        "sft",
        "--model",
        str(files["base"]),
        "--data",
        str(files["nl"]),
        "--max-steps",
        "1",
    ]
    argv += ["--output", str(tmp_path / "w"), "--push-to-hub", repo]
    code, stdout, err = run(argv, capsys)
    assert code == 0, err
    assert f"Uploaded to {repo}" in stdout
    remote = set(hub.api.list_repo_files(repo))
    assert {"config.json", "model.safetensors", "tokenizer.json", "README.md", WARMUP_INFO_NAME} <= remote
    assert read_warmup_info(repo).format == "nl"
    card = ModelCard.load(repo)
    assert card.data.library_name == "hf-reft" and "warm-up" in card.data.tags
    loaded = AutoModelForCausalLM.from_pretrained(repo)
    local = AutoModelForCausalLM.from_pretrained(tmp_path / "w")
    assert all(torch.equal(a, b) for a, b in zip(loaded.parameters(), local.parameters(), strict=True))


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["sft", "--output", "{tmp}/o", "--data", "missing.json"],
            "neither a local file or folder nor a named data set",
        ),
        (["sft", "--output", "{tmp}/o", "--max-steps", "0"], "--max-steps must be positive"),
        (["sft", "--output", "{tmp}/o", "--learning-rate", "-1"], "--learning-rate must be positive"),
        (["sft", "--output", "{tmp}/o", "--max-length", "8"], "--max-length must be at least 16"),
        (["sft", "--output", "{tmp}/o", "--layers", "1"], "add --adapter"),
        (["sft", "--output", "{tmp}/o", "--adapter", "--rank", "0"], "rank must be a positive integer"),
        (["sft", "--output", "{tmp}/o", "--adapter", "--positions", "x9"], "Malformed position spec"),
        (["sft", "--output", "{tmp}/o", "--adapter", "--intervention", "nope"], "Unknown intervention kind"),
        (["sft", "--output", "{tmp}/o", "--adapter", "--layers", "one"], "--layers takes layer indices"),
        (["sft", "--output", "{tmp}/o", "--resume"], "no checkpoint"),
        (["sft", "--output", "{tmp}/o", "--model", "{tmp}/nowhere/model"], "is not a folder"),
        (["sft", "--output", "{tmp}/o", "--model", "{tmp}"], "has no config.json"),
        (["sft", "--output", "{tmp}/o", "--data-dir", "{tmp}/no-such-dir"], "is not a folder"),
        (["sft", "--output", "{tmp}/o", "--format", "python"], "invalid choice: 'python'"),
        (["evaluate", "--vote-limit", "3"], "--vote-limit needs --vote-k"),
        (["evaluate", "--no-greedy"], "--no-greedy leaves nothing to evaluate"),
        (["evaluate", "--vote-k", "-2"], "--vote-k must be zero or positive"),
        (["evaluate", "--sample-seed", "1"], "--sample-seed draws --limit questions"),
        (["evaluate", "--top-p", "2"], "--top-p must be in (0, 1]"),
        (["evaluate", "--output", "{tmp}"], "is a folder"),
        (["evaluate", "--data", "nope"], "neither a local file or folder nor a named data set"),
    ],
)
def test_bad_arguments_give_one_clear_error(argv, message, tmp_path, capsys):
    argv = ["reinforced", *[a.replace("{tmp}", str(tmp_path)) for a in argv]]
    code, _, err = run(argv, capsys)
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_sft_refuses_leaks_mismatched_data_and_overwrites(files, tmp_path, capsys):
    leaky = tmp_path / "leaky-test.json"
    leaky.write_text(
        json.dumps([{"question": "TOM has 3 apples, and buys 5 more: how many?", "answer_value": "8"}])
    )
    common = ["reinforced", "sft", "--model", str(files["base"]), "--max-steps", "1"]
    code, _, err = run(
        [*common, "--data", str(files["nl"]), "--test-set", str(leaky), "--output", str(tmp_path / "a")],
        capsys,
    )
    assert code == 2 and "also in" in err and "--no-leak-check" in err
    code, _, err = run(
        [*common, "--data", str(files["nl"]), "--format", "program", "--output", str(tmp_path / "b")], capsys
    )
    assert code == 2 and "--format program" in err
    done = tmp_path / "done"
    assert run([*common, "--data", str(files["nl"]), "--output", str(done)], capsys)[0] == 0
    code, _, err = run([*common, "--data", str(files["nl"]), "--output", str(done)], capsys)
    assert code == 2 and "--overwrite" in err
    assert run([*common, "--data", str(files["nl"]), "--output", str(done), "--overwrite"], capsys)[0] == 0


def test_the_leaky_training_set_is_refused_by_default(capsys, tmp_path):
    # math10k (llm-adapters/math_data.json) holds 800 of SVAMP's 1,000 test questions
    argv = [
        "reinforced",
        "sft",
        "--data",
        "math10k",
        "--data-dir",
        str(SHARED),
        "--output",
        str(tmp_path / "o"),
    ]
    argv += ["--target-column", "output", "--question-column", "instruction"]
    code, _, err = run(argv, capsys)
    assert code == 2 and "svamp-test" in err


@pytest.mark.slow
def test_evaluate_the_default_model_on_svamp(capsys, tmp_path):
    report = tmp_path / "base.json"
    argv = ["reinforced", "evaluate", "--data", "svamp-test", "--data-dir", str(SHARED), "--limit", "2"]
    argv += ["--max-new-tokens", "24", "--no-progress", "--output", str(report)]
    code, stdout, err = run(argv, capsys)
    assert code == 0, err
    assert "| default (SmolLM2-135M-Instruct) | nl |" in stdout
    data = json.loads(report.read_text())
    assert [r["index"] for r in data["greedy"]] == [0, 1]
    assert all(r["tokens"] <= 24 for r in data["greedy"])
