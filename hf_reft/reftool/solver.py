"""The RefTool solver: hierarchical tool selection, a program that calls the tools, the sandbox.

For a problem, :class:`RefToolSolver`

1. offers the toolbox's chapters (those holding tools) and lets the model pick up to
   ``max_chapters`` (step ``"chapters"``);
2. offers the tools of those chapters (name, signature, description) and lets the model pick up
   to ``max_tools`` (step ``"tools"``; the reply is streamed and its generation stopped once it
   names ``max_tools`` of them, which changes no choice: small models go on listing every tool);
3. asks for a program that calls the chosen tools (their code is prepended; step ``"program"``),
   runs it in the sandbox (step ``"output"``) and reads the answer — number and unit — from what it
   printed with :func:`hf_reft.answers.extract_program_result` (step ``"answer"``).

When no chapter or tool fits, the toolbox is empty, or the tool program fails, it falls back to
plain program of thought (step ``"fallback"``, then ``"program"``/``"output"`` again). Failures
(model unreachable, sandbox timeout, no answer printed) end in a step ``"error"`` with a readable
message; :meth:`~BaseSolver.stream` and :meth:`~BaseSolver.solve` never raise for them.

Streaming API (what UIs build on)::

    solver = RefToolSolver(toolbox, backend)
    for step in solver.stream(problem):          # SolverStep(kind, title, data, seconds)
        show(step.kind, step.title, step.data)   # data is JSON-serialisable
    # the last step is "answer" (data: value, unit, text, trace) or "error" (data: message, trace);
    # its data["trace"] is the whole SolveTrace.to_dict()
    trace = solver.solve(problem)                # SolveTrace: the same, collected

Step kinds and their ``data``:

============  ==========================================================================
``chapters``  ``offered``: [{number, title}], ``chosen``: [{number, title}], ``reply``
``tools``     ``offered``: [{name, signature, description, chapter, section}], ``chosen``:
              the same plus ``code``, ``reply``
``program``   ``program``: the model's program, ``tools``: names prepended, ``called``: those it calls, ``reply``
``output``    ``status``, ``stdout``, ``stderr``, ``error`` (exception type: message), ``wall_time``
``answer``    ``value`` (float), ``unit`` (str | None), ``text`` (e.g. "50.7 atm"), ``trace``
``fallback``  ``reason``: why tools are not used
``error``     ``message``, ``trace``
============  ==========================================================================

Baselines with the same interface (chain of thought, program of thought) are in
:mod:`hf_reft.reftool.baselines`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..answers import Answer, extract_program_result
from ..sandbox import Sandbox, SandboxPolicy, SandboxResult
from . import prompts
from .chat import ChatBackend, ChatBackendError, close_stream
from .execution import run_model_code
from .parsing import calls, first_program, parse_chapter_choice, parse_tool_choice, tool_choice_settled
from .toolbox import Tool, Toolbox

__all__ = ["DEFAULT_SOLVER_POLICY", "BaseSolver", "RefToolSolver", "SolveTrace", "SolverStep"]

#: Sandbox limits for solution programs.
DEFAULT_SOLVER_POLICY = SandboxPolicy(wall_time=10.0, cpu_time=10.0)


@dataclass
class SolverStep:
    """One streamed step of a solve.

    Attributes:
        kind: ``"chapters"``, ``"tools"``, ``"program"``, ``"output"``, ``"answer"``, ``"fallback"``
            or ``"error"``.
        title: a human-readable heading, e.g. ``"Chapters chosen"``.
        data: JSON-serialisable details (see the module docstring for each kind).
        seconds: time this step took.
    """

    kind: str
    title: str
    data: dict[str, Any]
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain data; the final step's ``data["trace"]`` is left out (the trace holds the step)."""
        data = {key: value for key, value in self.data.items() if key != "trace"}
        return {"kind": self.kind, "title": self.title, "data": data, "seconds": self.seconds}


