"""The Answer every extractor returns: a value (number or label), its unit and the text it came from."""

from __future__ import annotations

import numbers
from dataclasses import dataclass


@dataclass(frozen=True)
class Answer:
    """An extracted (or gold) answer.

    Attributes:
        value: a float for numeric answers, a canonical label (``"answer2"``, ``"true"``, ``"C"``) for
            multiple-choice answers.
        unit: the unit written after a number (``"kJ/mol"``, ``"%"``, ``"dollars"``), else ``None``.
        raw: the piece of text the answer was read from.
    """

    value: float | str
    unit: str | None = None
    raw: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.value, numbers.Real) and not isinstance(self.value, bool):
            object.__setattr__(self, "value", float(self.value))
        elif not isinstance(self.value, str):
            raise TypeError(f"Answer.value must be a number or a label, got {type(self.value).__name__}.")

    @property
    def is_numeric(self) -> bool:
        """Whether the answer is a number (as opposed to a choice label)."""
        return isinstance(self.value, float)

    def __str__(self) -> str:
        if not self.is_numeric:
            return str(self.value)
        text = f"{self.value:.12g}"
        return f"{text} {self.unit}" if self.unit else text
