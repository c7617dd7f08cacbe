"""``examples/reinforced_full_run.py --tiny``: every stage of the real run (SFT full and LoReFT, PPO
of both, verifier, greedy/vote/rerank evaluation, table) on a tiny random model, then a rerun that
finds every stage cached."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "reinforced_full_run.py"


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def load_example():
    spec = importlib.util.spec_from_file_location("reinforced_full_run", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow  # a dozen stages, each loading data and a model: about a minute of CPU
def test_the_full_run_goes_end_to_end_on_a_tiny_model_and_resumes_from_its_caches(tmp_path, capsys):
    example = load_example()
    out = tmp_path / "run"
    example.main(["--tiny", "--output", str(out), "--threads", "1"])
    first = capsys.readouterr().out
    for folder in ("warmup-full", "warmup-loreft", "ppo-full", "ppo-loreft"):
        assert (out / folder / "reinforced_warmup.json").is_file(), folder
    assert json.loads((out / "ppo-loreft" / "reinforced_ppo.json").read_text())["policy"] == "adapter"
    assert json.loads((out / "ppo-full" / "reinforced_ppo.json").read_text())["policy"] == "full"
    assert len(json.loads((out / "ppo-full" / "reward_curve.json").read_text())) == 2
    # the verifier either trained or said why not (a random tiny policy rarely answers right)
    assert (out / "verifier" / "config.json").is_file() or (out / "verifier-skipped.txt").is_file()
    results = (out / "results.md").read_text()
    assert "- verifier: " in results  # what it was trained on, or why there is none
    for name in example.NAMES.values():
        assert f"| {name} |" in results, name
    summary = json.loads((out / "results.json").read_text())["reports"]
    assert summary["PPO (LoReFT)"]["greedy_n"] == 3 and summary["PPO (LoReFT)"]["vote_n"] == 2
    assert "PPO (full): 2 steps" in results and "PPO (LoReFT): 2 steps" in results
    assert "[sft-full] done" in first

    example.main(["--tiny", "--output", str(out), "--threads", "1"])
    second = capsys.readouterr().out
    for stage in example.STAGES:
        assert f"[{stage}] cached" in second, stage
    assert (out / "results.md").read_text() == results
