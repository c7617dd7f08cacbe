"""ReinforcedTrainer on a tiny model: a synthetic task with a known optimum, logging, checkpoints, resume."""

from __future__ import annotations

import json

import pytest
import torch
from datasets import Dataset
from transformers import AutoModelForCausalLM, TrainerCallback

from hf_reft.reinforced.configuration import ReinforcedConfig
from hf_reft.reinforced.trainer import ReinforcedTrainer
from hf_reft.reinforced.value_head import VALUE_HEAD_FILE, PolicyWithValueHead

from tiny_models import make_tokenizer, tiny_config

#: Reward 1 when the first sampled token is one of these 32 of the 320 ids (about 10 % at random init).
TARGET = set(range(3, 35))
METRICS = {
    "reward",
    "reward_std",
    "accuracy",
    "kl",
    "entropy",
    "policy_loss",
    "value_loss",
    "clip_fraction",
    "value_clip_fraction",
    "approx_kl",
    "response_length",
    "truncated_fraction",
    "time_generation",
    "time_reward",
    "time_forward",
    "time_update",
    "generation_share",
}


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # deterministic and fair to a shared CPU
    yield
    torch.set_num_threads(threads)


def first_token_reward(prompts, completions, completion_ids, **columns):
    return [1.0 if ids[0] in TARGET else 0.0 for ids in completion_ids]


def questions(n: int = 64) -> Dataset:
    return Dataset.from_dict({"prompt": [f"Question: {i}" for i in range(n)], "answer_value": ["8"] * n})


