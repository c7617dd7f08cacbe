"""Chat backends for RefTool: messages in, text out, optionally streamed.

One small interface, :class:`ChatBackend`, with two implementations:

* :class:`TransformersChatBackend` — a local ``transformers`` chat model through its chat
  template (default: the offline SmolLM2-135M-Instruct of :func:`hf_reft.models.default_chat_model`).
* :class:`InferenceClientBackend` — :class:`huggingface_hub.InferenceClient`: Inference
  Providers (a Hub model id and a token), a TGI endpoint, or any OpenAI-compatible server
  (``base_url``, e.g. ``transformers serve``, vLLM, llama.cpp). Requests time out and are
  retried with exponential backoff on 408/429/5xx answers and connection errors.

:func:`get_chat_backend` picks one from an argument or ``$HF_REFT_CHAT_MODEL``::

    get_chat_backend()                                  # offline default (local)
    get_chat_backend("HuggingFaceTB/SmolLM2-1.7B-Instruct")  # providers if a token is set, else local
    get_chat_backend("http://127.0.0.1:8000/v1", served_model="my-model")  # OpenAI-compatible server
    get_chat_backend("./my-model-folder")               # local folder
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

__all__ = [
    "ChatBackend",
    "ChatBackendError",
    "InferenceClientBackend",
    "TransformersChatBackend",
    "default_concurrency",
    "get_chat_backend",
    "truncate_at_stop",
    "validate_messages",
]

logger = logging.getLogger(__name__)

ENV_MODEL = "HF_REFT_CHAT_MODEL"
ENV_BACKEND = "HF_REFT_CHAT_BACKEND"
ENV_PROVIDER = "HF_REFT_CHAT_PROVIDER"
ENV_SERVED_MODEL = "HF_REFT_CHAT_SERVED_MODEL"
_ROLES = ("system", "user", "assistant")
T = TypeVar("T")


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


# --------------------------------------------------------------------------- local transformers
@dataclass(eq=False)
class _Request:
    """One queued :meth:`TransformersChatBackend.chat` request (``prompt``: its token ids)."""

    prompt: list[int]
    max_new_tokens: int
    temperature: float
    stops: tuple[str, ...]
    done: threading.Event = field(default_factory=threading.Event)
    reply: str = ""
    error: BaseException | None = None

    @property
    def key(self) -> tuple[float, tuple[str, ...]]:
        """Requests with the same key can share one ``generate()`` call."""
        return (self.temperature, self.stops)


class TransformersChatBackend(_CheckedChatBackend):
    """A local ``transformers`` causal LM used through its chat template.

    Args:
        model: a loaded model, a Hub id, a local folder, or ``None`` for the offline default
            (:func:`hf_reft.models.default_chat_model`).
        tokenizer: the tokenizer (needed when ``model`` is a loaded model).
        name: the name to report (default: the model's ``name_or_path``).
        max_batch_size: the most :meth:`chat` requests generated together. Requests that arrive
            from several threads while the model is busy wait in a queue; the next free turn takes
            up to this many of those with the same temperature and stop strings and generates them
            as one left-padded batch. Decoding a small model on a CPU is bound by per-step
            overhead, not arithmetic, so a batch costs little more than one request: 2.3× the
            throughput for program-of-thought prompts (``benchmarks/chat_batching.py``). Prefill
            is arithmetic-bound, so long prompts (tool creation's ~2,000 tokens) gain nothing.
            ``1`` turns batching off.
        **model_kwargs: passed to :func:`hf_reft.models.load_chat_model` (``dtype``, ``revision``, ...).

    Generation holds a lock, so one backend can be shared by threads (e.g. Gradio workers, the
    toolbox build's workers). :meth:`stream` requests run alone, one after another. Closing a
    :meth:`stream` iterator early stops generation. A batched greedy reply equals the reply the
    request gets alone, up to floating-point ties (padding is masked out).
    """

    kind = "transformers"

    def __init__(
        self,
        model: Any = None,
        tokenizer: Any = None,
        *,
        name: str | None = None,
        max_batch_size: int = 8,
        **model_kwargs: Any,
    ):
        from hf_reft.models import DEFAULT_CHAT_MODEL_HUB_ID, load_chat_model

        if not isinstance(max_batch_size, int) or max_batch_size < 1:
            raise ValueError(f"max_batch_size must be a positive integer, got {max_batch_size!r}.")
        if model is None:
            name = name or DEFAULT_CHAT_MODEL_HUB_ID  # the offline copy of that Hub model
        if model is None or isinstance(model, (str, os.PathLike)):
            model, loaded_tokenizer = load_chat_model(model, **model_kwargs)
            tokenizer = tokenizer or loaded_tokenizer
        elif tokenizer is None:
            raise ValueError(
                "Pass the tokenizer together with a loaded model: TransformersChatBackend(model, tokenizer)."
            )
        if not getattr(tokenizer, "chat_template", None):
            raise ValueError(
                f"The tokenizer of {getattr(model.config, 'name_or_path', model)!r} has no chat template; "
                "use an instruction-tuned chat model (or set tokenizer.chat_template)."
            )
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name = name or str(getattr(model.config, "name_or_path", "") or DEFAULT_CHAT_MODEL_HUB_ID)
        self.max_batch_size = max_batch_size
        self._lock = threading.Lock()
        self._queue: list[_Request] = []
        self._queue_lock = threading.Lock()
        #: the sizes of the latest ``generate()`` calls made by :meth:`chat`, oldest first
        self.batch_sizes: deque[int] = deque(maxlen=10_000)

    def __repr__(self) -> str:
        return f"TransformersChatBackend(name={self.name!r})"

    @property
    def context_length(self) -> int | None:
        """The model's context window in tokens, when its config states it."""
        return getattr(self.model.config, "max_position_embeddings", None)

    def _tokenize(self, messages: list[dict[str, str]], max_new_tokens: int) -> list[int]:
        """The chat-templated prompt's token ids, checked against the context window."""
        ids = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=True)[
            "input_ids"
        ]
        if self.context_length and len(ids) + max_new_tokens > self.context_length:
            raise ValueError(
                f"The prompt has {len(ids)} tokens; with max_new_tokens={max_new_tokens} it exceeds "
                f"{self.name}'s context of {self.context_length} tokens. Shorten the prompt (e.g. split the "
                "section with Section.split(budget, tokenizer=...)) or lower max_new_tokens."
            )
        return list(ids)

    @property
    def _pad_id(self) -> int:
        pad = self.tokenizer.pad_token_id
        return self.tokenizer.eos_token_id if pad is None else pad

    def _generation_kwargs(self, max_new_tokens: int, temperature: float, stops: list[str]) -> dict[str, Any]:
        generation: dict[str, Any] = {
            "max_new_tokens": max_new_tokens,
            "do_sample": temperature > 0,
            "pad_token_id": self._pad_id,
        }
        if temperature > 0:
            generation.update(temperature=temperature, top_k=0, top_p=1.0)
        else:
            generation.update(temperature=None, top_k=None, top_p=None)
        if stops:
            generation.update(stop_strings=stops, tokenizer=self.tokenizer)
        return generation

    def _reply(
        self, messages: list[dict[str, str]], max_new_tokens: int, temperature: float, stops: list[str]
    ) -> str:
        request = _Request(
            self._tokenize(messages, max_new_tokens), max_new_tokens, temperature, tuple(stops)
        )
        with self._queue_lock:
            self._queue.append(request)
        while not request.done.is_set():
            with self._lock:
                if request.done.is_set():  # an earlier turn generated it as part of its batch
                    break
                self._generate_batch(self._take_batch(request))
        if request.error is not None:
            raise request.error
        return request.reply

    def _take_batch(self, request: _Request) -> list[_Request]:
        """``request`` and up to ``max_batch_size - 1`` queued requests with the same sampling settings."""
        with self._queue_lock:
            batch = [request]
            for other in self._queue:
                if len(batch) >= self.max_batch_size:
                    break
                if other is not request and other.key == request.key:
                    batch.append(other)
            self._queue = [r for r in self._queue if r not in batch]
        return batch

    def _generate_batch(self, batch: list[_Request]) -> None:
        """Generate every request of ``batch`` in one left-padded ``generate()`` call; sets each reply.

        ``input_ids`` / ``attention_mask``: ``(len(batch), longest prompt)``, padded on the left.
        """
        import torch

        try:
            width = max(len(r.prompt) for r in batch)
            pad = self._pad_id
            input_ids = torch.tensor([[pad] * (width - len(r.prompt)) + r.prompt for r in batch])
            attention_mask = torch.tensor(
                [[0] * (width - len(r.prompt)) + [1] * len(r.prompt) for r in batch]
            )
            first = batch[0]
            generation = self._generation_kwargs(
                max(r.max_new_tokens for r in batch), first.temperature, list(first.stops)
            )
            self.batch_sizes.append(len(batch))
            with torch.inference_mode():
                output = self.model.generate(
                    input_ids=input_ids.to(self.model.device),
                    attention_mask=attention_mask.to(self.model.device),
                    **generation,
                )
            ends = self._end_ids()
            for row, request in zip(output[:, width:].tolist(), batch, strict=True):
                tokens = row[: request.max_new_tokens]
                cut = next((i for i, t in enumerate(tokens) if t in ends), len(tokens))
                request.reply = self.tokenizer.decode(tokens[:cut], skip_special_tokens=True)
        except BaseException as err:  # every waiting caller sees the failure, in its own thread
            for request in batch:
                request.error = err
        finally:
            for request in batch:
                request.done.set()

    def _end_ids(self) -> set[int]:
        """The end-of-sequence ids: a row ends at the first one (the batch's padding follows it).

        A row that stopped at a stop string is followed by padding too; the stop string itself is
        in the text, and :meth:`chat` cuts the reply there.
        """
        eos = getattr(self.model.generation_config, "eos_token_id", None)
        if eos is None:
            eos = self.tokenizer.eos_token_id
        return {e for e in (eos if isinstance(eos, (list, tuple)) else [eos]) if e is not None}

    def _pieces(
        self, messages: list[dict[str, str]], max_new_tokens: int, temperature: float, stops: list[str]
    ) -> Iterator[str]:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        prompt = torch.tensor([self._tokenize(messages, max_new_tokens)], device=self.model.device)
        inputs = {"input_ids": prompt, "attention_mask": torch.ones_like(prompt)}
        generation = self._generation_kwargs(max_new_tokens, temperature, stops)
        cancelled = threading.Event()

        class _Cancel(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> bool:
                return cancelled.is_set()

        streamer = TextIteratorStreamer(
            self.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=600
        )
        failure: list[BaseException] = []

        def run() -> None:
            try:
                with self._lock, torch.inference_mode():
                    self.model.generate(
                        **inputs,
                        **generation,
                        streamer=streamer,
                        stopping_criteria=StoppingCriteriaList([_Cancel()]),
                    )
            except BaseException as err:  # re-raised in the consumer's thread
                failure.append(err)
                streamer.end()

        def pieces() -> Iterator[str]:
            thread = threading.Thread(target=run, name="hf-reft-chat-stream", daemon=True)
            thread.start()
            try:
                yield from streamer
            finally:
                cancelled.set()
                thread.join()
            if failure:
                raise failure[0]

        return pieces()


# --------------------------------------------------------------------------- remote: InferenceClient
def _transport_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [ConnectionError, TimeoutError]
    for module in ("httpx2", "httpx"):
        try:
            errors.append(__import__(module).TransportError)
        except (ImportError, AttributeError):
            continue
    return tuple(errors)


class InferenceClientBackend(_CheckedChatBackend):
    """A remote chat model through :class:`huggingface_hub.InferenceClient`.

    Args:
        model: a Hub model id (Inference Providers, with ``provider``), or — with ``base_url`` —
            the model name the server expects in the request (OpenAI-compatible servers;
            ``None`` lets the server choose).
        base_url: an OpenAI-compatible or TGI server, e.g. ``"http://127.0.0.1:8000/v1"``.
        provider: Inference Providers provider (``"auto"`` by default for Hub ids).
        token: a Hugging Face token (or the server's API key); default: the logged-in token.
        timeout: seconds to wait for a response (connect and each read).
        max_retries: retries after the first attempt on 408/429/5xx and connection errors.
        backoff: first retry delay in seconds, doubled each time (with jitter), capped at
            ``max_backoff``; a ``Retry-After`` header is honoured.
        headers: extra HTTP headers.

    A :meth:`stream` is retried only before its first piece.
    """

    kind = "inference"
    RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})

    def __init__(
        self,
        model: str | None = None,
        *,
        base_url: str | None = None,
        provider: str | None = None,
        token: str | None = None,
        timeout: float = 120.0,
        max_retries: int = 4,
        backoff: float = 1.0,
        max_backoff: float = 30.0,
        headers: dict[str, str] | None = None,
    ) -> None:
        from huggingface_hub import InferenceClient

        if model is None and base_url is None:
            raise ValueError(
                "InferenceClientBackend needs a Hub model id (model=...) or a server URL (base_url=...)."
            )
        if base_url is not None and not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}.")
        if base_url is not None:
            self.client = InferenceClient(
                base_url=base_url.rstrip("/"), token=token, timeout=timeout, headers=headers
            )
            self._payload_model = model
        else:
            self.client = InferenceClient(
                model=model, provider=provider or "auto", token=token, timeout=timeout, headers=headers
            )
            self._payload_model = None
        self.model = model
        self.base_url = base_url
        self.provider = None if base_url else (provider or "auto")
        self.name = model or base_url or ""
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._transport = _transport_errors()

    def __repr__(self) -> str:
        where = f"base_url={self.base_url!r}" if self.base_url else f"provider={self.provider!r}"
        return f"InferenceClientBackend(model={self.model!r}, {where})"

    # -- retries
    def _retry_delay(self, err: BaseException, attempt: int) -> float | None:
        """Seconds to wait before retrying after ``err``; ``None`` if it should not be retried."""
        from huggingface_hub.errors import HfHubHTTPError, InferenceTimeoutError

        if attempt >= self.max_retries:
            return None
        if isinstance(err, HfHubHTTPError):
            status = err.response.status_code if err.response is not None else None
            if status not in self.RETRY_STATUS:
                return None
            retry_after = err.response.headers.get("retry-after") if err.response is not None else None
            if retry_after:
                try:
                    return min(float(retry_after), self.max_backoff)
                except ValueError:
                    pass
        elif not isinstance(err, (InferenceTimeoutError, *self._transport)):
            return None
        delay = min(self.backoff * 2**attempt, self.max_backoff)
        return delay * (0.5 + random.random() / 2)

    def _with_retries(self, call: Callable[[], T]) -> T:
        from huggingface_hub.errors import HfHubHTTPError, InferenceTimeoutError

        attempt = 0
        while True:
            try:
                return call()
            except (HfHubHTTPError, InferenceTimeoutError, *self._transport) as err:
                delay = self._retry_delay(err, attempt)
                if delay is None:
                    raise self._failure(err, attempt) from err
                logger.warning(
                    "Chat request to %s failed (%s); retry %d in %.1f s.", self.name, err, attempt + 1, delay
                )
                time.sleep(delay)
                attempt += 1

    def _failure(self, err: BaseException, attempt: int) -> ChatBackendError:
        from huggingface_hub.errors import HfHubHTTPError

        tries = f" after {attempt + 1} attempts" if attempt else ""
        where = self.base_url or f"Inference Providers ({self.provider})"
        if isinstance(err, HfHubHTTPError) and err.response is not None:
            status = err.response.status_code
            hint = {
                401: "check HF_TOKEN (or the server's API key)",
                403: "the token may lack the 'inference' permission",
                404: "check the model id / URL",
            }.get(status, "see the server's message")
            return ChatBackendError(
                f"Chat model {self.name!r} at {where} answered HTTP {status}{tries}: {err}. Hint: {hint}."
            )
        return ChatBackendError(
            f"Chat model {self.name!r} at {where} could not be reached{tries}: {type(err).__name__}: {err}. "
            "Check that the server is running and the URL is right."
        )

    # -- requests
    def _request(
        self,
        messages: list[dict[str, str]],
        max_new_tokens: int,
        temperature: float,
        stops: list[str],
        stream: bool,
    ) -> Any:
        return self.client.chat_completion(
            messages,
            model=self._payload_model,
            max_tokens=max_new_tokens,
            temperature=temperature,
            stop=stops or None,
            stream=stream,
        )

    def _reply(
        self, messages: list[dict[str, str]], max_new_tokens: int, temperature: float, stops: list[str]
    ) -> str:
        response = self._with_retries(
            lambda: self._request(messages, max_new_tokens, temperature, stops, False)
        )
        if not response.choices:
            raise ChatBackendError(f"Chat model {self.name!r} returned no choices.")
        return response.choices[0].message.content or ""

    def _pieces(
        self, messages: list[dict[str, str]], max_new_tokens: int, temperature: float, stops: list[str]
    ) -> Iterator[str]:
        def start() -> tuple[Any, Iterator[Any]]:
            chunks = iter(self._request(messages, max_new_tokens, temperature, stops, True))
            return next(chunks, None), chunks

        first, chunks = self._with_retries(start)
        if first is None:
            return
        yield _delta(first)
        try:
            for chunk in chunks:
                yield _delta(chunk)
        except Exception as err:
            raise self._failure(err, 0) from err


