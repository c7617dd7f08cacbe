"""The chat interface every RefTool backend implements, and what the built-in ones share.

:class:`ChatBackend` (the protocol), :class:`ChatBackendError`, the request checks
(:func:`validate_messages`), stop-string handling (:func:`truncate_at_stop`) and
``_CheckedChatBackend``, the base class of the built-in backends.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

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
