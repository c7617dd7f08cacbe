"""Carving a validation set out of training data, by question.

Hyper-parameters are chosen on questions the model never trains on and the test set never sees:
:func:`hold_out_questions` moves a fixed, seeded set of *questions* — every row that asks one of
them, since augmented training sets hold several solutions per question — out of the training data.
Questions are compared after :func:`~hf_reft.data.leakage.normalize_question`, the same rule the
leak check uses, so the two parts pass :func:`~hf_reft.data.leakage.check_no_overlap`.
"""

from __future__ import annotations

import random
from typing import Any

from .leakage import normalize_question

__all__ = ["hold_out_questions"]


def hold_out_questions(dataset: Any, question_column: str, size: int, *, seed: int = 0) -> tuple[Any, Any]:
    """Split ``dataset`` into ``(train, held_out)`` with ``size`` distinct questions held out.

    The held-out questions are drawn with ``random.Random(seed)`` from the distinct normalised
    questions in order of first appearance, so the split depends only on the data and the seed.
    Both parts keep the original row order.

    Args:
        dataset: a :class:`datasets.Dataset`.
        question_column: the column holding the question text.
        size: how many distinct questions to hold out (at least 1, fewer than the data holds).
        seed: the draw's seed.

    Returns:
        ``(train, held_out)``, two :class:`datasets.Dataset` views of ``dataset``.
    """
    if question_column not in dataset.column_names:
        raise ValueError(
            f"No column {question_column!r} to hold questions out by (columns: {', '.join(dataset.column_names)}); "
            "pass the question column's name."
        )
    keys = [normalize_question(str(q)) for q in dataset[question_column]]
    distinct = list(dict.fromkeys(keys))
    if not 0 < size < len(distinct):
        raise ValueError(
            f"Cannot hold out {size} questions: the data has {len(distinct)} distinct questions; "
            f"choose a size between 1 and {len(distinct) - 1}."
        )
    chosen = set(random.Random(seed).sample(distinct, size))
    held = [i for i, key in enumerate(keys) if key in chosen]
    kept = [i for i, key in enumerate(keys) if key not in chosen]
    return dataset.select(kept), dataset.select(held)
