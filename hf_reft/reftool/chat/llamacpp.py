"""A local GGUF chat model run by llama.cpp inside this process: :class:`LlamaCppChatBackend`.

`xllamacpp <https://pypi.org/project/xllamacpp/>`_ (prebuilt wheels, no compiler) embeds
llama.cpp's own server: requests go to its C++ handlers directly, and its parallel slots decode
concurrent requests together (continuous batching).
"""

from __future__ import annotations

import json
import logging
import os
import queue
import secrets
import threading
import time
import urllib.request
import weakref
from collections.abc import Iterator, Sequence
from itertools import count
from pathlib import Path
from typing import Any

from .base import ChatBackendError, _CheckedChatBackend, validate_messages

logger = logging.getLogger(__name__)

ENV_THREADS = "HF_REFT_LLAMA_THREADS"
_GGUF_MAGIC = b"GGUF"
_DONE = object()  # the end of a stream's chunk queue
_PROC_STAT = Path("/proc/stat")


def _cpu_jiffies() -> tuple[int, int] | None:
    """(busy, total) CPU time of the whole machine since boot, from ``/proc/stat``; None off Linux."""
    try:
        with _PROC_STAT.open() as file:
            fields = file.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    # user nice system idle iowait irq softirq steal (guest time is counted in user already)
    times = [int(x) for x in fields[1:9]]
    idle = times[3] + (times[4] if len(times) > 4 else 0)
    return sum(times) - idle, sum(times)


def busy_cpu_cores(seconds: float = 0.5) -> float | None:
    """How many of the machine's cores were busy over the next ``seconds`` (None off Linux).

    Measured now, from ``/proc/stat``, rather than read from the load average: the 1-minute load
    average still counts a job that ended a minute ago (measured: right after one llama.cpp run
    it read 1.0 on an idle 2-core machine, and the next backend got 1 thread and ran at 17 tokens/s
    instead of 28).
    """
    before = _cpu_jiffies()
    if before is None:
        return None
    time.sleep(seconds)
    after = _cpu_jiffies()
    if after is None or after[1] <= before[1]:
        return None
    share = (after[0] - before[0]) / (after[1] - before[1])
    return share * (os.cpu_count() or 1)


def free_cpu_threads() -> int:
    """The CPU threads worth giving llama.cpp now (at least 1).

    The cores this process may run on minus the cores busy right now (:func:`busy_cpu_cores`,
    rounded; where that cannot be measured, the 1-minute load average). llama.cpp's threads spin
    while they wait for each other, so more threads than idle cores is very costly: on a 2-core
    machine busy with another process, 2 threads decoded SmolLM2-135M at 0.5 tokens/s and 1
    thread at 40. ``$HF_REFT_LLAMA_THREADS`` overrides it.
    """
    if override := os.environ.get(ENV_THREADS, "").strip():
        if not override.isdigit() or int(override) < 1:
            raise ValueError(f"${ENV_THREADS} must be a positive integer, got {override!r}.")
        return int(override)
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    busy = busy_cpu_cores()
    if busy is None:
        try:
            busy = os.getloadavg()[0]
        except (AttributeError, OSError):  # Windows
            busy = 0.0
    return max(1, cores - round(busy))


def _check_gguf(model_path: str | os.PathLike[str]) -> Path:
    """``model_path`` as an absolute path, after checking that it is a GGUF file."""
    path = Path(model_path).expanduser()
    if not path.is_file():
        hint = "that is a folder; pass the .gguf file in it" if path.is_dir() else "check the path"
        raise FileNotFoundError(f"No GGUF model file at {str(path)!r}: {hint}.")
    with path.open("rb") as file:
        magic = file.read(len(_GGUF_MAGIC))
    if magic != _GGUF_MAGIC:
        raise ValueError(
            f"{str(path)!r} is not a GGUF file (it starts with {magic!r}, not {_GGUF_MAGIC!r}). "
            "LlamaCppChatBackend runs llama.cpp models (.gguf); run a transformers model with "
            "TransformersChatBackend, or convert it with llama.cpp's convert_hf_to_gguf.py."
        )
    return path.resolve()


def _import_xllamacpp() -> Any:
    try:
        import xllamacpp
    except ImportError as err:
        raise ImportError(
            "LlamaCppChatBackend needs xllamacpp (llama.cpp for Python, prebuilt wheels): pip install xllamacpp"
        ) from err
    return xllamacpp


def _chunk_text(chunk: dict[str, Any]) -> str:
    """The text a streamed chat-completion chunk adds."""
    choices = chunk.get("choices") or []
    return ((choices[0].get("delta") or {}).get("content") or "") if choices else ""


