"""A second RefTool evaluation set: the reference book's own end-of-chapter exercises.

OpenStax *Chemistry 2e* ends every section with exercises (1,736 ``<exercise>`` s; 873 have a
``<solution>``, the book's answer). RefTool builds its tools from the sections' text and worked
examples only: the reader leaves the exercises sections out (:mod:`hf_reft.reftool.books.openstax`), so the
exercises test the tools on problems they were not built from.

An exercise is kept as a problem when it is a single question with a single numeric answer:

* no lettered parts: no ``(a)`` / ``(b)`` in the problem or the solution;
* self-contained: the problem does not refer to another exercise ("see Exercise 78");
* its numbers are an answer: the solution holds no reaction arrow (an equation was asked for), no
  inequality, no orbital label (``1s^22s^2``, "a complete 5d sublevel") and no ratio ("1:1");
* exactly one result (:func:`solution_answer`): the solution is cut into statements (lines, ``;``
  pieces and sentences; descriptions of drawings left out) and those into clauses (at ``, ``,
  `` and ``, `` but ``). A clause's result is the first number (:func:`hf_reft.answers.find_numbers`)
  after its last ``=`` (an expression after it, as in ``-1/3 (Δ[F_2])/Δt``, is no result), or,
  without ``=``, its one number. Numbers the problem gives are data, not results. Exactly one clause
  of the solution may state a result, and its number with its unit is the gold:
  ``"0.809 atm; 82.0 kPa"``, ``"5371 °F, 3239 K"``, ``"37 g (0.27 mol)"`` are left out;
* not prose: the statement holding the result has at most :data:`MAX_PROSE_WORDS` words besides its
  unit ("Yes, the acid's volume is 123 mL." is kept; an explanation that mentions a number is not).

The gold is stored as SciBench stores its golds (:class:`~hf_reft.reftool.evaluation.SciBenchProblem`):
``answer_number`` is the number as the book writes it and ``unit`` holds its power of ten
(``"3.1 × 10^-12 M"`` → ``"3.1"``, ``"10^-12 M"``); the problem text ends with "The unit of the answer
is M." and the answer is scored as SciBench's are (the number times the power of ten, 5 % relative
tolerance, :func:`hf_reft.answers.is_correct` with ``benchmark="scibench"``).

Counts for Chemistry 2e (the shared data folder's copy): see :func:`book_exercise_counts` and
``tests/test_reftool_exercises.py``.
"""

from __future__ import annotations

import functools
import math
import os
import random
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..answers import Answer, find_numbers, normalize_text, parse_scibench_gold, split_unit_scale
from .books import NAMED_REFERENCES
from .books.openstax import EndOfChapterExercise, read_openstax_exercises
from .evaluation import SciBenchProblem
from .section_problems import book_answer_text, not_a_numeric_answer

__all__ = [
    "BOOK_EXERCISES_SOURCE",
    "DEFAULT_BOOK_LIMIT",
    "MAX_PROSE_WORDS",
    "ScreenedExercise",
    "book_exercise_counts",
    "book_exercises_dir",
    "load_book_exercises",
    "screen_book_exercises",
    "screen_exercise",
    "solution_answer",
]

#: The ``subset`` part of a book exercise's id: ``"chemistry-2e-exercises/<CNXML id>"``.
BOOK_EXERCISES_SOURCE = "chemistry-2e-exercises"
#: Problems ``hf-reft reftool evaluate --benchmark book-exercises`` takes by default (seed 0).
DEFAULT_BOOK_LIMIT = 100
#: The most words (besides its unit) of the statement that states the result.
MAX_PROSE_WORDS = 10
_BOOK = "chemistry-2e"

_LETTERED = re.compile(r"(?<![\w)])\((?:a|b)\)")
_EXERCISE_REFERENCE = re.compile(r"\bExercises? \d")
_DRAWING = re.compile(r"^\[(?:Image|Figure):")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Za-zΔ\[(])")
_CLAUSE = re.compile(r",\s+|\s+and\s+|\s+but\s+")
_EXPRESSION = re.compile(r"[Δ\[/=]")
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]+")
_GOLD = re.compile(
    r"^(?P<number>[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?)\s*(?:[x×*·]\s*10\s*\^\s*\(?(?P<power>[-+]?\d+)\)?)?"
)


