"""ReftTrainer: checkpoints are adapters, exact resume, losses with gradient accumulation, classification."""

from __future__ import annotations

import json

import pytest
import torch
from datasets import Dataset
from safetensors.torch import load_file
from transformers import (
    AutoModelForCausalLM,
    LlamaForCausalLM,
    LlamaForSequenceClassification,
    TrainerCallback,
    TrainingArguments,
)
from transformers.trainer_pt_utils import LabelSmoother

import hf_reft
from hf_reft.data import prepare_supervised_dataset
from hf_reft.representation.trainer import TRAINING_ARGS_NAME, ReftTrainer
from hf_reft.training_budget import TrainingTimeBudget

from tiny_models import make_tokenizer, tiny_config

PAIRS = [
    (
        f"Question: Tom has {a} apples and buys {b} more. How many?",
        f"{a} + {b} = {a + b}. The answer is {a + b}.",
    )
    for a in range(1, 5)
    for b in range(2, 6)
]


def _args(output_dir, **overrides) -> TrainingArguments:
    settings = {
        "per_device_train_batch_size": 4,
        "learning_rate": 5e-3,
        "max_steps": 6,
        "save_strategy": "no",
        "logging_strategy": "no",
        "report_to": "none",
        "disable_tqdm": True,
        "use_cpu": True,
        "seed": 7,
        "data_seed": 7,
        "dataloader_num_workers": 0,
    }
    settings.update(overrides)
    return TrainingArguments(str(output_dir), **settings)


@pytest.fixture(scope="module")
def tokenizer():
    return make_tokenizer()


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory):
    """A tiny random Llama saved to disk, so adapters can name their base by path."""
    folder = tmp_path_factory.mktemp("tiny_llama")
    torch.manual_seed(0)
    LlamaForCausalLM(tiny_config("llama")).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def train_dataset(tokenizer):
    rows = Dataset.from_list([{"prompt": p, "response": r} for p, r in PAIRS])
    return prepare_supervised_dataset(rows, tokenizer)


def _reft_model(base_dir, **config):
    torch.manual_seed(1)
    base = AutoModelForCausalLM.from_pretrained(base_dir)
    settings = {"layers": [1, 3], "positions": "f2+l2", "rank": 4}
    settings.update(config)
    return hf_reft.get_reft_model(base, hf_reft.ReftConfig(**settings))


class _StopAt(TrainerCallback):
    """Simulates a run cut off after ``step`` optimizer steps (with a checkpoint written there)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            control.should_save = True
            control.should_training_stop = True


def _adapter_tensors(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_checkpoints_are_complete_loadable_adapters(base_dir, tokenizer, train_dataset, tmp_path):
    model = _reft_model(base_dir)
    trainer = ReftTrainer(
        model=model,
        args=_args(tmp_path, max_steps=4, save_strategy="steps", save_steps=2),
        train_dataset=train_dataset,
        processing_class=tokenizer,
    )
    trainer.train()
    checkpoint = tmp_path / "checkpoint-4"
    names = {p.name for p in checkpoint.iterdir()}
    assert {"config.json", "model.safetensors", "README.md", TRAINING_ARGS_NAME, "tokenizer.json"} <= names
    assert "training_args.bin" not in names  # no pickle beside the adapter
    assert json.loads((checkpoint / "config.json").read_text())["model_type"] == "reft"
    assert "LoReFT" in (checkpoint / "README.md").read_text()
    saved = load_file(str(checkpoint / "model.safetensors"))
    assert set(saved) == set(model.state_dict())  # only adapter tensors, no base weights

    loaded = AutoModelForCausalLM.from_pretrained(checkpoint)
    assert isinstance(loaded, hf_reft.ReftModelForCausalLM)
    batch = trainer.data_collator([train_dataset[i] for i in range(3)])
    model.eval()
    with torch.no_grad():
        expected = model(**batch).logits
        got = loaded(**batch).logits
    assert torch.allclose(expected, got, atol=1e-6)
    # training moved the interventions away from their initialisation
    fresh = _reft_model(base_dir)
    assert any(not torch.equal(fresh.state_dict()[k], v) for k, v in saved.items())


def test_resume_matches_uninterrupted_run(base_dir, tokenizer, train_dataset, tmp_path):
    full_model = _reft_model(base_dir, dropout=0.1)  # dropout: the RNG state must be restored too
    ReftTrainer(
        model=full_model,
        args=_args(tmp_path / "full", max_steps=8),
        train_dataset=train_dataset,
        processing_class=tokenizer,
    ).train()

    cut_model = _reft_model(base_dir, dropout=0.1)
    ReftTrainer(
        model=cut_model,
        args=_args(tmp_path / "cut", max_steps=8, save_strategy="steps", save_steps=100),
        train_dataset=train_dataset,
        processing_class=tokenizer,
        callbacks=[_StopAt(3)],
    ).train()
    assert (tmp_path / "cut" / "checkpoint-3").is_dir()

    resumed_model = _reft_model(base_dir, dropout=0.1)
    resumed_model.load_state_dict({k: torch.randn_like(v) for k, v in resumed_model.state_dict().items()})
    ReftTrainer(
        model=resumed_model,
        args=_args(tmp_path / "cut", max_steps=8),
        train_dataset=train_dataset,
        processing_class=tokenizer,
    ).train(resume_from_checkpoint=str(tmp_path / "cut" / "checkpoint-3"))

    full, resumed = _adapter_tensors(full_model), _adapter_tensors(resumed_model)
    assert set(full) == set(resumed)
    initial = _adapter_tensors(_reft_model(base_dir, dropout=0.1))
    assert any((full[k] - initial[k]).abs().max() > 1e-3 for k in full)  # it did train
    for key in full:
        assert torch.allclose(full[key], resumed[key], atol=1e-6, rtol=0), key
    for group in resumed_model.interventions.values():
        for intervention in group.values():
            rotation = intervention.rotate.weight  # R: [rank, hidden], rows orthonormal
            identity = torch.eye(rotation.shape[0])
            assert torch.allclose(rotation @ rotation.T, identity, atol=1e-5)


def _train_final(base_dir, tokenizer, train_dataset, tmp_path, **args):
    model = _reft_model(base_dir)
    ReftTrainer(
        model=model, args=_args(tmp_path, **args), train_dataset=train_dataset, processing_class=tokenizer
    ).train()
    return _adapter_tensors(model)


def test_gradient_accumulation_matches_larger_batch(base_dir, tokenizer, train_dataset, tmp_path):
    """num_items_in_batch reaches the base's token loss: 2 x 4 accumulated == one batch of 8."""
    big = _train_final(
        base_dir, tokenizer, train_dataset, tmp_path / "a", per_device_train_batch_size=8, max_steps=2
    )
    accumulated = _train_final(
        base_dir,
        tokenizer,
        train_dataset,
        tmp_path / "b",
        per_device_train_batch_size=4,
        gradient_accumulation_steps=2,
        max_steps=2,
    )
    for key in big:
        assert torch.allclose(big[key], accumulated[key], atol=1e-5), key


