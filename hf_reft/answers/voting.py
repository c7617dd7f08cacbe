"""Majority voting with deterministic tie-breaking (majority_vote)."""

from __future__ import annotations

from collections.abc import Iterable

from .answer import Answer
from .benchmarks import BenchmarkSpec, get_benchmark
from .comparison import compare_answers


def majority_vote(
    answers: Iterable[Answer | None],
    *,
    benchmark: str | BenchmarkSpec | None = None,
    abs_tol: float | None = None,
    rel_tol: float | None = None,
) -> Answer | None:
    """The most frequent answer; ``None`` when no answer was extracted.

    ``None`` entries (nothing extracted) do not vote. Numbers that agree within the tolerance (the
    benchmark's, or ``abs_tol``/``rel_tol``, or float rounding when none is given) count as one
    answer: each answer joins the first group whose first member it matches. Ties go to the group
    whose first member came first; the winner is that first member.
    """
    if benchmark is not None and abs_tol is None and rel_tol is None:
        spec = get_benchmark(benchmark)
        abs_tol, rel_tol = spec.abs_tol, spec.rel_tol
    groups: list[list[Answer]] = []
    for answer in answers:
        if answer is None:
            continue
        group = next(
            (g for g in groups if compare_answers(answer, g[0], abs_tol=abs_tol, rel_tol=rel_tol)), None
        )
        if group is None:
            groups.append([answer])
        else:
            group.append(answer)
    if not groups:
        return None
    best = max(range(len(groups)), key=lambda index: (len(groups[index]), -index))
    return groups[best][0]
