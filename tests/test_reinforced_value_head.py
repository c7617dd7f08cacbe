"""PolicyWithValueHead: forward shapes, and save / load / push keeping policy and value head together."""

from __future__ import annotations

import pytest
import torch
from huggingface_hub import ModelCard
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM

import hf_reft
from hf_reft.reinforced.value_head import VALUE_HEAD_FILE, PolicyWithValueHead, ValueHead

from tiny_models import make_tokenizer, tiny_config


def policy_with_head(seed: int = 0) -> PolicyWithValueHead:
    torch.manual_seed(seed)
    model = PolicyWithValueHead(AutoModelForCausalLM.from_config(tiny_config("llama")))
    with torch.no_grad():  # a trained-looking head (a new one is all zeros)
        model.value_head.summary.weight.normal_()
        model.value_head.summary.bias.fill_(0.25)
    return model


def same_outputs(a: PolicyWithValueHead, b: PolicyWithValueHead) -> None:
    ids = torch.tensor([[1, 5, 9, 13, 2], [1, 7, 7, 7, 7]])
    out_a, out_b = a(ids), b(ids)
    torch.testing.assert_close(out_a.logits, out_b.logits)
    torch.testing.assert_close(out_a.value, out_b.value)


def test_forward_shapes_and_a_new_head_starts_at_zero():
    torch.manual_seed(0)
    policy = AutoModelForCausalLM.from_config(tiny_config("llama"))
    before = {k: v.clone() for k, v in policy.state_dict().items()}
    model = PolicyWithValueHead(policy)
    out = model(torch.tensor([[1, 5, 9]]), attention_mask=torch.ones(1, 3, dtype=torch.long))
    assert out.logits.shape == (1, 3, policy.config.vocab_size) and out.value.shape == (1, 3)
    assert out.value.dtype == torch.float32 and torch.all(out.value == 0)
    # wrapping initialises nothing of the policy
    assert all(torch.equal(before[k], v) for k, v in policy.state_dict().items())
    assert model.config is not policy.config  # trainer settings on the wrapper stay off the policy
    with pytest.raises(ValueError, match="hidden size"):
        PolicyWithValueHead(policy, ValueHead(32))


def test_wrapping_a_loreft_policy_keeps_its_interventions():
    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_config(tiny_config("llama"))
    policy = hf_reft.get_reft_model(base, hf_reft.ReftConfig(layers=[1], positions="f1+l1", rank=2))
    before = {k: v.clone() for k, v in policy.state_dict().items()}
    model = PolicyWithValueHead(policy)
    assert model.policy_takes_prompt_lengths and model.value_head.hidden_size == 64
    assert all(torch.equal(before[k], v) for k, v in policy.state_dict().items())
    out = model(torch.tensor([[1, 5, 9, 4]]), prompt_lengths=torch.tensor([3]))
    assert out.value.shape == (1, 4)


def test_save_and_load_round_trip(tmp_path):
    model = policy_with_head()
    model.save_pretrained(
        tmp_path / "ppo", tokenizer=make_tokenizer(), card_context={"cot_format": "Python program"}
    )
    files = {p.name for p in (tmp_path / "ppo").iterdir()}
    assert {"config.json", "model.safetensors", VALUE_HEAD_FILE, "README.md", "tokenizer.json"} <= files
    assert not any(name.endswith((".bin", ".pt", ".pkl")) for name in files)

    loaded = PolicyWithValueHead.from_pretrained(tmp_path / "ppo", require_value_head=True)
    same_outputs(model, loaded)
    # the folder is also an ordinary causal LM: the policy alone loads with the Auto class
    policy = AutoModelForCausalLM.from_pretrained(tmp_path / "ppo")
    torch.testing.assert_close(
        policy(torch.tensor([[1, 5]])).logits, model.policy(torch.tensor([[1, 5]])).logits
    )

    card = ModelCard.load(tmp_path / "ppo" / "README.md")
    assert card.data.library_name == "hf-reft" and "value-head" in card.data.tags
    assert "Python program" in card.text and VALUE_HEAD_FILE in card.text

    # in-place loading (Trainer resume) restores both parts
    other = policy_with_head(seed=1)
    other.load_checkpoint(tmp_path / "ppo")
    same_outputs(model, other)


def test_warm_up_checkpoint_gets_a_new_head_unless_one_is_required(tmp_path):
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(tiny_config("llama")).save_pretrained(tmp_path / "warm-up")
    model = PolicyWithValueHead.from_pretrained(tmp_path / "warm-up")
    assert torch.all(model.value_head.summary.weight == 0)
    with pytest.raises(FileNotFoundError, match="require_value_head=False"):
        PolicyWithValueHead.from_pretrained(tmp_path / "warm-up", require_value_head=True)
    with pytest.raises(FileNotFoundError, match="not a PPO checkpoint"):
        model.load_checkpoint(tmp_path / "warm-up")


def test_mismatched_head_file_is_refused(tmp_path):
    model = policy_with_head()
    model.save_pretrained(tmp_path / "ppo")
    save_file(
        {"summary.weight": torch.zeros(1, 32), "summary.bias": torch.zeros(1)},
        tmp_path / "ppo" / VALUE_HEAD_FILE,
    )
    with pytest.raises(ValueError, match="hidden size 64"):
        PolicyWithValueHead.from_pretrained(tmp_path / "ppo")


def test_failed_save_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    model = policy_with_head()
    model.save_pretrained(tmp_path / "ppo")
    before = (tmp_path / "ppo" / VALUE_HEAD_FILE).read_bytes()
    with torch.no_grad():
        model.value_head.summary.bias.fill_(9.0)

    def broken_card(**context):
        raise RuntimeError("disk full")

    monkeypatch.setattr(model, "model_card", broken_card)
    with pytest.raises(RuntimeError, match="disk full"):
        model.save_pretrained(tmp_path / "ppo")
    assert (tmp_path / "ppo" / VALUE_HEAD_FILE).read_bytes() == before


def test_push_to_hub_and_load_back(hub, tmp_path):
    model = policy_with_head()
    repo_id = hub.repo_id("tiny-reinforced")
    model.push_to_hub(repo_id, tokenizer=make_tokenizer(), card_context={"cot_format": "natural language"})
    files = set(hub.api.list_repo_files(repo_id))
    assert {"config.json", "model.safetensors", VALUE_HEAD_FILE, "README.md", "tokenizer.json"} <= files

    loaded = PolicyWithValueHead.from_pretrained(repo_id, require_value_head=True)
    same_outputs(model, loaded)
    card = ModelCard.load(repo_id)
    assert repo_id in card.text and "natural language" in card.text
    # a fresh process sees the same thing through the Hub alone
    hub.run_python(
        "from hf_reft.reinforced.value_head import PolicyWithValueHead\n"
        f"m = PolicyWithValueHead.from_pretrained({repo_id!r}, require_value_head=True)\n"
        "assert float(m.value_head.summary.bias) == 0.25\n"
    )