def test_label_smoothing_keeps_interventions_on_the_prompt(base_dir, tokenizer, train_dataset, tmp_path):
    model = _reft_model(base_dir)
    trainer = ReftTrainer(
        model=model,
        args=_args(tmp_path, label_smoothing_factor=0.1),
        train_dataset=train_dataset,
        processing_class=tokenizer,
    )
    batch = trainer.data_collator([train_dataset[i] for i in range(4)])
    batch.pop("prompt_lengths")  # the prompt must then come from the labels
    loss = trainer.compute_loss(model, dict(batch))
    with torch.no_grad():
        outputs = model(**batch)  # labels given: positions on the prompt
    expected = LabelSmoother(epsilon=0.1)(outputs, batch["labels"], shift_labels=True)
    assert torch.allclose(loss, expected, atol=1e-6)
    with torch.no_grad(), model.disable_interventions():
        base_outputs = model(**batch)
    assert not torch.allclose(
        LabelSmoother(epsilon=0.1)(base_outputs, batch["labels"], shift_labels=True), loss
    )


@pytest.fixture(scope="module")
def classification_data(tokenizer):
    rows = [
        {"text": p, "label": int((a + b) % 2)}
        for (p, _), (a, b) in zip(PAIRS, [(a, b) for a in range(1, 5) for b in range(2, 6)], strict=True)
    ]
    encoded = [{**tokenizer(r["text"]), "labels": r["label"]} for r in rows]
    return Dataset.from_list(encoded)


def _classifier(tmp_path_factory=None):
    torch.manual_seed(2)
    config = tiny_config("llama", num_labels=2)
    base = LlamaForSequenceClassification(config)
    return hf_reft.get_reft_model(base, hf_reft.ReftConfig(layers=[1, 3], positions="f1+l1", rank=2))


