"""RefTool chat backends: local transformers, OpenAI-compatible servers and InferenceClient against real local HTTP servers."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
import torch
from transformers import LlamaForCausalLM

from hf_reft.reftool.chat import (
    ChatBackend,
    ChatBackendError,
    InferenceClientBackend,
    OpenAICompatibleBackend,
    TransformersChatBackend,
    _stream_until_stop,
    get_chat_backend,
    truncate_at_stop,
    validate_messages,
)

from tiny_models import make_tokenizer, tiny_config

QUESTION = [{"role": "user", "content": "What is the capital of France? Answer in one sentence."}]


@pytest.fixture(scope="module")
def tiny_backend() -> TransformersChatBackend:
    torch.manual_seed(0)
    return TransformersChatBackend(LlamaForCausalLM(tiny_config("llama")), make_tokenizer(), name="tiny")


# --------------------------------------------------------------------------- interface helpers
def test_validate_messages_errors():
    assert validate_messages([{"role": "user", "content": "hi", "extra": 1}]) == [
        {"role": "user", "content": "hi"}
    ]
    with pytest.raises(ValueError, match="non-empty list"):
        validate_messages([])
    with pytest.raises(ValueError, match="non-empty list"):
        validate_messages("hi")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"messages\[0\] has role 'robot'"):
        validate_messages([{"role": "robot", "content": "x"}])
    with pytest.raises(ValueError, match=r"messages\[1\] must be a dict"):
        validate_messages([{"role": "user", "content": "x"}, ("user", "y")])  # type: ignore[list-item]


def test_stop_strings_are_cut_from_text_and_streams():
    assert truncate_at_stop("abc STOP def END", ["END", "STOP"]) == "abc "
    assert truncate_at_stop("abc", None) == "abc"
    pieces = ["The ans", "wer is 4", "2.\nQuest", "ion: next"]
    assert "".join(_stream_until_stop(iter(pieces), ["\nQuestion"])) == "The answer is 42."
    assert "".join(_stream_until_stop(iter(pieces), [])) == "".join(pieces)
    assert "".join(_stream_until_stop(iter(["no stop here"]), ["ZZZ"])) == "no stop here"


# --------------------------------------------------------------------------- local transformers backend
def test_transformers_backend_chat_equals_stream(tiny_backend):
    assert isinstance(tiny_backend, ChatBackend) and tiny_backend.kind == "transformers"
    text = tiny_backend.chat(QUESTION, max_new_tokens=12)
    assert text == "".join(tiny_backend.stream(QUESTION, max_new_tokens=12))
    assert text == tiny_backend.chat(QUESTION, max_new_tokens=12)  # greedy is deterministic
    stop = text[3:5]
    if stop.strip():
        assert tiny_backend.chat(QUESTION, max_new_tokens=12, stop=[stop]) == text[: text.find(stop)]


def test_transformers_backend_rejects_bad_requests(tiny_backend):
    with pytest.raises(ValueError, match="exceeds tiny's context of 256 tokens"):
        tiny_backend.chat(QUESTION, max_new_tokens=400)
    with pytest.raises(ValueError, match="max_new_tokens must be a positive integer"):
        tiny_backend.chat(QUESTION, max_new_tokens=0)
    with pytest.raises(ValueError, match="temperature must be ≥ 0"):
        tiny_backend.chat(QUESTION, temperature=-1.0)
    tokenizer = make_tokenizer()
    tokenizer.chat_template = None
    with pytest.raises(ValueError, match="has no chat template"):
        TransformersChatBackend(tiny_backend.model, tokenizer)


def test_closing_a_stream_early_releases_the_model(tiny_backend):
    stream = tiny_backend.stream(QUESTION, max_new_tokens=200)
    next(stream)
    stream.close()
    assert tiny_backend.chat(QUESTION, max_new_tokens=3) is not None  # the lock was released


def _concurrently(backend: TransformersChatBackend, requests: list[dict]) -> list[str]:
    """Send ``requests`` from one thread each while the model is busy, so that they queue up."""
    replies: list[str | BaseException] = [""] * len(requests)

    def ask(i: int) -> None:
        try:
            replies[i] = backend.chat(**requests[i])
        except BaseException as err:
            replies[i] = err

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(requests))]
    with backend._lock:  # the model is "busy": every request waits in the queue
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while len(backend._queue) < len(requests) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(backend._queue) == len(requests)
    for thread in threads:
        thread.join(60)
    return replies


CHATS = [
    [{"role": "user", "content": "What is the capital of France?"}],
    [{"role": "user", "content": "Hi"}],
    [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Name three noble gases, please."},
    ],
    [{"role": "user", "content": "Balance H2 + O2 -> H2O."}],
]


def test_concurrent_chats_are_generated_as_one_batch_with_the_replies_they_get_alone(tiny_backend):
    alone = [tiny_backend.chat(chat, max_new_tokens=n) for chat, n in zip(CHATS, (12, 5, 12, 9), strict=True)]
    before = len(tiny_backend.batch_sizes)
    batched = _concurrently(
        tiny_backend,
        [{"messages": c, "max_new_tokens": n} for c, n in zip(CHATS, (12, 5, 12, 9), strict=True)],
    )
    assert batched == alone  # left padding is masked out; each reply keeps its own token limit
    assert sorted(list(tiny_backend.batch_sizes)[before:], reverse=True)[0] > 1  # it did batch
    assert sum(list(tiny_backend.batch_sizes)[before:]) == len(CHATS)


def test_batches_respect_the_limit_and_never_mix_sampling_settings(tiny_backend):
    tiny_backend.max_batch_size = 2
    try:
        before = len(tiny_backend.batch_sizes)
        requests = [{"messages": c, "max_new_tokens": 4} for c in CHATS]
        requests += [{"messages": CHATS[0], "max_new_tokens": 4, "temperature": 0.7}]
        replies = _concurrently(tiny_backend, requests)
        assert all(isinstance(r, str) for r in replies)
        sizes = list(tiny_backend.batch_sizes)[before:]
        assert max(sizes) == 2 and sum(sizes) == 5 and sizes.count(1) >= 1  # the sampled one is alone
    finally:
        tiny_backend.max_batch_size = 8
    with pytest.raises(ValueError, match="max_batch_size must be a positive integer"):
        TransformersChatBackend(tiny_backend.model, make_tokenizer(), max_batch_size=0)


def test_a_failed_batch_raises_in_every_waiting_caller(tiny_backend, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("out of memory (simulated)")

    monkeypatch.setattr(tiny_backend.model, "generate", broken)
    replies = _concurrently(tiny_backend, [{"messages": c, "max_new_tokens": 3} for c in CHATS[:3]])
    assert all(isinstance(r, RuntimeError) and "simulated" in str(r) for r in replies)
    monkeypatch.undo()
    assert isinstance(tiny_backend.chat(QUESTION, max_new_tokens=3), str)  # still usable afterwards


def test_get_chat_backend_chooses_by_argument_and_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_REFT_CHAT_MODEL", raising=False)
    monkeypatch.delenv("HF_REFT_CHAT_BACKEND", raising=False)
    url = get_chat_backend("http://127.0.0.1:9/v1", served_model="smol")
    assert isinstance(url, OpenAICompatibleBackend) and (url.base_url, url.model) == (
        "http://127.0.0.1:9/v1",
        "smol",
    )
    endpoint = get_chat_backend("https://x.us-east-1.aws.endpoints.huggingface.cloud/v1", token="hf_test")
    assert isinstance(endpoint, InferenceClientBackend)  # a Hugging Face endpoint gets the Hugging Face token
    provider = get_chat_backend("HuggingFaceTB/SmolLM2-1.7B-Instruct", token="hf_test", provider="together")
    assert isinstance(provider, InferenceClientBackend) and provider.provider == "together"
    monkeypatch.setenv("HF_REFT_CHAT_MODEL", "https://example.invalid/v1")
    assert get_chat_backend().base_url == "https://example.invalid/v1"
    # A local folder runs locally.
    folder = tmp_path / "tiny-chat"
    LlamaForCausalLM(tiny_config("llama")).save_pretrained(folder)
    make_tokenizer().save_pretrained(folder)
    monkeypatch.setenv("HF_REFT_CHAT_MODEL", str(folder))
    local = get_chat_backend()
    assert isinstance(local, TransformersChatBackend) and get_chat_backend() is local  # cached per process
    assert get_chat_backend(local) is local
    with pytest.raises(ValueError, match="backend must be"):
        get_chat_backend(backend="magic")
    with pytest.raises(ValueError, match="is a URL"):
        get_chat_backend("http://127.0.0.1:9/v1", backend="transformers")


# --------------------------------------------------------------------------- retries against a real HTTP server
class _Flaky(BaseHTTPRequestHandler):
    """An OpenAI-compatible endpoint that fails with the scripted statuses, then answers."""

    script: ClassVar[list[int]] = []
    requests: ClassVar[list[dict]] = []
    authorizations: ClassVar[list[str | None]] = []

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(body)
        type(self).authorizations.append(self.headers.get("Authorization"))
        status = type(self).script.pop(0) if type(self).script else 200
        if status != 200:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Retry-After", "0")
            self.end_headers()
            self.wfile.write(json.dumps({"error": f"scripted {status}"}).encode())
            return
        if body.get("stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for piece in ["Paris ", "is the ", "capital."]:
                chunk = {"id": "1", "object": "chat.completion.chunk", "created": 0, "model": "m",
                         "choices": [{"index": 0, "delta": {"content": piece}}]}  # fmt: skip
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")
            return
        answer = {"id": "1", "object": "chat.completion", "created": 0, "model": body.get("model") or "m",
                  "choices": [{"index": 0, "finish_reason": "stop",
                               "message": {"role": "assistant", "content": "Paris is the capital."}}]}  # fmt: skip
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def flaky() -> Iterator[tuple[str, type[_Flaky]]]:
    handler = type("Handler", (_Flaky,), {"script": [], "requests": [], "authorizations": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", handler
    server.shutdown()
    server.server_close()


def test_remote_backend_retries_transient_failures(flaky):
    url, handler = flaky
    backend = OpenAICompatibleBackend(url, "served-name", timeout=10, backoff=0.01)
    handler.script = [503, 429]
    assert backend.chat(QUESTION, max_new_tokens=8, stop=[" capital"]) == "Paris is the"
    assert len(handler.requests) == 3
    assert handler.requests[-1]["model"] == "served-name" and handler.requests[-1]["max_tokens"] == 8
    assert handler.requests[-1]["messages"] == QUESTION
    handler.script = [502]
    assert "".join(backend.stream(QUESTION, max_new_tokens=8)) == "Paris is the capital."
    assert handler.requests[-1]["stream"] is True and len(handler.requests) == 5


def test_remote_backend_gives_up_with_a_clear_error(flaky):
    url, handler = flaky
    handler.script = [401]
    backend = OpenAICompatibleBackend(url, timeout=10, backoff=0.01, max_retries=3)
    with pytest.raises(ChatBackendError, match=r"(?s)answered HTTP 401.*--api-key"):
        backend.chat(QUESTION)
    assert len(handler.requests) == 1  # not retried
    handler.script = [503] * 5
    with pytest.raises(ChatBackendError, match=r"answered HTTP 503 after 4 attempts"):
        backend.chat(QUESTION)
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    unreachable = OpenAICompatibleBackend(dead, timeout=5, backoff=0.01, max_retries=1)
    with pytest.raises(ChatBackendError, match="could not be reached after 2 attempts"):
        unreachable.chat(QUESTION)
    with pytest.raises(ChatBackendError, match="could not be reached"):
        list(unreachable.stream(QUESTION))


def test_a_hugging_face_token_goes_only_to_hugging_face(flaky, monkeypatch):
    url, handler = flaky
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    get_chat_backend(url).chat(QUESTION, max_new_tokens=4)
    assert handler.authorizations[-1] is None  # the server gets no key, and never the Hugging Face token
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    get_chat_backend(url).chat(QUESTION, max_new_tokens=4)
    assert handler.authorizations[-1] == "Bearer sk-from-env"
    get_chat_backend(url, api_key="sk-given").chat(QUESTION, max_new_tokens=4)
    assert handler.authorizations[-1] == "Bearer sk-given"
    assert "hf_secret" not in str(handler.authorizations)
    with pytest.raises(ValueError, match="would send it your Hugging Face token"):
        InferenceClientBackend(base_url=url)


def test_a_local_server_works_offline_and_offline_hub_errors_are_not_retried(flaky, monkeypatch):
    url, _ = flaky
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert get_chat_backend(url).chat(QUESTION, max_new_tokens=4) == "Paris is the capital."
    sleeps = []
    monkeypatch.setattr(time, "sleep", sleeps.append)
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    remote = InferenceClientBackend("org/model", token="hf_test", max_retries=4, backoff=0.01)
    with pytest.raises(ChatBackendError):
        remote.chat(QUESTION)
    assert sleeps == []  # failed at once: offline is not a transient error


def test_a_hub_id_without_a_token_is_announced_before_it_downloads(monkeypatch, caplog):
    from hf_reft.reftool.chat import selection

    monkeypatch.setattr(selection, "_token", lambda token: None)
    monkeypatch.setattr(selection, "_local_backend", lambda model: f"local {model}")
    with caplog.at_level("WARNING"):
        assert get_chat_backend("org/some-model") == "local org/some-model"
    assert "No Hugging Face token: downloading org/some-model" in caplog.text


# --------------------------------------------------------------------------- end to end with a real model
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def transformers_serve() -> Iterator[str]:
    """`transformers serve` on 127.0.0.1 running the offline SmolLM2-135M-Instruct (no network)."""
    from huggingface_hub import get_session

    from hf_reft.models import default_chat_model_path

    model = str(default_chat_model_path())
    port = _free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "transformers.cli.transformers", "serve", model, "--host", "127.0.0.1",
           "--port", str(port), "--device", "cpu", "--log-level", "warning"]  # fmt: skip
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"transformers serve exited early:\n{process.stdout.read()}")
            try:
                if get_session().get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except Exception:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("transformers serve did not start within 120 s")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.slow
def test_remote_backend_end_to_end_with_transformers_serve(transformers_serve):
    """The OpenAI-compatible backend against a real server (transformers serve) running SmolLM2 on 127.0.0.1."""
    from hf_reft.models import default_chat_model_path

    remote = get_chat_backend(transformers_serve, served_model=str(default_chat_model_path()), timeout=60)
    assert isinstance(remote, OpenAICompatibleBackend)
    answer = remote.chat(QUESTION, max_new_tokens=12)
    assert "Paris" in answer
    streamed = list(remote.stream(QUESTION, max_new_tokens=12))
    assert len(streamed) > 1 and "".join(streamed) == answer  # server-sent events, same greedy text
    # Same model, same chat template, greedy: the local backend writes the same words.
    local = TransformersChatBackend()
    assert local.name == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert local.chat(QUESTION, max_new_tokens=12) == answer


def test_cli_chat(tmp_path, capsys):
    from hf_reft.cli import main

    folder = tmp_path / "tiny-chat"
    LlamaForCausalLM(tiny_config("llama")).save_pretrained(folder)
    make_tokenizer().save_pretrained(folder)
    assert main(["reftool", "chat", "Hello", "--model", str(folder), "--max-new-tokens", "5"]) == 0
    plain = capsys.readouterr()
    assert f"[transformers: {folder}]" in plain.err
    assert (
        main(["reftool", "chat", "Hello", "--model", str(folder), "--max-new-tokens", "5", "--stream"]) == 0
    )
    assert capsys.readouterr().out == plain.out
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    assert main(["reftool", "chat", "Hello", "--model", dead, "--max-retries", "0", "--timeout", "5"]) == 1
    assert "could not be reached" in capsys.readouterr().err
