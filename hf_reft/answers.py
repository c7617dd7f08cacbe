"""The one answer-extraction module of hf-reft.

Every part of the package that needs "what answer did the model give?" or "is it right?" uses this
module: LoReFT evaluation, the reinforced fine-tuning rewards and voting, RefTool on SciBench and the
``evaluate`` metrics in :mod:`hf_reft.metrics`. It depends on the standard library only.

Layers, from the bottom up:

* **Numbers** -- :func:`normalize_text` turns LaTeX and Unicode maths into plain text,
  :func:`find_numbers` scans it for numbers (commas, signs, decimals, fractions, percentages,
  scientific notation) with the unit that follows each, and :func:`parse_number` reads the value of a
  short answer string ("-285.8 kJ/mol", "\\frac{3}{4}", "1.2 \\times 10^{-3}", "50%").
* **Extractors** -- :func:`extract_number` finds the final answer in a model's text
  (``\\boxed{..}``, "The answer is X", "answer: X", "#### X", then the last number),
  :func:`extract_choice` a multiple-choice label, :func:`extract_program_result` the answer of a
  program's return value or printed output.
* **Comparison** -- :func:`compare_numbers` (absolute and/or relative tolerance) and
  :func:`compare_answers`.
* **Benchmarks** -- a registry (:data:`BENCHMARKS`) with one strategy per benchmark:
  :func:`extract_answer`, :func:`parse_gold` and :func:`is_correct` take a benchmark name.
* **Voting** -- :func:`majority_vote` with deterministic tie-breaking.
"""

from __future__ import annotations

import ast
import math
import numbers
import re
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "BENCHMARKS",
    "Answer",
    "BenchmarkSpec",
    "compare_answers",
    "compare_numbers",
    "extract_answer",
    "extract_choice",
    "extract_number",
    "extract_program_result",
    "find_boxed",
    "find_numbers",
    "get_benchmark",
    "is_correct",
    "majority_vote",
    "normalize_text",
    "parse_gold",
    "parse_gsm8k_gold",
    "parse_number",
    "parse_scibench_gold",
    "prediction_answer",
    "register_benchmark",
    "split_unit_scale",
]


# --------------------------------------------------------------------------------------------------
# The answer type
# --------------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------------
# Normalisation: LaTeX and Unicode maths to plain text
# --------------------------------------------------------------------------------------------------

_SUPERSCRIPT_DIGITS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+")
_UNICODE_REPLACEMENTS = {
    "−": "-",  # minus sign
    "\u00a0": " ",
    "\u2009": " ",
    "\u202f": " ",
    "⋅": "·",
    "∗": "*",
    "÷": "/",
    "√": "sqrt",
}
_LATEX_SYMBOLS = {
    "times": " × ",
    "cdot": " · ",
    "div": " / ",
    "pi": "π",
    "circ": "°",
    "degree": "°",
    "mu": "μ",
    "Omega": "Ω",
    "AA": "Å",
    "angstrom": "Å",
    "quad": " ",
    "qquad": " ",
    "left": "",
    "right": "",
    "displaystyle": "",
    "pm": "±",
    "approx": "≈",
    "sim": "≈",
    "le": "≤",
    "leq": "≤",
    "ge": "≥",
    "geq": "≥",
    "neq": "≠",
    "ldots": "…",
    "cdots": "…",
    "Delta": "Δ",
}
_TEXT_COMMANDS = (
    "text|textrm|textbf|textit|textnormal|mathrm|mathbf|mathit|mathsf|mathnormal|operatorname|mbox|boxed|fbox"
)
_RE_TEXT_COMMAND = re.compile(rf"\\(?:{_TEXT_COMMANDS})\s*\{{([^{{}}]*)\}}")
_RE_SQRT = re.compile(r"\\sqrt\s*\{([^{}]*)\}")
_RE_FRAC = re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")
_RE_FRAC_DIGITS = re.compile(r"\\[dt]?frac\s*(\d)\s*(\d)")
_RE_SUPERSCRIPT_GROUP = re.compile(r"\^\s*\{([^{}]*)\}")
_RE_PLAIN_GROUP = re.compile(r"(?<![A-Za-z}^_])\{([^{}]*)\}")
_RE_LATEX_COMMAND = re.compile(r"\\([A-Za-z]+)")
_RE_SUPERSCRIPT_RUN = re.compile(r"[⁻⁺]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+")
_MAX_NESTING = 20  # brace levels resolved; deeper nesting is left as it is
_RE_SIMPLE_NUMBER = re.compile(r"\s*[-+]?\d+(?:\.\d+)?\s*")


