"""The example problems the Space offers, shipped in its folder (a Space has no ``../shared`` data folder).

Two sets, in this order:

* **SciBench** chemistry ``*_sol`` problems: the four ``*_sol.json`` files (atkins, chemmc, matter,
  quan; 43 problems with worked solutions, MIT licence in ``LICENSE-SciBench``), copied from
  ``shared/data/scibench-chemistry/``.
* **Chemistry 2e** end-of-chapter exercises: :data:`BOOK_EXAMPLE_COUNT` exercises of OpenStax
  *Chemistry 2e* (CC BY 4.0, ``LICENSE-OpenStax``) in ``chemistry2e_exercises.json``, drawn with a
  fixed seed from :func:`hf_reft.reftool.exercises.load_book_exercises` and never from its evaluation
  subset (``load_book_exercises(limit=100, seed=0)``), so the page never shows a test problem.
  :func:`write_book_examples` (``hf-reft space examples``) writes both files from the shared data folder.
"""

from __future__ import annotations

import json
import os
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "BOOK_EXAMPLES_FILE",
    "BOOK_EXAMPLE_COUNT",
    "BOOK_EXAMPLE_SEED",
    "BOOK_LICENSE_FILE",
    "BOOK_SOURCE",
    "ExampleProblem",
    "book_example_files",
    "load_examples",
    "read_book_examples",
    "write_book_examples",
]

_SUBSETS = ("atkins", "chemmc", "matter", "quan")

#: The ``source`` of the book's exercises among the examples.
BOOK_SOURCE = "chemistry-2e"
#: The file (in the Space's ``examples/``) holding the book's exercises, and its licence notice.
BOOK_EXAMPLES_FILE = "chemistry2e_exercises.json"
BOOK_LICENSE_FILE = "LICENSE-OpenStax"
#: How many exercises the Space offers, and the seed that picks them.
BOOK_EXAMPLE_COUNT = 12
BOOK_EXAMPLE_SEED = 0


@dataclass(frozen=True)
class ExampleProblem:
    """One example problem: its text, and the answer its source states (number and unit) for comparison.

    Attributes:
        source: the SciBench subset (``"atkins"``, ...) or :data:`BOOK_SOURCE`.
        problem_id: SciBench's problem id (``"1.4"``), or the exercise's number in the book
            (``"10.99"``: chapter 10, exercise 99).
        text: the problem as the page shows it and the solver gets it.
        answer, unit: the gold as SciBench writes it (``answer_number`` and ``unit``, whose power of ten
            multiplies the number).
        source_id: the problem's id in its evaluation set (book exercises:
            ``"chemistry-2e-exercises/<CNXML id>"``); ``""`` for SciBench's.
        section: where the exercise is in the book (``"10.5 Phase Diagrams"``); ``""`` when unknown.
    """

    source: str
    problem_id: str
    text: str
    answer: str
    unit: str
    source_id: str = ""
    section: str = ""

    @property
    def name(self) -> str:
        """``"atkins 1.5"`` or ``"Chemistry 2e ex. 10.99"``."""
        if self.source == BOOK_SOURCE:
            return f"Chemistry 2e ex. {self.problem_id}"
        return f"{self.source} {self.problem_id}"

    @property
    def label(self) -> str:
        """A short label for the example list: ``"atkins 1.5 · The change in molar…"``."""
        plain = re.sub(r"\\mathrm\{~?([^}]*)\}", r"\1", self.text)
        plain = re.sub(r"[$\\{}]", "", plain)
        plain = re.sub(r"\s+", " ", plain).strip()
        short = plain if len(plain) <= 72 else plain[:71].rstrip() + "…"
        return f"{self.name} · {short}"

    @property
    def answer_heading(self) -> str:
        """Whose answer the page compares with: ``"SciBench's answer (atkins 1.4)"`` or
        ``"The book's answer (Chemistry 2e ex. 10.99, end of section 10.5 Phase Diagrams)"``."""
        if self.source == BOOK_SOURCE:
            where = f", end of section {self.section}" if self.section else ""
            return f"The book's answer ({self.name}{where})"
        return f"SciBench's answer ({self.name})"


def load_examples(folder: str | Path) -> list[ExampleProblem]:
    """Every problem of the ``*_sol.json`` files in ``folder``, subset by subset, then the book's
    exercises of :data:`BOOK_EXAMPLES_FILE` (when the folder has that file).

    Raises:
        FileNotFoundError: when the folder holds no ``*_sol.json`` file.
        ValueError: when a file is not a list of SciBench problems, or the book's file is malformed.
    """
    folder = Path(folder)
    files = sorted(folder.glob("*_sol.json"), key=lambda p: (_order(p.stem), p.name))
    if not files:
        raise FileNotFoundError(
            f"No SciBench example files (*_sol.json) in {folder}; copy them from "
            "shared/data/scibench-chemistry/ together with its LICENSE."
        )
    problems = []
    for path in files:
        for i, row in enumerate(_rows(path, _read_json(path))):
            problems.append(
                ExampleProblem(
                    source=str(row.get("source") or path.stem.removesuffix("_sol")),
                    problem_id=str(row.get("problemid") or i + 1).strip(),
                    text=str(row["problem_text"]).strip(),
                    answer=str(row.get("answer_number", "")).strip(),
                    unit=str(row.get("unit", "")).strip(),
                )
            )
    book = folder / BOOK_EXAMPLES_FILE
    if book.is_file():
        problems += read_book_examples(book)
    return problems