def _delta(chunk: Any) -> str:
    if not getattr(chunk, "choices", None):
        return ""
    return getattr(chunk.choices[0].delta, "content", None) or ""


# --------------------------------------------------------------------------- concurrency
def default_concurrency(backend: ChatBackend, *, batch_local: bool) -> int:
    """How many requests are worth having in flight at once with ``backend``.

    A remote server answers 4 at once; a scripted backend replays in a fixed order (1). A local
    :class:`TransformersChatBackend` runs one at a time unless ``batch_local``, in which case its
    queue batches up to ``max_batch_size`` of them: worth it for short prompts (2.3× for
    program-of-thought prompts), not for tool creation's long ones (0.87×;
    ``benchmarks/chat_batching.py``).
    """
    kind = getattr(backend, "kind", "")
    if kind == "transformers":
        return int(getattr(backend, "max_batch_size", 1)) if batch_local else 1
    return 1 if kind == "scripted" else 4


# --------------------------------------------------------------------------- choosing a backend
_LOCAL_CACHE: dict[str, TransformersChatBackend] = {}
_LOCAL_LOCK = threading.Lock()


def _local_backend(model: str | None) -> TransformersChatBackend:
    """One :class:`TransformersChatBackend` per model per process (loading takes seconds)."""
    key = model or "<offline default>"
    with _LOCAL_LOCK:
        if key not in _LOCAL_CACHE:
            _LOCAL_CACHE[key] = TransformersChatBackend(model)
        return _LOCAL_CACHE[key]


