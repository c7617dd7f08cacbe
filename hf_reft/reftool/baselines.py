"""Baselines for RefTool with the same backend and the same streaming interface.

* :class:`ProgramOfThoughtSolver` (``method="pot"``) — the model writes a program that prints the
  answer; it runs in the sandbox (steps ``program``, ``output``, ``answer``).
* :class:`ChainOfThoughtSolver` (``method="cot"``) — the model reasons in words; the answer is read
  with :func:`hf_reft.answers.extract_answer` using the SciBench strategy (steps ``reasoning``,
  ``answer``).

Both are :class:`~hf_reft.reftool.solver.BaseSolver` s: ``stream(problem)`` yields
:class:`~hf_reft.reftool.solver.SolverStep` s, ``solve(problem)`` returns a
:class:`~hf_reft.reftool.solver.SolveTrace`.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..answers import extract_answer
from . import prompts
from .solver import BaseSolver, SolverStep, SolveTrace, _short

__all__ = ["ChainOfThoughtSolver", "ProgramOfThoughtSolver"]


class ProgramOfThoughtSolver(BaseSolver):
    """Plain program of thought: one program, run in the sandbox, its printed answer."""

    method = "pot"

    def _steps(self, trace: SolveTrace) -> Iterator[SolverStep]:
        yield from self._program_steps(trace, prompts.pot_messages(trace.problem), [])


class ChainOfThoughtSolver(BaseSolver):
    """Chain of thought in words; the answer is the one the text ends with."""

    method = "cot"

    def _steps(self, trace: SolveTrace) -> Iterator[SolverStep]:
        reply = self._chat(prompts.cot_messages(trace.problem), self.program_tokens)
        trace.output = reply
        yield SolverStep("reasoning", "Reasoning", {"text": _short(reply)})
        trace.answer = extract_answer(reply, "scibench")
        if trace.answer is None:
            trace.error = "The reasoning states no numeric answer."
