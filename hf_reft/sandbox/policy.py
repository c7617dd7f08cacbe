"""The sandbox policy: limits and permissions shared by every user of the sandbox."""

from __future__ import annotations

import dataclasses
import importlib.util
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["DEFAULT_ALLOWED_IMPORTS", "DEFAULT_PRELOAD", "LAYER_NAMES", "SandboxPolicy"]

_STANDARD_ALLOWED = (
    "math",
    "cmath",
    "fractions",
    "decimal",
    "statistics",
    "itertools",
    "functools",
    "collections",
    "re",
    "json",
    "datetime",
    "string",
    "random",
    "typing",
    "dataclasses",
    "operator",
    "heapq",
    "bisect",
    "numpy",
    "sympy",
)

#: Modules a program may import unless the policy says otherwise (scipy when it is installed).
DEFAULT_ALLOWED_IMPORTS: frozenset[str] = frozenset(
    _STANDARD_ALLOWED + (("scipy",) if importlib.util.find_spec("scipy") is not None else ())
)

#: Modules every worker imports once, before forking, so programs start with them loaded.
DEFAULT_PRELOAD: tuple[str, ...] = _STANDARD_ALLOWED

#: Layers every program gets wherever the sandbox runs at all (a program never runs without them).
BASE_LAYERS: tuple[str, ...] = (
    "fresh_process",
    "own_session",
    "parent_death_signal",
    "resource_limits",
    "output_cap",
    "empty_environment",
    "throwaway_workdir",
    "no_new_privs",
)

#: Every isolation layer a sandbox reports on (see ``docs/sandbox.md``).
LAYER_NAMES: tuple[str, ...] = (
    *BASE_LAYERS,
    "import_allowlist",
    "pid_namespace",
    "mount_namespace",
    "readonly_root",
    "private_tmp",
    "fresh_proc",
    "network_namespace",
    "loopback_only_network",
    "ipc_namespace",
    "uts_namespace",
    "unprivileged_uid",
    "pids_cgroup",
    "memory_cgroup",
    "seccomp_network_filter",
    "seccomp_process_filter",
    "landlock_filesystem",
    "landlock_network",
    "landlock_signal_scope",
    "child_subreaper",
    "host_not_dumpable",
)

_MIB = 1 << 20


def _require_positive_seconds(name: str, value: float, example: str) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(
            f"SandboxPolicy.{name} must be a positive number of seconds, got {value!r}; pass e.g. {example}"
        )