@dataclass(frozen=True)
class ScreenedExercise:
    """An end-of-chapter exercise and what screening made of it.

    Attributes:
        exercise: the exercise as the book has it.
        reason: why it is left out (``"no solution"``, ``"no number"``, ``"lettered parts"``, ...);
            ``None`` when it is kept.
        answer: the gold (:func:`solution_answer`) of a kept exercise.
    """

    exercise: EndOfChapterExercise
    reason: str | None
    answer: Answer | None = None

    @property
    def kept(self) -> bool:
        return self.reason is None

    @property
    def numeric(self) -> bool:
        """Whether the solution states any number (formula subscripts such as H2O's 2 are not numbers)."""
        return self.exercise.solution is not None and bool(
            find_numbers(_without_drawings(self.exercise.solution))
        )

    def problem(self) -> SciBenchProblem:
        """The kept exercise as an evaluation problem (SciBench's fields and conventions)."""
        if self.answer is None:
            raise ValueError(f"Exercise {self.exercise.number} is not kept ({self.reason}).")
        number, unit = _gold_fields(self.answer)
        _, readable = split_unit_scale(unit)
        text = self.exercise.problem.strip() + (
            f"\nThe unit of the answer is {readable}." if readable else ""
        )
        return SciBenchProblem(f"{BOOK_EXERCISES_SOURCE}/{self.exercise.id}", text, number, unit)


def _without_drawings(solution: str) -> str:
    return "\n".join(line for line in solution.split("\n") if not _DRAWING.match(line.strip()))


def _statements(solution: str) -> list[str]:
    """Lines (a line starting with ``=`` continues the one before), ``;`` pieces and sentences."""
    lines: list[str] = []
    for line in _without_drawings(solution).split("\n"):
        line = line.strip()
        if not line:
            continue
        if lines and line[:1] in "=≈":
            lines[-1] = f"{lines[-1]} {line}"
        else:
            lines.append(line)
    return [
        s.strip()
        for line in lines
        for piece in line.split(";")
        for s in _SENTENCE_END.split(piece)
        if s.strip()
    ]


def _is_given(answer: Answer, given: Sequence[Answer]) -> bool:
    return any(math.isclose(float(answer.value), float(g.value), rel_tol=1e-9) for g in given)


def _clause_result(clause: str, given: Sequence[Answer]) -> Answer | str | None:
    """The result a clause states: ``None`` (none), an :class:`Answer`, or why it is not one number."""
    if "=" in clause or "≈" in clause:
        for side in reversed(re.split(r"=|≈", clause)):
            plain = normalize_text(side)
            if found := find_numbers(plain, normalize=False):
                rest = plain[plain.find(found[0].raw) + len(found[0].raw) :]
                if _EXPRESSION.search(rest):  # "-1/3 (Δ[F_2])/Δt", "(0.030 L)/(1 fl oz)"
                    return "expression"
                return None if _is_given(found[0], given) else found[0]
        return None
    new = [a for a in find_numbers(clause) if not _is_given(a, given)]
    if len(new) > 1:  # "5371 °F, 3239 K" is cut at the comma; "37 g (0.27 mol)" is not
        return "several values"
    return new[0] if new else None


def solution_answer(solution: str, problem: str = "") -> Answer | str:
    """The one numeric answer ``solution`` states, or why there is none (see the module docstring).

    ``problem``: the numbers it gives are data, not results.
    """
    given = find_numbers(book_answer_text(problem))
    results: list[Answer] = []
    for statement in _statements(solution):
        statement = book_answer_text(statement)
        found: list[Answer] = []
        for clause in _CLAUSE.split(statement):
            result = _clause_result(clause, given)
            if isinstance(result, str):
                return result
            if result is not None:
                found.append(result)
        if not found:
            continue
        units = {w for a in found for w in (a.unit or "").split()}
        if len([w for w in _WORD.findall(statement) if w not in units]) > MAX_PROSE_WORDS:
            return "prose"
        results.extend(found)
    if not results:
        return "no result"
    if len(results) > 1:
        return "several values"
    return results[0]


