"""Where the final answer is: a boxed value, 'the answer is X', '#### X'; multiple-choice labels; program results."""

from __future__ import annotations

import ast
import math
import numbers
import re
from collections.abc import Sequence

from .answer import Answer
from .arithmetic import _parse_expression, evaluate_arithmetic
from .normalization import normalize_text
from .number_parsing import _NUMBER_PATTERN, _answer_from_match, find_numbers, parse_number

# Where the final answer is: \boxed{..}, "the answer is X", "#### X"
_MARKER_PATTERN = re.compile(
    r"""
    \banswer\s*(?:(?:is|was|would\s+be|will\s+be|should\s+be|=|:)\s*)+
        (?:(?:therefore|thus|then|just|simply)\s+)?:?
  | \#\#\#\#
    """,
    re.IGNORECASE | re.VERBOSE,
)
_SENTENCE_END = re.compile(r"\.(?!\d)|[!?;\n]")
_MAX_SPAN = 300  # characters after a marker searched for the answer
_MAX_MARKERS = 20  # markers tried, from the last one back


def find_boxed(text: str) -> str | None:
    """The content of the last ``\\boxed{...}`` (or ``\\fbox{...}``), braces balanced; else ``None``."""
    start = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if start < 0:
        return None
    opening = text.find("{", start)
    if opening < 0 or not re.fullmatch(r"\\(?:boxed|fbox)\s*", text[start:opening]):
        return None
    depth = 0
    for index in range(opening, len(text)):
        depth += {"{": 1, "}": -1}.get(text[index], 0)
        if depth == 0:
            return text[opening + 1 : index]
    return None


def _marker_spans(text: str) -> list[str]:
    """The text after each answer marker up to the end of its sentence, the last marker first."""
    spans = []
    for match in list(_MARKER_PATTERN.finditer(text))[: -_MAX_MARKERS - 1 : -1]:
        rest = text[match.end() : match.end() + _MAX_SPAN].lstrip()
        end = _SENTENCE_END.search(rest)
        spans.append(rest[: end.start()] if end else rest)
    return spans


def extract_number(text: str, *, strict: bool = False) -> Answer | None:
    """The final numeric answer in a model's output.

    In order: the last ``\\boxed{}``; the sentence after the last answer marker that holds a number
    ("Therefore, the answer is <X>.", "The answer is X", "answer is: X", "Answer: X", "#### X");
    unless ``strict``, the last number in the text (LLM-Adapters/LoReFT's rule).
    """
    boxed = find_boxed(text)
    if boxed is not None and (answer := parse_number(boxed)) is not None:
        return answer
    for span in _marker_spans(text):
        if (answer := parse_number(span)) is not None:
            return answer
    if strict:
        return None
    plain = normalize_text(text)
    if (value := evaluate_arithmetic(plain)) is not None:  # the whole output is an expression: "\\frac{1}{2}"
        return Answer(value=value, raw=plain.strip())
    numbers_found = find_numbers(plain, normalize=False)
    return numbers_found[-1] if numbers_found else None


# Multiple choice
# A letter that stands for an option: "(D).", "D", "c ) 30", "<c>", "option C" -- not "A man ...".
_LETTER_AT_START = re.compile(
    r"^\W*(?:(?:option|choice)\s*)?[(<\[]?\s*([A-Za-z])\s*(?:[)>\]:.,;!?]|$)", re.IGNORECASE
)
_PARENTHESISED_LETTER = r"(?<!\w)\(?([{letters}])\)(?!\w)"


def _label_pattern(label: str) -> re.Pattern[str]:
    """``answer2`` matches "answer2", "Answer 2", "answer_2"; ``true`` matches "True"."""
    prefix, digits = re.fullmatch(r"(.*?)(\d*)", label).groups()  # type: ignore[union-attr]
    body = re.escape(prefix) + (rf"[\s_]*{digits}" if digits else "")
    return re.compile(rf"(?<![A-Za-z0-9]){body}(?![A-Za-z0-9])", re.IGNORECASE)


def _first_label(text: str, labels: Sequence[str]) -> str | None:
    """The label that occurs first in ``text``."""
    hits = [(match.start(), label) for label in labels if (match := _label_pattern(label).search(text))]
    return min(hits)[1] if hits else None


