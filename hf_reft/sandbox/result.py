"""What running one program in the sandbox produced."""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from typing import Any

__all__ = ["SandboxError", "SandboxResult", "SandboxStatus"]


class SandboxError(RuntimeError):
    """The sandbox itself could not do its job (not a failure of the program it ran)."""


class SandboxStatus(enum.StrEnum):
    """How a program ended."""

    OK = "ok"
    """It ran to the end (and ``call``, if given, returned)."""
    ERROR = "error"
    """It raised an exception, or exited with a non-zero status."""
    TIMEOUT = "timeout"
    """It ran past the wall-clock or CPU limit and was killed."""
    MEMORY = "memory"
    """It ran out of the memory the policy grants."""
    OUTPUT_LIMIT = "output_limit"
    """It printed more than the policy keeps and was killed."""
    KILLED = "killed"
    """It died by a signal (a crash, for instance), or its worker died under it."""


@dataclass(frozen=True)
class SandboxResult:
    """The outcome of one program.

    Attributes:
        status: how it ended.
        stdout, stderr: what it printed (at most ``max_output_bytes`` together).
        value: with ``call=...``, the function's return value as plain JSON data (numpy and
            sympy numbers become ``int``/``float``); ``None`` when not representable.
        value_repr: ``repr()`` of the return value.
        exception_type, exception_message: the uncaught exception, or the reason for the status.
        traceback: the traceback, limited to the program's own frames.
        exit_code, signal: how the program's main process ended.
        wall_time, cpu_time: seconds, for the main process (CPU time includes reaped children).
        max_rss_bytes: peak resident memory of the main process (including the pre-loaded modules).
        output_truncated: whether output was cut at the limit.
    """

    status: SandboxStatus
    stdout: str = ""
    stderr: str = ""
    value: Any = None
    value_repr: str | None = None
    exception_type: str | None = None
    exception_message: str | None = None
    traceback: str | None = None
    exit_code: int | None = None
    signal: int | None = None
    wall_time: float = 0.0
    cpu_time: float = 0.0
    max_rss_bytes: int = 0
    output_truncated: bool = False

    @property
    def ok(self) -> bool:
        """Whether the program ran to the end without an error."""
        return self.status is SandboxStatus.OK

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> SandboxResult:
        """Build a result from a worker's ``result`` message."""
        names = {item.name for item in dataclasses.fields(cls)}
        values = {key: value for key, value in message.items() if key in names}
        values["status"] = SandboxStatus(values["status"])
        return cls(**values)

    @classmethod
    def worker_failure(cls, reason: str, wall_time: float) -> SandboxResult:
        """The result reported when the worker running the program died or hung."""
        return cls(status=SandboxStatus.KILLED, exception_message=reason, wall_time=wall_time)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-serialisable) for logs and traces."""
        data = dataclasses.asdict(self)
        data["status"] = self.status.value
        return data
