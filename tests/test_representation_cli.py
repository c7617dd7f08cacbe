"""``hf-reft representation train|evaluate`` on a tiny model: end to end, resume, leaks, bad arguments, Hub."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

import hf_reft
from hf_reft.cli import main
from hf_reft.representation.trainer import ReftTrainer

from tiny_models import make_tokenizer, tiny_config

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
TEMPLATE = "Q: {question}\nA: "


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A tiny random Llama with its tokenizer in one folder (what --model takes)."""
    folder = tmp_path_factory.mktemp("tiny_base")
    torch.manual_seed(0)
    LlamaForCausalLM(tiny_config("llama")).save_pretrained(folder)
    make_tokenizer().save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def data_files(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("data")
    train = [
        {
            "question": f"Tom has {a} apples and buys {b} more",
            "response": f"{a} + {b} = {a + b}. The answer is {a + b}.",
        }
        for a in range(1, 5)
        for b in range(1, 5)
    ]
    test = [
        {"question": f"Ann has {a} pears and {b} plums, how many fruits", "answer": a + b}
        for a, b in [(2, 3), (1, 1), (4, 2), (3, 3), (5, 1)]
    ]
    (folder / "train.json").write_text(json.dumps(train))
    (folder / "test.jsonl").write_text("\n".join(json.dumps(row) for row in test))
    return folder / "train.json", folder / "test.jsonl"


def _train_argv(model_dir, data_files, output, *extra) -> list[str]:
    train, _ = data_files
    return [
        "representation", "train", "--model", str(model_dir), "--data", str(train),
        "--prompt-template", TEMPLATE, "--layers", "1,3", "--positions", "f2+l2", "--rank", "2",
        "--learning-rate", "5e-3", "--max-steps", "4", "--batch-size", "4", "--save-steps", "2",
        "--max-length", "64", "--output", str(output), "--logging-steps", "1", *extra,
    ]  # fmt: skip


def test_train_then_evaluate_end_to_end(tiny_model_dir, data_files, tmp_path, capsys):
    out = tmp_path / "adapter"
    argv = _train_argv(
        tiny_model_dir,
        data_files,
        out,
        "--eval-data",
        str(data_files[1]),
        "--eval-limit",
        "4",
        "--max-new-tokens",
        "6",
    )
    assert main(argv) == 0
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "model.safetensors", "README.md", "evaluation.json", "tokenizer.json"} <= names
    assert "checkpoints" not in names  # a finished run leaves only the adapter
    card = (out / "README.md").read_text()
    assert "## Evaluation" in card and "model-index" in card
    evaluation = json.loads((out / "evaluation.json").read_text())
    assert evaluation["n"] == 4 and len(evaluation["records"]) == 4
    assert evaluation["records"][0]["prompt"].startswith("Q: Ann has")

    model = AutoModelForCausalLM.from_pretrained(out)
    assert isinstance(model, hf_reft.ReftModelForCausalLM)
    assert model.config.layers == [1, 3] and model.config.positions == "f2+l2" and model.config.rank == 2

    result_file = tmp_path / "eval.json"
    argv = ["representation", "evaluate", "--model", str(out), "--data", str(data_files[1]), "--limit", "4",
            "--prompt-template", TEMPLATE, "--max-new-tokens", "6", "--output", str(result_file), "--update-card"]  # fmt: skip
    assert main(argv) == 0
    again = json.loads(result_file.read_text())
    # the reloaded adapter reproduces the completions of the freshly trained one
    assert [r["completion"] for r in again["records"]] == [r["completion"] for r in evaluation["records"]]
    assert again["accuracy"] == evaluation["accuracy"]

    base_file = tmp_path / "base.json"
    argv = ["representation", "evaluate", "--model", str(out), "--no-interventions", "--data", str(data_files[1]),
            "--limit", "4", "--prompt-template", TEMPLATE, "--max-new-tokens", "6", "--output", str(base_file)]  # fmt: skip
    assert main(argv) == 0
    base = json.loads(base_file.read_text())
    assert base["settings"]["interventions"] is False
    assert [r["completion"] for r in base["records"]] != [r["completion"] for r in again["records"]]


