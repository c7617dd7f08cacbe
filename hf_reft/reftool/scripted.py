"""A chat backend that replays recorded responses: deterministic tests, demos and browser tests.

:class:`ScriptedChatBackend` implements :class:`~hf_reft.reftool.chat.ChatBackend` without a
model. It answers from a script, in one of two ways (or both):

* **a list** of responses, returned one after another (``ScriptedChatBackend(["1", "molar_mass"])``);
* **rules** ``(pattern, response)``: the first rule whose pattern matches the prompt wins. A
  pattern is a compiled regular expression (searched), a plain string (a case-insensitive
  substring), or a callable ``messages -> bool``; the response is text or a callable
  ``messages -> str``. Rules are reusable (they are not consumed), which suits a demo page
  that many users hit.

With both, rules are tried first, then the list. When nothing answers, ``default`` is returned
if given, otherwise :class:`~hf_reft.reftool.chat.ChatBackendError` names the prompt that had
no scripted answer. Every request is recorded in :attr:`ScriptedChatBackend.calls`.

"The prompt" that patterns see is all messages' contents joined by blank lines (system first),
so a rule can match on the task (``"Choose the chapters"``) or on the problem text.

:class:`RecordingChatBackend` wraps a real backend and records each (messages, reply) pair;
:meth:`RecordingChatBackend.save` writes them as JSON and :meth:`ScriptedChatBackend.from_file`
replays such a file — in order, or keyed by the exact prompt (``match="prompt"``).

Example::

    backend = ScriptedChatBackend(
        rules=[("Choose the chapters", "5"), ("Choose the tools", "ideal_gas_pressure")],
        responses=["```python\\nprint(ideal_gas_pressure(1, 300, 24.6))\\n```"],
    )
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from .chat import ChatBackend, ChatBackendError, close_stream, truncate_at_stop, validate_messages

__all__ = ["RecordingChatBackend", "ScriptedChatBackend", "prompt_text"]

Messages = Sequence[dict[str, str]]
Pattern = str | re.Pattern[str] | Callable[[Messages], bool]
Response = str | Callable[[Messages], str]


def prompt_text(messages: Messages) -> str:
    """All message contents joined by blank lines: what rule patterns are matched against."""
    return "\n\n".join(m["content"] for m in messages)


def _matches(pattern: Pattern, messages: Messages, text: str) -> bool:
    if isinstance(pattern, re.Pattern):
        return pattern.search(text) is not None
    if isinstance(pattern, str):
        return pattern.lower() in text.lower()
    if callable(pattern):
        return bool(pattern(messages))
    raise TypeError(
        f"A rule pattern must be a str, a compiled regex or a callable, not {type(pattern).__name__}."
    )


class ScriptedChatBackend:
    """Replays scripted responses instead of running a model (see the module docstring).

    Args:
        responses: replies returned in order, one per request not answered by a rule.
        rules: ``(pattern, response)`` pairs tried first, in order, on every request.
        default: the reply when neither answers (default: raise :class:`ChatBackendError`).
        name: the model name shown in traces and cards.
        chunk_size: characters per piece yielded by :meth:`stream`.

    Attributes:
        calls: every request, as ``{"messages": [...], "reply": str, "max_new_tokens": int,
            "temperature": float, "stop": [...]}``.
    """

    kind = "scripted"

    def __init__(
        self,
        responses: Sequence[Response] = (),
        *,
        rules: Sequence[tuple[Pattern, Response]] = (),
        default: Response | None = None,
        name: str = "scripted",
        chunk_size: int = 8,
    ) -> None:
        if isinstance(responses, str):
            raise TypeError("responses must be a list of replies, not one string; wrap it: [reply].")
        for i, rule in enumerate(rules):
            if not (isinstance(rule, tuple | list) and len(rule) == 2):
                raise TypeError(f"rules[{i}] must be a (pattern, response) pair, got {rule!r:.80}.")
            if not (isinstance(rule[0], str | re.Pattern) or callable(rule[0])):
                raise TypeError(
                    f"rules[{i}]: a pattern must be a str, a compiled regex or a callable, not {type(rule[0]).__name__}."
                )
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be positive, got {chunk_size}.")
        self.responses = list(responses)
        self.rules = [tuple(rule) for rule in rules]
        self.default = default
        self.name = name
        self.chunk_size = chunk_size
        self.calls: list[dict[str, Any]] = []
        self._next = 0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"ScriptedChatBackend(name={self.name!r}, responses={len(self.responses)}, "
            f"used={self._next}, rules={len(self.rules)})"
        )

    @property
    def remaining(self) -> int:
        """Listed responses not yet replayed."""
        return len(self.responses) - self._next

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        *,
        match: str = "order",
        default: Response | None = None,
        name: str | None = None,
    ) -> ScriptedChatBackend:
        """Replay a file written by :meth:`RecordingChatBackend.save`.

        ``match="order"`` replays the replies in recorded order; ``match="prompt"`` answers each
        request with the reply recorded for exactly the same prompt (order-independent).
        """
        path = Path(path)
        try:
            data = json.loads(path.read_text())
            records = data["records"]
            pairs = [(r["messages"], r["reply"]) for r in records]
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ValueError(
                f"{path} is not a recording of chat replies ({err}); write one with RecordingChatBackend.save()."
            ) from err
        if match == "order":
            return cls(
                [reply for _, reply in pairs], default=default, name=name or data.get("model", "scripted")
            )
        if match == "prompt":
            table = {prompt_text(messages): reply for messages, reply in pairs}
            rules = [(lambda m, key=key: prompt_text(m) == key, reply) for key, reply in table.items()]
            return cls(rules=rules, default=default, name=name or data.get("model", "scripted"))
        raise ValueError(f"match must be 'order' or 'prompt', got {match!r}.")

    def _reply(self, messages: Messages) -> str:
        text = prompt_text(messages)
        for pattern, response in self.rules:
            if _matches(pattern, messages, text):
                return response(messages) if callable(response) else response
        with self._lock:
            if self._next < len(self.responses):
                response = self.responses[self._next]
                self._next += 1
                return response(messages) if callable(response) else response
        if self.default is not None:
            return self.default(messages) if callable(self.default) else self.default
        raise ChatBackendError(
            f"ScriptedChatBackend {self.name!r} has no scripted reply for request {len(self.calls) + 1} "
            f"(all {len(self.responses)} listed replies used, no rule matched). The prompt began: "
            f"{text[:200]!r}. Add a response or a rule, or pass default=..."
        )

    def chat(
        self,
        messages: Messages,
        *,
        max_new_tokens: int = 512,
        temperature: float = 0.0,
        stop: Sequence[str] | None = None,
    ) -> str:
        """The next scripted reply, cut at the first ``stop`` string (as a model's would be)."""
        messages = validate_messages(messages)
        reply = truncate_at_stop(self._reply(messages), stop)
        with self._lock:
            self.calls.append(
                {
                    "messages": messages,
                    "reply": reply,
                    "max_new_tokens": max_new_tokens,
                    "temperature": temperature,
                    "stop": list(stop or []),
                }
            )
        return reply

    def stream(
        self,
        messages: Messages,
        *,
        max_new_tokens: int = 512,
        temperature: float = 0.0,
        stop: Sequence[str] | None = None,
    ) -> Iterator[str]:
        """The same reply as :meth:`chat`, in pieces of :attr:`chunk_size` characters."""
        reply = self.chat(messages, max_new_tokens=max_new_tokens, temperature=temperature, stop=stop)
        for start in range(0, len(reply), self.chunk_size):
            yield reply[start : start + self.chunk_size]


class RecordingChatBackend:
    """Wraps a backend and records every request and reply, to replay later.

    ``RecordingChatBackend(real).save("replies.json")`` then
    ``ScriptedChatBackend.from_file("replies.json")`` gives the same replies without the model.
    """

    kind = "recording"

    def __init__(self, backend: ChatBackend) -> None:
        self.backend = backend
        self.name = backend.name
        self.records: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def chat(self, messages: Messages, **kwargs: Any) -> str:
        reply = self.backend.chat(messages, **kwargs)
        self._record(messages, reply)
        return reply

    def stream(self, messages: Messages, **kwargs: Any) -> Iterator[str]:
        """The backend's pieces; the record holds what was read, also when the reader stopped early."""
        pieces: list[str] = []
        stream = self.backend.stream(messages, **kwargs)
        try:
            for piece in stream:
                pieces.append(piece)
                yield piece
        except GeneratorExit:
            self._record(messages, "".join(pieces))
            raise
        finally:
            close_stream(stream)
        self._record(messages, "".join(pieces))

    def _record(self, messages: Messages, reply: str) -> None:
        with self._lock:
            self.records.append({"messages": validate_messages(messages), "reply": reply})

    def save(self, path: str | Path) -> Path:
        """Write the recording as JSON (``{"model": ..., "records": [{"messages", "reply"}]}``)."""
        from ..hub import atomic_write_text

        path = Path(path)
        atomic_write_text(
            path, json.dumps({"model": self.name, "records": self.records}, indent=1, ensure_ascii=False)
        )
        return path