def make_trainer(
    tmp_path,
    *,
    lr=1e-2,
    steps=30,
    tokenizer=None,
    reward=first_token_reward,
    reward_weights=None,
    dataset=None,
    seed=0,
    **overrides,
):
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(tiny_config("llama"))
    settings = dict(
        output_dir=str(tmp_path / "out"),
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
    settings.update(overrides)
    return ReinforcedTrainer(
        model,
        ReinforcedConfig(**settings),
        train_dataset=questions() if dataset is None else dataset,
        processing_class=tokenizer or make_tokenizer(),
        reward_funcs=reward,
        reward_weights=reward_weights,
    )


def rewards_of(trainer) -> list[float]:
    return [h["reward"] for h in trainer.state.log_history if "reward" in h]


def test_ppo_raises_the_reward_while_lr0_stays_flat(tmp_path):
    trained = make_trainer(tmp_path / "ppo")
    trained.train()
    control = make_trainer(tmp_path / "control", lr=0.0)
    before = {k: v.clone() for k, v in control.model.state_dict().items()}
    control.train()

    ppo, flat = rewards_of(trained), rewards_of(control)
    assert len(ppo) == len(flat) == 30
    start, end = sum(ppo[:5]) / 5, sum(ppo[-5:]) / 5
    assert start < 0.3 and end > 0.7 and end - start > 0.4, ppo
    # the same model with lr = 0 samples from a fixed policy: no trend, weights untouched
    assert abs(sum(flat[-10:]) / 10 - sum(flat[:10]) / 10) < 0.15, flat
    assert max(flat) < 0.5, flat
    assert all(torch.equal(before[k], v) for k, v in control.model.state_dict().items())
    # the KL to the frozen reference grows only where the policy moved
    kls = [h["kl"] for h in trained.state.log_history if "kl" in h]
    assert kls[-1] > 0.1 and all(abs(h["kl"]) < 1e-6 for h in control.state.log_history if "kl" in h)


class Recorder(TrainerCallback):
    def __init__(self):
        self.logs, self.steps = [], 0

    def on_log(self, args, state, control, logs=None, **kwargs):
        self.logs.append(dict(logs))

    def on_step_end(self, args, state, control, **kwargs):
        self.steps += 1


def test_metrics_reach_callbacks_and_checkpoints_resume_exactly(tmp_path):
    recorder = Recorder()
    full = make_trainer(tmp_path / "full", steps=4, save_strategy="steps", save_steps=2)
    full.add_callback(recorder)
    full.train()
    assert recorder.steps == 4
    step_logs = [log for log in recorder.logs if "loss" in log]
    assert len(step_logs) == 4 and all(set(log) >= METRICS for log in step_logs)
    assert all(log["response_length"] <= 2 and 0 <= log["generation_share"] <= 1 for log in step_logs)

    checkpoint = tmp_path / "full" / "out" / "checkpoint-2"
    assert (checkpoint / VALUE_HEAD_FILE).is_file() and (checkpoint / "model.safetensors").is_file()
    assert (checkpoint / "README.md").read_text().count("reinforced") >= 1
    assert not list(checkpoint.glob("training_args.bin"))
    # the checkpoint is a complete policy + value head
    restored = PolicyWithValueHead.from_pretrained(checkpoint, require_value_head=True)
    assert restored.value_head.summary.weight.abs().sum() > 0

    # resuming starts from the same warm-up model (it stays the KL reference) and loads the checkpoint
    resumed = make_trainer(tmp_path / "resumed", steps=4, save_strategy="steps", save_steps=2)
    resumed.train(resume_from_checkpoint=str(checkpoint))
    for (name, a), b in zip(
        full.model.state_dict().items(), resumed.model.state_dict().values(), strict=True
    ):
        torch.testing.assert_close(a, b, msg=name)
    assert rewards_of(resumed) == rewards_of(full)  # the history comes back with the checkpoint


def test_rollout_with_pad_equal_to_eos_keeps_the_eos_and_rewards_it(tmp_path):
    tokenizer = make_tokenizer()
    tokenizer.pad_token = tokenizer.eos_token
    eos = tokenizer.eos_token_id

    def eos_reward(prompts, completions, completion_ids, **columns):
        return [1.0 if ids[-1] == eos else 0.5 for ids in completion_ids]

    trainer = make_trainer(tmp_path, tokenizer=tokenizer, reward=eos_reward, max_new_tokens=6, kl_coef=0.0)
    # make EOS likely (~20 % a step) so that the rollout has both finished and truncated samples
    boost = torch.zeros(trainer.model.config.vocab_size)
    boost[eos] = 4.4
    trainer.model.policy.lm_head.register_forward_hook(lambda module, args, logits: logits + boost)
    torch.manual_seed(3)
    rows = [questions()[i] for i in range(4)]
    rollout = trainer.make_rollout(rows)
    tokens, mask = rollout.tokens, rollout.tokens.response_mask
    lengths = mask.sum(-1).long()
    finished = tokens.finished
    assert finished.any() and (~finished).any(), lengths
    response = tokens.response_ids
    for row in range(len(rollout)):
        last = lengths[row] - 1
        # finished samples end with EOS, which is a response token although it equals the pad id
        assert (response[row, last] == eos) == bool(finished[row])
        assert rollout.rewards[row, last] == rollout.scores[row] == (1.0 if finished[row] else 0.5)
        assert torch.all(rollout.rewards[row, :last] == 0) and torch.all(
            rollout.rewards[row, last + 1 :] == 0
        )
    assert bool((~finished).any()) and torch.all(lengths[~finished] == 6)


def test_evaluate_reports_reward_and_accuracy(tmp_path):
    trainer = make_trainer(tmp_path, steps=1)
    metrics = trainer.evaluate(questions(6))
    assert metrics["eval_samples"] == 6
    assert 0.0 <= metrics["eval_accuracy"] <= metrics["eval_reward"] + 1e-9 <= 1.0 + 1e-9
    assert trainer.state.log_history[-1]["eval_reward"] == metrics["eval_reward"]


def test_bad_configuration_is_explained(tmp_path):
    with pytest.raises(ValueError, match="num_mini_batches"):
        ReinforcedConfig(output_dir=str(tmp_path), per_device_train_batch_size=3, num_mini_batches=2)
    with pytest.raises(ValueError, match="remove_unused_columns=False"):
        ReinforcedConfig(output_dir=str(tmp_path), remove_unused_columns=True)
    with pytest.raises(ValueError, match="gradient_accumulation_steps=1"):
        ReinforcedConfig(output_dir=str(tmp_path), gradient_accumulation_steps=2)
    assert ReinforcedConfig(output_dir=str(tmp_path)).kl_coef == 0.05
    assert ReinforcedConfig(output_dir=str(tmp_path), format="program").kl_coef == 0.01
    assert ReinforcedConfig(output_dir=str(tmp_path), format="program", kl_coef=0.2).kl_coef == 0.2
    with pytest.raises(ValueError, match="prompt column 'prompt' nor a question column 'question'"):
        ReinforcedTrainer(
            AutoModelForCausalLM.from_config(tiny_config("llama")),
            ReinforcedConfig(output_dir=str(tmp_path), use_cpu=True, report_to="none"),
            train_dataset=Dataset.from_dict({"text": ["q"]}),
            processing_class=make_tokenizer(),
        )
    with pytest.raises(ValueError, match=r"one float \(or None\) per completion"):
        trainer = make_trainer(tmp_path, reward=lambda prompts, completions, **kw: [1.0])
        trainer.make_rollout([questions()[0]])


def test_training_args_are_saved_as_json(tmp_path):
    trainer = make_trainer(tmp_path, steps=1)
    trainer.train()
    trainer.save_model(str(tmp_path / "final"))
    saved = json.loads((tmp_path / "final" / "training_args.json").read_text())
    assert saved["kl_coef"] == 0.01 and saved["format"] == "nl"


def test_a_loreft_policy_slots_in_with_its_warm_up_interventions_as_reference(tmp_path):
    import hf_reft
    from hf_reft.reinforced.reference_policy import InterventionReference

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_config(tiny_config("llama"))
    policy = hf_reft.get_reft_model(base, hf_reft.ReftConfig(layers=[1, 2], positions="f1+l1", rank=2))
    frozen_base = {k: v.clone() for k, v in base.state_dict().items()}
    warm_up = {k: v.clone() for k, v in policy.state_dict().items()}
    trainer = ReinforcedTrainer(
        policy,
        ReinforcedConfig(
            output_dir=str(tmp_path),
            per_device_train_batch_size=2,
            samples_per_question=4,
            max_new_tokens=3,
            max_steps=3,
            learning_rate=1e-2,
            kl_coef=0.05,
            report_to="none",
            save_strategy="no",
            use_cpu=True,
            disable_tqdm=True,
        ),
        train_dataset=questions(8),
        processing_class=make_tokenizer(),
        reward_funcs=first_token_reward,
    )
    # the reference is the warm-up interventions on the same base: no second copy of the base
    assert isinstance(trainer.reference, InterventionReference) and trainer.reference.policy is policy
    trainer.train()
    assert all(torch.equal(frozen_base[k], v) for k, v in base.state_dict().items())
    assert any(not torch.equal(warm_up[k], v) for k, v in policy.state_dict().items())
    reference = trainer.reference.interventions.state_dict()
    assert reference and all(torch.equal(warm_up[f"interventions.{k}"], v) for k, v in reference.items())
    assert trainer.state.log_history[-2]["kl"] != 0.0  # the policy moved away from the reference


def test_conversational_prompts_and_a_trl_reward(tmp_path):
    from trl.rewards import think_format_reward

    seen = {}

    def recording_reward(prompts, completions, completion_ids, **columns):
        seen.update(prompts=prompts, completions=completions, columns=columns)
        return first_token_reward(prompts, completions, completion_ids)

    chats = [[{"role": "user", "content": f"Question: {i}"}] for i in range(8)]
    trainer = make_trainer(
        tmp_path,
        steps=1,
        reward=[recording_reward, think_format_reward],
        reward_weights=[1.0, 0.5],
        dataset=Dataset.from_dict({"prompt": chats, "answer_value": ["8"] * 8}),
        per_device_train_batch_size=2,
    )
    trainer.train()
    # rewards get TRL's conversational format: the prompts' messages, one assistant message per completion
    assert len(seen["completions"]) == 2 * 4 and all(p in chats for p in seen["prompts"])
    assert all(len(c) == 1 and c[0]["role"] == "assistant" for c in seen["completions"])
    assert seen["columns"]["answer_value"] == ["8"] * 8 and rewards_of(trainer)
    # generation saw the chat template's rendering (the template's assistant turn opens the completion)
    prompt, *_ = trainer._prompts_and_columns([{"prompt": chats[0]}], 1)[0]
    assert prompt == "<s>user\nQuestion: 0</s>\n<s>assistant\n"
    # TRL's reward scores a conversational completion in its own format
    assert think_format_reward([[{"role": "assistant", "content": "<think>3+5</think> 8"}]]) == [1.0]
    # a prompt that is neither text nor messages is explained
    with pytest.raises(TypeError, match="list of"):
        trainer._prompts_and_columns([{"prompt": 42}], 1)
