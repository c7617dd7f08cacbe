"""Tool creation with validation, one book section at a time.

For a :class:`~hf_reft.reftool.reference.Section`, :class:`ToolCreator`

1. picks the section's **validation exercises**: each worked example's "Check Your Learning"
   exercise whose book-stated answer (``check_answer``) holds a number — or, when it has none, the
   worked example itself with the answer its solution states (``answer``). The expected answer
   always comes from the book, never from a model. A section without such an exercise gets no
   tools (nothing could validate them) and costs no model call.
2. sends the section's text (the exercises' answers withheld; at most ``budget`` characters, the
   exercises kept) and a format example, asking for up to ``max_tools`` tools (default 2), each
   with a name, a description, a self-contained function and a program that solves one of the
   exercises *by calling the tool* and prints the answer (:func:`~hf_reft.reftool.prompts.creation_messages`);
3. validates each tool: the code must define the function, the program must call it, and the
   program (after the tool's code) runs in the sandbox; the number it prints last must match one
   of the numbers of the book's answer within ``rel_tol`` (default 2 %);
4. sends a failing tool back to the model **once** with the error (the expected value is not
   revealed) for repair, and validates the repaired tool on the same exercise;
5. drops what still fails. Counts go into :class:`~hf_reft.reftool.toolbox.BuildStats`
   (proposed, passed first time, repaired, dropped); the attempts are in :attr:`SectionBuild.log`.

Running tools needs a trusted source; everything runs in :mod:`hf_reft.sandbox`.
"""

from __future__ import annotations

import ast
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..answers import Answer, compare_numbers, extract_program_result, find_numbers
from ..sandbox import Sandbox, SandboxPolicy, SandboxResult, run_program
from . import prompts
from .chat import ChatBackend
from .parsing import ToolDraft, parse_tool_drafts
from .reference import Section, WorkedExample
from .toolbox import (
    BuildStats,
    Tool,
    ToolboxFormatError,
    ValidationExample,
    ValidationRecord,
    check_tool_code,
)

__all__ = [
    "DEFAULT_CREATION_POLICY",
    "Exercise",
    "SectionBuild",
    "ToolCreator",
    "section_exercises",
    "section_prompt_text",
]

#: Sandbox limits for validation programs.
DEFAULT_CREATION_POLICY = SandboxPolicy(wall_time=10.0, cpu_time=10.0)


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
    def expected_values(self) -> list[float]:
        """The numbers in the book's answer (a multi-part answer gives several)."""
        return [a.value for a in find_numbers(self.expected) if a.is_numeric]


def section_exercises(section: Section) -> list[Exercise]:
    """The section's exercises with a numeric book-stated answer, in book order."""
    exercises = []
    for example in section.examples:
        if example.check_problem and example.check_answer and find_numbers(example.check_answer):
            problem, expected, part, hidden = (
                example.check_problem,
                example.check_answer,
                "Check Your Learning",
                True,
            )
        elif example.problem and example.answer and find_numbers(example.answer):
            problem, expected, part, hidden = example.problem, example.answer, "worked example", False
        else:
            continue
        exercises.append(
            Exercise(
                number=example.number,
                problem=problem.strip(),
                expected=expected.strip(),
                source=f"Example {example.number} ({section.label}), {part}",
                example_id=example.id,
                hidden=hidden,
            )
        )
    return exercises


