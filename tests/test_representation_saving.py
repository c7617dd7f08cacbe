"""Adapters on disk: config fields, exact reload and resume, Auto classes, and one clear error per bad input."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
    BertForSequenceClassification,
    LlamaForCausalLM,
    LlamaForSequenceClassification,
)

import hf_reft
from hf_reft.representation import ReftModelForCausalLM, ReftModelForSequenceClassification

from tiny_models import tiny_config

IDS = torch.tensor([[5, 9, 17, 33, 61, 7, 8, 0], [12, 40, 41, 42, 43, 44, 45, 46]])
MASK = torch.tensor([[1, 1, 1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1, 1, 1]])
LABELS = torch.tensor([[-100, -100, -100, -100, 61, 7, 8, -100], [-100, -100, -100, 42, 43, 44, 45, 46]])


def saved_base(tmp_path, arch="llama", seed=0, **overrides):
    """Save a tiny random base to a folder and load it back, so that it has a name_or_path."""
    torch.manual_seed(seed)
    folder = tmp_path / f"base-{arch}-{seed}"
    if arch == "bert":
        BertForSequenceClassification(tiny_config("bert", num_labels=3, **overrides)).save_pretrained(folder)
        return BertForSequenceClassification.from_pretrained(folder)
    if arch == "llama-cls":
        LlamaForSequenceClassification(tiny_config("llama", num_labels=2, **overrides)).save_pretrained(
            folder
        )
        return LlamaForSequenceClassification.from_pretrained(folder)
    LlamaForCausalLM(tiny_config("llama", **overrides)).save_pretrained(folder)
    return LlamaForCausalLM.from_pretrained(folder)


def adapter(base, seed=1, **config):
    torch.manual_seed(seed)
    config.setdefault("layers", [1, 3])
    config.setdefault("positions", "f2+l2")
    return hf_reft.get_reft_model(base, hf_reft.ReftConfig(**config))


def logits(model, **extra):
    with torch.no_grad():
        return model(input_ids=IDS, attention_mask=MASK, **extra).logits


# ---------------------------------------------------------------------------- files and fields
def test_save_writes_config_safetensors_and_card(tmp_path):
    model = adapter(saved_base(tmp_path), share_weights=True, rank=3)
    model.card_extra = "## Evaluation\n\nheld-out accuracy 0.5"
    model.save_pretrained(tmp_path / "adapter")
    files = {p.name for p in (tmp_path / "adapter").iterdir()}
    assert files == {"config.json", "model.safetensors", "README.md"}
    tensors = load_file(tmp_path / "adapter" / "model.safetensors")
    assert set(tensors) == set(model.state_dict())
    assert "interventions.layer_1.shared.rotate.parametrizations.weight.original" in tensors
    assert all(key.startswith("interventions.") for key in tensors)
    card = (tmp_path / "adapter" / "README.md").read_text()
    trainable, _ = model.get_nb_trainable_parameters()
    assert "library_name: hf-reft" in card and f"{trainable:,}" in card and "f2+l2" in card
    assert "| layers | 1, 3 (block_output) |" in card and "| rank | 3 |" in card
    assert "AutoModelForCausalLM.from_pretrained" in card
    assert "pip install hf-reft" in card and "import hf_reft" in card
    assert "shared by the first and the last positions" in card
    assert card.rstrip().endswith("held-out accuracy 0.5")


@pytest.mark.parametrize(
    ("positions", "share", "wording"),
    [
        ("f2+l2", False, "one intervention per layer for the first positions and another for the last"),
        ("l2", False, "(last 2 prompt tokens), one intervention per layer |"),
        ("f3", False, "(first 3 prompt tokens), one intervention per layer |"),
    ],
)
def test_the_card_words_each_position_spec_right(tmp_path, positions, share, wording):
    model = adapter(saved_base(tmp_path), positions=positions, share_weights=share)
    assert wording in model.model_card().text


def test_every_config_field_is_persisted_and_restored(tmp_path):
    config = hf_reft.ReftConfig(
        layers=[0, 2],
        layers_module="model.layers",
        component="mlp",
        positions="f3+l1",
        rank=5,
        intervention="direft",
        share_weights=True,
        dropout=0.25,
        activation="gelu",
        intervention_dtype="bfloat16",
        base_model_name_or_path="org/base",
        base_model_revision="a" * 40,
        base_model_kwargs={"gguf_file": "model.gguf", "dtype": "bfloat16"},
        hidden_size=64,
    )
    config.save_pretrained(tmp_path)
    stored = json.loads((tmp_path / "config.json").read_text())
    again = AutoConfig.from_pretrained(tmp_path)
    assert isinstance(again, hf_reft.ReftConfig)
    for field in (
        "format_version",
        "task",
        "base_model_name_or_path",
        "base_model_revision",
        "base_model_kwargs",
        "hidden_size",
        "layers",
        "layers_module",
        "component",
        "positions",
        "rank",
        "intervention",
        "share_weights",
        "dropout",
        "activation",
        "intervention_dtype",
    ):
        assert field in stored, field
        assert getattr(again, field) == getattr(config, field), field
    # defaults are written too
    hf_reft.ReftConfig().save_pretrained(tmp_path / "defaults")
    assert json.loads((tmp_path / "defaults" / "config.json").read_text())["share_weights"] is False


def test_reload_and_resume_are_exact(tmp_path):
    model = adapter(saved_base(tmp_path))
    assert model.config.base_model_name_or_path == str((tmp_path / "base-llama-0").resolve())
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=0.05)
    for _ in range(3):
        optimizer.zero_grad()
        model(input_ids=IDS, attention_mask=MASK, labels=LABELS).loss.backward()
        optimizer.step()
    model.eval()
    model.save_pretrained(tmp_path / "adapter")
    again = ReftModelForCausalLM.from_pretrained(tmp_path / "adapter")
    assert not again.training
    assert (logits(model) - logits(again)).abs().max() <= 1e-6
    for key, value in model.state_dict().items():
        assert torch.equal(value, again.state_dict()[key]), key
    rotation = again.interventions["layer_1"]["prefix"].rotate.weight
    assert torch.allclose(rotation @ rotation.T, torch.eye(model.config.rank), atol=1e-5)
    # resuming: one more identical step on both keeps them identical
    for m in (model, again):
        m.train()
        opt = torch.optim.SGD([p for p in m.parameters() if p.requires_grad], lr=0.1)
        opt.zero_grad()
        m(input_ids=IDS, attention_mask=MASK, labels=LABELS).loss.backward()
        opt.step()
    for key, value in model.state_dict().items():
        assert torch.equal(value, again.state_dict()[key]), key


def test_auto_classes_load_both_kinds_of_adapter(tmp_path):
    lm = adapter(saved_base(tmp_path))
    lm.save_pretrained(tmp_path / "lm")
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path / "lm")
    assert isinstance(loaded, ReftModelForCausalLM)
    assert torch.equal(logits(lm.eval()), logits(loaded))

    for arch in ("bert", "llama-cls"):
        extra = {"pad_token_id": 0} if arch == "llama-cls" else {}
        cls_model = adapter(saved_base(tmp_path, arch, **extra))
        assert isinstance(cls_model, ReftModelForSequenceClassification)
        head = "classifier" if arch == "bert" else "score"
        assert f"model.{head}.weight" in cls_model.state_dict()
        with torch.no_grad():
            cls_model.model.get_submodule(head).weight.add_(0.5)  # a trained head must be restored
        cls_model.save_pretrained(tmp_path / arch)
        again = AutoModelForSequenceClassification.from_pretrained(tmp_path / arch)
        assert isinstance(again, ReftModelForSequenceClassification)
        assert torch.equal(logits(cls_model.eval()), logits(again))
        with pytest.raises(
            ValueError, match=r"sequence_classification adapter.*AutoModelForSequenceClassification"
        ):
            AutoModelForCausalLM.from_pretrained(tmp_path / arch)
    with pytest.raises(ValueError, match=r"causal_lm adapter.*AutoModelForCausalLM"):
        AutoModelForSequenceClassification.from_pretrained(tmp_path / "lm")


def test_explicit_base_and_loader_kwargs(tmp_path):
    base = saved_base(tmp_path)
    model = adapter(base)
    model.save_pretrained(tmp_path / "adapter")
    again = AutoModelForCausalLM.from_pretrained(tmp_path / "adapter", base_model=base)
    assert again.get_base_model() is base
    half = AutoModelForCausalLM.from_pretrained(tmp_path / "adapter", dtype=torch.bfloat16)
    assert half.get_base_model().dtype == torch.bfloat16
    assert next(half.interventions.parameters()).dtype == torch.float32


def test_trainer_style_state_dict_round_trip(tmp_path):
    model = adapter(saved_base(tmp_path))
    other = adapter(saved_base(tmp_path), seed=7)
    result = other.load_state_dict(model.state_dict(), strict=False)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert torch.equal(logits(model), logits(other))
    result = other.load_state_dict({"something.else": torch.zeros(1)}, strict=False)
    assert result.unexpected_keys == ["something.else"]


# ---------------------------------------------------------------------------- bad input: one clear error each
def test_adapter_on_a_base_with_another_hidden_size(tmp_path):
    adapter(saved_base(tmp_path)).save_pretrained(tmp_path / "adapter")
    torch.manual_seed(0)
    narrow = LlamaForCausalLM(
        tiny_config("llama", hidden_size=32, num_attention_heads=2, num_key_value_heads=1)
    )
    with pytest.raises(ValueError, match=r"built for hidden size 64.*has hidden size 32"):
        ReftModelForCausalLM.from_pretrained(tmp_path / "adapter", base_model=narrow)


def test_layer_index_out_of_range(tmp_path):
    with pytest.raises(ValueError, match=r"Layer index 4 is out of range.*4 layers \(0-3\)"):
        adapter(saved_base(tmp_path), layers=[1, 4])
    with pytest.raises(ValueError, match=r"non-negative integer layer indices"):
        hf_reft.ReftConfig(layers=[-1])


def test_rank_not_below_hidden_size(tmp_path):
    with pytest.raises(ValueError, match=r"rank 64 must be smaller than the base's hidden size 64"):
        adapter(saved_base(tmp_path), rank=64)
    with pytest.raises(ValueError, match=r"rank must be a positive integer"):
        hf_reft.ReftConfig(rank=0)


def test_unknown_intervention_kind():
    with pytest.raises(ValueError, match=r"Unknown intervention kind 'lora'; choose one of \['consreft'"):
        hf_reft.ReftConfig(intervention="lora")


def test_malformed_position_spec():
    with pytest.raises(ValueError, match=r"Malformed position spec 'first7'.*'f7\+l7'"):
        hf_reft.ReftConfig(positions="first7")


def test_missing_and_corrupt_weight_files(tmp_path):
    adapter(saved_base(tmp_path)).save_pretrained(tmp_path / "adapter")
    weights = tmp_path / "adapter" / "model.safetensors"
    good = weights.read_bytes()
    weights.unlink()
    with pytest.raises(FileNotFoundError, match=r"model.safetensors are missing.*save_pretrained"):
        ReftModelForCausalLM.from_pretrained(tmp_path / "adapter")
    weights.write_bytes(good[: len(good) // 2])
    with pytest.raises(OSError, match=r"corrupt or not a safetensors file.*force_download=True"):
        ReftModelForCausalLM.from_pretrained(tmp_path / "adapter")
    weights.write_bytes(b"not a safetensors file at all")
    with pytest.raises(OSError, match=r"corrupt or not a safetensors file"):
        ReftModelForCausalLM.from_pretrained(tmp_path / "adapter")
    # weights of another adapter (other rank) under this config
    adapter(saved_base(tmp_path), rank=3).save_pretrained(tmp_path / "rank3")
    weights.write_bytes((tmp_path / "rank3" / "model.safetensors").read_bytes())
    with pytest.raises(RuntimeError, match=r"has shape .* another hidden size or rank"):
        ReftModelForCausalLM.from_pretrained(tmp_path / "adapter")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"no config.json"):
        ReftModelForCausalLM.from_pretrained(tmp_path / "empty")


def test_missing_base_model_folder(tmp_path):
    base = saved_base(tmp_path)
    adapter(base).save_pretrained(tmp_path / "adapter")
    (tmp_path / "base-llama-0").rename(tmp_path / "moved")
    with pytest.raises(FileNotFoundError, match=r"base model folder .* does not exist.*base_model="):
        ReftModelForCausalLM.from_pretrained(tmp_path / "adapter")
    assert (
        ReftModelForCausalLM.from_pretrained(tmp_path / "adapter", base_model=base).get_base_model() is base
    )


def test_newer_format_version_is_refused(tmp_path):
    hf_reft.ReftConfig().save_pretrained(tmp_path)
    stored = json.loads((tmp_path / "config.json").read_text())
    stored["format_version"] = 99
    (tmp_path / "config.json").write_text(json.dumps(stored))
    with pytest.raises(ValueError, match=r"format version 99.*Upgrade hf-reft"):
        AutoConfig.from_pretrained(tmp_path)


def test_labels_without_prompt_tokens_are_refused(tmp_path):
    model = adapter(saved_base(tmp_path))
    labels = LABELS.clone()
    labels[1] = IDS[1]  # example 1: every token has a label, so it has no prompt
    with pytest.raises(ValueError, match=r"Example\(s\) \[1\] have no prompt tokens.*-100"):
        model(input_ids=IDS, attention_mask=MASK, labels=labels)


def test_merge_and_export_are_refused_with_the_reason(tmp_path):
    model = adapter(saved_base(tmp_path))
    for method in (model.merge_and_unload, model.merge_adapter):
        with pytest.raises(NotImplementedError, match=r"can't be merged into the base weights"):
            method()
    with pytest.raises(RuntimeError, match=r"can't be traced or exported"):
        torch.jit.trace(model, (IDS, MASK), strict=False)
    with pytest.raises(ValueError, match=r"safetensors only"):
        model.save_pretrained(tmp_path / "x", safe_serialization=False)
    base = model.unload()
    assert isinstance(base, LlamaForCausalLM)


def test_an_adapter_saved_with_its_tokenizer_runs_in_a_pipeline(tmp_path):
    from transformers import pipeline

    from tiny_models import make_tokenizer

    model = adapter(saved_base(tmp_path))
    model.save_pretrained(tmp_path / "adapter", tokenizer=make_tokenizer())
    assert (tmp_path / "adapter" / "tokenizer.json").is_file()
    generate = pipeline("text-generation", model=str(tmp_path / "adapter"))
    assert isinstance(generate.model, hf_reft.ReftModelForCausalLM)
    (out,) = generate("Question: 1 and 2?", max_new_tokens=3, do_sample=False)
    assert out["generated_text"].startswith("Question: 1 and 2?")