@dataclass
class SolveTrace:
    """Everything a solve did.

    Attributes:
        problem: the problem text.
        method: ``"reftool"``, ``"pot"`` or ``"cot"``.
        model: the chat model's name.
        chapters_offered, chapters_chosen: ``[{number, title}]``.
        tools_offered, tools_chosen: ``[{name, signature, description, chapter, section}]``
            (chosen ones also carry ``code``).
        program: the program the model wrote (without the prepended tools), if any.
        output: what the program printed (or, for chain of thought, the model's reasoning).
        answer: the extracted answer (value and unit), or ``None``.
        fallback: whether it fell back from tools to plain program of thought.
        error: why there is no answer, if there is none.
        steps: every step, in order.
        seconds: total time.
    """

    problem: str
    method: str
    model: str = ""
    chapters_offered: list[dict[str, Any]] = field(default_factory=list)
    chapters_chosen: list[dict[str, Any]] = field(default_factory=list)
    tools_offered: list[dict[str, Any]] = field(default_factory=list)
    tools_chosen: list[dict[str, Any]] = field(default_factory=list)
    program: str | None = None
    output: str | None = None
    answer: Answer | None = None
    fallback: bool = False
    error: str | None = None
    steps: list[SolverStep] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable data (the answer as ``{"value", "unit", "text"}``)."""
        data = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name not in ("answer", "steps")
        }
        data["answer"] = _answer_dict(self.answer)
        data["steps"] = [step.to_dict() for step in self.steps]
        return data


def _answer_dict(answer: Answer | None) -> dict[str, Any] | None:
    if answer is None:
        return None
    return {"value": answer.value, "unit": answer.unit, "text": str(answer)}


def _short(text: str | None, limit: int = 4000) -> str:
    text = text or ""
    return text if len(text) <= limit else text[:limit] + f"\n… ({len(text) - limit} more characters)"


class BaseSolver:
    """The streaming machinery shared by RefTool and the baselines.

    Subclasses implement :meth:`_steps`, a generator that fills the trace and yields
    :class:`SolverStep` s; :meth:`stream` adds timing, turns failures into an ``"error"`` step
    and ends with the ``"answer"`` step.

    Args:
        backend: the chat model.
        sandbox: a :class:`~hf_reft.sandbox.Sandbox` to run programs in (default: a shared one
            for ``policy``, started on first use).
        policy: sandbox limits when no sandbox is given.
        program_tokens: most new tokens for a program (or a chain of thought).
        temperature: sampling temperature (0 = greedy).
    """

    method = "base"

    def __init__(
        self,
        backend: ChatBackend,
        *,
        sandbox: Sandbox | None = None,
        policy: SandboxPolicy | None = None,
        program_tokens: int = 512,
        temperature: float = 0.0,
    ) -> None:
        if not hasattr(backend, "chat"):
            raise TypeError(f"backend must be a ChatBackend (with .chat), got {type(backend).__name__}.")
        if program_tokens < 1:
            raise ValueError(f"program_tokens must be positive, got {program_tokens}.")
        self.backend = backend
        self.sandbox = sandbox
        self.policy = policy or (sandbox.policy if sandbox is not None else DEFAULT_SOLVER_POLICY)
        self.program_tokens = program_tokens
        self.temperature = temperature

    # ------------------------------------------------------------------ public API
    def stream(self, problem: str) -> Iterator[SolverStep]:
        """Solve ``problem``, yielding each step as it finishes; the last is ``"answer"`` or ``"error"``."""
        if not isinstance(problem, str) or not problem.strip():
            raise ValueError("The problem must be non-empty text.")
        trace = SolveTrace(
            problem=problem.strip(), method=self.method, model=getattr(self.backend, "name", "")
        )
        started = time.monotonic()
        clock = [time.monotonic()]

        def timed(step: SolverStep) -> SolverStep:
            now = time.monotonic()
            step.seconds = round(now - clock[0], 4)
            clock[0] = now
            trace.steps.append(step)
            return step

        try:
            for step in self._steps(trace):
                yield timed(step)
        except ChatBackendError as err:
            trace.error = f"The chat model failed: {err}"
        except Exception as err:
            trace.error = f"{type(err).__name__}: {err}"
        trace.seconds = round(time.monotonic() - started, 4)
        if trace.answer is not None and trace.error is None:
            answer = _answer_dict(trace.answer)
            final = SolverStep("answer", f"Answer: {answer['text']}", answer)
        else:
            trace.error = trace.error or "No answer was found."
            final = SolverStep("error", "No answer", {"message": trace.error})
        timed(final)
        trace.seconds = round(time.monotonic() - started, 4)
        final.data["trace"] = trace.to_dict()
        yield final

    def solve(self, problem: str) -> SolveTrace:
        """Solve ``problem`` and return the whole :class:`SolveTrace`."""
        trace: SolveTrace | None = None
        for step in self.stream(problem):
            if step.kind in ("answer", "error"):
                trace = self._trace_from_final(step)
        assert trace is not None
        return trace

    # ------------------------------------------------------------------ for subclasses
    def _steps(self, trace: SolveTrace) -> Iterator[SolverStep]:
        raise NotImplementedError

    def _trace_from_final(self, step: SolverStep) -> SolveTrace:
        data = dict(step.data["trace"])
        answer = data.pop("answer")
        steps = [SolverStep(**s) for s in data.pop("steps")]
        trace = SolveTrace(**data, steps=steps)
        if answer is not None:
            trace.answer = Answer(value=answer["value"], unit=answer["unit"], raw=answer["text"])
        return trace

    def _chat(self, messages: list[dict[str, str]], max_new_tokens: int) -> str:
        return self.backend.chat(messages, max_new_tokens=max_new_tokens, temperature=self.temperature)

    def _chat_until(
        self, messages: list[dict[str, str]], max_new_tokens: int, settled: Callable[[str], bool]
    ) -> str:
        """The reply, streamed and cut short (its generation stopped) once ``settled(reply so far)``."""
        stream = self.backend.stream(messages, max_new_tokens=max_new_tokens, temperature=self.temperature)
        reply = ""
        try:
            for piece in stream:
                reply += piece
                if settled(reply):
                    break
        finally:
            close_stream(stream)
        return reply

    def _run(self, source: str) -> SandboxResult:
        return run_model_code(source, self.sandbox, self.policy)

    def _program_steps(
        self, trace: SolveTrace, messages: list[dict[str, str]], tools: list[Tool], prelude: str = ""
    ) -> Iterator[SolverStep]:
        """Ask for a program, run it (after ``prelude``), read the answer into ``trace``."""
        reply = self._chat(messages, self.program_tokens)
        program = first_program(reply)
        names = [t.name for t in tools]
        called = [name for name in names if program is not None and calls(program, name)]
        trace.program = program
        label = "Program written"
        if called:
            label += f" (calls {', '.join(called)})"
        elif names and program is not None:
            label += " (calls none of the chosen tools)"
        yield SolverStep(
            "program", label, {"program": program, "tools": names, "called": called, "reply": _short(reply)}
        )
        if program is None:
            trace.error = "The model wrote no program."
            return
        result = self._run(f"{prelude.rstrip()}\n\n{program}\n" if prelude.strip() else program)
        error = None
        if not result.ok:
            error = (
                f"{result.exception_type or result.status.value}: {result.exception_message or ''}".strip()
            )
        trace.output = result.stdout
        yield SolverStep(
            "output",
            "Sandbox output" if result.ok else f"Sandbox: {result.status.value}",
            {
                "status": result.status.value,
                "stdout": _short(result.stdout),
                "stderr": _short(result.stderr, 2000),
                "error": error,
                "wall_time": round(result.wall_time, 4),
            },
        )
        if not result.ok:
            trace.error = f"The program failed ({error})."
            return
        trace.answer = extract_program_result(result.stdout) if result.stdout.strip() else None
        if trace.answer is None and result.value is not None:
            trace.answer = extract_program_result(result.value)
        if trace.answer is None:
            trace.error = "The program printed no numeric answer."
        else:
            trace.error = None


class RefToolSolver(BaseSolver):
    """Hierarchical RefTool solving over a :class:`Toolbox` (see the module docstring).

    Args:
        toolbox: the tools (must be trusted: :meth:`Toolbox.require_trusted`).
        backend: the chat model.
        sandbox, policy, program_tokens, temperature: see :class:`BaseSolver`.
        max_chapters: chapters the model may pick (n_c).
        max_tools: tools the model may pick (n_t).
        choice_tokens: most new tokens for a chapter or tool choice.
        fallback: fall back to plain program of thought when no tool fits or the tool program fails.
    """

    method = "reftool"

    def __init__(
        self,
        toolbox: Toolbox,
        backend: ChatBackend,
        *,
        sandbox: Sandbox | None = None,
        policy: SandboxPolicy | None = None,
        max_chapters: int = 2,
        max_tools: int = 3,
        choice_tokens: int = 48,
        program_tokens: int = 512,
        temperature: float = 0.0,
        fallback: bool = True,
    ) -> None:
        if not isinstance(toolbox, Toolbox):
            raise TypeError(f"toolbox must be a Toolbox, got {type(toolbox).__name__}.")
        if max_chapters < 1 or max_tools < 1:
            raise ValueError(f"max_chapters and max_tools must be ≥ 1 (got {max_chapters}, {max_tools}).")
        toolbox.require_trusted()
        super().__init__(
            backend, sandbox=sandbox, policy=policy, program_tokens=program_tokens, temperature=temperature
        )
        self.toolbox = toolbox
        self.max_chapters = max_chapters
        self.max_tools = max_tools
        self.choice_tokens = choice_tokens
        self.fallback = fallback

    def _tool_info(self, tool: Tool, *, code: bool = False) -> dict[str, Any]:
        chapter = self.toolbox.chapter_of(tool)
        section = next(s for s in chapter.sections if any(t is tool for t in s.tools))
        info = {
            "name": tool.name,
            "signature": tool.signature,
            "description": tool.description,
            "chapter": chapter.number,
            "section": section.label,
        }
        if code:
            info["code"] = tool.code
        return info

    def _steps(self, trace: SolveTrace) -> Iterator[SolverStep]:
        problem = trace.problem
        chapters = [ch for ch in self.toolbox.chapters if ch.tools]
        trace.chapters_offered = [{"number": ch.number, "title": ch.title} for ch in chapters]
        chosen_tools: list[Tool] = []
        reason = None
        if not chapters:
            reason = "The toolbox has no tools."
        else:
            offered = [(ch.number, ch.title, [s.title for s in ch.sections if s.tools]) for ch in chapters]
            reply = self._chat(
                prompts.chapter_choice_messages(problem, offered, self.max_chapters), self.choice_tokens
            )
            numbers = parse_chapter_choice(reply, [(n, t) for n, t, _ in offered], self.max_chapters)
            picked = [ch for ch in chapters if ch.number in numbers]
            picked.sort(key=lambda ch: numbers.index(ch.number))
            trace.chapters_chosen = [{"number": ch.number, "title": ch.title} for ch in picked]
            yield SolverStep(
                "chapters",
                "Chapters chosen: " + (", ".join(f"{c.number}. {c.title}" for c in picked) or "none"),
                {
                    "offered": trace.chapters_offered,
                    "chosen": trace.chapters_chosen,
                    "reply": _short(reply, 1000),
                },
            )
            tools = [t for ch in picked for t in ch.tools]
            if not tools:
                reason = "No chapter fits the problem."
            else:
                trace.tools_offered = [self._tool_info(t) for t in tools]
                offered_names = [t.name for t in tools]
                reply = self._chat_until(
                    prompts.tool_choice_messages(
                        problem, [(t.name, t.signature, t.description) for t in tools], self.max_tools
                    ),
                    self.choice_tokens,
                    lambda text: tool_choice_settled(text, offered_names, self.max_tools),
                )
                names = parse_tool_choice(reply, offered_names, self.max_tools)
                chosen_tools = [self.toolbox.tool(name) for name in names]
                trace.tools_chosen = [self._tool_info(t, code=True) for t in chosen_tools]
                yield SolverStep(
                    "tools",
                    "Tools chosen: " + (", ".join(names) or "none"),
                    {
                        "offered": trace.tools_offered,
                        "chosen": trace.tools_chosen,
                        "reply": _short(reply, 1000),
                    },
                )
                if not chosen_tools:
                    reason = "No tool fits the problem."
        if chosen_tools:
            source = self.toolbox.source_code(chosen_tools)
            shown = [(t.validation.problem, t.validation.solution) for t in chosen_tools if t.validation]
            messages = prompts.tool_program_messages(problem, source, demonstrations=shown)
            yield from self._program_steps(trace, messages, chosen_tools, prelude=source)
            if trace.answer is not None or not self.fallback:
                return
            reason = f"The program with tools gave no answer ({trace.error})"
        if not self.fallback:
            trace.error = reason
            return
        trace.fallback = True
        trace.error = None
        yield SolverStep("fallback", "Falling back to program of thought", {"reason": reason})
        yield from self._program_steps(trace, prompts.pot_messages(problem), [])
