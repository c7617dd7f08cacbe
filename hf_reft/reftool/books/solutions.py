"""The answer a worked solution states: the result its last equation (or sentence) arrives at.

:func:`stated_answer` reads it from a solution's text, for both readers: ``"... = 4.41 oz (three
significant figures)"`` → ``"4.41 oz"``. Tool creation validates tools on these answers.
"""

from __future__ import annotations

import re

__all__ = ["stated_answer"]

_RESULT_START = re.compile(r"^[-+~≈$]?\s*\(?\d")
_NUMBER = r"[-+]?\d[\d,]*(?:\.\d+)?(?:\s*×\s*10\^\(?[-+]?\d+\)?)?"
_UNIT_WORD = (
    r"(?!(?:and|at|or|of|for|in|to|the|which|when|with|is|was|so|as|by|from|than)\b)[%°\w/^()·-]{1,12}"
)
_PROSE_RESULT = re.compile(
    rf"\b(?:is|was|are|were|be|equals|gives|yields|Result:)\s+(?:about\s+|approximately\s+)?"
    rf"(?P<value>{_NUMBER}(?:\s+{_UNIT_WORD}){{0,2}})(?=\s*[.,;)]?\s*(?:$|[a-z(]))"
)
_COMMENTARY = re.compile(r"^(?:\[(?:Image|Figure):|\(?note\b|\([^=]*\)$)", re.IGNORECASE)


def _trim_result(rhs: str) -> str | None:
    """``"4.41 oz (three significant figures)"`` → ``"4.41 oz"``; ``None`` if not a result."""
    value = rhs.strip()
    value = re.split(
        r",\s+(?=[a-z])|;|\s\((?!\s*[-+]?\d)|\s\(\d+\.?\d*\s+[^\d)]*\)|\.\s|\s+for\s|\s+which\s", value
    )[0]
    value = value.strip().rstrip(".").strip()
    for open_, close in (("(", ")"), ("[", "]")):
        while value.endswith(close) and value.count(close) > value.count(open_):
            value = value[:-1].rstrip()
    if not value or len(value) > 60 or not _RESULT_START.match(value):
        return None
    return value


def _equation_result(line: str) -> str | None:
    """The result on the right of the last ``=``, ``≈`` or ``⟶`` of ``line``, if it is one."""
    cuts = sorted((line.rfind(sep), sep) for sep in (" ⟶ ", "=", "≈") if sep in line)
    for position, sep in reversed(cuts):
        if value := _trim_result(line[position + len(sep) :]):
            return value
    return None


def stated_answer(solution: str) -> str | None:
    """The answer a worked solution arrives at, as the book states it (best effort).

    OpenStax solutions end with their result, most often as the right-hand side of the last
    equation (``density = (90.7 g)/(8.00 cm^3) = 11.3 g/cm^3`` → ``"11.3 g/cm^3"``). The last
    three lines that are not commentary (image descriptions, notes, parenthetical remarks)
    are searched for such a result, then the last line for a value stated in prose
    (``"... is 20.15 amu."`` → ``"20.15 amu"``); otherwise the last sentence is returned.
    ``None`` for an empty solution.

    The "Check Your Learning" answer of an example (:attr:`WorkedExample.check_answer`) is
    stated explicitly by the book and is the more reliable of the two.
    """
    lines = [ln.strip() for ln in solution.strip().split("\n") if ln.strip()]
    lines = [ln for ln in lines if not _COMMENTARY.match(ln)]
    if not lines:
        return None
    for line in lines[-3:][::-1]:
        if value := _equation_result(line):
            return value
    for match in reversed(list(_PROSE_RESULT.finditer(lines[-1]))):
        if value := _trim_result(match.group("value")):
            return value
    sentences = [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z(])", lines[-1]) if s.strip()]
    return sentences[-1].strip() if sentences else lines[-1]
