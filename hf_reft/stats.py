"""Confidence intervals for evaluation results (standard library only).

* :func:`wilson_interval` — a proportion (accuracy of ``k`` correct out of ``n``): the Wilson score
  interval, which stays inside [0, 1] and behaves at 0 % and 100 %, unlike the normal one.
* :func:`bootstrap_interval` — the mean of any per-item score, by the percentile bootstrap.
* :func:`paired_bootstrap_difference` — the difference of two systems scored on the *same* items
  (``mean(b) - mean(a)``), resampling items so the pairing is kept: "did the fine-tuned model
  beat the base?" is answered by whether the interval excludes 0.
* :func:`paired_comparison` — that difference for two systems' right/wrong results, with the items
  only one of them got right (:class:`PairedComparison`): the one comparison every evaluation uses.

Every resampling function takes a ``seed``, so reported intervals are reproducible.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

__all__ = [
    "Interval",
    "PairedComparison",
    "bootstrap_interval",
    "paired_bootstrap_difference",
    "paired_comparison",
    "proportion_interval",
    "wilson_interval",
]


@dataclass(frozen=True)
class Interval:
    """An estimate with its confidence interval: ``estimate`` in ``[low, high]`` at ``confidence``."""

    estimate: float
    low: float
    high: float
    confidence: float = 0.95

    def excludes(self, value: float = 0.0) -> bool:
        """Whether ``value`` lies outside the interval (e.g. a difference that excludes 0)."""
        return value < self.low or value > self.high

    def format(self, scale: float = 100.0, digits: int = 1) -> str:
        """``"12.3 [9.1, 16.0]"`` (percentages by default)."""
        return f"{self.estimate * scale:.{digits}f} [{self.low * scale:.{digits}f}, {self.high * scale:.{digits}f}]"

    def to_dict(self) -> dict[str, float]:
        return {"estimate": self.estimate, "low": self.low, "high": self.high, "confidence": self.confidence}


def _check_confidence(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1 (e.g. 0.95), got {confidence}.")
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> Interval:
    """The Wilson score interval of a proportion ``successes / n``.

    >>> wilson_interval(0, 10).high > 0
    True
    """
    if n <= 0:
        raise ValueError(f"n must be positive, got {n}: there is no accuracy without examples.")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be between 0 and n={n}, got {successes}.")
    z = _check_confidence(confidence)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    low = 0.0 if successes == 0 else max(0.0, centre - half)  # exact ends, no rounding residue
    high = 1.0 if successes == n else min(1.0, centre + half)
    return Interval(p, low, high, confidence)


def proportion_interval(outcomes: Sequence[bool], confidence: float = 0.95) -> Interval:
    """:func:`wilson_interval` of a list of right/wrong outcomes."""
    return wilson_interval(sum(bool(o) for o in outcomes), len(outcomes), confidence)


def _percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile ``q`` in [0, 1] of already sorted values."""
    position = q * (len(sorted_values) - 1)
    lower = math.floor(position)
    upper = min(lower + 1, len(sorted_values) - 1)
    weight = position - lower
    return sorted_values[lower] * (1 - weight) + sorted_values[upper] * weight


def _check_scores(scores: Sequence[float], name: str) -> list[float]:
    values = [float(s) for s in scores]
    if not values:
        raise ValueError(f"{name} is empty: a bootstrap needs at least one score.")
    return values


def bootstrap_interval(
    scores: Sequence[float], *, confidence: float = 0.95, n_resamples: int = 10_000, seed: int = 0
) -> Interval:
    """Percentile-bootstrap interval of the mean of ``scores``."""
    values = _check_scores(scores, "scores")
    _check_confidence(confidence)
    rng = random.Random(seed)
    n = len(values)
    means = sorted(sum(rng.choices(values, k=n)) / n for _ in range(n_resamples))
    alpha = (1 - confidence) / 2
    return Interval(sum(values) / n, _percentile(means, alpha), _percentile(means, 1 - alpha), confidence)


def paired_bootstrap_difference(
    a: Sequence[float],
    b: Sequence[float],
    *,
    confidence: float = 0.95,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> Interval:
    """Interval of ``mean(b) - mean(a)`` over paired items (item ``i`` of ``a`` and ``b`` is one item).

    Items are resampled with replacement and both systems keep their score on each drawn item,
    so the per-item correlation of the two systems is respected.
    """
    first = _check_scores(a, "a")
    second = _check_scores(b, "b")
    if len(first) != len(second):
        raise ValueError(
            f"Paired scores need the same items: a has {len(first)}, b has {len(second)}. "
            "Score both systems on the same questions."
        )
    _check_confidence(confidence)
    differences = [y - x for x, y in zip(first, second, strict=True)]
    return bootstrap_interval(differences, confidence=confidence, n_resamples=n_resamples, seed=seed)


@dataclass(frozen=True)
class PairedComparison:
    """Two systems' right/wrong results on the same items: ``difference`` is accuracy(b) − accuracy(a)
    with its paired bootstrap interval, ``wins`` the items only ``b`` got right, ``losses`` only ``a``."""

    n: int
    difference: Interval
    wins: int
    losses: int

    @property
    def excludes_zero(self) -> bool:
        return self.difference.excludes(0.0)

    def to_dict(self) -> dict[str, object]:
        return {
            "n": self.n,
            "difference": self.difference.to_dict(),
            "wins": self.wins,
            "losses": self.losses,
            "excludes_zero": self.excludes_zero,
        }


def paired_comparison(
    a: Sequence[bool],
    b: Sequence[bool],
    *,
    confidence: float = 0.95,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> PairedComparison:
    """Compare ``b`` with ``a`` item by item (item ``i`` of both is one question)."""
    first, second = [bool(x) for x in a], [bool(x) for x in b]
    interval = paired_bootstrap_difference(
        [float(x) for x in first],
        [float(x) for x in second],
        confidence=confidence,
        n_resamples=n_resamples,
        seed=seed,
    )
    wins = sum(y and not x for x, y in zip(first, second, strict=True))
    losses = sum(x and not y for x, y in zip(first, second, strict=True))
    return PairedComparison(len(first), interval, wins, losses)
