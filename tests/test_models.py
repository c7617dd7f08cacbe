"""The offline default chat model: converted once, cached across processes."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from hf_reft import models


def test_cache_root_honours_env(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_REFT_CACHE", str(tmp_path))
    assert models.cache_root() == tmp_path
    monkeypatch.delenv("HF_REFT_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert models.cache_root() == tmp_path / "xdg" / "hf-reft"


def test_override_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_REFT_DEFAULT_MODEL", str(tmp_path))
    assert models.default_chat_model_path() == tmp_path


def test_only_the_cache_conversion_is_an_offline_copy_of_the_hub_model(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_REFT_CACHE", str(tmp_path))
    converted = tmp_path / "models" / "SmolLM2-135M-Instruct"
    assert models.offline_copy_of(converted) == models.DEFAULT_CHAT_MODEL_HUB_ID
    assert models.offline_copy_of(tmp_path / "my-own-model") is None
    monkeypatch.setenv("HF_REFT_DEFAULT_MODEL", str(tmp_path / "my-own-model"))  # an override is the user's
    assert models.offline_copy_of(models.default_chat_model_path()) is None
    assert models.offline_copy_path("someone/else", models.OFFLINE_DEFAULT_COPY) is None
    with pytest.raises(ValueError, match="Unknown offline copy 'mystery'"):
        models.offline_copy_path(models.DEFAULT_CHAT_MODEL_HUB_ID, "mystery")


def test_load_any_local_model(tmp_path):
    from transformers import AutoModelForCausalLM

    from tiny_models import make_tokenizer, tiny_config

    AutoModelForCausalLM.from_config(tiny_config("llama")).save_pretrained(tmp_path)
    make_tokenizer().save_pretrained(tmp_path)
    model, tokenizer = models.load_chat_model(tmp_path)
    assert type(model).__name__ == "LlamaForCausalLM" and not model.training
    assert tokenizer("hello")["input_ids"]


@pytest.mark.slow
def test_default_model_converts_once_and_loads_fast_in_a_fresh_process():
    """The conversion cache survives between processes; a second load takes seconds."""
    path = models.default_chat_model_path()
    assert (path / "model.safetensors").is_file() and (path / "tokenizer.json").is_file()
    code = (
        "import time; t=time.time(); import hf_reft;"
        "m, tok = hf_reft.default_chat_model(); print(type(m).__name__, m.config.num_hidden_layers,"
        " m.config.hidden_size, 'quantization_config' in m.config.to_dict(), round(time.time()-t, 1))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ
    )
    name, layers, hidden, quantized, _ = out.stdout.split()
    assert (name, layers, hidden, quantized) == ("LlamaForCausalLM", "30", "576", "False")
    assert "Converting" not in out.stderr  # loaded from the safetensors cache, not the GGUF


@pytest.mark.slow
def test_default_model_chats():
    model, tokenizer = models.default_chat_model()
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}],
        tokenize=False,
        add_generation_prompt=True,
    )
    inputs = tokenizer(text, return_tensors="pt")
    out = model.generate(**inputs, max_new_tokens=12, do_sample=False)
    reply = tokenizer.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    assert "Paris" in reply