def _fraction(match: re.Match[str]) -> str:
    numerator, denominator = match.group(1).strip(), match.group(2).strip()
    if _RE_SIMPLE_NUMBER.fullmatch(numerator) and _RE_SIMPLE_NUMBER.fullmatch(denominator):
        return f"{numerator}/{denominator}"
    return f"({numerator})/({denominator})"


def _superscript(match: re.Match[str]) -> str:
    exponent = match.group(1).strip()
    if exponent in ("°", r"\circ"):
        return "°"
    return f"^{exponent}" if _RE_SIMPLE_NUMBER.fullmatch(exponent) else f"^({exponent})"


def _latex_command(match: re.Match[str]) -> str:
    name = match.group(1)
    return _LATEX_SYMBOLS.get(name, name)


def _rewrite_until_stable(text: str) -> str:
    """Resolve brace groups from the innermost out: text commands, roots, fractions, powers."""
    rules: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str] | str]] = [
        (_RE_TEXT_COMMAND, r"\1"),
        (_RE_SQRT, r"sqrt(\1)"),
        (_RE_FRAC, _fraction),
        (_RE_SUPERSCRIPT_GROUP, _superscript),
        (_RE_PLAIN_GROUP, r"\1"),
    ]
    for _ in range(_MAX_NESTING):
        previous = text
        for pattern, replacement in rules:
            text = pattern.sub(replacement, text)
        if text == previous:
            break
    return text


#: An en or em dash that starts a number ("–35 kJ", typeset books use it as a minus sign), not one
#: between two words or numbers (a bond "C–H", a range "17–18").
_RE_DASH_MINUS = re.compile(r"(?<![\w)\]])[\u2013\u2014](?=\s?[\d.])")


def normalize_text(text: str) -> str:
    """Turn LaTeX and Unicode maths into plain text that :func:`find_numbers` can scan.

    ``\\frac{3}{4}`` becomes ``3/4``, ``\\sqrt{2}`` ``sqrt(2)``, ``10^{-3}`` ``10^-3``, ``\\times``
    ``×``, ``\\text{kJ}`` ``kJ``, ``\\%`` ``%``, ``x⁻¹`` ``x^-1``, the minus sign ``−`` (and a dash
    that starts a number, ``–35``) ``-``; ``$``
    (maths delimiters and currency alike) and thin spaces are dropped.
    """
    for old, new in _UNICODE_REPLACEMENTS.items():
        text = text.replace(old, new)
    text = _RE_DASH_MINUS.sub("-", text)
    text = _RE_SUPERSCRIPT_RUN.sub(lambda m: "^" + m.group(0).translate(_SUPERSCRIPT_DIGITS), text)
    text = re.sub(r"(\d)\\,(\d{3})(?!\d)", r"\1,\2", text)  # 1\,000 as a thousands separator
    text = text.replace("{,}", ",").replace(r"\%", "%").replace(r"\$", "").replace("$", "")
    text = re.sub(r"\\[!,;: ]|~", " ", text).replace("\\\\", "\n").replace("&", " ")
    text = _RE_FRAC_DIGITS.sub(r"\1/\2", text)
    text = _rewrite_until_stable(text)
    text = re.sub(r"°\s+(?=[A-Za-z])", "°", text.replace("^°", "°"))
    text = _RE_LATEX_COMMAND.sub(_latex_command, text)
    return re.sub(r"[ \t]+", " ", text)


# --------------------------------------------------------------------------------------------------
# Numbers and units
# --------------------------------------------------------------------------------------------------

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


def _safe_power(base: float, exponent: float) -> float:
    try:
        result = base**exponent
    except (OverflowError, ZeroDivisionError):
        return math.nan
    return result if isinstance(result, float) and math.isfinite(result) else math.nan


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
    value = _safe_eval(plain.rstrip("."))
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


