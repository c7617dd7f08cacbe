"""PPO with a LoReFT policy over a frozen base (issue 8.1): reward rises, only the interventions and
the value head move, and the base is held in memory exactly once (the reference shares it)."""

from __future__ import annotations

import gc

import pytest
import torch
from datasets import Dataset
from transformers import AutoModelForCausalLM

import hf_reft
from hf_reft.reinforced.configuration import ReinforcedConfig
from hf_reft.reinforced.reference_policy import InterventionReference
from hf_reft.reinforced.trainer import ReinforcedTrainer
from hf_reft.reinforced.value_head import PolicyWithValueHead

from tiny_models import make_tokenizer, tiny_config

#: Reward 1 when the first sampled token is one of these 32 of the 320 ids (about 10 % at random init).
TARGET = set(range(3, 35))
#: A wider initialisation than the default 0.02: the final norm bounds what a residual-stream edit can do to
#: the logits, so a tiny base needs output weights large enough for its interventions to steer it.
INIT = 0.15


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def first_token_reward(prompts, completions, completion_ids, **columns):
    return [1.0 if ids[0] in TARGET else 0.0 for ids in completion_ids]


def questions(n: int = 64) -> Dataset:
    return Dataset.from_dict({"prompt": [f"Question: {i}" for i in range(n)], "answer_value": ["8"] * n})


def live_storages(shape: torch.Size) -> set[int]:
    """Data pointers of every live tensor of ``shape`` (parameters included): copies of the base show up here."""
    gc.collect()
    found = set()
    for obj in gc.get_objects():
        try:
            if type(obj) in (torch.Tensor, torch.nn.Parameter) and obj.shape == shape:
                found.add(obj.untyped_storage().data_ptr())
        except Exception:  # objects that refuse isinstance/shape checks
            continue
    return found


def loreft_trainer(tmp_path, *, lr: float, steps: int, seed: int = 0):
    torch.manual_seed(seed)
    base = AutoModelForCausalLM.from_config(tiny_config("llama", initializer_range=INIT))
    policy = hf_reft.get_reft_model(base, hf_reft.ReftConfig(layers=[1, 2, 3], positions="l1", rank=4))
    config = ReinforcedConfig(
        output_dir=str(tmp_path),
        per_device_train_batch_size=4,
        samples_per_question=4,
        num_mini_batches=2,
        max_new_tokens=2,
        max_steps=steps,
        learning_rate=lr,
        kl_coef=0.01,
        vf_coef=0.1,
        report_to="none",
        save_strategy="no",
        use_cpu=True,
        seed=seed,
        disable_tqdm=True,
    )
    trainer = ReinforcedTrainer(
        policy,
        config,
        train_dataset=questions(),
        processing_class=make_tokenizer(),
        reward_funcs=first_token_reward,
    )
    return trainer, base, policy


def test_ppo_with_a_loreft_policy_raises_the_reward_moving_only_interventions_and_value_head(tmp_path):
    trainer, base, policy = loreft_trainer(tmp_path, lr=5e-2, steps=30)
    embed_shape = base.get_input_embeddings().weight.shape
    wrapper = trainer.model
    assert isinstance(wrapper, PolicyWithValueHead) and wrapper.policy is policy and policy.model is base
    before = {n: p.detach().clone() for n, p in wrapper.named_parameters()}
    trainable = {n for n, p in wrapper.named_parameters() if p.requires_grad}
    storages_before = live_storages(embed_shape)  # after our own snapshot above (which copies the base)
    assert trainable and all(n.startswith(("policy.interventions.", "value_head.")) for n in trainable)

    trainer.train()

    rewards = [h["reward"] for h in trainer.state.log_history if "reward" in h]
    start, end = sum(rewards[:5]) / 5, sum(rewards[-5:]) / 5
    assert start < 0.3 and end > 0.6 and end - start > 0.35, rewards
    changed = {n for n, p in wrapper.named_parameters() if not torch.equal(before[n], p)}
    assert any(n.startswith("policy.interventions.") for n in changed), changed
    assert any(n.startswith("value_head.") for n in changed), changed
    assert all(n.startswith(("policy.interventions.", "value_head.")) for n in changed), changed

    # the reference: the warm-up interventions on the very same base module, never a second base
    reference = trainer.reference
    assert isinstance(reference, InterventionReference) and reference.policy is policy
    assert reference.policy.model is base
    ref_state = reference.interventions.state_dict()
    assert ref_state and all(
        torch.equal(before[f"policy.interventions.{k}"], v) for k, v in ref_state.items()
    )
    # no tensor the size of the embedding matrix appeared during training: the base exists once
    assert live_storages(embed_shape) == storages_before
    base_ptrs = {p.data_ptr() for p in base.parameters()}
    held = {p.data_ptr() for p in wrapper.parameters()} | {
        p.data_ptr() for p in reference.interventions.parameters()
    }
    assert base_ptrs <= held
    n_base = sum(p.numel() for p in base.parameters())
    n_held = sum(
        t.numel()
        for t in {
            p.data_ptr(): p for m in (wrapper, reference.interventions) for p in m.parameters()
        }.values()
    )
    n_interventions = sum(p.numel() for p in policy.interventions.parameters())
    n_head = sum(p.numel() for p in wrapper.value_head.parameters())
    assert n_held == n_base + 2 * n_interventions + n_head


def test_the_value_head_reads_the_base_models_last_hidden_state(tmp_path):
    trainer, base, policy = loreft_trainer(tmp_path, lr=0.0, steps=1)
    wrapper = trainer.model
    torch.nn.init.normal_(wrapper.value_head.summary.weight)
    ids = torch.randint(3, 300, (2, 7))
    mask = torch.ones_like(ids)
    lengths = torch.tensor([5, 5])
    with torch.no_grad():
        out = wrapper(input_ids=ids, attention_mask=mask, prompt_lengths=lengths)
        hidden = policy(
            input_ids=ids, attention_mask=mask, prompt_lengths=lengths, output_hidden_states=True
        ).hidden_states[-1]
        plain = base(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states[-1]
    assert hidden.shape == (2, 7, base.config.hidden_size)
    torch.testing.assert_close(out.value, wrapper.value_head(hidden))
    # the interventions act on that state: it is the intervened base's, not the plain base's
    assert not torch.allclose(hidden, plain)
