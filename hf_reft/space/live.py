"""Run a solver in a thread and merge its steps with the model's reply as it is generated.

The solver asks its chat backend for whole replies (``chat``) or streams them (``stream``, where it
stops a reply early). On a CPU model a reply takes tens of seconds, so the page would sit still
between steps. :class:`LiveBackend` answers both by streaming from the real backend and reporting
every piece; :func:`run_live` runs the solver in a worker thread and yields, in order,
``("piece", text)``, ``("step", SolverStep)`` and finally ``("end", None)`` (or
``("fail", exception)``). Closing the iterator (the visitor pressed Stop or left) cancels the solve:
the current generation stops at its next piece.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ..reftool.chat import ChatBackend, close_stream

__all__ = ["LiveBackend", "SolveCancelled", "run_live"]


class SolveCancelled(RuntimeError):
    """The visitor stopped the solve."""


class LiveBackend:
    """A chat backend whose ``chat`` streams from ``inner`` and reports each piece to ``on_piece``."""

    def __init__(
        self, inner: ChatBackend, on_piece: Callable[[str], None], cancelled: threading.Event
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self.kind = inner.kind
        self._on_piece = on_piece
        self._cancelled = cancelled

    def chat(self, messages: Sequence[dict[str, str]], **kwargs: Any) -> str:
        return "".join(self.stream(messages, **kwargs))

    def stream(self, messages: Sequence[dict[str, str]], **kwargs: Any) -> Iterator[str]:
        """The inner backend's pieces, each reported; closing this iterator early stops the generation."""
        stream = self.inner.stream(messages, **kwargs)
        try:
            for piece in stream:
                if self._cancelled.is_set():
                    raise SolveCancelled("The solve was stopped.")
                self._on_piece(piece)
                yield piece
        finally:
            close_stream(stream)
            self._on_piece("\x00")  # end of this reply


def run_live(
    make_steps: Callable[[ChatBackend], Iterator[Any]], backend: ChatBackend
) -> Iterator[tuple[str, Any]]:
    """Run ``make_steps(live_backend)`` in a thread; yield its pieces and steps as they come (see module doc)."""
    events: queue.Queue[tuple[str, Any]] = queue.Queue()
    cancelled = threading.Event()
    live = LiveBackend(backend, lambda piece: events.put(("piece", piece)), cancelled)

    def work() -> None:
        try:
            for step in make_steps(live):
                if cancelled.is_set():
                    return
                events.put(("step", step))
        except BaseException as err:  # re-raised (as an event) in the consumer
            events.put(("fail", err))
        finally:
            events.put(("end", None))

    thread = threading.Thread(target=work, name="hf-reft-space-solve", daemon=True)
    thread.start()
    try:
        while True:
            kind, item = events.get()
            yield kind, item
            if kind == "end":
                return
    finally:
        cancelled.set()