def _example_text(example: WorkedExample, limit: int) -> str:
    """A worked example as the model sees it: the check exercise's answer withheld."""
    lines = [f"Example {example.number}: {example.title}".rstrip(": "), example.problem]
    if example.solution:
        lines.append(f"Solution:\n{example.solution}")
    if example.check_problem:
        lines.append(f"Check Your Learning:\n{example.check_problem}")
    text = "\n".join(lines)
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def section_prompt_text(section: Section, exercises: Sequence[Exercise], budget: int) -> str:
    """The section's text for the creation prompt, at most about ``budget`` characters.

    The worked examples holding ``exercises`` are always included (each cut to a share of the
    budget); paragraphs fill the rest in reading order. Check-exercise answers are left out.
    """
    wanted = {e.example_id for e in exercises}
    examples = [b for b in section.blocks if isinstance(b, WorkedExample) and b.id in wanted]
    share = max(400, budget // max(1, 2 * len(examples))) if examples else budget
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


@dataclass
class SectionBuild:
    """What building one section produced.

    Attributes:
        tools: the validated tools (status ``passed`` or ``repaired``).
        stats: proposed / first_pass / repaired / dropped.
        log: one entry per model call and validation, for build logs and debugging.
        seconds: wall time of the section.
        skipped: why no model call was made (e.g. no exercise with a numeric answer), if so.
    """

    tools: list[Tool] = field(default_factory=list)
    stats: BuildStats = field(default_factory=BuildStats)
    log: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    skipped: str | None = None


class ToolCreator:
    """Writes and validates the tools of one section at a time (see the module docstring).

    Args:
        backend: the chat model that writes tools.
        sandbox: where validation programs run (default: a shared sandbox for ``policy``).
        policy: sandbox limits when no sandbox is given.
        max_tools: m, the most tools per section.
        budget: the most characters of section text per prompt.
        rel_tol: relative tolerance of the numeric comparison with the book's answer.
        max_new_tokens: the most tokens of one creation or repair reply.
        temperature: sampling temperature (0 = greedy).
        repair: whether a failing tool goes back to the model once.
    """

    def __init__(
        self,
        backend: ChatBackend,
        *,
        sandbox: Sandbox | None = None,
        policy: SandboxPolicy | None = None,
        max_tools: int = 2,
        budget: int = 6000,
        rel_tol: float = 0.02,
        max_new_tokens: int = 512,
        temperature: float = 0.0,
        repair: bool = True,
    ) -> None:
        if max_tools < 1:
            raise ValueError(f"max_tools must be ≥ 1, got {max_tools}.")
        if budget < 500:
            raise ValueError(f"budget must be at least 500 characters, got {budget}.")
        if not 0 < rel_tol < 1:
            raise ValueError(f"rel_tol must be in (0, 1), e.g. 0.02; got {rel_tol}.")
        self.backend = backend
        self.sandbox = sandbox
        self.policy = policy or (sandbox.policy if sandbox is not None else DEFAULT_CREATION_POLICY)
        self.max_tools = max_tools
        self.budget = budget
        self.rel_tol = rel_tol
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.repair = repair

    @property
    def settings(self) -> dict[str, Any]:
        """The build settings worth recording in a toolbox."""
        return {
            "max_tools": self.max_tools,
            "budget_chars": self.budget,
            "rel_tol": self.rel_tol,
            "max_new_tokens": self.max_new_tokens,
            "temperature": self.temperature,
            "repair": self.repair,
        }

    # ------------------------------------------------------------------ one section
    def build_section(self, section: Section) -> SectionBuild:
        """Write, validate, repair and keep the tools of ``section``."""
        started = time.monotonic()
        build = SectionBuild()
        exercises = section_exercises(section)
        if not exercises:
            build.skipped = "no worked example with a numeric answer stated in the book to validate tools on"
            build.log.append({"event": "skipped", "reason": build.skipped})
            return build
        text = section_prompt_text(section, exercises, self.budget)
        messages = prompts.creation_messages(
            section.label, text, [(e.number, e.problem) for e in exercises], self.max_tools
        )
        reply = self._chat(messages)
        drafts = parse_tool_drafts(reply)[: self.max_tools]
        build.log.append({"event": "create", "reply": reply, "drafts": len(drafts)})
        build.stats.proposed = len(drafts)
        taken: set[str] = set()
        for draft in drafts:
            tool = self._validate_with_repair(section, draft, exercises, build)
            if tool is None:
                build.stats.dropped += 1
                continue
            if tool.name in taken:  # two tools of one section with the same name
                tool = rename_tool(tool, _free_name(tool.name, taken))
            taken.add(tool.name)
            build.tools.append(tool)
            if tool.record.status == "passed":
                build.stats.first_pass += 1
            else:
                build.stats.repaired += 1
        build.seconds = time.monotonic() - started
        return build

    def _chat(self, messages: list[dict[str, str]]) -> str:
        return self.backend.chat(messages, max_new_tokens=self.max_new_tokens, temperature=self.temperature)

    def _validate_with_repair(
        self, section: Section, draft: ToolDraft, exercises: Sequence[Exercise], build: SectionBuild
    ) -> Tool | None:
        exercise = _exercise_for(draft, exercises)
        outcome = self.validate(draft, exercise)
        build.log.append(
            {"event": "validate", "tool": draft.name, "example": exercise.number, **outcome.summary()}
        )
        if outcome.passed:
            return outcome.tool("passed", 1, exercise)
        if not self.repair:
            return None
        reply = self._chat(
            prompts.repair_messages(section.label, exercise.problem, draft.raw, outcome.error or "")
        )
        repaired = parse_tool_drafts(reply)
        build.log.append({"event": "repair", "tool": draft.name, "reply": reply, "drafts": len(repaired)})
        if not repaired:
            return None
        fixed = repaired[0]
        fixed_exercise = _exercise_for(fixed, exercises, default=exercise)
        second = self.validate(fixed, fixed_exercise)
        build.log.append(
            {
                "event": "validate",
                "tool": fixed.name,
                "example": fixed_exercise.number,
                "repair": True,
                **second.summary(),
            }
        )
        return second.tool("repaired", 2, fixed_exercise) if second.passed else None

    # ------------------------------------------------------------------ validation
    def validate(self, draft: ToolDraft, exercise: Exercise) -> _Outcome:
        """Check one drafted tool on ``exercise`` (runs its program in the sandbox)."""
        outcome = _Outcome(draft)
        description = draft.description or _docstring(draft.code, draft.name)
        try:
            check_tool_code(draft.name, draft.code)
            if not description:
                raise ToolboxFormatError("the tool has no DESCRIPTION line (and no docstring)")
            outcome.tool_object = Tool(draft.name, description, draft.code)
        except ToolboxFormatError as err:
            outcome.error = f"the tool's code is not usable: {err}"
            return outcome
        if not draft.program:
            outcome.error = (
                "there is no program (second ```python block) that solves the exercise with the tool"
            )
            return outcome
        if not _calls(draft.program, draft.name):
            outcome.error = (
                f"the program does not call {draft.name}(...); it must compute the answer with the tool"
            )
            return outcome
        source = f"{draft.code.rstrip()}\n\n{draft.program.strip()}\n"
        result = self._run(source)
        outcome.result = result
        if not result.ok:
            outcome.error = (
                f"running the program failed: {result.exception_type or result.status.value}: "
                f"{result.exception_message or ''}".rstrip(": ")
            )
            return outcome
        answer = extract_program_result(result.stdout) if result.stdout.strip() else None
        outcome.answer = answer
        if answer is None or not answer.is_numeric:
            outcome.error = "the program printed no number; it must print the numeric answer"
            return outcome
        expected = exercise.expected_values
        if not any(compare_numbers(answer.value, v, abs_tol=0.0, rel_tol=self.rel_tol) for v in expected):
            outcome.error = (
                f"the program printed {answer.value:.6g}, which does not match the answer stated in the book "
                f"(relative tolerance {self.rel_tol:g}); check the formula, constants and units"
            )
            return outcome
        outcome.passed = True
        return outcome

    def _run(self, source: str) -> SandboxResult:
        if self.sandbox is not None:
            return self.sandbox.run(source)
        return run_program(source, self.policy)


@dataclass
class _Outcome:
    draft: ToolDraft
    passed: bool = False
    error: str | None = None
    answer: Answer | None = None
    result: SandboxResult | None = None
    tool_object: Tool | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "error": self.error,
            "answer": str(self.answer) if self.answer else None,
            "stdout": (self.result.stdout[-500:] if self.result else None),
        }

    def tool(self, status: str, attempts: int, exercise: Exercise) -> Tool:
        assert self.tool_object is not None and self.draft.program is not None
        tool = self.tool_object
        tool.validation = ValidationExample(
            problem=exercise.problem,
            solution=self.draft.program.strip(),
            expected_answer=exercise.expected,
            source=exercise.source,
            example_id=exercise.example_id,
        )
        tool.record = ValidationRecord(
            status=status,  # type: ignore[arg-type]
            attempts=attempts,
            answer=str(self.answer) if self.answer else None,
            output=(self.result.stdout[-1000:] if self.result else ""),
            error=None,
            seconds=round(self.result.wall_time, 4) if self.result else None,
        )
        return tool


