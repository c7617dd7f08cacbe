"""A chat model on Hugging Face's servers through :class:`huggingface_hub.InferenceClient`.

:class:`InferenceClientBackend`: Inference Providers (a Hub id) or a Hugging Face endpoint URL
(Inference Endpoints, a Space). Any other server is for
:class:`~hf_reft.reftool.chat.openai_compatible.OpenAICompatibleBackend`, which never sends a
Hugging Face token.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .base import ChatBackendError, _RemoteChatBackend
from .openai_compatible import is_hugging_face_url


def _transport_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [ConnectionError, TimeoutError]
    for module in ("httpx2", "httpx"):
        try:
            errors.append(__import__(module).TransportError)
        except (ImportError, AttributeError):
            continue
    return tuple(errors)


class InferenceClientBackend(_RemoteChatBackend):
    """A remote chat model through :class:`huggingface_hub.InferenceClient`.

    Args:
        model: a Hub model id (Inference Providers, with ``provider``), or — with ``base_url`` —
            the model name the server expects in the request (OpenAI-compatible servers;
            ``None`` lets the server choose).
        base_url: a Hugging Face endpoint (``https://….endpoints.huggingface.cloud/v1``, a Space).
        provider: Inference Providers provider (``"auto"`` by default for Hub ids).
        token: a Hugging Face token (or the server's API key); default: the logged-in token.
        timeout, max_retries, backoff, max_backoff, headers: the remote options, as every remote
            backend takes them (``_RemoteChatBackend`` in ``base.py``).
    """

    kind = "inference"

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
        if base_url is not None and not is_hugging_face_url(base_url):
            raise ValueError(
                f"{base_url} is not a Hugging Face endpoint, and InferenceClient would send it your Hugging Face "
                "token. Use OpenAICompatibleBackend(base_url, api_key=...) (what get_chat_backend picks for a URL)."
            )
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
        super().__init__(max_retries=max_retries, backoff=backoff, max_backoff=max_backoff)
        self._transport = _transport_errors()

    def __repr__(self) -> str:
        where = f"base_url={self.base_url!r}" if self.base_url else f"provider={self.provider!r}"
        return f"InferenceClientBackend(model={self.model!r}, {where})"

    # -- retries (``_RemoteChatBackend``)
    def _http_answer(self, err: BaseException) -> tuple[int, str | None] | None:
        from huggingface_hub.errors import HfHubHTTPError

        if isinstance(err, HfHubHTTPError) and err.response is not None:
            return err.response.status_code, err.response.headers.get("retry-after")
        return None

    def _retry_delay(self, err: BaseException, attempt: int) -> float | None:
        from huggingface_hub.errors import OfflineModeIsEnabled

        return None if isinstance(err, OfflineModeIsEnabled) else super()._retry_delay(err, attempt)

    def _transient(self) -> tuple[type[BaseException], ...]:
        from huggingface_hub.errors import HfHubHTTPError, InferenceTimeoutError

        return (HfHubHTTPError, InferenceTimeoutError, *self._transport)

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
