"""TRL interop: ``SFTTrainer`` trains a LoReFT model with its interventions applied.

TRL's ``SFTTrainer`` replaces the model's ``forward`` with a fused LM head that runs
``model.base_model`` (the body) and the head itself; the wrapper arms its interventions from the
call's arguments (``labels`` mark the prompt) before that forward runs. A tiny random Llama keeps
each training run to seconds.
"""

from __future__ import annotations

import pytest
import torch
import trl
from datasets import Dataset
from transformers import AutoModelForCausalLM, LlamaForCausalLM, LlamaModel

from hf_reft import ReftConfig, ReftModelForCausalLM, get_reft_model

from tiny_models import make_tokenizer, tiny_config

#: A chat template that marks the assistant's turns for TRL's ``assistant_only_loss``.
GENERATION_TEMPLATE = (
    "{% for m in messages %}<s>{{ m['role'] }}\n"
    "{% if m['role'] == 'assistant' %}{% generation %}{{ m['content'] }}</s>{% endgeneration %}"
    "{% else %}{{ m['content'] }}</s>{% endif %}\n{% endfor %}"
    "{% if add_generation_prompt %}<s>assistant\n{% endif %}"
)
PAIRS = [
    ("Tom has 3 apples and buys 5 more. How many apples?", " 8"),
    ("The quick brown fox jumps over the lazy dog. Count 1 2 3", " 4"),
    ("Chemistry: the molar mass of water is", " 18.02 g/mol"),
    ("def solution():", " return 3 + 5"),
]


def _base() -> LlamaForCausalLM:
    torch.manual_seed(0)
    return AutoModelForCausalLM.from_config(tiny_config("llama", initializer_range=0.2))


def _reft() -> ReftModelForCausalLM:
    torch.manual_seed(1)
    return get_reft_model(_base(), ReftConfig(layers=[1, 2], rank=4, positions="f1+l1"))


def _args(tmp_path, **overrides) -> trl.SFTConfig:
    settings = {
        "output_dir": str(tmp_path / "out"),
        "max_steps": 40,
        "learning_rate": 2e-2,
        "per_device_train_batch_size": 4,
        "logging_steps": 1,
        "save_strategy": "no",
        "report_to": [],
        "use_cpu": True,
        "bf16": False,  # TRL's default autocasts to bf16: the reload check compares fp32 logits
        "seed": 0,
        "dataset_num_proc": None,
        **overrides,
    }
    return trl.SFTConfig(**settings)


def _losses(trainer: trl.SFTTrainer) -> list[float]:
    return [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]


def test_base_model_is_the_body_and_get_base_model_the_wrapped_model():
    model = _reft()
    assert isinstance(model.base_model, LlamaModel)  # the body, as for any transformers model
    assert isinstance(model.get_base_model(), LlamaForCausalLM)  # the wrapped model, as in peft
    assert model.get_base_model().base_model is model.base_model


def test_sft_trainer_trains_the_interventions_on_prompt_completion_data(tmp_path):
    tokenizer = make_tokenizer()
    model = _reft()
    before = {k: v.clone() for k, v in model.get_base_model().state_dict().items()}
    data = Dataset.from_dict({"prompt": [p for p, _ in PAIRS], "completion": [c for _, c in PAIRS]})
    trainer = trl.SFTTrainer(
        model=model, args=_args(tmp_path), train_dataset=data, processing_class=tokenizer
    )
    trainer.train()
    losses = _losses(trainer)
    # only the interventions train: without them applied inside TRL's forward the loss could not move
    assert sum(losses[-5:]) / 5 < 0.7 * sum(losses[:5]) / 5, losses
    after = model.get_base_model().state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # the base is untouched
    assert {n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad} == {"interventions"}

    # the saved adapter reproduces the trained model's logits on a fresh base, prompt masked as TRL does
    model.save_pretrained(tmp_path / "adapter")
    reloaded = ReftModelForCausalLM.from_pretrained(tmp_path / "adapter", base_model=_base()).eval()
    prompt = tokenizer(PAIRS[0][0])["input_ids"]
    ids = prompt + tokenizer(PAIRS[0][1])["input_ids"]
    batch = {
        "input_ids": torch.tensor([ids]),
        "labels": torch.tensor([[-100] * len(prompt) + ids[len(prompt) :]]),
    }
    model.eval()
    with torch.no_grad():
        trained, again = model(**batch).logits, reloaded(**batch).logits
        with model.disable_interventions():
            plain = model(**batch).logits
    torch.testing.assert_close(again, trained)
    assert not torch.allclose(plain, trained, atol=1e-4)


def test_sft_trainer_on_messages_with_assistant_only_loss(tmp_path):
    tokenizer = make_tokenizer()
    tokenizer.chat_template = GENERATION_TEMPLATE
    messages = [
        [{"role": "user", "content": p}, {"role": "assistant", "content": c.strip()}] for p, c in PAIRS
    ]
    data = Dataset.from_dict({"messages": messages})
    model = _reft()
    args = _args(tmp_path, assistant_only_loss=True)
    trainer = trl.SFTTrainer(model=model, args=args, train_dataset=data, processing_class=tokenizer)
    trainer.train()
    losses = _losses(trainer)
    assert sum(losses[-5:]) / 5 < 0.7 * sum(losses[:5]) / 5, losses

    # every token labelled (no prompt to intervene on): refused, naming the TRL settings that fix it
    trainer = trl.SFTTrainer(
        model=_reft(), args=_args(tmp_path), train_dataset=data, processing_class=tokenizer
    )
    with pytest.raises(ValueError, match="assistant_only_loss=True"):
        trainer.train()


def test_packing_is_refused_with_the_fix(tmp_path):
    data = Dataset.from_dict({"prompt": [p for p, _ in PAIRS] * 2, "completion": [c for _, c in PAIRS] * 2})
    args = _args(tmp_path, packing=True, max_length=64)
    trainer = trl.SFTTrainer(model=_reft(), args=args, train_dataset=data, processing_class=make_tokenizer())
    with pytest.raises(ValueError, match="packing=False"):
        trainer.train()