def test_cut_off_run_resumes_to_the_same_adapter(tiny_model_dir, data_files, tmp_path, monkeypatch):
    full = tmp_path / "full"
    assert main(_train_argv(tiny_model_dir, data_files, full)) == 0

    original = ReftTrainer._save_checkpoint

    def save_then_interrupt(self, model, trial):
        original(self, model, trial)
        if self.state.global_step == 2:
            raise KeyboardInterrupt  # Ctrl-C (or the end of a session) right after checkpoint-2

    cut = tmp_path / "cut"
    monkeypatch.setattr(ReftTrainer, "_save_checkpoint", save_then_interrupt)
    assert main(_train_argv(tiny_model_dir, data_files, cut)) == 130
    monkeypatch.setattr(ReftTrainer, "_save_checkpoint", original)
    assert (cut / "checkpoints" / "checkpoint-2" / "model.safetensors").is_file()
    assert not (cut / "model.safetensors").exists()

    with pytest.raises(SystemExit) as exit_info:  # an unfinished run is never silently restarted
        main(_train_argv(tiny_model_dir, data_files, cut))
    assert exit_info.value.code == 2
    assert main(_train_argv(tiny_model_dir, data_files, cut, "--resume")) == 0
    expected, resumed = load_file(str(full / "model.safetensors")), load_file(str(cut / "model.safetensors"))
    assert set(expected) == set(resumed)
    for key in expected:
        assert torch.allclose(expected[key], resumed[key], atol=1e-6, rtol=0), key


def _usage_error(argv, capsys) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


def test_refuses_math10k_against_the_svamp_test_set(tmp_path, capsys):
    argv = [
        "representation", "train", "--data", str(SHARED / "llm-adapters" / "math_data.json"),
        "--question-column", "instruction", "--response-column", "output",
        "--eval-data", str(SHARED / "mwp-reft" / "svamp_test_set.json"), "--output", str(tmp_path / "x"),
    ]  # fmt: skip
    err = _usage_error(argv, capsys)
    assert "questions of the training data" in err and "svamp_test_set.json" in err
    assert not (tmp_path / "x").exists()  # refused before anything was written
    # the named set is checked against its benchmark's test set by default
    err = _usage_error(
        [
            "representation",
            "train",
            "--data",
            "math10k",
            "--data-dir",
            str(SHARED),
            "--output",
            str(tmp_path / "y"),
        ],
        capsys,
    )
    assert "svamp-test" in err


def test_clean_pair_passes_the_leak_check(tmp_path):
    from argparse import Namespace

    from hf_reft.data import load_data
    from hf_reft.representation.cli import _leak_check

    train, spec = load_data("svamp-nl", SHARED)
    args = Namespace(
        eval_data="svamp-test",
        test_set=["gsm8k-test"],
        data_dir=str(SHARED),
        eval_question_column=None,
        data="svamp-nl",
    )
    _leak_check(args, train, "question", spec)  # no error: 0 of 1,000 SVAMP test questions are in svamp-nl


BAD_TRAIN_ARGUMENTS = [
    (["--layers", "1", "x"], "--layers takes"),
    (["--layers", "9"], "out of range"),
    (["--positions", "f2+x3"], "Malformed position spec"),
    (["--rank", "0"], "rank must be a positive"),
    (["--rank", "64"], "smaller than"),
    (["--intervention", "magic"], "Unknown intervention kind"),
    (["--learning-rate", "0"], "--learning-rate must be positive"),
    (["--batch-size", "0"], "--batch-size must be positive"),
    (["--max-train-minutes", "-1"], "--max-train-minutes must be positive"),
    (["--question-column", "nope"], "no column 'nope'"),
    (["--prompt-template", "Q: {nope}"], "names ['nope']"),
    (["--data-dir", "/nonexistent/folder"], "is not a folder"),
    (["--push-to-hub", "not a repo//id"], "not a valid repo id"),
    (["--eval-data", "no-such-set"], "neither a local file or folder nor a named data set"),
    (["--resume"], "does not exist"),
    (["--resume", "--overwrite"], "pass one of them"),
    (["--warmup-ratio", "1.5"], "--warmup-ratio"),
    (["--dropout", "1.5"], "dropout must be in"),
]


