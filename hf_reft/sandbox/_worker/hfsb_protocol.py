"""Length-prefixed JSON messages over pipes, shared by the host and the sandbox workers.

JSON rather than pickle on purpose: the worker sits next to untrusted code, so nothing that
crosses a pipe may be able to run code when it is decoded.
"""

from __future__ import annotations

import json
import os
import select
import struct
import time
from typing import Any

HEADER = struct.Struct(">I")
MAX_MESSAGE_BYTES = 1 << 30
#: The most bytes of one program's report (the child's framed result) that a worker reads.
MAX_REPORT_BYTES = 4 << 20


class ProtocolTimeout(TimeoutError):
    """The other side did not send a whole message before the deadline."""


def encode_message(message: dict[str, Any]) -> bytes:
    """Frame ``message`` as a 4-byte big-endian length followed by UTF-8 JSON."""
    body = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if len(body) > MAX_MESSAGE_BYTES:
        raise ValueError(f"message of {len(body)} bytes exceeds the {MAX_MESSAGE_BYTES}-byte limit")
    return HEADER.pack(len(body)) + body


def write_message(fd: int, message: dict[str, Any]) -> None:
    """Write one framed message to the file descriptor ``fd`` (blocking)."""
    view = memoryview(encode_message(message))
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _wait_readable(fd: int, deadline: float | None) -> None:
    if deadline is None:
        return
    remaining = deadline - time.monotonic()
    if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
        raise ProtocolTimeout("no message before the deadline")


def read_exact(fd: int, size: int, deadline: float | None = None) -> bytes | None:
    """Read exactly ``size`` bytes; ``None`` on end of file before the first byte."""
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        _wait_readable(fd, deadline)
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            if chunks:
                raise EOFError("pipe closed in the middle of a message")
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_message(fd: int, deadline: float | None = None) -> dict[str, Any] | None:
    """Read one framed message; ``None`` when the writer closed the pipe.

    ``deadline`` is a :func:`time.monotonic` value; passing it raises :class:`ProtocolTimeout`
    when the message has not arrived in time.
    """
    header = read_exact(fd, HEADER.size, deadline)
    if header is None:
        return None
    (size,) = HEADER.unpack(header)
    if size > MAX_MESSAGE_BYTES:
        raise ValueError(f"announced message of {size} bytes exceeds the limit")
    body = read_exact(fd, size, deadline)
    if body is None:
        raise EOFError("pipe closed in the middle of a message")
    message = json.loads(body.decode("utf-8"))
    if not isinstance(message, dict):
        raise ValueError("a protocol message must be a JSON object")
    return message
