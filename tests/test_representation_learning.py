"""LoReFT really learns on SmolLM2-135M-Instruct, and a reloaded adapter reproduces its outputs (slow)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, TrainingArguments

import hf_reft
from hf_reft.data import SupervisedCollator, load_data, prepare_supervised_dataset
from hf_reft.models import load_chat_model
from hf_reft.representation.evaluation import evaluate_generation
from hf_reft.representation.trainer import ReftTrainer

PROMPT = "Question:\n{question}\nAnswer reasoning:\n"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def _mean_loss(model, batch) -> float:
    model.eval()
    with torch.no_grad():
        return float(model(**batch).loss)


@pytest.mark.slow
def test_loreft_learns_svamp_chains_of_thought_and_reloads(tmp_path):
    torch.manual_seed(0)
    base, tokenizer = load_chat_model()
    rows, spec = load_data("svamp-nl", SHARED, limit=8)
    data = prepare_supervised_dataset(
        rows, tokenizer, prompt_template=PROMPT, response_column=spec.target, max_length=128
    )
    model = hf_reft.get_reft_model(
        base, hf_reft.ReftConfig(layers=[6, 12, 18, 24], positions="f5+l5", rank=8)
    )
    collator = SupervisedCollator.for_tokenizer(tokenizer, return_prompt_lengths=True)
    batch = collator([data[i] for i in range(len(data))])
    before = _mean_loss(model, batch)
    with model.disable_interventions():
        base_loss = _mean_loss(model, batch)
    args = TrainingArguments(
        str(tmp_path / "run"),
        per_device_train_batch_size=4,
        learning_rate=1e-2,
        max_steps=10,
        save_strategy="no",
        logging_strategy="no",
        report_to="none",
        use_cpu=True,
        disable_tqdm=True,
        seed=0,
    )
    trainer = ReftTrainer(model=model, args=args, train_dataset=data, processing_class=tokenizer)
    trainer.train()
    after = _mean_loss(model, batch)
    assert after < 0.6 * min(before, base_loss), (base_loss, before, after)  # e.g. 1.2 -> 0.4 nats per token

    trainer.save_model(str(tmp_path / "adapter"))
    reloaded = AutoModelForCausalLM.from_pretrained(tmp_path / "adapter")
    assert _mean_loss(reloaded, batch) == pytest.approx(after, abs=1e-5)
    test, _ = load_data("svamp-test", SHARED, limit=2)
    settings = {"prompt_template": PROMPT, "benchmark": "svamp", "max_new_tokens": 16, "progress": False}
    trained_out = evaluate_generation(model, tokenizer, test, **settings)
    reloaded_out = evaluate_generation(reloaded, tokenizer, test, **settings)
    assert [r["completion"] for r in reloaded_out.records] == [r["completion"] for r in trained_out.records]
    with reloaded.disable_interventions():
        assert _mean_loss(reloaded, batch) == pytest.approx(base_loss, abs=1e-5)  # the base is untouched