# --------------------------------------------------------------------------------------------------
# A safe evaluator for arithmetic (program results, LaTeX expressions). Never ``eval``.
# --------------------------------------------------------------------------------------------------

_MAX_EXPRESSION_LENGTH = 200
_CONSTANTS = {"pi": math.pi, "π": math.pi, "E": math.e}
_FUNCTIONS: dict[str, Callable[..., float]] = {
    "sqrt": math.sqrt,
    "exp": math.exp,
    "log": math.log,
    "ln": math.log,
    "log10": math.log10,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "asin": math.asin,
    "acos": math.acos,
    "atan": math.atan,
    "abs": abs,
    "Abs": abs,
    "Integer": float,
    "Float": float,
    "Rational": lambda numerator, denominator=1.0: numerator / denominator,
    "float": float,
    "int": float,
    "round": round,
}
_BINARY_OPERATORS: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.FloorDiv: lambda a, b: a // b,
    ast.Mod: lambda a, b: a % b,
    ast.Pow: _safe_power,
}


def _eval_node(node: ast.AST) -> float:
    """Evaluate numbers, + - * / // % **, unary signs, pi/E and whitelisted functions (keyword
    arguments such as sympy's ``precision=`` are ignored, never evaluated)."""
    if isinstance(node, ast.Expression):
        return _eval_node(node.body)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return float(node.value)
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return float(node.value)  # Float('0.5', precision=53), as sympy writes it
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.UAdd | ast.USub):
        operand = _eval_node(node.operand)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY_OPERATORS:
        return _BINARY_OPERATORS[type(node.op)](_eval_node(node.left), _eval_node(node.right))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS:
        return float(_FUNCTIONS[node.func.id](*(_eval_node(arg) for arg in node.args)))
    raise ValueError(f"not an arithmetic expression: {ast.dump(node)[:80]}")


def _safe_eval(expression: str) -> float | None:
    """The value of an arithmetic expression, or ``None`` when it is anything else (no ``eval``)."""
    expression = expression.strip().replace("×", "*").replace("·", "*").replace("^", "**")
    if not expression or len(expression) > _MAX_EXPRESSION_LENGTH or not re.search(r"\d|pi|π", expression):
        return None
    tree = _parse_expression(expression)
    if tree is None:
        return None
    try:
        value = _eval_node(tree)
    except (ValueError, TypeError, ArithmeticError, RecursionError):
        return None
    return value if math.isfinite(value) else None


def _parse_expression(text: str) -> ast.Expression | None:
    """The syntax tree of a Python expression, or ``None`` (warnings about odd literals silenced)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        try:
            return ast.parse(text, mode="eval")
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            return None


# --------------------------------------------------------------------------------------------------
# Where the final answer is: \boxed{..}, "the answer is X", "#### X"
# --------------------------------------------------------------------------------------------------

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
    if (value := _safe_eval(plain)) is not None:  # the whole output is an expression: "\\frac{1}{2}"
        return Answer(value=value, raw=plain.strip())
    numbers_found = find_numbers(plain, normalize=False)
    return numbers_found[-1] if numbers_found else None


# --------------------------------------------------------------------------------------------------
# Multiple choice
# --------------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------------
# Program results
# --------------------------------------------------------------------------------------------------


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
    value = _safe_eval(text)  # "sqrt(2)/2", "Rational(3, 4)"; a symbolic "x + 1" has no value
    return Answer(value=value, raw=text) if value is not None else None


def _literal(text: str) -> object:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


# --------------------------------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------------
# Gold answers
# --------------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------------
# The benchmark registry
# --------------------------------------------------------------------------------------------------

_ANSWERS = tuple(f"answer{i}" for i in range(1, 6))
_LETTERS = tuple("ABCDE")


@dataclass(frozen=True)
class BenchmarkSpec:
    """How answers of one benchmark are extracted, read from the gold data, and compared.

    Attributes:
        name: the canonical name (lower case, ``_`` for separators).
        kind: ``"numeric"`` (numbers compared within tolerance) or ``"choice"`` (labels).
        choices: the labels of a choice benchmark, as its gold data writes them.
        abs_tol, rel_tol: default tolerances of a numeric benchmark (see :func:`compare_numbers`).
        aliases: other names that resolve to this benchmark (matched after normalisation).
        description: a line on the data and the convention.
    """

    name: str
    kind: Literal["numeric", "choice"]
    choices: tuple[str, ...] = ()
    abs_tol: float | None = None
    rel_tol: float | None = None
    aliases: tuple[str, ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("numeric", "choice"):
            raise ValueError(f"Benchmark kind must be 'numeric' or 'choice', got {self.kind!r}.")
        if self.kind == "choice" and not self.choices:
            raise ValueError(f"Choice benchmark {self.name!r} needs its choice labels.")

    def extract(self, text: str, *, strict: bool = False) -> Answer | None:
        """The answer in a model's output (see :func:`extract_number` and :func:`extract_choice`)."""
        if self.kind == "choice":
            return extract_choice(text, self.choices, strict=strict)
        return extract_number(text, strict=strict)

    def parse_gold(self, gold: object) -> Answer:
        """The gold answer as this benchmark's data writes it."""
        if self.kind == "choice":
            return _parse_choice_gold(gold, self.choices)
        return _parse_numeric_gold(gold)

    def compare(
        self, pred: Answer, gold: Answer, *, abs_tol: float | None = None, rel_tol: float | None = None
    ) -> bool:
        """Whether ``pred`` matches ``gold``; explicit tolerances replace the benchmark's pair."""
        if abs_tol is None and rel_tol is None:
            abs_tol, rel_tol = self.abs_tol, self.rel_tol
        return compare_answers(pred, gold, abs_tol=abs_tol, rel_tol=rel_tol)