class LlamaCppChatBackend(_CheckedChatBackend):
    """A GGUF chat model run by llama.cpp in this process (through ``xllamacpp``).

    Args:
        model_path: a ``.gguf`` chat model (its chat template is read from the file).
        name: the name to report (default: the file name without ``.gguf``).
        context_length: the context of one request in tokens (prompt + reply). llama.cpp splits
            its context evenly between the slots, so it gets ``context_length * parallel``
            (the KV cache for all of them is allocated up front).
        parallel: how many requests are decoded together; more wait for a free slot.
        threads: CPU threads for llama.cpp (default: :func:`free_cpu_threads`).
        batch_size: the most prompt tokens processed in one step (at least 32).
        seed: the seed of the first sampled (``temperature > 0``) request; each further one
            takes the next, so samples differ and a run repeats when it asks in the same order.
            ``None``: random seeds.
        verbose: show llama.cpp's log on stderr (default: its errors only).

    One backend can be shared by threads: it holds no lock, llama.cpp's slots decode their
    requests together (continuous batching). A greedy reply decoded together with others equals
    the reply alone, up to floating-point ties. A prompt that leaves no room for
    ``max_new_tokens`` raises :class:`ValueError` before generation (:meth:`count_tokens`).
    Closing a :meth:`stream` iterator early stops generation. :meth:`close` (or leaving a
    ``with`` block) frees the model and llama.cpp's threads; otherwise that happens when the
    backend is garbage-collected or at exit.
    """

    kind = "llamacpp"

    def __init__(
        self,
        model_path: str | os.PathLike[str],
        *,
        name: str | None = None,
        context_length: int = 8192,
        parallel: int = 4,
        threads: int | None = None,
        batch_size: int = 512,
        seed: int | None = 0,
        verbose: bool = False,
    ) -> None:
        path = _check_gguf(model_path)
        threads = free_cpu_threads() if threads is None else threads
        for arg, value, least in (
            ("context_length", context_length, 1),
            ("parallel", parallel, 1),
            ("threads", threads, 1),
            ("batch_size", batch_size, 32),
        ):
            if not isinstance(value, int) or value < least:
                raise ValueError(f"{arg} must be an integer ≥ {least}, got {value!r}.")
        xllamacpp = _import_xllamacpp()
        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.n_parallel = parallel
        params.kv_unified = False  # each slot gets its own n_ctx / n_parallel tokens
        params.n_ctx = context_length * parallel
        params.n_batch = params.n_ubatch = batch_size
        params.cpuparams.n_threads = params.cpuparams_batch.n_threads = threads
        params.verbosity = 3 if verbose else 1  # 1: errors only
        params.endpoint_metrics = True
        # The embedded server also listens on 127.0.0.1 (a free port); the key keeps others out.
        self._api_key = secrets.token_urlsafe(24)
        params.api_keys = [self._api_key]
        try:
            server = xllamacpp.Server(params)
        except RuntimeError as err:
            raise ValueError(
                f"llama.cpp could not load {str(path)!r} ({err}); its log on stderr says why. Is it a "
                "complete GGUF chat model of an architecture this xllamacpp version supports?"
            ) from err
        # A server freed before its main loop has started would wait for it forever: a request
        # that goes through the loop's queue makes sure it runs.
        server.handle_metrics()
        self.model_path = path
        self.name = name or path.stem
        self.context_length = context_length
        self.parallel = parallel
        self.threads = threads
        self.batch_size = batch_size
        self.seed = seed
        self._seeds = count(seed) if seed is not None else None
        self._url = server.listening_address
        self._http = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no proxy for 127.0.0.1
        # Dropping the last reference to the server stops its threads and frees the model.
        self._holder = [server]
        self._free = weakref.finalize(self, self._holder.clear)

    def __repr__(self) -> str:
        closed = ", closed" if self.closed else ""
        return f"LlamaCppChatBackend(name={self.name!r}, parallel={self.parallel}, threads={self.threads}{closed})"

    # -- life cycle
    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return not self._holder

    def close(self) -> None:
        """Free the model and llama.cpp's threads (once requests still running have finished).

        Later requests raise :class:`ChatBackendError`. Calling it again does nothing.
        """
        self._free()

    def __enter__(self) -> LlamaCppChatBackend:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _server(self) -> Any:
        try:
            return self._holder[0]
        except IndexError:
            raise ChatBackendError(f"{self!r} is closed; create a new backend.") from None

    def metrics(self) -> dict[str, float]:
        """llama.cpp's counters, e.g. ``prompt_tokens_total``, ``tokens_predicted_total``,
        ``n_decode_total``, ``n_busy_slots_per_decode`` (since the start) and the throughputs
        ``prompt_tokens_seconds``, ``predicted_tokens_seconds`` (tokens/s since the previous call).
        """
        text = self._server().handle_metrics()
        text = text.decode() if isinstance(text, bytes) else text
        values = (line.rpartition(" ") for line in text.splitlines() if line and not line.startswith("#"))
        return {name.removeprefix("llamacpp:"): float(value) for name, _, value in values}

    # -- tokens
    def count_tokens(self, messages: Sequence[dict[str, str]]) -> int:
        """The length in tokens of the prompt that ``messages`` become (chat template applied).

        Asked of the server's ``/apply-template`` and ``/tokenize`` (the Python API has neither).
        """
        prompt = self._post("/apply-template", {"messages": validate_messages(messages)})["prompt"]
        return len(self._post("/tokenize", {"content": prompt, "add_special": True})["tokens"])

    def count_text_tokens(self, text: str) -> int:
        """The length of ``text`` in tokens (no special tokens), e.g. for ``Section.split(tokenizer=...)``."""
        return len(self._post("/tokenize", {"content": text, "add_special": False})["tokens"])

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        """A request to an endpoint the Python API lacks, over the server's local HTTP port."""
        self._server()  # raises when closed
        request = urllib.request.Request(
            self._url + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self._api_key}"},
        )
        try:
            with self._http.open(request, timeout=300) as response:
                return json.load(response)
        except (OSError, ValueError) as err:
            raise ChatBackendError(f"llama.cpp's {path} failed for {self.name}: {err}") from err

    def _too_long(self, prompt_tokens: int | str, max_new_tokens: int) -> ValueError:
        return ValueError(
            f"The prompt has {prompt_tokens} tokens; with max_new_tokens={max_new_tokens} it exceeds "
            f"{self.name}'s context of {self.context_length} tokens per request. Shorten the prompt (e.g. "
            "split the section with Section.split(budget, tokenizer=backend.count_text_tokens)) or lower "
            "max_new_tokens / raise context_length."
        )

    # -- requests
    def _request(
        self, messages: list[dict[str, str]], max_new_tokens: int, temperature: float, stops: list[str]
    ) -> dict[str, Any]:
        """The chat-completion request, after checking that prompt and reply fit the context."""
        prompt_tokens = self.count_tokens(messages)
        if prompt_tokens + max_new_tokens > self.context_length:
            raise self._too_long(prompt_tokens, max_new_tokens)
        request: dict[str, Any] = {
            "messages": messages,
            "max_tokens": max_new_tokens,
            "temperature": temperature,
            "stop": stops,
        }
        if temperature > 0:  # plain sampling, as in TransformersChatBackend (no top-k/top-p/min-p cut)
            request.update(top_k=0, top_p=1.0, min_p=0.0)
            if self._seeds is not None:
                request["seed"] = next(self._seeds)
        else:
            request["top_k"] = 1  # greedy
        return request

    def _error(self, response: Any, max_new_tokens: int) -> Exception:
        """The exception for an error answer (a too long prompt is a :class:`ValueError`)."""
        error = response.get("error", response) if isinstance(response, dict) else response
        if isinstance(error, dict) and error.get("type") == "exceed_context_size_error":
            return self._too_long(error.get("n_prompt_tokens", "too many"), max_new_tokens)
        message = error.get("message", error) if isinstance(error, dict) else error
        return ChatBackendError(f"llama.cpp ({self.name}) answered with an error: {message}")

    def _reply(
        self, messages: list[dict[str, str]], max_new_tokens: int, temperature: float, stops: list[str]
    ) -> str:
        request = self._request(messages, max_new_tokens, temperature, stops)
        server = self._server()
        try:
            response = server.handle_chat_completions(request)
        except Exception as err:  # some invalid requests raise instead of answering an error
            raise ChatBackendError(f"llama.cpp ({self.name}) failed: {type(err).__name__}: {err}") from err
        if not isinstance(response, dict) or "error" in response or "choices" not in response:
            raise self._error(response, max_new_tokens)
        choices = response["choices"]
        if not choices:
            raise ChatBackendError(f"llama.cpp ({self.name}) returned no choices.")
        return (choices[0].get("message") or {}).get("content") or ""

    def _pieces(
        self, messages: list[dict[str, str]], max_new_tokens: int, temperature: float, stops: list[str]
    ) -> Iterator[str]:
        request = {**self._request(messages, max_new_tokens, temperature, stops), "stream": True}
        server = self._server()
        chunks: queue.Queue[Any] = queue.Queue()
        cancelled = threading.Event()

        def on_chunk(chunk: dict[str, Any]) -> bool:
            chunks.put(chunk)
            return cancelled.is_set()  # True stops generation

        def run() -> None:
            try:
                server.handle_chat_completions(request, on_chunk)
            except BaseException as err:  # re-raised in the consumer's thread
                chunks.put(err)
            finally:
                chunks.put(_DONE)

        def pieces() -> Iterator[str]:
            thread = threading.Thread(target=run, name="hf-reft-llamacpp-stream", daemon=True)
            thread.start()
            try:
                while (chunk := chunks.get()) is not _DONE:
                    if isinstance(chunk, BaseException):
                        raise ChatBackendError(
                            f"llama.cpp ({self.name}) failed: {type(chunk).__name__}: {chunk}"
                        ) from chunk
                    if "error" in chunk:
                        raise self._error(chunk, max_new_tokens)
                    yield _chunk_text(chunk)
            finally:
                cancelled.set()
                thread.join()

        return pieces()
