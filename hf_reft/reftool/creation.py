"""Tool creation with validation, one book section at a time.

For a :class:`~hf_reft.reftool.books.Section`, :class:`ToolCreator`

1. picks the section's **exercises**: each worked example's "Check Your Learning" exercise whose
   book-stated answer (``check_answer``) holds a number — or, when it has none, the worked example
   itself with the answer its solution states (``answer``). Its **problems** are those exercises and
   the worked examples' own problems with a numeric stated answer (:func:`~hf_reft.reftool.section_problems.section_problems`). The
   expected answer always comes from the book, never from a model. A section without an exercise
   gets no tools (nothing could validate them) and costs no model call; so does a section whose one
   problem has a guessable answer (:attr:`~hf_reft.reftool.section_problems.Exercise.guessable`: small
   whole numbers, which a wrong tool prints as easily, with no second problem to confirm a tool).
2. sends the section's text with the worked examples' own solution steps (the exercises' answers
   withheld; at most ``budget`` characters) and a format example, asking for up to ``max_tools``
   tools (default 2) that code the computation a worked solution carries out, each with a name, a
   description, a self-contained function and a program that solves one of the first
   ``max_examples`` exercises *by calling the tool* and prints the answer
   (:func:`~hf_reft.reftool.prompts.creation_messages`). It asks ``candidates`` times: once at
   ``temperature`` (greedy by default) and the rest sampled at ``sample_temperature``; every distinct
   tool of every reply is a candidate;
3. validates each candidate on the problems of the example its EXAMPLE line names (else of every
   offered example): the code must define the function, the program must call it, must not hold the
   book's answer as a number it did not get from the problem (a program that prints the answer worked
   out by hand, or copied from the worked solution, proves nothing about the tool), and the program
   (after the tool's code) runs in the sandbox; the number it prints last must match one of the
   numbers of the book's answer to one of those problems within ``rel_tol`` (default 2 %); the
   tool's own code must not hold a number the problem gives (it would work on that data only), and
   its result must depend on its arguments (:func:`~hf_reft.reftool.parsing.ignores_its_arguments`:
   a tool holding the worked solution's constants returns the book's answer for any data).
   With ``transcribe`` (the default), while fewer than ``max_tools`` tools are kept, the model also
   transcribes each offered worked example's solution into a program (the data in variables, the
   steps, a print), and :func:`~hf_reft.reftool.transcription.tool_from_program` turns that program into a
   tool without the model, validated on the worked problem (which proves only the transcription: its
   answer is in the solution) and kept only after the cross-check below; with ``transcriptions`` > 1,
   sampled transcriptions follow one whose tool was not kept;
4. **cross-checks** a tool that passed on one problem when the section has another: the model writes
   a program for another problem with the tool already defined and its validated program shown as
   an example of use (at most ``cross_checks`` problems, ``cross_check_tries`` programs each), and
   the tool is kept only if one of those also gives the book's answer — two problems with different
   data, so a tool cannot pass by restating one answer. The same example's other problem comes first
   (its worked problem after its "Check Your Learning" exercise, or the reverse: the computation the
   tool was written for, on other data), then the section's other problems, the most similar first;
   a problem with a guessable answer is tried only when the section has no other (a wrong tool
   prints a small whole number by chance, so it would confirm little);
5. when fewer than ``max_tools`` tools were kept, sends the closest failing candidate of each tool
   name back to the model **once** (at most ``max_tools`` repairs per section) with the error (the expected value is not revealed) for repair, and validates and
   cross-checks the repaired tool the same way;
6. drops what still fails. Counts go into :class:`~hf_reft.reftool.toolbox.BuildStats`
   (proposed = distinct candidates, passed first time, repaired, dropped); every reply and check is
   in :attr:`SectionBuild.log`.

Running tools needs a trusted source; everything runs in :mod:`hf_reft.sandbox`.
"""

from __future__ import annotations

import ast
import math
import re
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..answers import Answer, compare_numbers, extract_program_result
from ..sandbox import Sandbox, SandboxPolicy, SandboxResult
from . import prompts
from .books import Section
from .chat import ChatBackend, default_concurrency
from .execution import run_model_code
from .parsing import ToolDraft, calls, first_program, ignores_its_arguments, parse_tool_drafts
from .section_problems import (
    Exercise,
    among_numbers,
    book_numbers,
    section_exercises,
    section_problems,
    section_prompt_text,
)
from .toolbox import (
    BuildStats,
    Tool,
    ToolboxFormatError,
    ValidationExample,
    ValidationRecord,
    check_tool_code,
)
from .transcription import tool_from_program