def _numeric(name: str, description: str, *aliases: str, abs_tol: float = 1e-2) -> BenchmarkSpec:
    return BenchmarkSpec(name, "numeric", abs_tol=abs_tol, aliases=aliases, description=description)


def _choice(name: str, choices: Sequence[str], description: str, *aliases: str) -> BenchmarkSpec:
    return BenchmarkSpec(name, "choice", choices=tuple(choices), aliases=aliases, description=description)


_BUILTIN_BENCHMARKS = (
    _numeric("numeric", "any numeric answer; |pred - gold| <= 1e-2 as the ReFT rewards", "math", "number"),
    _numeric("gsm8k", "GSM8K; gold '#### 1,234' or a number"),
    _numeric("svamp", "SVAMP (LLM-Adapters and mwp-reft)"),
    _numeric("addsub", "AddSub (LLM-Adapters)"),
    _numeric("multiarith", "MultiArith (LLM-Adapters)"),
    _numeric("singleeq", "SingleEq (LLM-Adapters)"),
    _numeric("mawps", "MAWPS (LLM-Adapters)"),
    _numeric("mathqa_numeric", "MathQA with numeric answers (mwp-reft)"),
    BenchmarkSpec(
        "scibench",
        "numeric",
        rel_tol=0.05,
        aliases=("scibench_chemistry", "atkins", "chemmc", "matter", "quan"),
        description="SciBench; gold answer_number x the unit's power of ten, 5 % relative tolerance",
    ),
    _choice("aqua", _LETTERS, "AQuA-RAT, options (A)-(E)"),
    _choice("mathqa", _LETTERS, "MathQA, options a-e"),
    _choice("boolq", ("true", "false"), "BoolQ, 'the correct answer is true'"),
    _choice("piqa", ("solution1", "solution2"), "PIQA, 'the correct answer is solution1'"),
    _choice("social_i_qa", _ANSWERS[:3], "Social IQa, answer1-answer3", "siqa"),
    _choice("arc_challenge", _ANSWERS, "ARC-Challenge, answer1-answer5", "arc_c"),
    _choice("arc_easy", _ANSWERS, "ARC-Easy, answer1-answer5", "arc_e"),
    _choice("openbookqa", _ANSWERS[:4], "OpenBookQA, answer1-answer4", "obqa"),
    _choice("winogrande", ("option1", "option2"), "WinoGrande, option1/option2"),
    _choice("hellaswag", tuple(f"ending{i}" for i in range(1, 5)), "HellaSwag, ending1-ending4"),
)

BENCHMARKS: dict[str, BenchmarkSpec] = {}
_ALIASES: dict[str, str] = {}


