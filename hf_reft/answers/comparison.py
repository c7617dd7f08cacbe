"""Comparing answers: absolute and/or relative tolerance (compare_numbers, compare_answers)."""

from __future__ import annotations

import math

from .answer import Answer


def compare_numbers(
    pred: float, gold: float, *, abs_tol: float | None = None, rel_tol: float | None = None
) -> bool:
    """Whether ``pred`` equals ``gold`` within ``abs_tol`` or ``rel_tol``, as :func:`math.isclose`.

    The rewards of reinforced fine-tuning use ``abs_tol=1e-2`` (|pred - gold| <= 0.01); SciBench uses
    ``rel_tol=0.05`` (relative to the larger magnitude, as SciBench's own scorer). With neither
    given, the numbers must agree up to float rounding (``rel_tol=1e-9``). NaN and infinities never
    match.
    """
    if min(abs_tol or 0.0, rel_tol or 0.0) < 0:
        raise ValueError(f"Tolerances must be non-negative, got abs_tol={abs_tol}, rel_tol={rel_tol}.")
    if not (math.isfinite(pred) and math.isfinite(gold)):
        return False
    if abs_tol is None and rel_tol is None:
        rel_tol = 1e-9
    return math.isclose(pred, gold, rel_tol=rel_tol or 0.0, abs_tol=abs_tol or 0.0)


def _candidate_values(answer: Answer) -> tuple[float, ...]:
    """A percentage "25%" may be meant as 25 or as 0.25."""
    value = float(answer.value)
    return (value, value / 100) if answer.unit == "%" else (value,)


def compare_answers(
    pred: Answer, gold: Answer, *, abs_tol: float | None = None, rel_tol: float | None = None
) -> bool:
    """Whether two answers agree: numbers within tolerance (a "%" side also as a fraction), labels
    equal ignoring case. Units are not compared (gold units say what scale the number is in)."""
    if pred.is_numeric and gold.is_numeric:
        return any(
            compare_numbers(p, g, abs_tol=abs_tol, rel_tol=rel_tol)
            for p in _candidate_values(pred)
            for g in _candidate_values(gold)
        )
    if pred.is_numeric or gold.is_numeric:
        return False
    return str(pred.value).strip().lower() == str(gold.value).strip().lower()