def read_book_examples(path: str | Path) -> list[ExampleProblem]:
    """The book's exercises in ``path`` (a :data:`BOOK_EXAMPLES_FILE` written by :func:`write_book_examples`).

    Raises:
        ValueError: when the file is not valid JSON or holds no list of problems.
    """
    path = Path(path)
    data = _read_json(path)
    problems = []
    for row in _rows(path, data.get("problems") if isinstance(data, dict) else data):
        section = " ".join(str(row.get(k) or "").strip() for k in ("section", "section_title")).strip()
        problems.append(
            ExampleProblem(
                source=BOOK_SOURCE,
                problem_id=str(row.get("exercise") or row.get("id") or "").strip(),
                text=str(row["problem_text"]).strip(),
                answer=str(row.get("answer_number", "")).strip(),
                unit=str(row.get("unit", "")).strip(),
                source_id=str(row.get("id") or "").strip(),
                section=section,
            )
        )
    return problems


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON ({err}).") from err


def _rows(path: Path, rows: Any) -> list[dict[str, Any]]:
    if not isinstance(rows, list):
        raise ValueError(f"{path} must hold a list of problems, not {type(rows).__name__}.")
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or not str(row.get("problem_text", "")).strip():
            raise ValueError(f"{path}: problem {i} has no 'problem_text'.")
    return rows


def _order(stem: str) -> int:
    subset = stem.removesuffix("_sol")
    return _SUBSETS.index(subset) if subset in _SUBSETS else len(_SUBSETS)


# --------------------------------------------------------------------------- the book's exercises
def book_example_files(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    count: int = BOOK_EXAMPLE_COUNT,
    seed: int = BOOK_EXAMPLE_SEED,
) -> dict[str, str]:
    """The text of :data:`BOOK_EXAMPLES_FILE` and :data:`BOOK_LICENSE_FILE`, by file name.

    ``count`` exercises of :func:`~hf_reft.reftool.exercises.load_book_exercises` (``data_dir``: the
    shared data folder), drawn with ``random.Random(seed)`` from those not in the evaluation subset
    (``load_book_exercises(limit=DEFAULT_BOOK_LIMIT, seed=0)``; neither its ids nor its texts), and
    listed in book order. The same data always gives the same bytes.
    """
    from ..reftool.books import Reference
    from ..reftool.exercises import (
        BOOK_EXERCISES_SOURCE,
        DEFAULT_BOOK_LIMIT,
        book_exercises_dir,
        load_book_exercises,
        screen_book_exercises,
    )

    kept = load_book_exercises(data_dir)
    held_out = load_book_exercises(data_dir, limit=DEFAULT_BOOK_LIMIT, seed=0)
    held_ids = {p.id for p in held_out}
    held_texts = {p.text.strip() for p in held_out}
    candidates = [p for p in kept if p.id not in held_ids and p.text.strip() not in held_texts]
    if count > len(candidates):
        raise ValueError(
            f"Only {len(candidates)} kept exercises are outside the evaluation subset; cannot pick {count}."
        )
    order = {p.id: i for i, p in enumerate(kept)}
    chosen = sorted(random.Random(seed).sample(candidates, count), key=lambda p: order[p.id])

    exercises = {
        f"{BOOK_EXERCISES_SOURCE}/{s.exercise.id}": s.exercise for s in screen_book_exercises(data_dir)
    }
    book = Reference.from_openstax(book_exercises_dir(data_dir))
    sections = {s.id: s for chapter in book.chapters for s in chapter.sections}
    rows = []
    for problem in chosen:
        exercise = exercises[problem.id]
        section = sections.get(exercise.section_id)
        rows.append(
            {
                "id": problem.id,
                "exercise": exercise.number,
                "chapter": section.chapter_number if section else None,
                "chapter_title": section.chapter_title if section else "",
                "section": exercise.section_number,
                "section_title": section.title if section else "",
                "problem_text": problem.text,
                "answer_number": problem.answer_number,
                "unit": problem.unit,
            }
        )
    data = {
        "source": f"End-of-chapter exercises of {book.title}, {book.metadata.get('url', '')}".rstrip(", "),
        "license": book.license,
        "attribution": book.attribution,
        "selection": {
            "count": count,
            "seed": seed,
            "from": "hf_reft.reftool.exercises.load_book_exercises() (exercises with one numeric answer)",
            "excluded": f"the evaluation subset load_book_exercises(limit={DEFAULT_BOOK_LIMIT}, seed=0)",
            "written_by": "hf-reft space examples",
        },
        "problems": rows,
    }
    notice = (
        f"{BOOK_EXAMPLES_FILE} holds {count} end-of-chapter exercises (problem text and the book's answer)\n"
        f"from {book.attribution}.\n"
        "Changes: the problems and solutions were rendered from the book's CNXML to plain text, the\n"
        'sentence "The unit of the answer is ..." was added where the answer has a unit, and the answer\n'
        "number and unit were read from the book's solution (hf_reft.reftool.exercises). The exercises\n"
        "file is shared under the same licence (CC BY 4.0,\n"
        "https://creativecommons.org/licenses/by/4.0/legalcode), with this attribution.\n"
    )
    return {
        BOOK_EXAMPLES_FILE: json.dumps(data, ensure_ascii=False, indent=2) + "\n",
        BOOK_LICENSE_FILE: notice,
    }


def write_book_examples(
    examples_dir: str | os.PathLike[str],
    data_dir: str | os.PathLike[str] | None = None,
    *,
    count: int = BOOK_EXAMPLE_COUNT,
    seed: int = BOOK_EXAMPLE_SEED,
) -> list[Path]:
    """Write :func:`book_example_files` into ``examples_dir`` (each file through a temporary name and a
    rename); return the paths written."""
    from ..hub import atomic_write_text

    folder = Path(examples_dir)
    written = []
    for name, text in book_example_files(data_dir, count=count, seed=seed).items():
        atomic_write_text(folder / name, text)
        written.append(folder / name)
    return written
