"""What a toolbox holds: a :class:`Tool` (a validated function), the record of its validation, build
counts, and the sections and chapters that organise tools as the book is."""

from __future__ import annotations

import ast
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

__all__ = [
    "BuildStats",
    "Tool",
    "ToolboxChapter",
    "ToolboxFormatError",
    "ToolboxSection",
    "UntrustedToolboxError",
    "ValidationExample",
    "ValidationRecord",
    "check_tool_code",
]


class ToolboxFormatError(ValueError):
    """A toolbox (or a tool) that cannot be read; the message names the file and the fix."""


class UntrustedToolboxError(PermissionError):
    """Running tools of a toolbox that came from the Hub without ``trust_remote_code=True``."""


# --------------------------------------------------------------------------- tools
def check_tool_code(name: str, code: str, *, where: str = "") -> ast.FunctionDef:
    """Check, without running it, that ``code`` parses and defines a top-level function ``name``.

    Returns the function's AST node. Raises :class:`ToolboxFormatError` naming ``where``
    (e.g. the file) and the line of a syntax error.
    """
    where = where or f"tool {name!r}"
    if not name.isidentifier() or name.startswith("__"):
        raise ToolboxFormatError(
            f"{where}: {name!r} is not a valid tool name; use a Python identifier like 'molar_mass'."
        )
    try:
        module = ast.parse(code, filename=where)
    except SyntaxError as err:
        raise ToolboxFormatError(
            f"{where} has a syntax error at line {err.lineno}: {err.msg}. "
            "Fix the code, or remove the tool (and its entry in toolbox.json)."
        ) from err
    for node in module.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node
    defined = [n.name for n in module.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    raise ToolboxFormatError(
        f"{where} does not define a top-level function named {name!r} (it defines {defined or 'none'}). "
        "A tool's code must define the function its name refers to."
    )


@dataclass
class ValidationExample:
    """The problem a tool was validated on. The expected answer comes from the book, never from a model.

    Attributes:
        problem: the problem text (e.g. a worked example's "Check Your Learning" exercise).
        solution: Python code that calls the tool and prints the answer.
        expected_answer: the answer the book states, e.g. ``"8.91 g/cm^3"``.
        source: where in the book it came from, e.g. ``"Example 1.1 (section 1.4), Check Your Learning"``.
        example_id: the worked example's id in the book, if any.
    """

    problem: str
    solution: str
    expected_answer: str
    source: str = ""
    example_id: str | None = None


@dataclass
class ValidationRecord:
    """What happened when a tool's validation example ran in the sandbox.

    Attributes:
        status: ``"passed"`` (first try), ``"repaired"`` (passed after one repair),
            ``"failed"``, or ``"not_run"``.
        attempts: how many times the example was run.
        answer: the answer extracted from the run's output.
        output: what the run printed (trimmed).
        error: the error of the last failed run, if any.
        seconds: wall time of the last run.
    """

    status: Literal["passed", "repaired", "failed", "not_run"] = "not_run"
    attempts: int = 0
    answer: str | None = None
    output: str = ""
    error: str | None = None
    seconds: float | None = None

    def __post_init__(self) -> None:
        if self.status not in ("passed", "repaired", "failed", "not_run"):
            raise ToolboxFormatError(
                f"Unknown validation status {self.status!r}; use 'passed', 'repaired', 'failed' or 'not_run'."
            )

    @property
    def passed(self) -> bool:
        """Whether the tool's example gave the book's answer (first time or after repair)."""
        return self.status in ("passed", "repaired")


@dataclass
class Tool:
    """A tool: a self-contained Python function written from a section of the book.

    Attributes:
        name: the function's name (a Python identifier, unique in the toolbox).
        description: what it computes, its arguments and units (shown to the solver).
        code: the function's source; it defines ``name`` and imports what it needs.
        validation: the example it was checked on.
        record: the result of that check.
    """

    name: str
    description: str
    code: str
    validation: ValidationExample | None = None
    record: ValidationRecord = field(default_factory=ValidationRecord)

    def __post_init__(self) -> None:
        self._node = check_tool_code(self.name, self.code)
        if not self.description.strip():
            raise ToolboxFormatError(f"Tool {self.name!r} has no description; the solver picks tools by it.")

    @property
    def signature(self) -> str:
        """``"name(arg1, arg2=1.0)"`` from the function's definition."""
        return f"{self.name}({ast.unparse(self._node.args)})"

    @property
    def docstring(self) -> str | None:
        """The function's docstring, if it has one."""
        return ast.get_docstring(self._node)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready metadata (the code itself is saved in its own file)."""
        return {
            "name": self.name,
            "description": self.description,
            "signature": self.signature,
            "validation": asdict(self.validation) if self.validation else None,
            "record": asdict(self.record),
        }


@dataclass
class BuildStats:
    """Build counts of a section (or a whole toolbox): tools proposed, passed first time, repaired, dropped."""

    proposed: int = 0
    first_pass: int = 0
    repaired: int = 0
    dropped: int = 0

    @property
    def kept(self) -> int:
        """Tools that passed validation (first time or after repair)."""
        return self.first_pass + self.repaired

    def __add__(self, other: BuildStats) -> BuildStats:
        return BuildStats(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


@dataclass
class ToolboxSection:
    """The tools of one book section, with its build counts.

    Attributes:
        id: the book section's id (e.g. OpenStax module ``"m68674"``).
        number: ``"1.4"``; title: ``"Measurements"``.
        tools: its validated tools.
        stats: what the build did here (a section may end with no tools).
        digest: :attr:`Section.digest` of the text the tools were written from.
    """

    id: str
    number: str
    title: str
    tools: list[Tool] = field(default_factory=list)
    stats: BuildStats = field(default_factory=BuildStats)
    digest: str | None = None

    @property
    def label(self) -> str:
        return f"{self.number} {self.title}"


class _SectionTotals:
    """``tools`` and ``stats`` of whatever holds ``sections`` (a chapter, the whole toolbox)."""

    sections: list[ToolboxSection]

    @property
    def tools(self) -> list[Tool]:
        """Every tool of the sections, in book order."""
        return [t for s in self.sections for t in s.tools]

    @property
    def stats(self) -> BuildStats:
        """Build counts summed over the sections."""
        return sum((s.stats for s in self.sections), BuildStats())


@dataclass
class ToolboxChapter(_SectionTotals):
    """A chapter of the toolbox: number, title and the sections built so far."""

    number: int
    title: str
    sections: list[ToolboxSection] = field(default_factory=list)
