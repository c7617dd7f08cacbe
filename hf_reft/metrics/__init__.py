"""Evaluation metrics of hf-reft as ``evaluate`` modules shipped inside the package.

``evaluate.load("accuracy")`` needs the Hub; these load from their path in the installed package, so
they work offline::

    from hf_reft import metrics

    accuracy = metrics.load("numeric_accuracy", config_name="gsm8k")
    accuracy.compute(predictions=["... The answer is 72."], references=["#### 72"])
    # {'accuracy': 1.0, 'extracted': 1.0, 'total': 1}

Both metrics score with :mod:`hf_reft.answers` (through :func:`score_predictions`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ..answers import Answer, BenchmarkSpec, get_benchmark, is_correct, parse_scibench_gold, prediction_answer

if TYPE_CHECKING:
    import evaluate

__all__ = ["AVAILABLE_METRICS", "load", "metric_path", "score_predictions"]

AVAILABLE_METRICS = ("numeric_accuracy", "choice_accuracy")
_METRICS_DIR = Path(__file__).resolve().parent


def metric_path(name: str) -> Path:
    """The path of a metric script in the package, e.g. ``.../metrics/numeric_accuracy/numeric_accuracy.py``."""
    if name not in AVAILABLE_METRICS:
        raise ValueError(f"Unknown metric {name!r}. Available metrics: {', '.join(AVAILABLE_METRICS)}.")
    return _METRICS_DIR / name / f"{name}.py"


def load(name: str, **kwargs: object) -> evaluate.EvaluationModule:
    """``evaluate.load`` of one of the package's metrics by path (no network needed).

    Keyword arguments go to :func:`evaluate.load`; ``config_name`` picks the benchmark whose answer
    strategy and tolerances the metric uses (e.g. ``"gsm8k"``, ``"scibench"``, ``"boolq"``).
    """
    import evaluate

    path = metric_path(name)
    config_name = kwargs.get("config_name")
    if config_name not in (None, "default"):
        get_benchmark(str(config_name))  # fail early, listing the known benchmarks
    return evaluate.load(str(path), **kwargs)


def _gold_answers(
    references: Sequence[object], spec: BenchmarkSpec, reference_units: Sequence[str] | None
) -> list[Answer]:
    """The gold answers; with ``reference_units``, SciBench numbers scaled by their unit's power of ten."""
    if reference_units is None:
        return [spec.parse_gold(reference) for reference in references]
    if len(reference_units) != len(references):
        raise ValueError(f"Got {len(reference_units)} reference_units for {len(references)} references.")
    return [
        parse_scibench_gold(reference, unit)  # type: ignore[arg-type]
        for reference, unit in zip(references, reference_units, strict=True)
    ]


def score_predictions(
    predictions: Sequence[object],
    references: Sequence[object],
    *,
    benchmark: str | BenchmarkSpec,
    kind: Literal["numeric", "choice"],
    abs_tol: float | None = None,
    rel_tol: float | None = None,
    strict: bool = False,
    reference_units: Sequence[str] | None = None,
    return_details: bool = False,
) -> dict[str, object]:
    """Accuracy of predictions (model text, numbers or ``None``) against gold answers.

    Returns ``accuracy``, ``extracted`` (share of predictions with an answer) and ``total``; with
    ``return_details`` also per-example ``correct`` and ``answers`` (the extracted answer as text, or
    ``None``). ``reference_units`` are SciBench gold units: each reference is then an
    ``answer_number`` scaled by its unit's power of ten.
    """
    spec = get_benchmark(benchmark)
    if spec.kind != kind:
        other = "choice_accuracy" if spec.kind == "choice" else "numeric_accuracy"
        raise ValueError(f"Benchmark {spec.name!r} has {spec.kind} answers; use the {other} metric.")
    if len(predictions) != len(references):
        raise ValueError(f"Got {len(predictions)} predictions but {len(references)} references.")
    golds = _gold_answers(references, spec, reference_units)
    answers = [prediction_answer(prediction, spec, strict=strict) for prediction in predictions]
    correct = [
        is_correct(answer, reference, spec, abs_tol=abs_tol, rel_tol=rel_tol)
        for answer, reference in zip(answers, golds, strict=True)
    ]
    total = len(correct)
    result: dict[str, object] = {
        "accuracy": sum(correct) / total if total else 0.0,
        "extracted": sum(answer is not None for answer in answers) / total if total else 0.0,
        "total": total,
    }
    if return_details:
        result["correct"] = correct
        result["answers"] = [None if answer is None else str(answer) for answer in answers]
    return result
