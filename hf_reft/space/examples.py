"""The example problems the Space offers: SciBench chemistry ``*_sol`` problems shipped in its folder.

A Space has no ``../shared`` data folder, so the four ``*_sol.json`` files (atkins, chemmc, matter,
quan; 43 problems with worked solutions, MIT licence in ``LICENSE-SciBench``) are copied into
``spaces/reftool-chemistry/examples/``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ExampleProblem", "load_examples"]

_SUBSETS = ("atkins", "chemmc", "matter", "quan")


@dataclass(frozen=True)
class ExampleProblem:
    """One SciBench problem: its text, and the book's answer (number and unit) for comparison."""

    source: str
    problem_id: str
    text: str
    answer: str
    unit: str

    @property
    def label(self) -> str:
        """A short label for the example list: ``"atkins 1.5 · The change in molar…"``."""
        plain = re.sub(r"\\mathrm\{~?([^}]*)\}", r"\1", self.text)
        plain = re.sub(r"[$\\{}]", "", plain)
        plain = re.sub(r"\s+", " ", plain).strip()
        short = plain if len(plain) <= 72 else plain[:71].rstrip() + "…"
        return f"{self.source} {self.problem_id} · {short}"


def load_examples(folder: str | Path) -> list[ExampleProblem]:
    """Every problem of the ``*_sol.json`` files in ``folder``, subset by subset.

    Raises:
        FileNotFoundError: when the folder holds no ``*_sol.json`` file.
        ValueError: when a file is not a list of SciBench problems.
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
        try:
            rows = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise ValueError(f"{path} is not valid JSON ({err}).") from err
        if not isinstance(rows, list):
            raise ValueError(f"{path} must hold a list of problems, not {type(rows).__name__}.")
        for i, row in enumerate(rows):
            if not isinstance(row, dict) or not str(row.get("problem_text", "")).strip():
                raise ValueError(f"{path}: problem {i} has no 'problem_text'.")
            problems.append(
                ExampleProblem(
                    source=str(row.get("source") or path.stem.removesuffix("_sol")),
                    problem_id=str(row.get("problemid") or i + 1).strip(),
                    text=str(row["problem_text"]).strip(),
                    answer=str(row.get("answer_number", "")).strip(),
                    unit=str(row.get("unit", "")).strip(),
                )
            )
    return problems


def _order(stem: str) -> int:
    subset = stem.removesuffix("_sol")
    return _SUBSETS.index(subset) if subset in _SUBSETS else len(_SUBSETS)
