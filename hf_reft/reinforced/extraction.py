"""The shared scoring of completions: what answer did each one give?

Evaluation (greedy, vote@k), the PPO rewards and verifier data all read answers here, so a
completion scores the same everywhere:

* ``nl`` — :func:`hf_reft.answers.extract_answer` on the text. ``strict=True`` (the default, as
  the paper's rewards) accepts only an explicit answer ("Therefore, the answer is <X>.",
  ``\\boxed{}``, "#### X"); ``strict=False`` falls back to the last number.
* ``program`` — the ``def solution():`` function is cut out of the completion
  (:func:`extract_program`), run in the sandbox (:mod:`hf_reft.sandbox`, in batches, never in
  this process) with ``solution()`` called, and its return value read as a number
  (:func:`hf_reft.answers.extract_program_result`).

Example::

    from hf_reft.reinforced.extraction import AnswerExtractor

    extractor = AnswerExtractor("program")
    extractor.extract_batch(["def solution():\\n    return 2 + 3\\n", "no code"])  # [Answer(5.0), None]
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..answers import Answer, BenchmarkSpec, extract_answer, extract_program_result, get_benchmark
from ..sandbox import SandboxPolicy, shared_sandbox
from .prompts import PromptFormat, get_format

__all__ = [
    "AnswerExtractor",
    "Extraction",
    "default_program_policy",
    "extract_answers",
    "extract_program",
]

#: Modules the paper's engine makes available to every program (``import math``, ``import sympy``).
PROGRAM_PRELUDE = "import math\nimport sympy\n"
ENTRY_POINT = "solution"
_DEF = re.compile(rf"^def {ENTRY_POINT}\s*\(", re.MULTILINE)


def default_program_policy() -> SandboxPolicy:
    """The sandbox policy programs run under by default: 5 s wall and CPU time each."""
    return SandboxPolicy(wall_time=5.0, cpu_time=5.0)


@dataclass(frozen=True)
class Extraction:
    """The scoring of one completion.

    Attributes:
        answer: the extracted answer, or ``None`` when there is none.
        program: the program that ran (``program`` format), else ``None``.
        status: ``"ok"``, ``"no_answer"`` (nothing extractable), ``"no_program"`` (no
            ``def solution():``) or the sandbox's status (``"error"``, ``"timeout"``, ...).
        error: the program's exception (``"ZeroDivisionError: division by zero"``), if any.
    """

    answer: Answer | None
    program: str | None = None
    status: str = "ok"
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data (the answer as its value)."""
        return {
            "answer": None if self.answer is None else self.answer.value,
            "status": self.status,
            "error": self.error,
        }


def extract_program(text: str) -> str | None:
    """Cut the ``def solution():`` function out of a completion, as the paper's engine does.

    Starts at the first line that begins with ``def solution(`` and stops at the first blank
    line after it (the paper's rule: a model that goes on writing after its function is cut
    there). Returns ``None`` when the completion holds no such function.
    """
    match = _DEF.search(text)
    if match is None:
        return None
    lines = text[match.start() :].split("\n")
    kept = [lines[0]]
    for line in lines[1:]:
        if not line.strip():
            break
        kept.append(line)
    return "\n".join(kept).rstrip() + "\n"


class AnswerExtractor:
    """Scores completions of one chain-of-thought format.

    Args:
        format: ``"nl"``, ``"program"`` or a :class:`~hf_reft.reinforced.prompts.PromptFormat`.
        benchmark: the :mod:`hf_reft.answers` benchmark whose extraction rules apply (default
            ``"numeric"``; SVAMP and GSM8K use the same rules).
        strict: ``nl`` only — accept only an explicit answer sentence (the paper's rule); with
            ``False`` the last number in the text counts too (LLM-Adapters' rule).
        sandbox: a :class:`hf_reft.sandbox.Sandbox` to run programs in; by default a shared one
            with ``policy`` is started on first use (and closed when the process exits).
        policy: the :class:`hf_reft.sandbox.SandboxPolicy` of the default sandbox (5 s per program).
    """

    def __init__(
        self,
        format: str | PromptFormat = "nl",
        *,
        benchmark: str | BenchmarkSpec = "numeric",
        strict: bool = True,
        sandbox: Any = None,
        policy: Any = None,
    ) -> None:
        self.format = get_format(format)
        self.benchmark = get_benchmark(benchmark)
        self.strict = strict
        self._sandbox = sandbox
        self._policy = policy

    @property
    def sandbox(self) -> Any:
        """The sandbox programs run in (started on first use)."""
        if self._sandbox is None:
            self._sandbox = shared_sandbox(self._policy or default_program_policy())
        return self._sandbox

    def extract(self, text: str) -> Answer | None:
        """The answer of one completion, or ``None``."""
        return self.extract_batch([text])[0]

    def extract_batch(self, texts: Sequence[str]) -> list[Answer | None]:
        """The answer of each completion (``None`` where there is none), in order."""
        return [item.answer for item in self.extract_detailed(texts)]

    def extract_detailed(self, texts: Sequence[str]) -> list[Extraction]:
        """One :class:`Extraction` per completion; programs run in one sandbox batch."""
        for text in texts:
            if not isinstance(text, str):
                raise TypeError(f"Completions must be text, got {type(text).__name__}.")
        if not self.format.is_program:
            return [self._from_text(text) for text in texts]
        return self._run_programs(texts)

    def _from_text(self, text: str) -> Extraction:
        answer = extract_answer(text, self.benchmark, strict=self.strict)
        return Extraction(answer, status="ok" if answer is not None else "no_answer")

    def _run_programs(self, texts: Sequence[str]) -> list[Extraction]:
        from ..sandbox import Program

        programs = [extract_program(text) for text in texts]
        unique = sorted({p for p in programs if p is not None})  # sampled programs often repeat
        results = self.sandbox.run_batch(
            [Program(PROGRAM_PRELUDE + source, call=ENTRY_POINT) for source in unique]
        )
        by_source = dict(zip(unique, results, strict=True))
        extractions = []
        for program in programs:
            if program is None:
                extractions.append(Extraction(None, status="no_program"))
                continue
            result = by_source[program]
            if not result.ok:
                error = f"{result.exception_type or result.status.value}: {result.exception_message or ''}"
                extractions.append(Extraction(None, program, str(result.status.value), error.strip()))
                continue
            answer = self._answer_from_value(result.value, result.value_repr)
            extractions.append(Extraction(answer, program, "ok" if answer is not None else "no_answer"))
        return extractions

    def _answer_from_value(self, value: Any, value_repr: str | None) -> Answer | None:
        if self.benchmark.kind == "choice":
            text = str(value) if value is not None else (value_repr or "")
            return self.benchmark.extract(text) if text else None
        answer = extract_program_result(value)
        if answer is None and value is None and value_repr not in (None, "None"):
            answer = extract_program_result(value_repr)  # e.g. a value JSON could not carry
        return answer


def extract_answers(
    texts: Sequence[str],
    format: str | PromptFormat = "nl",
    *,
    benchmark: str | BenchmarkSpec = "numeric",
    strict: bool = True,
    sandbox: Any = None,
) -> list[Answer | None]:
    """The answer of each completion (``None`` where there is none): :class:`AnswerExtractor` in one call."""
    return AnswerExtractor(format, benchmark=benchmark, strict=strict, sandbox=sandbox).extract_batch(texts)