def _exercise_for(
    draft: ToolDraft, exercises: Sequence[Exercise], default: Exercise | None = None
) -> Exercise:
    """The exercise a draft names (EXAMPLE line), else ``default`` or the first one."""
    if draft.example:
        for exercise in exercises:
            if exercise.number == draft.example:
                return exercise
    return default or exercises[0]


def _calls(program: str, name: str) -> bool:
    try:
        tree = ast.parse(program)
    except SyntaxError:
        return bool(re.search(rf"(?<![\w.]){re.escape(name)}\s*\(", program))
    return any(
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name
        for node in ast.walk(tree)
    )


def _docstring(code: str, name: str) -> str:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return ""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return (ast.get_docstring(node) or "").strip().split("\n\n")[0]
    return ""


def _free_name(name: str, taken: set[str]) -> str:
    candidate, k = name, 2
    while candidate in taken:
        candidate, k = f"{name}_{k}", k + 1
    return candidate


def rename_tool(tool: Tool, new_name: str) -> Tool:
    """The same tool under ``new_name`` (its function and its validation program renamed)."""
    pattern = re.compile(rf"(?<![\w.]){re.escape(tool.name)}(?!\w)")
    renamed = Tool(new_name, tool.description, pattern.sub(new_name, tool.code), tool.validation, tool.record)
    if tool.validation is not None:
        renamed.validation = ValidationExample(
            **{**tool.validation.__dict__, "solution": pattern.sub(new_name, tool.validation.solution)}
        )
    return renamed