@pytest.mark.parametrize(("extra", "message"), BAD_TRAIN_ARGUMENTS, ids=[m for _, m in BAD_TRAIN_ARGUMENTS])
def test_bad_train_arguments_are_usage_errors(tiny_model_dir, data_files, tmp_path, capsys, extra, message):
    err = _usage_error(_train_argv(tiny_model_dir, data_files, tmp_path / "out", *extra), capsys)
    assert message in err


def test_train_usage_errors_without_a_model(data_files, tmp_path, capsys):
    out = tmp_path / "out"
    assert "--data is required" in _usage_error(["representation", "train", "--output", str(out)], capsys)
    err = _usage_error(["representation", "train", "--data", "missing.json", "--output", str(out)], capsys)
    assert "neither a local file or folder nor a named data set" in err
    err = _usage_error(
        [
            "representation",
            "train",
            "--model",
            str(tmp_path / "nothing" / "here"),
            "--data",
            str(data_files[0]),
            "--output",
            str(out),
        ],
        capsys,
    )
    assert "is not a folder" in err


def test_finished_adapter_is_not_overwritten(tiny_model_dir, data_files, tmp_path, capsys):
    out = tmp_path / "done"
    out.mkdir()
    (out / "model.safetensors").write_bytes(b"")
    err = _usage_error(_train_argv(tiny_model_dir, data_files, out), capsys)
    assert "--overwrite" in err


def test_bad_evaluate_arguments(tiny_model_dir, data_files, tmp_path, capsys):
    base = ["representation", "evaluate", "--model", str(tiny_model_dir), "--data", str(data_files[1])]
    assert "Unknown benchmark" in _usage_error([*base, "--benchmark", "nope"], capsys)
    assert "--limit must be positive" in _usage_error([*base, "--limit", "0"], capsys)
    assert "no column 'gold'" in _usage_error([*base, "--answer-column", "gold"], capsys)
    assert "--update-card" in _usage_error([*base, "--update-card"], capsys)
    assert "--no-interventions" in _usage_error([*base, "--no-interventions"], capsys)
    assert "--data is required" in _usage_error(["representation", "evaluate"], capsys)


def test_push_to_hub_and_load_in_a_fresh_process(hub, tiny_model_dir, data_files, tmp_path, capsys):
    repo_id = hub.repo_id("tiny-loreft")
    out = tmp_path / "adapter"
    # an adapter over a folder of this machine would load only here: refused before training
    local = _train_argv(tiny_model_dir, data_files, out, "--push-to-hub", repo_id)
    assert "a folder on this machine" in _usage_error(local, capsys) and not out.exists()
    base_repo = hub.repo_id("tiny-base")
    AutoModelForCausalLM.from_pretrained(tiny_model_dir).push_to_hub(base_repo)
    AutoTokenizer.from_pretrained(tiny_model_dir).push_to_hub(base_repo)
    argv = _train_argv(
        base_repo, data_files, out, "--eval-data", str(data_files[1]), "--eval-limit", "2",
        "--max-new-tokens", "3", "--push-to-hub", repo_id,
    )  # fmt: skip
    assert main(argv) == 0
    assert json.loads((out / "config.json").read_text())["base_model_name_or_path"] == base_repo
    files = set(hub.api.list_repo_files(repo_id))
    assert {"config.json", "model.safetensors", "README.md", "evaluation.json"} <= files
    assert not any(f.startswith("checkpoints/") for f in files)
    local = AutoModelForCausalLM.from_pretrained(out)
    ids = torch.tensor([[1, 5, 6, 7, 8, 9]])
    with torch.no_grad():
        expected = local(input_ids=ids).logits[0, -1, :5].tolist()
    code = f"""
import json, torch, hf_reft
from transformers import AutoModelForCausalLM
from huggingface_hub import ModelCard
model = AutoModelForCausalLM.from_pretrained({repo_id!r})
assert isinstance(model, hf_reft.ReftModelForCausalLM)
with torch.no_grad():
    print(json.dumps(model(input_ids=torch.tensor([[1, 5, 6, 7, 8, 9]])).logits[0, -1, :5].tolist()))
assert "## Evaluation" in ModelCard.load({repo_id!r}).text
"""
    got = json.loads(hub.run_python(code).stdout.strip().splitlines()[-1])
    assert got == pytest.approx(expected, abs=1e-6)