def _require_int_at_least(name: str, value: int, minimum: int, example: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(
            f"SandboxPolicy.{name} must be an integer >= {minimum}, got {value!r}; pass e.g. {example}"
        )


def _module_names(name: str, modules: Iterable[str] | None) -> frozenset[str] | None:
    if modules is None:
        return None
    if isinstance(modules, str):
        raise TypeError(
            f"SandboxPolicy.{name} must be a collection of module names, not one string; use ({modules!r},)"
        )
    names = frozenset(modules)
    for module in names:
        if not isinstance(module, str) or not all(part.isidentifier() for part in module.split(".")):
            raise ValueError(f"SandboxPolicy.{name} holds {module!r}, which is not a module name")
    return names


@dataclass(frozen=True)
class SandboxPolicy:
    """Limits and permissions for sandboxed programs.

    Attributes:
        wall_time: seconds of wall-clock time per program (the whole process tree is killed then).
        cpu_time: seconds of CPU time per program process (``RLIMIT_CPU``).
        memory_bytes: address space a program may add on top of the pre-loaded interpreter
            (``RLIMIT_AS``), and the worker's memory cgroup budget where one is available.
        max_output_bytes: stdout plus stderr kept per program; printing more kills the program.
        max_file_bytes: largest file a program may write (``RLIMIT_FSIZE``).
        disk_bytes: size of the private scratch filesystem (working directory and ``/dev/shm``).
        max_processes: processes (and threads) a program may run at once, itself included.
        max_open_files: file descriptors per process (``RLIMIT_NOFILE``).
        allowed_imports: top-level modules the program's own code may import; ``None`` allows any.
            A convenience with clear errors, not a security boundary: the OS layers are.
        preload: modules each worker imports once before forking (missing ones are skipped).
        network: allow network access (off: a private network namespace with only loopback, or a
            seccomp filter that refuses non-Unix sockets where namespaces are unavailable).
        namespaces: use PID, mount, network, IPC and UTS namespaces where the kernel allows.
        drop_privileges: when running as root, run programs as a dedicated unprivileged uid.
        cgroups: put each worker in its own pids and memory cgroup where the host allows.
        landlock: confine programs with Landlock where the kernel has it (read-only system and
            Python files, read-write working directory, no TCP, signals scoped to the program).
        required_layers: layer names (see :data:`LAYER_NAMES`) that must be active, else
            :class:`~hf_reft.sandbox.SandboxError` is raised instead of running with less.
    """

    wall_time: float = 10.0
    cpu_time: float = 10.0
    memory_bytes: int = 1024 * _MIB
    max_output_bytes: int = 1 * _MIB
    max_file_bytes: int = 16 * _MIB
    disk_bytes: int = 64 * _MIB
    max_processes: int = 16
    max_open_files: int = 256
    allowed_imports: frozenset[str] | None = DEFAULT_ALLOWED_IMPORTS
    preload: tuple[str, ...] = DEFAULT_PRELOAD
    network: bool = False
    namespaces: bool = True
    drop_privileges: bool = True
    cgroups: bool = True
    landlock: bool = True
    required_layers: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        _require_positive_seconds("wall_time", self.wall_time, "wall_time=10.0")
        _require_positive_seconds("cpu_time", self.cpu_time, "cpu_time=10.0")
        _require_int_at_least("memory_bytes", self.memory_bytes, 16 * _MIB, "memory_bytes=1 << 30")
        _require_int_at_least("max_output_bytes", self.max_output_bytes, 1, "max_output_bytes=1 << 20")
        _require_int_at_least("max_file_bytes", self.max_file_bytes, 0, "max_file_bytes=16 << 20")
        _require_int_at_least("disk_bytes", self.disk_bytes, _MIB, "disk_bytes=64 << 20")
        _require_int_at_least("max_processes", self.max_processes, 1, "max_processes=16")
        _require_int_at_least("max_open_files", self.max_open_files, 16, "max_open_files=256")
        object.__setattr__(self, "allowed_imports", _module_names("allowed_imports", self.allowed_imports))
        object.__setattr__(self, "preload", tuple(sorted(_module_names("preload", self.preload) or ())))
        required = frozenset(self.required_layers)
        unknown = sorted(required - set(LAYER_NAMES))
        if unknown:
            raise ValueError(
                f"SandboxPolicy.required_layers has unknown layers {unknown}; known: {list(LAYER_NAMES)}"
            )
        object.__setattr__(self, "required_layers", required)

    def allow(self, *modules: str) -> SandboxPolicy:
        """A copy of this policy that also allows importing ``modules``."""
        if self.allowed_imports is None:
            return self
        return dataclasses.replace(self, allowed_imports=self.allowed_imports | frozenset(modules))

    def replace(self, **changes: object) -> SandboxPolicy:
        """A copy of this policy with ``changes`` applied (validated like the constructor)."""
        return dataclasses.replace(self, **changes)

    def limits(self) -> dict[str, float | int]:
        """The per-program limits sent to the workers with each program."""
        return {
            "wall_time": float(self.wall_time),
            "cpu_time": float(self.cpu_time),
            "memory_bytes": self.memory_bytes,
            "max_output_bytes": self.max_output_bytes,
            "max_file_bytes": self.max_file_bytes,
            "max_processes": self.max_processes,
            "max_open_files": self.max_open_files,
        }
