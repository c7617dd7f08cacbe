"""``examples/reinforced_full_run.py --tiny``: every stage of the real run (validation split, SFT full
and LoReFT, the hyper-parameter search, PPO of both, the compute-matched SFT control, verifier,
greedy/vote/rerank evaluation, tables, plots) on a tiny random model, then a rerun that finds every
stage cached; and the coordinate search on its own."""

from __future__ import annotations

import json

import pytest
import torch
from script_loading import load_script


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def load_example():
    return load_script("examples/reinforced_full_run.py")


def test_the_coordinate_search_varies_one_setting_at_a_time_and_keeps_the_best():
    example = load_example()
    scores = {(1e-6, 0.05, 2): 0.10, (3e-7, 0.05, 2): 0.12, (3e-6, 0.05, 2): 0.08}
    scores |= {(3e-7, 0.01, 2): 0.12, (3e-7, 0.1, 2): 0.15, (3e-7, 0.1, 1): 0.11}
    scored = []

    def score(settings):
        key = (settings["learning_rate"], settings["kl_coef"], settings["ppo_epochs"])
        scored.append(key)
        return scores[key]

    start = {"learning_rate": 1e-6, "kl_coef": 0.05, "ppo_epochs": 2}
    axes = [("learning_rate", [3e-7, 1e-6, 3e-6]), ("kl_coef", [0.01, 0.05, 0.1]), ("ppo_epochs", [1, 2])]
    trials = list(example.coordinate_search(start, axes, score))
    assert scored == list(scores)  # each setting once, the start first, the axes in order
    assert trials[-1] == ({"learning_rate": 3e-7, "kl_coef": 0.1, "ppo_epochs": 2}, 0.15)
    # a tie keeps the value already there: every β scores alike, so the start's 0.05 stays
    flat = list(
        example.coordinate_search(start, axes, lambda settings: 0.1 * (settings["learning_rate"] < 1e-6))
    )
    assert flat[-1][0] == {"learning_rate": 3e-7, "kl_coef": 0.05, "ppo_epochs": 2}


@pytest.mark.slow  # some twenty stages, each loading data and a model: about a minute of CPU
def test_the_full_run_goes_end_to_end_on_a_tiny_model_and_resumes_from_its_caches(tmp_path, capsys):
    example = load_example()
    out = tmp_path / "run"
    example.main(["--tiny", "--output", str(out), "--threads", "1"])
    first = capsys.readouterr().out
    validation = [json.loads(line) for line in (out / "data" / "validation.jsonl").read_text().splitlines()]
    training = [json.loads(line) for line in (out / "data" / "train.jsonl").read_text().splitlines()]
    assert len(validation) == 4 and len(training) == 12
    assert not {r["question"] for r in validation} & {r["question"] for r in training}
    for folder in (
        "warmup-full",
        "warmup-loreft",
        "ppo-full",
        "ppo-loreft",
        "control-full",
        "control-loreft",
    ):
        assert (out / folder / "reinforced_warmup.json").is_file(), folder
    assert json.loads((out / "ppo-loreft" / "reinforced_ppo.json").read_text())["policy"] == "adapter"
    assert json.loads((out / "ppo-full" / "reinforced_ppo.json").read_text())["policy"] == "full"
    assert len(json.loads((out / "ppo-full" / "reward_curve.json").read_text())) == 2
    search = json.loads((out / "search-full" / "search.json").read_text())
    # learning rate 1e-6 (the start) and 3e-6, then β 0.05 beside the format's 0.01, then 1 epoch beside 2
    assert len(search["trials"]) == 4
    start = {key: search["trials"][0][key] for key in ("learning_rate", "kl_coef", "ppo_epochs")}
    assert search["chosen"] == start  # every trial scores 0 on a random model: ties keep the start
    ppo = json.loads((out / "ppo-full" / "reinforced_ppo.json").read_text())
    assert (ppo["learning_rate"], ppo["kl_coef"], ppo["ppo_epochs"]) == tuple(search["chosen"].values())
    ppo_cpu = json.loads((out / "ppo-full" / "ppo_budget.json").read_text())["cpu_seconds"]
    control_cpu = json.loads((out / "control-full" / "control_budget.json").read_text())["cpu_seconds"]
    assert control_cpu >= ppo_cpu  # the control trains until it has spent what PPO spent
    # the verifier either trained or said why not (a random tiny policy rarely answers right)
    assert (out / "verifier" / "config.json").is_file() or (out / "verifier-skipped.txt").is_file()
    results = (out / "results.md").read_text()
    assert "- verifier: " in results  # what it was trained on, or why there is none
    assert "- policies loaded in float32 for evaluation" in results  # the default, one dtype for all
    for name in example.NAMES.values():
        assert f"| {name} |" in results, name
    assert "PPO (full) − SFT control (full) greedy accuracy" in results
    assert "| PPO (LoReFT) | " in results.split("Training diagnostics")[1]
    assert "Search, PPO (full): 4 held-out training questions" in results
    assert (out / "ppo_curves.png").stat().st_size > 0
    assert (out / "search_curves.png").stat().st_size > 0  # every search trial's reward and KL
    assert "- reward and KL per step: search_curves.png" in results
    summary = json.loads((out / "results.json").read_text())["reports"]
    assert summary["PPO (LoReFT)"]["greedy_n"] == 3 and summary["PPO (LoReFT)"]["vote_n"] == 2
    assert "PPO (full): 2 steps" in results and "PPO (LoReFT): 2 steps" in results
    # a quarter epoch of the 12 training rows at batch 2: 2 steps
    assert "[sft-full] 2 steps done" in first and "[sft-full] no checkpoint under" in first

    example.main(["--tiny", "--output", str(out), "--threads", "1"])
    second = capsys.readouterr().out
    for stage in example.STAGES:
        assert f"[{stage}] cached" in second, stage
    assert (out / "results.md").read_text() == results
