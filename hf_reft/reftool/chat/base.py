"""The chat interface every RefTool backend implements, and what the built-in ones share.

:class:`ChatBackend` (the protocol), :class:`ChatBackendError`, the request checks
(:func:`validate_messages`), stop-string handling (:func:`truncate_at_stop`) and
``_CheckedChatBackend``, the base class of the built-in backends (``_RemoteChatBackend`` for those that
talk to a server: retries with backoff).
"""

from __future__ import annotations

import logging
import random
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol, TypeVar, runtime_checkable

logger = logging.getLogger(__name__)
T = TypeVar("T")

_ROLES = ("system", "user", "assistant")


class ChatBackendError(RuntimeError):
    """A chat request that failed for good (after retries); the message says what to check."""


@runtime_checkable
class ChatBackend(Protocol):
    """What RefTool needs from a chat model.

    Attributes:
        name: the model's name as it should appear in cards and traces.
        kind: ``"transformers"``, ``"inference"``, or any other short word.
    """

    name: str
    kind: str

    def chat(
        self,
        messages: Sequence[dict[str, str]],
        *,
        max_new_tokens: int = 512,
        temperature: float = 0.0,
        stop: Sequence[str] | None = None,
    ) -> str:
        """The assistant's reply to ``messages`` (``[{"role": ..., "content": ...}, ...]``).

        ``temperature == 0`` means greedy decoding. The reply ends before the first ``stop``
        string (which is not included).
        """
        ...

    def stream(
        self,
        messages: Sequence[dict[str, str]],
        *,
        max_new_tokens: int = 512,
        temperature: float = 0.0,
        stop: Sequence[str] | None = None,
    ) -> Iterator[str]:
        """The same reply as :meth:`chat`, as text pieces while they are generated."""
        ...


# --------------------------------------------------------------------------- helpers
def validate_messages(messages: Sequence[dict[str, str]]) -> list[dict[str, str]]:
    """Check a chat (non-empty; roles system/user/assistant; text contents) and copy it."""
    if isinstance(messages, (str, bytes)) or not messages:
        raise ValueError(
            'messages must be a non-empty list of {"role": ..., "content": ...} dicts, '
            f"not {type(messages).__name__} {messages!r:.60}."
        )
    out = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or "role" not in message or "content" not in message:
            raise ValueError(f'messages[{i}] must be a dict with "role" and "content", got {message!r:.80}.')
        if message["role"] not in _ROLES:
            raise ValueError(f"messages[{i}] has role {message['role']!r}; use one of {list(_ROLES)}.")
        if not isinstance(message["content"], str):
            raise ValueError(
                f"messages[{i}]['content'] must be text, not {type(message['content']).__name__}."
            )
        out.append({"role": message["role"], "content": message["content"]})
    return out


def _check_generation_args(max_new_tokens: int, temperature: float, stop: Sequence[str] | None) -> list[str]:
    if not isinstance(max_new_tokens, int) or max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be a positive integer, got {max_new_tokens!r}.")
    if temperature < 0:
        raise ValueError(f"temperature must be ≥ 0 (0 = greedy), got {temperature!r}.")
    if isinstance(stop, str):
        stop = [stop]
    stops = [s for s in (stop or []) if s]
    if not all(isinstance(s, str) for s in stops):
        raise ValueError(f"stop must be a list of strings, got {stop!r}.")
    return stops


def close_stream(stream: Iterator[str]) -> None:
    """Stop ``stream``'s generation when its reader is done early: a generator's ``close()`` (the
    built-in backends stop the model there); an iterator without one has nothing to stop."""
    close = getattr(stream, "close", None)
    if close is not None:
        close()


def truncate_at_stop(text: str, stop: Sequence[str] | None) -> str:
    """``text`` up to (not including) the earliest occurrence of any ``stop`` string."""
    cut = min((i for s in (stop or []) if s and (i := text.find(s)) >= 0), default=len(text))
    return text[:cut]


def _stream_until_stop(pieces: Iterator[str], stop: Sequence[str]) -> Iterator[str]:
    """Re-chunk ``pieces`` so that no ``stop`` string (or its start) is ever yielded."""
    if not stop:
        yield from (p for p in pieces if p)
        return
    hold = max(len(s) for s in stop) - 1
    buffer = ""
    for piece in pieces:
        buffer += piece
        cut = truncate_at_stop(buffer, stop)
        if len(cut) < len(buffer):  # a stop string appeared
            if cut:
                yield cut
            return
        if len(buffer) > hold:
            ready, buffer = buffer[: len(buffer) - hold], buffer[len(buffer) - hold :]
            yield ready
    if buffer:
        yield buffer


