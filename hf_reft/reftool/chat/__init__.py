"""Chat backends for RefTool: messages in, text out, optionally streamed.

One small interface, :class:`ChatBackend` (``base.py``), with four implementations:

* :class:`LlamaCppChatBackend` (``llamacpp.py``) — a local GGUF file run by llama.cpp in this
  process (``pip install xllamacpp``); its parallel slots decode concurrent requests together.
  RefTool's offline default is one: Qwen2.5-Coder-1.5B-Instruct (:func:`default_backend`).
* :class:`TransformersChatBackend` (``transformers_backend.py``) — a local ``transformers`` chat
  model through its chat template (default: the offline SmolLM2-135M-Instruct of
  :func:`hf_reft.models.default_chat_model`).
* :class:`OpenAICompatibleBackend` (``openai_compatible.py``) — any OpenAI-compatible server
  (``transformers serve``, vLLM, TGI, llama.cpp's ``llama-server``) with its own API key
  (``api_key`` / ``$OPENAI_API_KEY``), never the Hugging Face token.
* :class:`InferenceClientBackend` (``inference_client.py``) — :class:`huggingface_hub.InferenceClient`:
  Inference Providers (a Hub model id and a token) or a Hugging Face endpoint.

Remote requests time out and are retried with exponential backoff on 408/429/5xx answers and
connection errors (``_RemoteChatBackend`` in ``base.py``).

:func:`get_chat_backend` (``selection.py``) picks one from an argument or ``$HF_REFT_CHAT_MODEL``::

    get_chat_backend()                                  # offline default (Qwen2.5-Coder-1.5B, llama.cpp)
    get_chat_backend("HuggingFaceTB/SmolLM2-1.7B-Instruct")  # providers if a token is set, else local
    get_chat_backend("http://127.0.0.1:8000/v1", served_model="my-model")  # OpenAI-compatible server
    get_chat_backend("./my-model-folder")               # local folder (transformers)
    get_chat_backend("./my-model.Q4_K_M.gguf")          # local GGUF file (llama.cpp)
"""

from typing import TYPE_CHECKING

from ..._lazy import lazy_exports

if TYPE_CHECKING:
    from .base import ChatBackend, ChatBackendError, close_stream, truncate_at_stop, validate_messages
    from .base import _stream_until_stop as _stream_until_stop  # for tests
    from .inference_client import InferenceClientBackend
    from .llamacpp import LlamaCppChatBackend, free_cpu_threads
    from .openai_compatible import OpenAICompatibleBackend
    from .selection import ENV_BACKEND as ENV_BACKEND
    from .selection import ENV_MODEL as ENV_MODEL
    from .selection import ENV_PROVIDER as ENV_PROVIDER
    from .selection import ENV_SERVED_MODEL as ENV_SERVED_MODEL
    from .selection import default_backend, default_concurrency, get_chat_backend
    from .transformers_backend import TransformersChatBackend

__all__ = [
    "ChatBackend",
    "ChatBackendError",
    "InferenceClientBackend",
    "LlamaCppChatBackend",
    "OpenAICompatibleBackend",
    "TransformersChatBackend",
    "close_stream",
    "default_backend",
    "default_concurrency",
    "free_cpu_threads",
    "get_chat_backend",
    "truncate_at_stop",
    "validate_messages",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__)