def screen_exercise(exercise: EndOfChapterExercise) -> ScreenedExercise:
    """Keep ``exercise`` (with its gold) or say why not (see the module docstring)."""
    solution, problem = exercise.solution, exercise.problem
    if solution is None:
        return ScreenedExercise(exercise, "no solution")
    if not find_numbers(_without_drawings(solution)):
        return ScreenedExercise(exercise, "no number")
    if _LETTERED.search(problem) or _LETTERED.search(solution):
        return ScreenedExercise(exercise, "lettered parts")
    if _EXERCISE_REFERENCE.search(problem):
        return ScreenedExercise(exercise, "refers to another exercise")
    if reason := not_a_numeric_answer(solution):
        return ScreenedExercise(exercise, reason)
    answer = solution_answer(solution, problem)
    if isinstance(answer, str):
        return ScreenedExercise(exercise, answer)
    return ScreenedExercise(exercise, None, answer)


def _gold_fields(answer: Answer) -> tuple[str, str]:
    """``(answer_number, unit)`` as SciBench writes them: the book's number, the power of ten in the unit."""
    match = _GOLD.match(book_answer_text(answer.raw))
    unit = answer.unit or ""
    if match is None or not match.group("number"):  # not expected: find_numbers read a number here
        return repr(float(answer.value)), unit
    number = match.group("number").replace(",", "")
    if match.group("power") is not None:
        unit = f"10^{int(match.group('power'))} {unit}".strip()
    gold = parse_scibench_gold(number, unit)
    if not math.isclose(float(gold.value), float(answer.value), rel_tol=1e-9):
        return repr(float(answer.value)), answer.unit or ""
    return number, unit


def book_exercises_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """``<data_dir>/openstax-chemistry-2e`` (default data dir: ``$HF_REFT_DATA_DIR`` or ``../shared/data``)."""
    base = Path(data_dir or os.environ.get("HF_REFT_DATA_DIR") or "../shared/data")
    folder = base / NAMED_REFERENCES[_BOOK]
    if not folder.is_dir():
        raise FileNotFoundError(
            f"OpenStax Chemistry 2e is not at {folder}; pass --data-dir (the folder holding "
            f"{NAMED_REFERENCES[_BOOK]}/) or set HF_REFT_DATA_DIR."
        )
    return folder


@functools.lru_cache(maxsize=4)
def _screened(folder: Path) -> tuple[ScreenedExercise, ...]:
    return tuple(screen_exercise(ex) for ex in read_openstax_exercises(folder))


def screen_book_exercises(data_dir: str | os.PathLike[str] | None = None) -> tuple[ScreenedExercise, ...]:
    """Every end-of-chapter exercise of Chemistry 2e, in book order, with the screening's verdict."""
    return _screened(book_exercises_dir(data_dir).resolve())


def book_exercise_counts(data_dir: str | os.PathLike[str] | None = None) -> dict[str, object]:
    """``all``, ``with_solution``, ``numeric``, ``kept`` and ``left_out`` (reason → count)."""
    screened = screen_book_exercises(data_dir)
    return {
        "all": len(screened),
        "with_solution": sum(s.exercise.solution is not None for s in screened),
        "numeric": sum(s.numeric for s in screened),
        "kept": sum(s.kept for s in screened),
        "left_out": dict(Counter(s.reason for s in screened if not s.kept).most_common()),
    }


def load_book_exercises(
    data_dir: str | os.PathLike[str] | None = None, *, limit: int | None = None, seed: int = 0
) -> list[SciBenchProblem]:
    """The kept end-of-chapter exercises of Chemistry 2e as evaluation problems, in book order.

    With ``limit``, a fixed sample of that many: ``random.Random(seed).sample`` of the kept list in
    book order, as :func:`~hf_reft.reftool.evaluation.load_scibench` draws (the same sample every time).
    Ids are ``"chemistry-2e-exercises/<the exercise's CNXML id>"``.
    """
    problems = [s.problem() for s in screen_book_exercises(data_dir) if s.kept]
    if limit is not None and limit < len(problems):
        problems = random.Random(seed).sample(problems, limit)
    return problems
