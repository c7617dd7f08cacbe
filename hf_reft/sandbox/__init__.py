"""One safe way to run generated Python: the sandbox shared by reinforced fine-tuning and RefTool.

Nothing generated ever runs in the host process. Programs run in freshly forked children of
pre-loaded worker processes, behind layered operating-system isolation (namespaces, an
unprivileged uid, resource limits, cgroups, a read-only filesystem view); ``Sandbox.layers`` says
which layers are active on this machine and ``docs/sandbox.md`` documents each and the fallback.

Example::

    from hf_reft.sandbox import Sandbox, SandboxPolicy

    with Sandbox(SandboxPolicy(wall_time=5)) as sandbox:
        result = sandbox.run("def solution():\\n    return 6 * 7\\n", call="solution")
        assert result.ok and result.value == 42
"""

from hf_reft.sandbox.core import Program, Sandbox, run_program, shared_sandbox
from hf_reft.sandbox.policy import (
    BASE_LAYERS,
    DEFAULT_ALLOWED_IMPORTS,
    DEFAULT_PRELOAD,
    LAYER_NAMES,
    SandboxPolicy,
)
from hf_reft.sandbox.result import SandboxError, SandboxResult, SandboxStatus

__all__ = [
    "BASE_LAYERS",
    "DEFAULT_ALLOWED_IMPORTS",
    "DEFAULT_PRELOAD",
    "LAYER_NAMES",
    "Program",
    "Sandbox",
    "SandboxError",
    "SandboxPolicy",
    "SandboxResult",
    "SandboxStatus",
    "run_program",
    "shared_sandbox",
]
