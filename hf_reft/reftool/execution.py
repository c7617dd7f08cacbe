"""Running model-written code (a tool with its program, or a solver's program) in the sandbox.

One path for tool validation and for solving, so that a program is judged the same way when a tool
is made and when it is used: the imports a notebook user takes for granted are added
(:func:`~hf_reft.reftool.parsing.add_missing_imports`), then the code runs in the caller's
:class:`~hf_reft.sandbox.Sandbox`, or in a one-off one under ``policy``.
"""

from __future__ import annotations

from ..sandbox import Sandbox, SandboxPolicy, SandboxResult, run_program
from .parsing import add_missing_imports

__all__ = ["run_model_code"]


def run_model_code(source: str, sandbox: Sandbox | None, policy: SandboxPolicy | None) -> SandboxResult:
    """Run ``source`` (with its implied imports) on ``sandbox``, else once under ``policy``."""
    source = add_missing_imports(source)
    if sandbox is not None:
        return sandbox.run(source)
    return run_program(source, policy)
