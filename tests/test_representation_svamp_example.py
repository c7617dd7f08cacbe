"""``examples/representation_svamp.py`` end to end on a tiny random model: it trains through the library's
``train_adapter`` (the schedule sized to the time budget), evaluates adapter and base, reports, and a
rerun finds every stage cached."""

from __future__ import annotations

import json

import pytest
from script_loading import load_script


def load_example():
    return load_script("examples/representation_svamp.py")


@pytest.fixture
def tiny_base(tmp_path):
    from hf_reft.models import tiny_random_chat_model

    return tiny_random_chat_model(tmp_path / "tiny-base", hidden_size=32)


def test_the_svamp_example_trains_through_train_adapter_and_resumes_from_its_caches(
    tiny_base, tmp_path, capsys
):
    example = load_example()
    out = tmp_path / "run"
    argv = ["--model", tiny_base, "--output", str(out), "--threads", "1", "--layers", "0,1", "--rank", "2"]
    argv += ["--positions", "f1+l1", "--budget-minutes", "0.05", "--n-eval", "3", "--max-new-tokens", "4"]
    assert example.main(argv) == 0
    first = capsys.readouterr().out
    summary = json.loads((out / "train_summary.json").read_text())
    plan = summary["budget_plan"]
    assert plan["clock"] == "cpu" and plan["max_steps"] >= 10  # steps_for_budget sized the schedule
    assert 1 <= summary["steps"] <= plan["max_steps"]  # the budget stopped it, as planned or sooner
    assert (out / "adapter" / "model.safetensors").is_file() and not (
        out / "adapter" / "checkpoints"
    ).exists()
    assert "no checkpoint: training from the start" in first
    results = (out / "results.md").read_text()
    assert "| LoReFT adapter | 3 |" in results and "LoReFT − base (same prompt)" in results

    assert example.main(argv) == 0
    second = capsys.readouterr().out
    assert "adapter already trained" in second and second.count(": cached,") == 3
