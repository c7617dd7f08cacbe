"""Confidence intervals: Wilson for proportions, percentile and paired bootstrap."""

from __future__ import annotations

import pytest

from hf_reft.stats import (
    Interval,
    bootstrap_interval,
    paired_bootstrap_difference,
    proportion_interval,
    wilson_interval,
)


@pytest.mark.parametrize(
    "k, n, low, high",
    [
        (5, 10, 0.2366, 0.7634),  # textbook values of the Wilson score interval
        (0, 10, 0.0, 0.2775),
        (10, 10, 0.7225, 1.0),
        (30, 300, 0.0709, 0.1392),
    ],
)
def test_wilson_interval_matches_known_values(k, n, low, high):
    interval = wilson_interval(k, n)
    assert interval.estimate == pytest.approx(k / n)
    assert interval.low == pytest.approx(low, abs=1e-4)
    assert interval.high == pytest.approx(high, abs=1e-4)


def test_wilson_narrows_with_n_and_widens_with_confidence():
    assert wilson_interval(50, 100).high - wilson_interval(50, 100).low > (
        wilson_interval(500, 1000).high - wilson_interval(500, 1000).low
    )
    assert wilson_interval(50, 100, 0.99).low < wilson_interval(50, 100, 0.9).low
    assert proportion_interval([True, False, True, True]) == wilson_interval(3, 4)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="n must be positive"):
        wilson_interval(0, 0)
    with pytest.raises(ValueError, match="between 0 and n"):
        wilson_interval(11, 10)
    with pytest.raises(ValueError, match="confidence"):
        wilson_interval(1, 10, confidence=95)
    with pytest.raises(ValueError, match="empty"):
        bootstrap_interval([])
    with pytest.raises(ValueError, match="same items"):
        paired_bootstrap_difference([1, 0], [1])


def test_bootstrap_is_reproducible_and_sane():
    scores = [1.0] * 30 + [0.0] * 70
    first = bootstrap_interval(scores, seed=3, n_resamples=2000)
    assert first == bootstrap_interval(scores, seed=3, n_resamples=2000)
    assert first.estimate == pytest.approx(0.3)
    assert 0.2 < first.low < 0.3 < first.high < 0.4
    constant = bootstrap_interval([0.5] * 10, n_resamples=200)
    assert (constant.low, constant.high) == (pytest.approx(0.5), pytest.approx(0.5))


def test_paired_bootstrap_difference_keeps_the_pairing():
    base = [0.0] * 50 + [1.0] * 50
    better = [1.0] * 20 + [0.0] * 30 + [1.0] * 50  # right on 20 more questions, never worse
    diff = paired_bootstrap_difference(base, better, n_resamples=2000)
    assert diff.estimate == pytest.approx(0.2)
    assert diff.excludes(0.0) and diff.low > 0.1
    same = paired_bootstrap_difference(base, base, n_resamples=200)
    assert (same.estimate, same.low, same.high) == (0.0, 0.0, 0.0)
    assert not same.excludes(0.0)


def test_interval_formatting():
    interval = Interval(0.123, 0.091, 0.16)
    assert interval.format() == "12.3 [9.1, 16.0]"
    assert interval.to_dict() == {"estimate": 0.123, "low": 0.091, "high": 0.16, "confidence": 0.95}


def test_paired_comparison_counts_wins_and_losses():
    from hf_reft.stats import paired_comparison

    a = [True, True, False, False, True, False]
    b = [True, False, True, True, True, False]
    result = paired_comparison(a, b, n_resamples=2000)
    assert (result.n, result.wins, result.losses) == (6, 2, 1)
    assert result.difference.estimate == pytest.approx(1 / 6)
    assert result.to_dict()["excludes_zero"] == result.excludes_zero is False
    with pytest.raises(ValueError, match="same items"):
        paired_comparison([True], [True, False])
