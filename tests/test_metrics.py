"""Tests of the package's `evaluate` metrics (hf_reft/metrics), loaded by path and offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import evaluate
import pytest

from hf_reft import metrics

REPO_ROOT = Path(__file__).resolve().parents[1]
SCIBENCH_UNIT = r"$10^{-19} \mathrm{~J}$"


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")


def _load(name: str, config_name: str | None = None) -> evaluate.EvaluationModule:
    return metrics.load(name, config_name=config_name, keep_in_memory=True)


def test_metric_paths() -> None:
    for name in metrics.AVAILABLE_METRICS:
        assert metrics.metric_path(name).is_file()
    with pytest.raises(ValueError, match="Available metrics: numeric_accuracy, choice_accuracy"):
        metrics.metric_path("accuracy")


def test_evaluate_load_by_path() -> None:
    metric = evaluate.load(str(metrics.metric_path("numeric_accuracy").parent), keep_in_memory=True)
    result = metric.compute(predictions=["So 3 + 4 = 7. The answer is 7."], references=["7.0"])
    assert result == {"accuracy": 1.0, "extracted": 1.0, "total": 1}


def test_numeric_accuracy_on_model_outputs() -> None:
    metric = _load("numeric_accuracy", "gsm8k")
    predictions = [
        "Natalia sold 48/2 = 24 clips in May. 48 + 24 = 72. The answer is 72.",  # right
        "Therefore, the answer is <1,234>.",  # right, commas
        r"The answer is $\boxed{18}$.",  # wrong
        "I am not sure.",  # no answer
    ]
    references = ["... #### 72", "#### 1,234", "#### 17", "#### 5"]
    result = metric.compute(predictions=predictions, references=references, return_details=True)
    assert result == {
        "accuracy": 0.5,
        "extracted": 0.75,
        "total": 4,
        "correct": [True, True, False, False],
        "answers": ["72", "1234", "18", None],
    }


def test_numeric_accuracy_numbers_and_missing_answers() -> None:
    metric = _load("numeric_accuracy")
    assert metric.compute(predictions=[3.0, 4.004, None], references=[3.0, 4.0, 5.0]) == {
        "accuracy": 2 / 3,
        "extracted": 2 / 3,
        "total": 3,
    }
    assert metric.compute(predictions=[3.0, 4.5], references=["3", "#### 4"])["accuracy"] == 0.5
    assert metric.compute(predictions=["3", "4.5"], references=[3.0, 4.0])["accuracy"] == 0.5


def test_numeric_accuracy_tolerances() -> None:
    metric = _load("numeric_accuracy")
    predictions, references = ["The answer is 10.4", "The answer is 10.04"], ["10", "10"]
    assert metric.compute(predictions=predictions, references=references)["accuracy"] == 0.0  # 1e-2
    assert metric.compute(predictions=predictions, references=references, abs_tol=0.05)["accuracy"] == 0.5
    assert metric.compute(predictions=predictions, references=references, rel_tol=0.05)["accuracy"] == 1.0
    assert (
        metric.compute(predictions=predictions, references=references, benchmark="scibench")["accuracy"]
        == 1.0
    )


def test_numeric_accuracy_percentages_and_strict() -> None:
    metric = _load("numeric_accuracy", "svamp")
    assert metric.compute(predictions=["That is 25%."], references=["0.25"])["accuracy"] == 1.0
    result = metric.compute(
        predictions=["so 3 + 4 = 7", "The answer is 7."], references=["7", "7"], strict=True
    )
    assert result == {"accuracy": 0.5, "extracted": 0.5, "total": 2}


def test_numeric_accuracy_scibench_units() -> None:
    metric = _load("numeric_accuracy", "scibench")
    predictions = [
        "E = h nu = 3.6 × 10^{-19} J",  # within 5 %
        "The answer is \\boxed{3.52}",  # in units of 1e-19 J: SciBench asks for J, so wrong
        "E = 4.0e-19 J",  # 14 % off
    ]
    result = metric.compute(
        predictions=predictions,
        references=["3.52"] * 3,
        reference_units=[SCIBENCH_UNIT] * 3,
        return_details=True,
    )
    assert result["correct"] == [True, False, False]
    assert result["answers"] == ["3.6e-19 J", "3.52", "4e-19 J"]


def test_numeric_accuracy_add_batch() -> None:
    metric = _load("numeric_accuracy")
    metric.add_batch(predictions=["The answer is 1."], references=["1"])
    metric.add_batch(predictions=["The answer is 3."], references=["2"])
    metric.add(predictions="#### 3", references="3")
    assert metric.compute() == {"accuracy": 2 / 3, "extracted": 1.0, "total": 3}


def test_choice_accuracy() -> None:
    boolq = _load("choice_accuracy", "boolq")
    assert boolq.compute(
        predictions=["the correct answer is true", "False.", "I cannot tell"],
        references=["true", "true", "false"],
    ) == {"accuracy": 1 / 3, "extracted": 2 / 3, "total": 3}
    generic = _load("choice_accuracy")
    for benchmark, prediction, reference in [
        ("piqa", "the correct answer is solution2", "solution2"),
        ("ARC-Challenge", "the correct answer is answer4", "answer4"),
        ("social_i_qa", "Answer 3", "answer3"),
        ("openbookqa", r"\boxed{answer1}", "answer1"),
        ("winogrande", "the correct answer is option1", "option1"),
        ("aqua", "... = 2.65.The answer is (D).", "D"),
        ("mathqa", "The answer is <c>.", "c"),
    ]:
        result = generic.compute(predictions=[prediction], references=[reference], benchmark=benchmark)
        assert result["accuracy"] == 1.0, benchmark


def test_choice_accuracy_strict_and_details() -> None:
    metric = _load("choice_accuracy", "arc_easy")
    predictions = ["answer2 or answer1?", "the correct answer is answer1"]
    assert metric.compute(predictions=predictions, references=["answer2", "answer1"])["accuracy"] == 1.0
    result = metric.compute(
        predictions=predictions, references=["answer2", "answer1"], strict=True, return_details=True
    )
    assert result["correct"] == [False, True]
    assert result["answers"] == [None, "answer1"]


def test_metric_errors() -> None:
    with pytest.raises(ValueError, match=r"Unknown benchmark 'gsm9k'\. Known benchmarks:"):
        metrics.load("numeric_accuracy", config_name="gsm9k")
    with pytest.raises(ValueError, match="has choice answers; use the choice_accuracy metric"):
        _load("numeric_accuracy", "boolq").compute(predictions=["x"], references=["true"])
    with pytest.raises(ValueError, match="has numeric answers; use the numeric_accuracy metric"):
        _load("choice_accuracy", "gsm8k").compute(predictions=["x"], references=["1"])
    with pytest.raises(ValueError, match="needs the benchmark whose labels to use"):
        _load("choice_accuracy").compute(predictions=["true"], references=["true"])
    with pytest.raises(ValueError, match="none of the choices"):
        _load("choice_accuracy", "boolq").compute(predictions=["true"], references=["yes"])
    with pytest.raises(ValueError, match="reference_units"):
        _load("numeric_accuracy").compute(predictions=["1"], references=["1"], reference_units=["J", "J"])
    with pytest.raises(ValueError):
        _load("numeric_accuracy").compute(predictions=["1", "2"], references=["1"])


def test_score_predictions_directly() -> None:
    result = metrics.score_predictions(["The answer is 2"], [2], benchmark="gsm8k", kind="numeric")
    assert result == {"accuracy": 1.0, "extracted": 1.0, "total": 1}
    assert metrics.score_predictions([], [], benchmark="gsm8k", kind="numeric")["accuracy"] == 0.0
    with pytest.raises(ValueError, match="Got 1 predictions but 0 references"):
        metrics.score_predictions(["1"], [], benchmark="gsm8k", kind="numeric")


def test_fresh_process_offline_with_an_empty_modules_cache(tmp_path: Path) -> None:
    """`evaluate` copies the script into a new modules cache and imports it: `import hf_reft` must work."""
    code = (
        "import json, evaluate\n"
        "from hf_reft import metrics\n"
        "m = evaluate.load(str(metrics.metric_path('numeric_accuracy')), keep_in_memory=True)\n"
        "c = metrics.load('choice_accuracy', config_name='piqa', keep_in_memory=True)\n"
        "print(json.dumps([m.compute(predictions=['#### 5'], references=[5.0]),\n"
        "                  c.compute(predictions=['solution2'], references=['solution1'])]))\n"
    )
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "HF_HOME": str(tmp_path / "hf_home"),
        "HF_MODULES_CACHE": str(tmp_path / "modules"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    }
    output = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=tmp_path, check=True, capture_output=True, text=True
    ).stdout
    assert json.loads(output.strip().splitlines()[-1]) == [
        {"accuracy": 1.0, "extracted": 1.0, "total": 1},
        {"accuracy": 0.0, "extracted": 1.0, "total": 1},
    ]
    assert list((tmp_path / "modules").rglob("numeric_accuracy.py"))
