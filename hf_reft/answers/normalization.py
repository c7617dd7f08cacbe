"""LaTeX and Unicode maths to plain text (normalize_text)."""

from __future__ import annotations

import re
from collections.abc import Callable

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