def test_train_adapter_is_the_library_function_the_command_runs(tiny_model_dir, data_files, tmp_path):
    import hf_reft
    from hf_reft.representation import train_adapter

    rows = json.loads(data_files[0].read_text())
    config = hf_reft.ReftConfig(layers=[1, 3], positions="f2+l2", rank=2)
    trained = train_adapter(
        str(tiny_model_dir), rows, config, tmp_path / "adapter", prompt_template=TEMPLATE,
        max_steps=3, batch_size=4, learning_rate=5e-3, max_length=64, save_steps=2, logging_steps=1,
    )  # fmt: skip
    assert trained.summary["steps"] == 3 and len(trained.summary["losses"]) >= 1
    files = {p.name for p in (tmp_path / "adapter").iterdir()}
    assert {"config.json", "model.safetensors", "README.md", "tokenizer.json", "train_summary.json"} <= files
    assert "checkpoints" not in files  # the finished folder is the adapter
    assert isinstance(
        AutoModelForCausalLM.from_pretrained(tmp_path / "adapter"), hf_reft.ReftModelForCausalLM
    )
    with pytest.raises(ValueError, match="Nothing to resume"):
        train_adapter(str(tiny_model_dir), rows, config, tmp_path / "other", resume=True)


def test_a_time_budget_sizes_the_schedule_and_a_resumed_run_keeps_the_plan(
    tiny_model_dir, data_files, tmp_path, monkeypatch
):
    import hf_reft
    from hf_reft import training_budget
    from hf_reft.representation import train_adapter

    rows = json.loads(data_files[0].read_text())
    config = hf_reft.ReftConfig(layers=[1, 3], positions="f2+l2", rank=2)
    common = dict(prompt_template=TEMPLATE, batch_size=4, max_length=64, save_steps=1, logging_steps=1)
    monkeypatch.setattr(training_budget, "steps_for_budget", lambda *a, **k: (12, 0.5))  # a fixed probe
    first = train_adapter(
        str(tiny_model_dir), rows, config, tmp_path / "adapter", max_train_seconds=6.0, budget_clock="cpu",
        fit_schedule_to_budget=True, keep_checkpoints=True, **common,
    )  # fmt: skip
    assert first.summary["budget_plan"] == {"max_steps": 12, "seconds_per_step": 0.5, "clock": "cpu"}
    assert (
        json.loads((tmp_path / "adapter" / "checkpoints" / "budget_plan.json").read_text())["max_steps"] == 12
    )

    def probe_again(*args, **kwargs):
        raise AssertionError("a resumed run must reuse its plan, not time the model again")

    monkeypatch.setattr(training_budget, "steps_for_budget", probe_again)
    again = train_adapter(
        str(tiny_model_dir), rows, config, tmp_path / "adapter", max_train_seconds=6.0, budget_clock="cpu",
        fit_schedule_to_budget=True, resume=True, **common,
    )  # fmt: skip
    assert again.summary["budget_plan"]["max_steps"] == 12 and again.summary["steps"] <= 12
