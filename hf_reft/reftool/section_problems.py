"""The problems of a book section that tools are validated on, and the section's text for the prompt.

Each worked example gives up to two :class:`Exercise` s: its "Check Your Learning" exercise, whose
book-stated answer (``check_answer``) is withheld from the model, and its own problem with the answer
its solution states (:func:`worked_problem`). :func:`section_exercises` are those offered in the
creation prompt (the check exercise, else the worked problem), :func:`section_problems` all of
them; :func:`section_prompt_text` renders the section with the worked solutions, answers withheld.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..answers import compare_numbers, find_numbers
from .books import Section, WorkedExample

__all__ = [
    "GUESSABLE_LIMIT",
    "NOT_A_NUMBER",
    "Exercise",
    "among_numbers",
    "book_answer_text",
    "book_numbers",
    "not_a_numeric_answer",
    "section_exercises",
    "section_problems",
    "section_prompt_text",
    "worked_problem",
]

#: Answers whose numbers are all written whole and at most this in size are :attr:`Exercise.guessable`.
GUESSABLE_LIMIT = 10
_WHOLE = re.compile(r"[-+]?\d+(?![\d.,/])")

#: Answers whose numbers are not a numeric answer, however many numbers they hold: (reason, pattern).
#: One rule for the book's answers, whether they validate tools (worked examples and their "Check
#: Your Learning" exercises) or score solvers (the end-of-chapter exercises).
NOT_A_NUMBER = (
    ("equation", re.compile(r"[⟶→⇌⟷←↔⇋⇄]")),
    ("inequality", re.compile(r"[<>≤≥≪≫]")),
    ("orbitals", re.compile(r"(?<![\d.])\d[spdf](?![a-z])")),  # 1s^22s^2, "a complete 5d sublevel"
    ("ratio", re.compile(r"(?<![\w.])\d+:\d+(?!\d)")),  # "must be 1:1", "1:2:1, so CH2O"
)


_COUNTED = re.compile(r"\b([A-Z][a-z]?)\s+(atoms|molecules|ions)\b")
_FORMULA_DIGITS = re.compile(r"(?<=[)\]])\d+|·\s*\d+(?=[A-Z])")  # Pb(OH)2, CaSO4·2H2O


def book_answer_text(text: str) -> str:
    """The book's text as :func:`~hf_reft.answers.find_numbers` should read it: units as it reads them
    (``kJ/ºC`` → ``kJ/°C``, ``mol ^-1`` → ``mol^-1``, ``C atoms`` → ``atoms of C``) and a formula's
    digits dropped (``Ca(H2PO4)2``, ``CaSO4·2H2O``; those glued to an element, as in ``H2O``, it skips
    itself), so that a formula is never read as a number."""
    text = text.replace("º", "°")
    text = re.sub(r"(?<=[A-Za-z])\s+\^", "^", text)
    text = _COUNTED.sub(r"\2 of \1", text)
    return _FORMULA_DIGITS.sub("", text)


def book_numbers(text: str) -> list[float]:
    """The numeric values the book's ``text`` states (:func:`book_answer_text`, then ``find_numbers``)."""
    return [a.value for a in find_numbers(book_answer_text(text)) if a.is_numeric]


def among_numbers(value: float, numbers: Sequence[float]) -> bool:
    """Whether ``value`` is one of ``numbers`` as written (relative difference below 1e-9)."""
    return any(compare_numbers(value, n, abs_tol=0.0, rel_tol=1e-9) for n in numbers)


def not_a_numeric_answer(text: str) -> str | None:
    """Why the book's answer ``text`` is not a numeric answer (``"ratio"``, ``"equation"`` …), else ``None``."""
    return next((reason for reason, pattern in NOT_A_NUMBER if pattern.search(text)), None)


def _numeric_answer(text: str | None) -> bool:
    """Whether ``text`` states a numeric answer: it holds a number and is none of :data:`NOT_A_NUMBER`."""
    return bool(text and book_numbers(text)) and not_a_numeric_answer(text) is None


@dataclass(frozen=True)
class Exercise:
    """A problem from the book that a tool can be validated on.

    Attributes:
        number: the worked example's number, e.g. ``"1.1"``.
        problem: the exercise text shown to the model.
        expected: the book's answer (never shown to the model for "Check Your Learning").
        source: where it came from, e.g. ``"Example 1.1 (1.4 Measurements), Check Your Learning"``.
        example_id: the worked example's id.
        hidden: whether the answer is withheld from the section text the model sees.
    """

    number: str
    problem: str
    expected: str
    source: str
    example_id: str
    hidden: bool

    @property
    def guessable(self) -> bool:
        """Whether every number of the book's answer is written as a whole number of at most 10 in size
        (a bond order, a charge, a count; not a measured ``1.00 atm``): a wrong computation or a constant
        hits those by chance, so only a second problem can confirm a tool that printed one."""
        values = self.expected_values
        stated = [
            a for a in find_numbers(book_answer_text(self.expected)) if a.is_numeric and a.value in values
        ]
        return bool(stated) and all(
            _WHOLE.match(a.raw.strip()) and float(a.value).is_integer() and abs(a.value) <= GUESSABLE_LIMIT
            for a in stated
        )

    @property
    def expected_values(self) -> list[float]:
        """The numbers in the book's answer (a multi-part answer gives several). When the answer holds
        several, those the exercise itself gives are left out: an answer that restates its data ("the
        ratio (14.13 g C)/(2.96 g H) is 4.77") must not let a program pass by printing an input."""
        stated = book_numbers(self.expected)
        if len(stated) < 2:
            return stated
        given = book_numbers(self.problem)
        return [v for v in stated if not among_numbers(v, given)]