class _CheckedChatBackend(ABC):
    """What the built-in backends share: checked requests, replies cut at the stop strings.

    :meth:`chat` and :meth:`stream` check the messages and the generation arguments, then call
    :meth:`_reply` (the whole reply) or :meth:`_pieces` (the reply as text pieces); both get the
    checked copy of the messages and the non-empty stop strings, and may run past a stop string.
    """

    name: str
    kind: str

    def chat(
        self,
        messages: Sequence[dict[str, str]],
        *,
        max_new_tokens: int = 512,
        temperature: float = 0.0,
        stop: Sequence[str] | None = None,
    ) -> str:
        """The assistant's reply, ending before the first ``stop`` string (see :meth:`ChatBackend.chat`)."""
        messages = validate_messages(messages)
        stops = _check_generation_args(max_new_tokens, temperature, stop)
        return truncate_at_stop(self._reply(messages, max_new_tokens, temperature, stops), stops)

    def stream(
        self,
        messages: Sequence[dict[str, str]],
        *,
        max_new_tokens: int = 512,
        temperature: float = 0.0,
        stop: Sequence[str] | None = None,
    ) -> Iterator[str]:
        """The same reply as :meth:`chat`, as text pieces while they are generated."""
        messages = validate_messages(messages)
        stops = _check_generation_args(max_new_tokens, temperature, stop)
        return _stream_until_stop(self._pieces(messages, max_new_tokens, temperature, stops), stops)

    @abstractmethod
    def _reply(
        self, messages: list[dict[str, str]], max_new_tokens: int, temperature: float, stops: list[str]
    ) -> str:
        """The whole reply to checked ``messages``."""

    @abstractmethod
    def _pieces(
        self, messages: list[dict[str, str]], max_new_tokens: int, temperature: float, stops: list[str]
    ) -> Iterator[str]:
        """The reply to checked ``messages`` as text pieces (an iterator that generates lazily)."""


class _RemoteChatBackend(_CheckedChatBackend):
    """A backend that talks to a server: requests retried with exponential backoff.

    The remote options every such backend takes: ``timeout`` (seconds to wait for a response:
    connect and each read), ``max_retries`` (retries after the first attempt), ``backoff`` (the
    first retry delay), ``max_backoff`` (its cap) and ``headers`` (extra HTTP headers). A stream is
    retried only before its first piece.

    Transient failures — an HTTP answer whose status is in :attr:`RETRY_STATUS`, or an error of
    :meth:`_transient` (connection refused, timeouts) — are retried up to ``max_retries`` times,
    ``backoff`` seconds first, doubled each time with jitter, capped at ``max_backoff``; a
    ``Retry-After`` header is honoured. Anything else fails at once, as :meth:`_failure` words it.
    """

    RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})

    def __init__(self, *, max_retries: int = 4, backoff: float = 1.0, max_backoff: float = 30.0) -> None:
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff

    @abstractmethod
    def _http_answer(self, err: BaseException) -> tuple[int, str | None] | None:
        """``(status, Retry-After header)`` when ``err`` is the server's HTTP answer, else ``None``."""

    @abstractmethod
    def _transient(self) -> tuple[type[BaseException], ...]:
        """The errors a request may raise: HTTP answers and connection failures."""

    @abstractmethod
    def _failure(self, err: BaseException, attempt: int) -> ChatBackendError:
        """The error to raise after ``attempt`` retries, saying what to check."""

    @property
    def _where(self) -> str:
        return self.name

    def _retry_delay(self, err: BaseException, attempt: int) -> float | None:
        """Seconds to wait before retrying after ``err``; ``None`` if it should not be retried."""
        if attempt >= self.max_retries:
            return None
        if (answer := self._http_answer(err)) is not None:
            status, retry_after = answer
            if status not in self.RETRY_STATUS:
                return None
            if retry_after:
                try:
                    return min(float(retry_after), self.max_backoff)
                except ValueError:
                    pass
        delay = min(self.backoff * 2**attempt, self.max_backoff)
        return delay * (0.5 + random.random() / 2)

    def _with_retries(self, call: Callable[[], T]) -> T:
        attempt = 0
        while True:
            try:
                return call()
            except self._transient() as err:
                delay = self._retry_delay(err, attempt)
                if delay is None:
                    raise self._failure(err, attempt) from err
                logger.warning(
                    "Chat request to %s failed (%s); retry %d in %.1f s.",
                    self._where,
                    err,
                    attempt + 1,
                    delay,
                )
                time.sleep(delay)
                attempt += 1