def _normalize_name(name: str) -> str:
    return re.sub(r"[\s\-./]+", "_", name.strip().lower())


def register_benchmark(spec: BenchmarkSpec, *, overwrite: bool = False) -> BenchmarkSpec:
    """Add a benchmark (and its aliases) to the registry; refuses to replace one unless ``overwrite``."""
    names = [_normalize_name(spec.name), *(_normalize_name(alias) for alias in spec.aliases)]
    taken = [name for name in names if name in _ALIASES and _ALIASES[name] != names[0]]
    if (taken or names[0] in BENCHMARKS) and not overwrite:
        raise ValueError(f"Benchmark name(s) {taken or names[:1]} already registered; pass overwrite=True.")
    BENCHMARKS[names[0]] = spec
    _ALIASES.update(dict.fromkeys(names, names[0]))
    return spec


for _spec in _BUILTIN_BENCHMARKS:
    register_benchmark(_spec)


def get_benchmark(benchmark: str | BenchmarkSpec) -> BenchmarkSpec:
    """The registered benchmark for a name ("gsm8k", "ARC-Challenge", "SVAMP", "mathqa-numeric")."""
    if isinstance(benchmark, BenchmarkSpec):
        return benchmark
    key = _ALIASES.get(_normalize_name(benchmark))
    if key is None:
        raise ValueError(
            f"Unknown benchmark {benchmark!r}. Known benchmarks: {', '.join(sorted(BENCHMARKS))}."
        )
    return BENCHMARKS[key]


def extract_answer(
    text: str, benchmark: str | BenchmarkSpec = "numeric", *, strict: bool = False
) -> Answer | None:
    """The answer in a model's output, by the benchmark's strategy; ``None`` if there is none.

    ``strict=True`` accepts only an explicit answer (``\\boxed{}`` or an answer marker such as "The
    answer is X"), as the reinforced fine-tuning rewards do; the default also falls back to the last
    number (numeric sets) or the first label (choice sets), as LLM-Adapters and LoReFT score.
    """
    if not isinstance(text, str):
        raise TypeError(f"extract_answer expects model output text, got {type(text).__name__}.")
    return get_benchmark(benchmark).extract(text, strict=strict)


def parse_gold(gold: object, benchmark: str | BenchmarkSpec = "numeric") -> Answer:
    """A gold answer as the benchmark's data writes it (raises ``ValueError`` if it cannot be read)."""
    return get_benchmark(benchmark).parse_gold(gold)


def prediction_answer(
    pred: Answer | str | float | None, benchmark: str | BenchmarkSpec = "numeric", *, strict: bool = False
) -> Answer | None:
    """A prediction as an :class:`Answer`: text is extracted with the benchmark's strategy, a finite
    number is wrapped, an :class:`Answer` or ``None`` is passed through."""
    if pred is None or isinstance(pred, Answer):
        return pred
    if isinstance(pred, str):
        return get_benchmark(benchmark).extract(pred, strict=strict)
    if isinstance(pred, numbers.Real) and not isinstance(pred, bool):
        return Answer(value=float(pred), raw=str(pred)) if math.isfinite(pred) else None
    raise TypeError(f"A prediction must be text, a number, an Answer or None; got {type(pred).__name__}.")


def is_correct(
    pred: Answer | str | float | None,
    gold: object,
    benchmark: str | BenchmarkSpec = "numeric",
    *,
    abs_tol: float | None = None,
    rel_tol: float | None = None,
    strict: bool = False,
) -> bool:
    """Whether a prediction answers a gold answer correctly under the benchmark's rules.

    ``pred`` is model output text (extracted with :func:`extract_answer`), a number, an
    :class:`Answer` or ``None`` (no answer: wrong). ``gold`` is read with :func:`parse_gold`.
    Explicit tolerances replace the benchmark's defaults.
    """
    spec = get_benchmark(benchmark)
    prediction = prediction_answer(pred, spec, strict=strict)
    if prediction is None:
        return False
    return spec.compare(prediction, spec.parse_gold(gold), abs_tol=abs_tol, rel_tol=rel_tol)


# --------------------------------------------------------------------------------------------------
# Voting
# --------------------------------------------------------------------------------------------------


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