def section_exercises(section: Section) -> list[Exercise]:
    """The section's exercises with a numeric book-stated answer, in book order: each worked example's
    "Check Your Learning" exercise, or the worked example itself when that has no numeric answer."""
    first: dict[str, Exercise] = {}
    for problem in section_problems(section):  # an example's check exercise comes before its own problem
        first.setdefault(problem.example_id, problem)
    return list(first.values())


def _gives_data(problem: str | None) -> bool:
    """Whether a problem's text states any number. One that states none ("use the simulator to measure
    the density", "the process depicted below") leaves its data to a simulation or a figure the model
    never sees, so a program can only reach the book's answer there by inventing the inputs (measured:
    ``density(1.95, 3.0)`` for the book's 0.65 g/mL); such a problem cannot validate a tool."""
    return bool(problem and re.search(r"\d", problem))


def section_problems(section: Section) -> list[Exercise]:
    """Every problem of the section that states data (:func:`_gives_data`) and has a numeric
    book-stated answer (a number, and not a ratio, an equation, an inequality or orbitals:
    :data:`NOT_A_NUMBER`), in book order: each worked example's "Check Your Learning" exercise, then
    its own problem (:func:`worked_problem`)."""
    problems = []
    for example in section.examples:
        if _gives_data(example.check_problem) and _numeric_answer(example.check_answer):
            problems.append(_exercise(example, section, check=True))
        if worked := worked_problem(example, section):
            problems.append(worked)
    return problems


def worked_problem(example: WorkedExample, section: Section) -> Exercise | None:
    """The worked example's own problem with the answer its solution states, if that is numeric (and
    the problem states its data: :func:`_gives_data`).

    Its solution is in the creation prompt, so a tool that passes it must also pass another problem
    (the example's "Check Your Learning" exercise first: the same computation on other data).
    """
    if _gives_data(example.problem) and _numeric_answer(example.answer):
        return _exercise(example, section, check=False)
    return None


def _exercise(example: WorkedExample, section: Section, *, check: bool) -> Exercise:
    """The example's "Check Your Learning" exercise (``check``) or its own problem, as an :class:`Exercise`."""
    problem, expected = (
        (example.check_problem, example.check_answer) if check else (example.problem, example.answer)
    )
    assert problem and expected
    return Exercise(
        number=example.number,
        problem=problem.strip(),
        expected=expected.strip(),
        source=f"Example {example.number} ({section.label}), {'Check Your Learning' if check else 'worked example'}",
        example_id=example.id,
        hidden=check,
    )


_LONG_IMAGE = re.compile(r"\[Image: ([^\]]{240})[^\]]+\]")


def _example_text(example: WorkedExample, limit: int) -> str:
    """A worked example as the model sees it: its solution steps, the check exercise's answer withheld.

    Figure descriptions longer than 240 characters are cut, so that the steps fit the budget.
    """
    lines = [f"Example {example.number}: {example.title}".rstrip(": "), example.problem]
    if example.solution:
        lines.append("Solution:\n" + _LONG_IMAGE.sub(r"[Image: \1...]", example.solution))
    if example.check_problem:
        lines.append(f"Check Your Learning:\n{example.check_problem}")
    text = "\n".join(lines)
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def section_prompt_text(section: Section, exercises: Sequence[Exercise], budget: int) -> str:
    """The section's text for the creation prompt, at most about ``budget`` characters.

    The worked examples holding ``exercises``, with their solution steps, are always included
    (together up to three quarters of the budget, each cut to an equal share of it); paragraphs fill
    the rest in reading order. Check-exercise answers are left out.
    """
    wanted = {e.example_id for e in exercises}
    examples = [b for b in section.blocks if isinstance(b, WorkedExample) and b.id in wanted]
    share = max(400, 3 * budget // max(1, 4 * len(examples))) if examples else budget
    rendered = {id(b): _example_text(b, share) for b in examples}
    left = budget - sum(len(t) for t in rendered.values())
    parts = []
    for block in section.blocks:
        if id(block) in rendered:
            parts.append(rendered[id(block)])
        elif isinstance(block, str) and block.strip() and len(block) + 2 <= left:
            parts.append(block.strip())
            left -= len(block) + 2
    return "\n\n".join(parts)
