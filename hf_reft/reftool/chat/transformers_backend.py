"""A local ``transformers`` chat model: :class:`TransformersChatBackend`."""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .base import _CheckedChatBackend


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

        from ...generation import left_pad

        try:
            inputs = left_pad([r.prompt for r in batch], self._pad_id, self.model.device)
            width = inputs["input_ids"].shape[1]
            first = batch[0]
            generation = self._generation_kwargs(
                max(r.max_new_tokens for r in batch), first.temperature, list(first.stops)
            )
            self.batch_sizes.append(len(batch))
            with torch.inference_mode():
                output = self.model.generate(**inputs, **generation)
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