__all__ = ["DEFAULT_CREATION_POLICY", "SectionBuild", "ToolCreator", "rename_tool"]

#: Sandbox limits for validation programs.
DEFAULT_CREATION_POLICY = SandboxPolicy(wall_time=10.0, cpu_time=10.0)


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
        max_tools: m, the most tools kept per section.
        budget: the most characters of section text per prompt.
        rel_tol: relative tolerance of the numeric comparison with the book's answer.
        max_new_tokens: the most tokens of one creation or repair reply.
        temperature: sampling temperature of the first creation reply and of repairs (0 = greedy).
        candidates: creation replies per section (the first at ``temperature``, the others sampled).
        sample_temperature: the temperature of the other candidates.
        max_examples: the most exercises offered in the creation prompt (book order).
        cross_checks: the most other exercises a passing tool is tried on (0 turns the check off;
            a section with one exercise has none to try).
        cross_check_tries: programs the model writes for each of those (the first at ``temperature``,
            the others sampled at ``sample_temperature``); the tool is kept when one of them passes.
            Default 1: on the development set a second, sampled try rescued none of 13 failed
            cross-checks (docs/results.md).
        repair: whether failing candidates go back to the model once.
        transcribe: whether tools are also made from transcribed worked solutions (step 3 of the
            module docstring); with it, ``candidates`` may be 0 (tools from transcriptions only).
            Default on: in the whole-book Chemistry 2e build most kept tools came from
            transcriptions (docs/results.md).
        transcriptions: transcription replies per worked example (the first at ``temperature``, the
            others sampled at ``sample_temperature``), until one gives a tool that passes its worked
            problem and its cross-check. Default 3: the whole-book Chemistry 2e build kept a tool in
            21 of 69 sections with it against 17 with one (docs/results.md).
    """

    def __init__(
        self,
        backend: ChatBackend,
        *,
        sandbox: Sandbox | None = None,
        policy: SandboxPolicy | None = None,
        max_tools: int = 2,
        budget: int = 7000,
        rel_tol: float = 0.02,
        max_new_tokens: int = 768,
        temperature: float = 0.0,
        candidates: int = 3,
        sample_temperature: float = 0.7,
        max_examples: int = 4,
        cross_checks: int = 2,
        cross_check_tries: int = 1,
        repair: bool = True,
        transcribe: bool = True,
        transcriptions: int = 3,
    ) -> None:
        if max_tools < 1:
            raise ValueError(f"max_tools must be ≥ 1, got {max_tools}.")
        if budget < 500:
            raise ValueError(f"budget must be at least 500 characters, got {budget}.")
        if not 0 < rel_tol < 1:
            raise ValueError(f"rel_tol must be in (0, 1), e.g. 0.02; got {rel_tol}.")
        if candidates < (0 if transcribe else 1):
            raise ValueError(
                f"candidates must be ≥ 1 (≥ 0 with transcribe=True, tools from transcriptions only), got "
                f"{candidates}."
            )
        if max_examples < 1:
            raise ValueError(f"max_examples must be ≥ 1, got {max_examples}.")
        if cross_checks < 0:
            raise ValueError(f"cross_checks must be ≥ 0 (0 = no cross-check), got {cross_checks}.")
        if cross_check_tries < 1:
            raise ValueError(f"cross_check_tries must be ≥ 1, got {cross_check_tries}.")
        if transcriptions < 1:
            raise ValueError(f"transcriptions must be ≥ 1 (or transcribe=False), got {transcriptions}.")
        self.backend = backend
        self.sandbox = sandbox
        self.policy = policy or (sandbox.policy if sandbox is not None else DEFAULT_CREATION_POLICY)
        self.max_tools = max_tools
        self.budget = budget
        self.rel_tol = rel_tol
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.candidates = candidates
        self.sample_temperature = sample_temperature
        self.max_examples = max_examples
        self.cross_checks = cross_checks
        self.cross_check_tries = cross_check_tries
        self.repair = repair
        self.transcribe = transcribe
        self.transcriptions = transcriptions

    @property
    def settings(self) -> dict[str, Any]:
        """The build settings worth recording in a toolbox."""
        return {
            "max_tools": self.max_tools,
            "budget_chars": self.budget,
            "rel_tol": self.rel_tol,
            "max_new_tokens": self.max_new_tokens,
            "temperature": self.temperature,
            "candidates": self.candidates,
            "sample_temperature": self.sample_temperature,
            "max_examples": self.max_examples,
            "cross_checks": self.cross_checks,
            "cross_check_tries": self.cross_check_tries,
            "repair": self.repair,
            "transcribe": self.transcribe,
            "transcriptions": self.transcriptions,
        }

    # ------------------------------------------------------------------ one section
    def build_section(self, section: Section) -> SectionBuild:
        """Write, validate, cross-check, repair and keep the tools of ``section``."""
        started = time.monotonic()
        build = SectionBuild()
        exercises = section_exercises(section)
        if not exercises:
            build.skipped = "no worked example with a numeric answer stated in the book to validate tools on"
            build.log.append({"event": "skipped", "reason": build.skipped})
            return build
        problems = section_problems(section)
        if self.cross_checks and len(problems) == 1 and problems[0].guessable:
            build.skipped = (
                "its one problem's answer is a small whole number, which a wrong tool hits as easily, and "
                "no second problem could confirm a tool"
            )
            build.log.append({"event": "skipped", "reason": build.skipped})
            return build
        offered = exercises[: self.max_examples]
        offered_ids = {e.example_id for e in offered}
        offered_problems = [p for p in problems if p.example_id in offered_ids]
        messages = self.creation_messages(section, offered)
        candidates: list[tuple[int, ToolDraft]] = []  # (the reply it came from, the draft)
        seen: set[tuple[str, str]] = set()
        for k, reply in enumerate(self._create(messages)):
            drafts = parse_tool_drafts(reply)[: self.max_tools]
            build.log.append({"event": "create", "candidate": k, "reply": reply, "drafts": len(drafts)})
            for draft in drafts:
                key = (draft.code.strip(), (draft.program or "").strip())
                if key not in seen:
                    seen.add(key)
                    candidates.append((k, draft))
        build.stats.proposed = len(candidates)
        kept: dict[str, Tool] = {}
        failures: list[tuple[ToolDraft, _Outcome, Exercise]] = []
        for k, draft in candidates:
            if len(kept) >= self.max_tools or draft.name in kept:
                continue
            named = _named_problems(draft, offered_problems)
            outcome = self._check(draft, named or offered_problems, problems, build, {"candidate": k})
            if outcome.passed:
                kept[draft.name] = outcome.tool("passed", 1)
            else:
                failures.append((draft, outcome, named[0] if named else offered[0]))
        if self.transcribe:
            for worked in (p for p in offered_problems if not p.hidden):
                # the code of the tools tried: a sample that repeats one is not checked again
                transcribed: set[str] = set()
                for sample in range(self.transcriptions):
                    if len(kept) >= self.max_tools:
                        break
                    draft = self._transcription(section, worked, build, taken=set(kept), sample=sample)
                    if draft is None or draft.code.strip() in transcribed:
                        continue
                    transcribed.add(draft.code.strip())
                    build.stats.proposed += 1
                    where = {"transcription": worked.number, "sample": sample}
                    outcome = self._check(draft, [worked], problems, build, where)
                    if outcome.passed:
                        kept[draft.name] = outcome.tool("passed", 1)
                        break
                    failures.append((draft, outcome, worked))
        if self.repair:  # the closest failure of each tool not kept, at most max_tools repairs in all
            failures.sort(key=lambda failure: _closeness(failure[1]))
            repaired: set[str] = set()
            for draft, outcome, exercise in failures:
                if len(kept) >= self.max_tools or len(repaired) >= self.max_tools:
                    break
                if draft.name in kept or draft.name in repaired:
                    continue
                repaired.add(draft.name)
                tool = self._repair(section, draft, outcome, exercise, problems, build)
                if tool is not None and tool.name not in kept:
                    kept[tool.name] = tool
        for tool in kept.values():
            build.tools.append(tool)
            if tool.record.status == "passed":
                build.stats.first_pass += 1
            else:
                build.stats.repaired += 1
        build.stats.dropped = build.stats.proposed - build.stats.kept
        build.seconds = time.monotonic() - started
        return build

    def creation_messages(
        self, section: Section, offered: Sequence[Exercise] | None = None
    ) -> list[dict[str, str]]:
        """The creation prompt of ``section`` offering ``offered`` (default: its first ``max_examples`` exercises)."""
        if offered is None:
            offered = section_exercises(section)[: self.max_examples]
        text = section_prompt_text(section, offered, self.budget)
        return prompts.creation_messages(
            section.label, text, [(e.number, e.problem) for e in offered], self.max_tools
        )

    def _transcription(
        self, section: Section, worked: Exercise, build: SectionBuild, taken: set[str], sample: int = 0
    ) -> ToolDraft | None:
        """The tool made from the model's ``sample``-th transcription of ``worked``'s solution (logged),
        if any; its name is none of ``taken``. Sample 0 is at ``temperature``, the others sampled."""
        example = next(e for e in section.examples if e.id == worked.example_id)
        temperature = None if sample == 0 else self.sample_temperature
        reply = self._chat(prompts.transcription_messages(example.problem, example.solution), temperature)
        draft, why = tool_from_program(
            first_program(reply) or "",
            _given_numbers(worked),
            title=example.title,
            example=worked.number,
            taken=taken,
        )
        build.log.append(
            {
                "event": "transcribe",
                "example": worked.number,
                "sample": sample,
                "reply": reply,
                "tool": draft.name if draft else None,
                "error": why,
            }
        )
        return draft

    def _chat(self, messages: list[dict[str, str]], temperature: float | None = None) -> str:
        return self.backend.chat(
            messages,
            max_new_tokens=self.max_new_tokens,
            temperature=self.temperature if temperature is None else temperature,
        )

    def _create(self, messages: list[dict[str, str]]) -> list[str]:
        """``candidates`` creation replies: the first at ``temperature``, the others sampled.

        A local model (llama.cpp, transformers) answers them one after another: llama.cpp then reuses
        the prompt it holds in its cache, where a second slot would process the whole prompt again
        (measured on 2 CPU cores with Qwen2.5-Coder-1.5B: two samples of a 2,200–3,400-token creation
        prompt took 35–45 s one after another and 95–130 s at once). A remote backend gets the samples
        at once.
        """
        if self.candidates == 0:  # tools from transcriptions only
            return []
        first = self._chat(messages)
        samples = range(self.candidates - 1)
        if getattr(self.backend, "kind", "") in ("llamacpp", "transformers", "scripted"):
            return [first, *(self._chat(messages, self.sample_temperature) for _ in samples)]
        workers = max(1, min(len(samples), default_concurrency(self.backend, batch_local=False)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hf-reft-candidates") as pool:
            rest = list(pool.map(lambda _: self._chat(messages, self.sample_temperature), samples))
        return [first, *rest]

    def _check(
        self,
        draft: ToolDraft,
        choices: Sequence[Exercise],
        problems: Sequence[Exercise],
        build: SectionBuild,
        where: dict[str, Any],
    ) -> _Outcome:
        """Validate ``draft`` on one of ``choices`` (see :meth:`validate`), then cross-check it on another
        of the section's ``problems``; logs both, with ``where`` the draft came from: ``{"candidate":
        k}`` (the k-th creation reply), ``{"transcription": number}`` or ``{"repair": True}``.
        """
        outcome = self.validate(draft, choices)
        example = (
            outcome.exercise.number if outcome.exercise else ",".join(sorted({e.number for e in choices}))
        )
        part = {"part": _part(outcome.exercise)} if outcome.exercise else {}
        build.log.append(
            {
                "event": "validate",
                "tool": draft.name,
                "example": example,
                **part,
                **where,
                **outcome.summary(),
            }
        )
        if outcome.passed:
            outcome = self._cross_check(outcome, problems, build, where)
        return outcome

    def _cross_check(
        self, outcome: _Outcome, problems: Sequence[Exercise], build: SectionBuild, where: dict[str, Any]
    ) -> _Outcome:
        """Keep ``outcome`` passed only if its tool also solves another of the section's ``problems``
        (when there is one): the same example's other problem first, then the most similar; problems
        with a guessable answer only when the section has no other."""
        exercise = outcome.exercise
        assert exercise is not None
        others = [p for p in problems if p != exercise]
        if not others or self.cross_checks == 0:  # one problem: guessable ones skip the section before
            return outcome
        # a small whole-number (guessable) answer confirms little — a wrong tool prints 0 or 3 by
        # chance — so such problems check a tool only where the section has no other
        others = [p for p in others if not p.guessable] or others
        draft = outcome.draft
        siblings = [p for p in others if p.example_id == exercise.example_id]
        rest = _most_similar([p for p in others if p.example_id != exercise.example_id], draft, exercise)
        shown = [(exercise.problem, draft.program or "")]
        errors = []
        for other in (siblings + rest)[: self.cross_checks]:
            messages = prompts.tool_program_messages(other.problem, draft.code, [draft.name], shown)
            for attempt in range(self.cross_check_tries):
                reply = self._chat(messages, None if attempt == 0 else self.sample_temperature)
                program = first_program(reply) or ""
                check = self.validate(
                    ToolDraft(draft.name, draft.description, other.number, draft.code, program, ""), other
                )
                build.log.append(
                    {
                        "event": "cross_check",
                        **where,
                        "tool": draft.name,
                        "example": other.number,
                        "part": _part(other),
                        "attempt": attempt,
                        "reply": reply,
                        **check.summary(),
                    }
                )
                if check.passed:
                    return outcome
            errors.append(f"Example {other.number}: {check.error}")
        outcome.passed = False
        outcome.error = (
            f"the tool gave the book's answer for Example {exercise.number} ({_part(exercise)}) but not for "
            "another problem of the section it should also solve (" + "; ".join(errors) + ")"
        )
        return outcome

    def _repair(
        self,
        section: Section,
        draft: ToolDraft,
        outcome: _Outcome,
        exercise: Exercise,
        problems: Sequence[Exercise],
        build: SectionBuild,
    ) -> Tool | None:
        reply = self._chat(
            prompts.repair_messages(section.label, exercise.problem, draft.raw, outcome.error or "")
        )
        repaired = parse_tool_drafts(reply)
        build.log.append({"event": "repair", "tool": draft.name, "reply": reply, "drafts": len(repaired)})
        if not repaired:
            return None
        fixed = repaired[-1]  # a repair reply may restate the failing tool before the corrected one
        same = [p for p in problems if p.example_id == exercise.example_id]
        second = self._check(
            fixed, _named_problems(fixed, problems) or same, problems, build, {"repair": True}
        )
        return second.tool("repaired", 2) if second.passed else None

    # ------------------------------------------------------------------ validation
    def validate(self, draft: ToolDraft, exercise: Exercise | Sequence[Exercise]) -> _Outcome:
        """Check one drafted tool on ``exercise`` (runs its program in the sandbox).

        Given several exercises (a draft whose EXAMPLE line names none of them), the program passes
        if what it prints is the book's answer to one of them; :attr:`_Outcome.exercise` says which.
        """
        choices = [exercise] if isinstance(exercise, Exercise) else list(exercise)
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
        if not calls(draft.program, draft.name):
            outcome.error = (
                f"the program does not call {draft.name}(...); it must compute the answer with the tool"
            )
            return outcome
        if ignores_its_arguments(draft.code, draft.name):
            outcome.error = (
                f"{draft.name} returns the same value whatever its arguments are; it must compute its "
                "result from them"
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
        matched = next((e for e in choices if self._matches(answer.value, e.expected_values)), None)
        if matched is None:
            outcome.error = (
                f"the program printed {answer.value:.6g}, which does not match the answer stated in the book "
                f"(relative tolerance {self.rel_tol:g}); check the formula, constants and units"
            )
            return outcome
        if literal := self._stated_answer(draft, matched):
            outcome.error = (
                f"the code holds the number {literal} instead of computing it; the tool must compute the "
                "answer from the exercise's data"
            )
            return outcome
        if given := self._given_in_tool(draft, matched):
            outcome.error = (
                f"the tool's code holds {given}, a value the exercise gives; make it an argument of "
                f"{draft.name} so that the tool works on other data"
            )
            return outcome
        outcome.passed, outcome.exercise = True, matched
        return outcome

    def _matches(self, value: float, expected: Sequence[float]) -> bool:
        return any(compare_numbers(value, v, abs_tol=0.0, rel_tol=self.rel_tol) for v in expected)

    def _stated_answer(self, draft: ToolDraft, exercise: Exercise) -> str | None:
        """A number literal of the tool or its program that is the book's answer, not given in the exercise.

        A literal is the answer when it rounds to it at the digits the book writes (17.9 or 17.93 for
        17.9, not water's molar mass 18.02, which the 2 % tolerance of the printed result would take).
        Signs are ignored, and so are small whole numbers (≤ 10): they are counts and exponents far
        more often than answers.
        """
        given = _given_numbers(exercise)
        expected = [abs(v) for v in exercise.expected_values]
        for literal in _number_literals(f"{draft.code}\n{draft.program or ''}"):
            small = literal.is_integer() and literal <= 10
            if (
                any(_as_written(literal, v) for v in expected)
                and not small
                and not among_numbers(literal, given)
            ):
                return f"{literal:g}"
        return None

    @staticmethod
    def _given_in_tool(draft: ToolDraft, exercise: Exercise) -> str | None:
        """A number literal of the tool's code (not its program) that the exercise gives as data.

        Such a tool works only on this exercise's data (measured: a heat tool with the exercise's
        specific heat of iron inside passed it and failed every other problem). Small whole numbers
        (≤ 10), powers of ten, 60 and 3600 (unit factors) and common physical constants are allowed.
        """
        given = _given_numbers(exercise)
        for literal in _number_literals(draft.code):
            if (literal.is_integer() and (literal <= 10 or literal in (60, 3600))) or _is_constant(literal):
                continue
            if among_numbers(literal, given):
                return f"{literal:g}"
        return None

    def _run(self, source: str) -> SandboxResult:
        return run_model_code(source, self.sandbox, self.policy)


@dataclass
class _Outcome:
    draft: ToolDraft
    passed: bool = False
    error: str | None = None
    answer: Answer | None = None
    result: SandboxResult | None = None
    tool_object: Tool | None = None
    exercise: Exercise | None = None  # the exercise it passed

    def summary(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "error": self.error,
            "answer": str(self.answer) if self.answer else None,
            "stdout": (self.result.stdout[-500:] if self.result else None),
        }

    def tool(self, status: str, attempts: int) -> Tool:
        exercise = self.exercise
        assert self.tool_object is not None and self.draft.program is not None and exercise is not None
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


def _named_problems(draft: ToolDraft, problems: Sequence[Exercise]) -> list[Exercise]:
    """The problems of the example a draft's EXAMPLE line names (none if it names none of them)."""
    return [p for p in problems if draft.example and p.number == draft.example]


