"""An adapter's config.json cannot turn on remote code or pass arbitrary loader arguments to its base
(issue 20, finding 1): only allow-listed keys with checked values; ``trust_remote_code`` only from the caller."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import LlamaForCausalLM

import hf_reft
from hf_reft.representation import ReftModelForCausalLM

from tiny_models import tiny_config

EVIL_CODE = """
from pathlib import Path
Path({marker!r}).write_text("remote code ran")
from transformers import LlamaConfig, LlamaForCausalLM
class EvilConfig(LlamaConfig):
    model_type = "evil"
class EvilModel(LlamaForCausalLM):
    config_class = EvilConfig
"""


@pytest.fixture()
def adapter(tmp_path):
    """A saved adapter over a base folder whose config points at code of its own (``auto_map``)."""
    torch.manual_seed(0)
    base_dir = tmp_path / "base"
    LlamaForCausalLM(tiny_config("llama")).save_pretrained(base_dir)
    marker = tmp_path / "pwned"
    (base_dir / "evil.py").write_text(EVIL_CODE.format(marker=str(marker)))
    config = json.loads((base_dir / "config.json").read_text())
    config["auto_map"] = {"AutoConfig": "evil.EvilConfig", "AutoModelForCausalLM": "evil.EvilModel"}
    (base_dir / "config.json").write_text(json.dumps(config))
    model = hf_reft.get_reft_model(
        LlamaForCausalLM(tiny_config("llama")), hf_reft.ReftConfig(layers=[1], positions="l1", rank=2)
    )
    model.config.base_model_name_or_path = str(base_dir)
    model.save_pretrained(tmp_path / "adapter")
    return tmp_path / "adapter", marker


def _edit_kwargs(adapter_dir, **kwargs):
    path = adapter_dir / "config.json"
    config = json.loads(path.read_text())
    config["base_model_kwargs"] = {**config["base_model_kwargs"], **kwargs}
    path.write_text(json.dumps(config))


@pytest.mark.parametrize("key", ["trust_remote_code", "code_revision", "device_map", "token", "cache_dir"])
def test_a_file_cannot_pass_loader_options(adapter, key):
    adapter_dir, marker = adapter
    _edit_kwargs(adapter_dir, **{key: True})
    with pytest.raises(
        ValueError, match=rf"base_model_kwargs\['{key}'\] is not allowed.*from_pretrained\(adapter, {key}="
    ):
        ReftModelForCausalLM.from_pretrained(adapter_dir)
    assert not marker.exists()  # the base's own code never ran


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("dtype", "nonexistent"),
        ("dtype", "load"),
        ("gguf_file", "/etc/passwd"),
        ("subfolder", "../up"),
        ("pad_token_id", -1),
    ],
)
def test_allowed_keys_have_checked_values(adapter, key, value):
    adapter_dir, _ = adapter
    _edit_kwargs(adapter_dir, **{key: value})
    with pytest.raises(ValueError, match=rf"base_model_kwargs\['{key}'\] must be"):
        ReftModelForCausalLM.from_pretrained(adapter_dir)


def test_remote_code_only_when_the_caller_trusts_it(adapter):
    adapter_dir, marker = adapter
    # without the caller's trust the base loads with transformers' own code; the folder's code never runs
    assert type(ReftModelForCausalLM.from_pretrained(adapter_dir).model) is LlamaForCausalLM
    assert not marker.exists()
    # the caller may trust it: the argument reaches the base's loader
    model = ReftModelForCausalLM.from_pretrained(adapter_dir, trust_remote_code=True)
    assert marker.exists() and type(model.model).__name__ == "EvilModel"