def _letter_in_span(span: str, letters: Sequence[str]) -> str | None:
    match = _LETTER_AT_START.search(span)
    letter = match.group(1).upper() if match else None
    return letter if letter in letters else None


def extract_choice(text: str, choices: Sequence[str], *, strict: bool = False) -> Answer | None:
    """The multiple-choice label (one of ``choices``) that a model's output picks.

    Word labels (``answer1``..``answer5``, ``solution1``, ``option2``, ``true``/``false``) are matched
    case-insensitively; single letters (``A``..``E``) only where a letter can stand for an option.
    In order: the last ``\\boxed{}``; the sentence after the last answer marker ("the correct answer is
    answer2", "The answer is (D)."); unless ``strict``, the first label anywhere in the text (as
    LLM-Adapters and LoReFT score commonsense sets) or, for letters, the last "(D)" / "D)".
    """
    if not choices:
        raise ValueError("extract_choice needs at least one choice label.")
    letters = all(len(choice) == 1 for choice in choices)
    choices = [choice.upper() for choice in choices] if letters else [choice.lower() for choice in choices]
    boxed = find_boxed(text)
    spans = ([] if boxed is None else [boxed]) + _marker_spans(text)
    for span in spans:
        label = _letter_in_span(span, choices) if letters else _first_label(span, choices)
        if label is not None:
            return Answer(value=label, raw=span.strip())
    if strict:
        return None
    label = _fallback_letter(text, choices) if letters else _first_label(text, choices)
    return Answer(value=label, raw=text.strip()) if label is not None else None


def _fallback_letter(text: str, letters: Sequence[str]) -> str | None:
    """A bare letter answer ("D", "(D)") or else the last parenthesised letter in the text ("(D) 2.65").

    Longer texts are not read from their start: LLM-Adapters outputs begin with "A: ..."."""
    if len(text.strip()) <= 3 and (letter := _letter_in_span(text, letters)) is not None:
        return letter
    pattern = _PARENTHESISED_LETTER.format(letters="".join(letters))
    found = re.findall(pattern, text)
    return found[-1] if found else None


# Program results
def extract_program_result(result: object) -> Answer | None:
    """The numeric answer of a program: its return value or its printed output.

    Accepts ``int``/``float``/``Fraction``/``Decimal``/numpy scalars, sympy numbers (anything with
    ``evalf``), one-element lists/tuples, and strings: a repr ("203.0", "3/4", "sqrt(2)/2",
    "Rational(3, 4)", "[5]") or printed text ("-285.8 kJ/mol", "The answer is 5"). Booleans, ``None``,
    NaN, symbolic expressions and containers of several values give ``None``.
    """
    if result is None or isinstance(result, bool):
        return None
    if isinstance(result, numbers.Number) or hasattr(result, "evalf"):
        return _answer_from_real(result)
    if hasattr(result, "tolist"):  # numpy arrays and scalars
        return extract_program_result(result.tolist())
    if isinstance(result, list | tuple):
        return extract_program_result(result[0]) if len(result) == 1 else None
    if isinstance(result, str):
        return _answer_from_program_text(result)
    return None


def _answer_from_real(result: object) -> Answer | None:
    try:
        value = float(result)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return None
    return Answer(value=value, raw=str(result)) if math.isfinite(value) else None


def _answer_from_program_text(text: str) -> Answer | None:
    """A repr is evaluated (safely); printed text is read from its last line."""
    text = text.strip()
    if not text:
        return None
    if match := _NUMBER_PATTERN.fullmatch(text):  # "1,234", "50%", "3.0e5 J"
        return _answer_from_match(match)
    if _parse_expression(text) is None:  # printed text, not a repr
        return extract_number(text.splitlines()[-1])
    if text.startswith(("[", "(")) and isinstance(literal := _literal(text), list | tuple):
        return extract_program_result(literal)
    value = evaluate_arithmetic(text)  # "sqrt(2)/2", "Rational(3, 4)"; a symbolic "x + 1" has no value
    return Answer(value=value, raw=text) if value is not None else None


def _literal(text: str) -> object:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
