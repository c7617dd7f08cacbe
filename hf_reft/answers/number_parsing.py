"""Numbers with their units in text (find_numbers, parse_number), number words included."""

from __future__ import annotations

import math
import re

from .answer import Answer
from .arithmetic import _safe_power, evaluate_arithmetic
from .normalization import normalize_text

_UNIT_TOKEN = r"(?:°\s?[A-Za-z]+|[A-Za-zµμΩÅ][A-Za-zµμΩÅ]*)"
_UNIT_EXPONENT = r"(?:\^\(?[-+]?\d+\)?)"
_NUMBER_PATTERN = re.compile(
    rf"""
    (?<![\w.^])(?<!\^[-+(])                        # not glued to a word, a decimal point or a power
    (?P<sign>[-+±])?
    (?P<mantissa>\d{{1,3}}(?:,\d{{3}})+(?!\d)(?:\.\d+)? | \d+(?:\.\d+)? | \.\d+)
    (?:
        (?P<mixed>\s+\d+/\d+(?!\.?\d))            # mixed number: 2 1/2
      | \s*/\s*(?P<denominator>\d+(?:\.\d+)?)(?!\.?\d)   # fraction: 3/4
      | \^\(?(?P<power>[-+]?\d+(?:\.\d+)?)\)?     # power: 2^10, 10^-3
    )?
    (?P<exponent>
        [eE][-+]?\d+(?![\w.])
      | \s*(?:[x×*·])\s*10\s*(?:\^|\*\*)\s*\(?[-+]?\d+\)?
    )?
    (?P<percent>\s*%)?
    (?:
        [ \t]?(?P<unit>
            {_UNIT_TOKEN}{_UNIT_EXPONENT}?
            (?: \s*[/·*]\s*{_UNIT_TOKEN}{_UNIT_EXPONENT}?
              | [ \t]+{_UNIT_TOKEN}{_UNIT_EXPONENT}
              | [ \t]+per[ \t]+{_UNIT_TOKEN}
            )*
        )
    )?
    """,
    re.VERBOSE,
)
# Words that follow a number without being its unit ("3 x 4", "5 is the answer").
_NOT_UNITS = frozenset(
    re.findall(
        r"\w+",
        "a an and are as at be because but by each for from he her his i if in is it its more less minus "
        "of on or per plus she so than that the their then they this times to was we were which with x "
        "you divided equals answer",
    )
)
_UNIT_ALIASES = {"percent": "%", "percentage": "%"}


def _exponent_value(text: str) -> float:
    """``e-3``, ``× 10^-3``, ``* 10**(-3)`` -> -3.0."""
    return float(re.findall(r"[-+]?\d+", text)[-1])


def _mantissa_value(match: re.Match[str]) -> float | None:
    value = float(match["mantissa"].replace(",", ""))
    if match["mixed"]:
        numerator, denominator = (float(part) for part in match["mixed"].split("/"))
        if not 0 < numerator < denominator:
            return None
        value += numerator / denominator
    elif match["denominator"]:
        denominator = float(match["denominator"])
        if denominator == 0:
            return None
        value /= denominator
    elif match["power"]:
        value = _safe_power(value, float(match["power"]))
    return value


def _clean_unit(unit: str | None) -> str | None:
    if not unit:
        return None
    unit = re.sub(r"\s+", " ", unit).strip()
    first = re.split(r"[\s/·*^]", unit, maxsplit=1)[0]
    if first.lower() in _NOT_UNITS:
        return None
    return _UNIT_ALIASES.get(unit.lower(), unit)


def _answer_from_match(match: re.Match[str]) -> Answer | None:
    value = _mantissa_value(match)
    if value is None:
        return None
    if match["exponent"]:
        value = value * _safe_power(10.0, _exponent_value(match["exponent"]))
    if match["sign"] == "-":
        value = -value
    if not math.isfinite(value):
        return None
    unit = "%" if match["percent"] else _clean_unit(match["unit"])
    return Answer(value=float(value), unit=unit, raw=match.group(0).strip())


def find_numbers(text: str, *, normalize: bool = True) -> list[Answer]:
    """All numbers in ``text``, in order, each with the unit written right after it.

    A unit is one word (``dollars``, ``kJ``) or a compound joined by ``/``, ``·``, ``*`` or spaces before
    tokens that carry an exponent (``kJ/mol``, ``J K^-1 mol^-1``, ``miles per hour``). Digits glued to
    letters (``CO2``, ``item_3``) and exponents of units are not numbers of their own.
    """
    plain = normalize_text(text) if normalize else text
    found = (_answer_from_match(match) for match in _NUMBER_PATTERN.finditer(plain))
    return [answer for answer in found if answer is not None]


def _split_at_equals(text: str) -> str:
    """The part after the last ``=`` ("12 + 6 = 18" -> "18"); ``text`` itself if there is none."""
    return text.rsplit("=", 1)[-1] if "=" in text else text


def parse_number(text: str) -> Answer | None:
    """Read the value of a short answer string, e.g. the content of ``\\boxed{}`` or of "answer is X".

    Arithmetic expressions are evaluated ("3/4", "\\frac{\\sqrt{3}}{2}", "2^{10}"); with an ``=`` the
    right-hand side counts ("12 + 6 = 18"); otherwise the first number and its unit
    ("-285.8 kJ/mol" -> ``Answer(-285.8, "kJ/mol")``). ``None`` if there is no number.
    """
    plain = _split_at_equals(normalize_text(text)).strip().strip("<>").strip()
    value = evaluate_arithmetic(plain.rstrip("."))
    if value is not None:
        return Answer(value=value, unit=None, raw=plain)
    numbers_found = find_numbers(plain, normalize=False)
    return numbers_found[0] if numbers_found else _number_word(plain)


_UNITS_WORDS = re.findall(
    r"\w+",
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen",
)
_TENS_WORDS = re.findall(r"\w+", "twenty thirty forty fifty sixty seventy eighty ninety")
_NUMBER_WORDS = {word: float(i) for i, word in enumerate(_UNITS_WORDS)} | {
    word: 10.0 * (i + 2) for i, word in enumerate(_TENS_WORDS)
}


def _number_word(text: str) -> Answer | None:
    """A number written in words at the start of ``text``: "twelve", "twenty-five", "minus three"."""
    words = re.findall(r"[a-z]+", text.lower())[:3]
    sign = -1.0 if words[:1] in (["minus"], ["negative"]) else 1.0
    words = words[1:] if sign < 0 else words
    if not words or words[0] not in _NUMBER_WORDS:
        return None
    value = _NUMBER_WORDS[words[0]]
    if words[0] in _TENS_WORDS and len(words) > 1 and 0 < _NUMBER_WORDS.get(words[1], 10) < 10:
        value += _NUMBER_WORDS[words[1]]
    return Answer(value=sign * value, raw=text.strip())