def _token(token: str | None) -> str | None:
    if token:
        return token
    from huggingface_hub import get_token

    return get_token()


def get_chat_backend(
    model: str | ChatBackend | None = None,
    *,
    backend: str | None = None,
    token: str | None = None,
    provider: str | None = None,
    served_model: str | None = None,
    **kwargs: Any,
) -> ChatBackend:
    """Choose a chat backend from ``model`` (or ``$HF_REFT_CHAT_MODEL``).

    * a :class:`ChatBackend` → returned as is;
    * ``None`` (and no ``$HF_REFT_CHAT_MODEL``) → the offline default model, locally;
    * ``"http(s)://..."`` → an OpenAI-compatible / TGI server (``served_model`` or
      ``$HF_REFT_CHAT_SERVED_MODEL`` names the model in requests);
    * an existing local folder → that model, locally;
    * a Hub id → Inference Providers when a token is available (``token``, ``$HF_TOKEN`` or
      ``hf auth login``; ``provider`` or ``$HF_REFT_CHAT_PROVIDER``, default ``"auto"``),
      otherwise downloaded and run locally.

    ``backend`` (or ``$HF_REFT_CHAT_BACKEND``) = ``"transformers"`` or ``"inference"`` forces
    the choice. Local backends are cached per process. ``kwargs`` go to the backend's
    constructor (e.g. ``timeout``, ``max_retries`` for remote ones).
    """
    if model is not None and not isinstance(model, (str, os.PathLike)):
        if isinstance(model, ChatBackend):
            return model
        raise TypeError(f"model must be a name, a URL, a path or a ChatBackend, not {type(model).__name__}.")
    model = str(model) if model is not None else os.environ.get(ENV_MODEL) or None
    backend = (backend or os.environ.get(ENV_BACKEND) or "auto").lower()
    if backend not in ("auto", "transformers", "inference"):
        raise ValueError(f"backend must be 'auto', 'transformers' or 'inference', got {backend!r}.")
    is_url = model is not None and model.startswith(("http://", "https://"))
    if backend == "transformers" or (
        backend == "auto" and (model is None or Path(model).expanduser().exists())
    ):
        if is_url:
            raise ValueError(
                f"{model!r} is a URL; the transformers backend needs a Hub id or a local folder."
            )
        if kwargs:
            return TransformersChatBackend(model, **kwargs)
        return _local_backend(model)
    if model is None:
        raise ValueError(f"The inference backend needs a model: pass one or set ${ENV_MODEL}.")
    if is_url:
        return InferenceClientBackend(
            served_model or os.environ.get(ENV_SERVED_MODEL) or None, base_url=model, token=token, **kwargs
        )
    hf_token = _token(token)
    if backend == "inference" or hf_token:
        return InferenceClientBackend(
            model, provider=provider or os.environ.get(ENV_PROVIDER) or "auto", token=hf_token, **kwargs
        )
    logger.info("No Hugging Face token: running %s locally (set HF_TOKEN to use Inference Providers).", model)
    return _local_backend(model)
