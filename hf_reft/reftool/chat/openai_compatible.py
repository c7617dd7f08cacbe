"""An OpenAI-compatible chat server (``/v1/chat/completions``): :class:`OpenAICompatibleBackend`.

llama.cpp's ``llama-server``, vLLM, TGI, ``transformers serve``, OpenAI itself. The request goes
to the server it names and nowhere else, with the server's own API key (``api_key``, else
``$OPENAI_API_KEY``, else none) — never a Hugging Face token, except to Hugging Face's own hosts
(Inference Endpoints, Spaces, the router), which take one. It speaks HTTP with the standard
library, so Hugging Face's offline mode (``HF_HUB_OFFLINE=1``, which is about the Hub) does not
stop it from reaching a server on this machine.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from .base import ChatBackendError, _RemoteChatBackend

__all__ = ["ENV_API_KEY", "HF_HOSTS", "OpenAICompatibleBackend", "is_hugging_face_url"]

ENV_API_KEY = "OPENAI_API_KEY"
#: Hosts (and their sub-domains) that are Hugging Face's and may receive a Hugging Face token.
HF_HOSTS = ("huggingface.co", "hf.co", "hf.space", "huggingface.cloud")


def is_hugging_face_url(url: str) -> bool:
    """Whether ``url`` is served by Hugging Face (``https://x.endpoints.huggingface.cloud/v1``)."""
    host = (urlsplit(url).hostname or "").lower()
    return any(host == h or host.endswith("." + h) for h in HF_HOSTS)


class OpenAICompatibleBackend(_RemoteChatBackend):
    """A chat model behind an OpenAI-compatible HTTP API.

    Args:
        base_url: the API root, e.g. ``"http://127.0.0.1:8080/v1"`` (``/chat/completions`` is added).
        model: the model name the server expects in the request (``None``: the server's default).
        api_key: the server's key; default ``$OPENAI_API_KEY``, and for a Hugging Face host the
            Hugging Face token. Nothing is sent when there is none.
        timeout, max_retries, backoff, max_backoff, headers: the remote options, as every remote
            backend takes them (``_RemoteChatBackend`` in ``base.py``).
    """

    kind = "openai"

    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float = 120.0,
        max_retries: int = 4,
        backoff: float = 1.0,
        max_backoff: float = 30.0,
        headers: dict[str, str] | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}.")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = model or self.base_url
        if api_key is None:
            api_key = os.environ.get(ENV_API_KEY) or None
        if api_key is None and is_hugging_face_url(self.base_url):
            from huggingface_hub import get_token

            api_key = get_token()
        self._headers = {"Content-Type": "application/json", **(headers or {})}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self.timeout = timeout
        super().__init__(max_retries=max_retries, backoff=backoff, max_backoff=max_backoff)

    def __repr__(self) -> str:
        key = "with an API key" if "Authorization" in self._headers else "no API key"
        return f"OpenAICompatibleBackend(base_url={self.base_url!r}, model={self.model!r}, {key})"

    # -- HTTP
    def _open(self, payload: dict[str, Any]) -> Any:
        body = json.dumps({k: v for k, v in payload.items() if v is not None}).encode("utf-8")
        request = urllib.request.Request(
            f"{self.base_url}/chat/completions", data=body, headers=self._headers, method="POST"
        )
        return urllib.request.urlopen(request, timeout=self.timeout)

    def _payload(
        self,
        messages: list[dict[str, str]],
        max_new_tokens: int,
        temperature: float,
        stops: list[str],
        stream: bool,
    ) -> dict[str, Any]:
        return {
            "model": self.model,
            "messages": messages,
            "max_tokens": max_new_tokens,
            "temperature": temperature,
            "stop": stops or None,
            "stream": stream,
        }

    # -- retries (``_RemoteChatBackend``)
    def _http_answer(self, err: BaseException) -> tuple[int, str | None] | None:
        if isinstance(err, urllib.error.HTTPError):
            return err.code, err.headers.get("retry-after")
        return None

    def _transient(self) -> tuple[type[BaseException], ...]:
        return (urllib.error.URLError, TimeoutError, ConnectionError)

    @property
    def _where(self) -> str:
        return self.base_url

    def _failure(self, err: BaseException, attempt: int) -> ChatBackendError:
        tries = f" after {attempt + 1} attempts" if attempt else ""
        if isinstance(err, urllib.error.HTTPError):
            detail = err.read().decode("utf-8", "replace")[:500]
            hint = {
                401: f"the server wants an API key: pass --api-key or set ${ENV_API_KEY}",
                403: "the API key is not allowed to use this model",
                404: "check the URL (it should end in /v1) and the model name",
            }.get(err.code, "see the server's message")
            return ChatBackendError(
                f"Chat server {self.base_url} answered HTTP {err.code}{tries}: {detail}. Hint: {hint}."
            )
        return ChatBackendError(
            f"Chat server {self.base_url} could not be reached{tries}: {type(err).__name__}: {err}. "
            "Check that the server is running and the URL is right."
        )

    # -- requests
    def _reply(
        self, messages: list[dict[str, str]], max_new_tokens: int, temperature: float, stops: list[str]
    ) -> str:
        def call() -> dict[str, Any]:
            with self._open(self._payload(messages, max_new_tokens, temperature, stops, False)) as response:
                return json.loads(response.read().decode("utf-8"))

        answer = self._with_retries(call)
        choices = answer.get("choices") or []
        if not choices:
            raise ChatBackendError(f"Chat server {self.base_url} returned no choices: {str(answer)[:300]}")
        return (choices[0].get("message") or {}).get("content") or ""

    def _pieces(
        self, messages: list[dict[str, str]], max_new_tokens: int, temperature: float, stops: list[str]
    ) -> Iterator[str]:
        response = self._with_retries(
            lambda: self._open(self._payload(messages, max_new_tokens, temperature, stops, True))
        )
        with response:
            try:
                for raw in response:
                    line = raw.decode("utf-8").strip()
                    if not line.startswith("data:"):
                        continue
                    data = line[len("data:") :].strip()
                    if data == "[DONE]":
                        return
                    choices = json.loads(data).get("choices") or []
                    if choices and (piece := (choices[0].get("delta") or {}).get("content")):
                        yield piece
            except (OSError, ValueError) as err:
                raise self._failure(err, 0) from err