def _part(problem: Exercise) -> str:
    return "Check Your Learning" if problem.hidden else "worked example"


def _closeness(outcome: _Outcome) -> int:
    """How far a failed candidate got (lower is closer): a wrong number, then a crash, then the rest."""
    if outcome.answer is not None:
        return 0
    return 1 if outcome.result is not None else 2


#: Physical constants and conversion factors a tool may hold even when an exercise restates them
#: (gas constants, Avogadro, Faraday, Planck, light speed, Boltzmann, elementary charge, electron mass,
#: Rydberg, 0 °C in K, 1 atm in kPa and torr, molar volume at STP, water's specific heat, K_w).
_CONSTANTS = (8.314, 0.08206, 0.0821, 62.36, 6.022e23, 96485.0, 96500.0, 6.626e-34, 2.998e8, 3.0e8,
              1.381e-23, 1.602e-19, 9.109e-31, 1.097e7, 2.178e-18, 273.15, 273.0, 101.325, 760.0, 22.4,
              4.184, 1.0e-14)  # fmt: skip


def _given_numbers(exercise: Exercise) -> list[float]:
    """The absolute values of the numbers the exercise's text gives (a formula's digits are none)."""
    return [abs(v) for v in book_numbers(exercise.problem)]


def _as_written(literal: float, stated: float) -> bool:
    """Whether ``literal`` rounds to ``stated`` at ``stated``'s significant digits (those of its shortest
    form: 17.9 has three, 2.1e2 two): within half a unit of its last digit."""
    if stated == 0:
        return literal == 0
    mantissa = f"{stated:.15g}".split("e")[0].replace("-", "").replace(".", "").strip("0")
    last_digit = math.floor(math.log10(abs(stated))) - len(mantissa) + 1
    return abs(literal - stated) <= 0.5 * 10.0**last_digit * (1 + 1e-9)


def _is_constant(value: float) -> bool:
    """Whether ``value`` is a power of ten or one of :data:`_CONSTANTS` (to 0.5 %)."""
    if value > 0 and abs(math.log10(value) - round(math.log10(value))) < 1e-9:
        return True
    return any(compare_numbers(value, c, abs_tol=0.0, rel_tol=5e-3) for c in _CONSTANTS)


_WORD = re.compile(r"[a-z]{4,}")


def _most_similar(others: Sequence[Exercise], draft: ToolDraft, exercise: Exercise) -> list[Exercise]:
    """``others`` ordered by how many words they share with the tool and its exercise (book order on ties)."""
    words = set(
        _WORD.findall(f"{exercise.problem} {draft.description} {draft.name.replace('_', ' ')}".lower())
    )
    return sorted(others, key=lambda e: -len(words & set(_WORD.findall(e.problem.lower()))))


def _number_literals(code: str) -> list[float]:
    """The absolute values of the int and float literals of ``code``; none if it does not parse."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    return [
        abs(float(node.value))
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and type(node.value) in (int, float)
    ]


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
