"""Gold answers as the data sets write them (GSM8K '#### N', SciBench's number times its unit's power of ten)."""

from __future__ import annotations

import numbers
import re
from collections.abc import Mapping, Sequence

from .answer import Answer
from .extraction import extract_choice
from .normalization import normalize_text
from .number_parsing import _UNIT_ALIASES, parse_number

_RE_SCALE = re.compile(r"^\s*10\s*\^\s*\(?\s*([-+]?\d+)\s*\)?")


def split_unit_scale(unit: str) -> tuple[float, str | None]:
    """Split a SciBench unit into its power-of-ten scale and a readable unit.

    ``"$10^{-19} \\mathrm{~J}$"`` -> ``(1e-19, "J")``; ``"$\\mathrm{kJ} \\mathrm{mol}^{-1}$"`` ->
    ``(1.0, "kJ mol^-1")``; ``" "`` -> ``(1.0, None)``. SciBench states answers in such units and
    scores the number times the scale, asking models for the unit without the power.
    """
    plain = re.sub(r"\s+", " ", normalize_text(unit)).strip()
    scale = 1.0
    if match := _RE_SCALE.match(plain):
        scale = 10.0 ** int(match.group(1))
        plain = plain[match.end() :].strip()
    plain = re.sub(r"\s*\^\s*", "^", plain)
    return scale, _UNIT_ALIASES.get(plain.lower(), plain) or None


def parse_scibench_gold(answer_number: str | float, unit: str = "") -> Answer:
    """A SciBench gold answer from its ``answer_number`` and ``unit`` fields (scale applied)."""
    try:
        number = float(str(answer_number).strip())
    except ValueError:
        raise ValueError(f"SciBench answer_number {answer_number!r} is not a number.") from None
    scale, readable = split_unit_scale(unit or "")
    return Answer(value=number * scale, unit=readable, raw=f"{answer_number} {unit}".strip())


def parse_gsm8k_gold(answer: str | float) -> Answer:
    """A GSM8K gold answer: the full solution ending in ``#### 1,234`` or the number alone."""
    text = str(answer)
    if "####" in text:
        text = text.rsplit("####", 1)[1]
    return _parse_numeric_gold(text)


def _parse_numeric_gold(gold: object) -> Answer:
    """A numeric gold answer: a number, a numeric string ("203.0", "-3", "1,234", "25%"), a
    ``#### N`` solution, or a SciBench row (mapping with ``answer_number`` and ``unit``)."""
    if isinstance(gold, Answer):
        return gold
    if isinstance(gold, Mapping):
        if "answer_number" in gold:
            return parse_scibench_gold(gold["answer_number"], gold.get("unit") or "")
        raise ValueError(f"A gold mapping needs 'answer_number' (and 'unit'); got keys {sorted(gold)}.")
    if isinstance(gold, numbers.Real) and not isinstance(gold, bool):
        return Answer(value=float(gold), raw=str(gold))
    if isinstance(gold, str):
        if "####" in gold:
            return parse_gsm8k_gold(gold)
        if (answer := parse_number(gold)) is not None:
            return answer
    raise ValueError(f"Cannot read a numeric gold answer from {gold!r}.")


def _parse_choice_gold(gold: object, choices: Sequence[str]) -> Answer:
    if isinstance(gold, Answer):
        return gold
    answer = extract_choice(str(gold), choices) if isinstance(gold, str) else None
    if answer is None:
        raise ValueError(f"Gold answer {gold!r} is none of the choices {list(choices)}.")
    return answer
