"""Refusing to train on test questions.

``llm-adapters/math_data.json`` holds most of SVAMP's and GSM8K's test questions; a training
run that evaluates on those sets must not see them. Questions are compared after
normalisation (case, punctuation and spacing), which is how the leak shows: the two copies of
one SVAMP question differ only in those.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

__all__ = ["DataLeakError", "check_no_overlap", "normalize_question"]

_NON_WORD = re.compile(r"[^0-9a-z]+")


class DataLeakError(ValueError):
    """The training data contains questions of the test set."""


def normalize_question(text: str) -> str:
    """Lower-case, drop accents and punctuation, collapse spaces; numbers keep their digits.

    >>> normalize_question("Julia played tag with 16 kids on Monday. ")
    'julia played tag with 16 kids on monday'
    """
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)  # 1,000 → 1000
    text = re.sub(r"(?<=\d)\.0+\b", "", text)  # 16.0 → 16
    return _NON_WORD.sub(" ", text).strip()


def check_no_overlap(
    train_questions: Iterable[str],
    test_questions: Iterable[str],
    *,
    train_name: str = "the training set",
    test_name: str = "the test set",
) -> None:
    """Raise :class:`DataLeakError` when any normalised training question is a test question."""
    test = {normalize_question(q) for q in test_questions}
    test.discard("")
    leaked = [q for q in train_questions if normalize_question(q) in test]
    if leaked:
        examples = "; ".join(repr(q[:80]) for q in leaked[:3])
        raise DataLeakError(
            f"{len(leaked)} questions of {train_name} are also in {test_name} (e.g. {examples}). "
            f"Training on them would inflate the evaluation: remove them from the training data, "
            f"or evaluate on a test set that does not overlap (see shared/data/README.md)."
        )