def test_sequence_classification_trains_interventions_and_head(tokenizer, classification_data, tmp_path):
    model = _classifier()
    assert isinstance(model, hf_reft.ReftModelForSequenceClassification)
    before = {k: v.detach().clone() for k, v in model.model.named_parameters()}
    adapter_before = _adapter_tensors(model)
    trainer = ReftTrainer(
        model=model,
        args=_args(tmp_path, max_steps=5, learning_rate=1e-2),
        train_dataset=classification_data,
        processing_class=tokenizer,
    )
    trainer.train()
    after = dict(model.model.named_parameters())
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"score.weight"}  # the head trains, the backbone stays frozen
    adapter_after = _adapter_tensors(model)
    assert "model.score.weight" in adapter_after
    moved = [
        k
        for k in adapter_after
        if k.startswith("interventions.") and not torch.equal(adapter_before[k], adapter_after[k])
    ]
    assert moved  # the interventions train too

    trainer.save_model(str(tmp_path / "final"))
    loaded = hf_reft.ReftModelForSequenceClassification.from_pretrained(
        tmp_path / "final", base_model=LlamaForSequenceClassification(tiny_config("llama", num_labels=2))
    )
    for key, value in adapter_after.items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_classification_loss_is_scaled_for_gradient_accumulation(tokenizer, classification_data, tmp_path):
    """A classifier's mean loss: 2 x 4 accumulated equals one batch of 8 (Trainer divides by the steps)."""
    results = []
    for name, batch, steps in (("a", 8, 1), ("b", 4, 2)):
        model = _classifier()
        ReftTrainer(
            model=model,
            args=_args(
                tmp_path / name,
                per_device_train_batch_size=batch,
                gradient_accumulation_steps=steps,
                max_steps=2,
            ),
            train_dataset=classification_data,
            processing_class=tokenizer,
        ).train()
        results.append(_adapter_tensors(model))
    for key in results[0]:
        assert torch.allclose(results[0][key], results[1][key], atol=1e-5), key


def test_time_budget_stops_training_and_is_exported(base_dir, tokenizer, train_dataset, tmp_path):
    model = _reft_model(base_dir)
    budget = TrainingTimeBudget(max_seconds=1e-9)
    trainer = ReftTrainer(
        model=model,
        args=_args(tmp_path, max_steps=50),
        train_dataset=train_dataset,
        processing_class=tokenizer,
        callbacks=[budget],
    )
    trainer.train()
    assert trainer.state.global_step == 1
    state = budget.state()
    assert state["args"]["wall_elapsed"] > 0 and state["args"]["cpu_elapsed"] > 0
    restored = TrainingTimeBudget(**state["args"])
    assert restored.elapsed == budget.elapsed


def test_trainer_refuses_a_plain_model(base_dir, tokenizer, train_dataset, tmp_path):
    with pytest.raises(TypeError, match="get_reft_model"):
        ReftTrainer(
            model=AutoModelForCausalLM.from_pretrained(base_dir),
            args=_args(tmp_path),
            train_dataset=train_dataset,
            processing_class=tokenizer,
        )


def test_steps_for_budget_sizes_the_schedule(base_dir, tokenizer, train_dataset, tmp_path):
    from hf_reft.training_budget import steps_for_budget

    model = _reft_model(base_dir)
    collate = ReftTrainer(
        model=model, args=_args(tmp_path), train_dataset=train_dataset, processing_class=tokenizer
    ).data_collator
    batches = [collate([train_dataset[i] for i in range(k, k + 4)]) for k in (0, 4)]
    steps, per_step = steps_for_budget(model, batches, 1e6, clock="cpu")
    assert per_step > 0 and steps == int(1e6 / per_step)
    assert steps_for_budget(model, batches, 1e-9, minimum=3)[0] == 3
    assert all(p.grad is None for p in model.parameters())  # timing leaves no gradients behind
    with pytest.raises(ValueError, match="clock"):
        steps_for_budget(model, batches, 10, clock="gpu")


def test_trainer_push_to_hub_keeps_the_hf_reft_card(hub, base_dir, tokenizer, train_dataset, tmp_path):
    from huggingface_hub import ModelCard

    local = ReftTrainer(
        model=_reft_model(base_dir), args=_args(tmp_path / "local", max_steps=1), train_dataset=train_dataset,
        processing_class=tokenizer,
    )  # fmt: skip
    with pytest.raises(ValueError, match="a folder on this machine"):
        local.push_to_hub()  # the base is a folder here: the adapter would load only on this machine
    base_repo, repo = hub.repo_id("tiny-base"), hub.repo_id("trained-adapter")
    AutoModelForCausalLM.from_pretrained(base_dir).push_to_hub(base_repo)
    model = _reft_model(base_repo)
    trainer = ReftTrainer(
        model=model, args=_args(tmp_path / "run", max_steps=2, hub_model_id=repo), train_dataset=train_dataset,
        processing_class=tokenizer,
    )  # fmt: skip
    trainer.train()
    trainer.push_to_hub(tags=["arithmetic"], dataset="svamp")
    card = ModelCard.load(repo)
    assert card.data.library_name == "hf-reft" and card.data.base_model == base_repo
    assert {"reft", "arithmetic"} <= set(card.data.tags) and card.data.datasets == ["svamp"]
    assert "import hf_reft" in card.text
    loaded = AutoModelForCausalLM.from_pretrained(repo)
    assert isinstance(loaded, hf_reft.ReftModelForCausalLM)
