"""Training a LoReFT adapter from start to finish: :func:`train_adapter`.

What ``hf-reft representation train`` runs, as a library function: load the base and its tokenizer,
tokenize the rows (the prompt masked out of the loss), wrap the base, train with
:class:`~hf_reft.representation.trainer.ReftTrainer` (resumable checkpoints under
``output_dir/checkpoints``, an optional time budget), save the adapter with its tokenizer into
``output_dir`` and write ``train_summary.json`` beside it.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .configuration import ReftConfig

__all__ = ["CHECKPOINTS_DIR", "SUMMARY_NAME", "AdapterTraining", "train_adapter"]

#: Where the resumable checkpoints go, inside the output folder (removed when training finished).
CHECKPOINTS_DIR = "checkpoints"
SUMMARY_NAME = "train_summary.json"
#: The time-budget plan of ``fit_schedule_to_budget``, kept with the checkpoints.
BUDGET_PLAN_NAME = "budget_plan.json"


@dataclass
class AdapterTraining:
    """What :func:`train_adapter` did: the trained ``model`` and its ``tokenizer``, and ``summary``
    (``steps``, ``train_loss``, ``train_runtime_s``, ``losses`` as ``(step, loss)``, and with a time
    budget ``train_wall_s`` / ``train_cpu_s``), also saved as ``train_summary.json``."""

    model: Any
    tokenizer: Any
    output_dir: Path
    summary: dict[str, Any] = field(default_factory=dict)


def train_adapter(
    base: Any,
    rows: Any,
    config: ReftConfig,
    output_dir: str | os.PathLike[str],
    *,
    tokenizer: Any = None,
    prompt_column: str = "question",
    response_column: str = "response",
    prompt_template: str | None = None,
    use_chat_template: bool = False,
    system_prompt: str | None = None,
    max_length: int = 512,
    learning_rate: float = 1e-3,
    batch_size: int = 8,
    gradient_accumulation_steps: int = 1,
    epochs: float = 1.0,
    max_steps: int | None = None,
    warmup: float = 0.0,
    weight_decay: float = 0.0,
    save_steps: int = 50,
    logging_steps: int = 10,
    seed: int = 42,
    max_train_seconds: float | None = None,
    budget_clock: str = "wall",
    fit_schedule_to_budget: bool = False,
    resume: bool = False,
    keep_checkpoints: bool = False,
) -> AdapterTraining:
    """Train a LoReFT adapter on ``rows`` and save it into ``output_dir``.

    Args:
        base: a Hub id or folder (``None``: the offline SmolLM2-135M-Instruct), or a loaded
            ``PreTrainedModel`` (then pass its ``tokenizer``).
        rows: a :class:`datasets.Dataset` (or row dicts) with the prompt and response columns.
        config: the adapter to train (:class:`ReftConfig`).
        output_dir: the adapter's folder.
        prompt_column, response_column, prompt_template, use_chat_template, system_prompt,
            max_length: how rows become prompts and targets
            (:func:`hf_reft.data.prepare_supervised_dataset`).
        learning_rate, batch_size, gradient_accumulation_steps, epochs, max_steps, warmup,
            weight_decay, save_steps, logging_steps, seed: as in ``TrainingArguments``
            (``warmup`` below 1 is a share of the steps, as its ``warmup_steps``).
        max_train_seconds, budget_clock: stop after this much training time
            (:class:`~hf_reft.training_budget.TrainingTimeBudget`, ``"wall"`` or ``"cpu"``).
        fit_schedule_to_budget: with ``max_train_seconds`` and no ``max_steps``, size ``max_steps`` (and
            so the learning-rate schedule and ``warmup``) to the budget by timing two batches
            (:func:`~hf_reft.training_budget.steps_for_budget`) rather than to ``epochs``. The
            plan is saved with the checkpoints (``budget_plan.json``), so a resumed run keeps it.
        resume: continue from the last checkpoint under ``output_dir/checkpoints``.
        keep_checkpoints: keep that folder when training finished (removed by default: the output
            folder is then the adapter).

    Raises:
        ValueError: a chat template asked of a tokenizer without one, a setting the base cannot
            take (a layer out of range, a rank too large), ``resume`` with no checkpoint.
    """
    import torch
    from datasets import Dataset
    from transformers import TrainingArguments
    from transformers.trainer_utils import get_last_checkpoint

    from .. import hub
    from ..data import prepare_supervised_dataset
    from ..models import load_chat_model
    from ..training_budget import TrainingTimeBudget
    from .modeling import get_reft_model
    from .trainer import ReftTrainer

    output = Path(output_dir)
    checkpoints = output / CHECKPOINTS_DIR
    last = get_last_checkpoint(str(checkpoints)) if resume and checkpoints.is_dir() else None
    if resume and last is None:
        raise ValueError(
            f"Nothing to resume: {checkpoints} holds no checkpoint-N folder yet; train without resume."
        )
    if base is None or isinstance(base, str | os.PathLike):
        base, tokenizer = load_chat_model(base)
    elif tokenizer is None:
        raise ValueError("Pass the tokenizer along with an already loaded base model.")
    if use_chat_template and not getattr(tokenizer, "chat_template", None):
        raise ValueError("This model's tokenizer has no chat template; train without use_chat_template.")
    dataset = prepare_supervised_dataset(
        rows if isinstance(rows, Dataset) else Dataset.from_list(list(rows)),
        tokenizer,
        prompt_column=prompt_column,
        response_column=response_column,
        prompt_template=prompt_template,
        use_chat_template=use_chat_template,
        system_prompt=system_prompt,
        max_length=max_length,
    )
    torch.manual_seed(seed)
    try:
        model = get_reft_model(base, config)
    except ValueError as err:
        raise ValueError(f"Bad LoReFT setting for this model: {err}") from None
    model.print_trainable_parameters()
    plan = None
    if fit_schedule_to_budget and max_train_seconds and not max_steps:
        plan = _budget_plan(
            model,
            tokenizer,
            dataset,
            batch_size,
            max_train_seconds,
            budget_clock,
            checkpoints,
            resuming=last is not None,
        )
        max_steps = plan["max_steps"]
    arguments = TrainingArguments(
        str(checkpoints),
        per_device_train_batch_size=batch_size,
        gradient_accumulation_steps=gradient_accumulation_steps,
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        warmup_steps=warmup,
        num_train_epochs=epochs,
        max_steps=max_steps or -1,
        logging_steps=logging_steps,
        save_strategy="steps",
        save_steps=save_steps,
        save_total_limit=2,
        report_to="none",
        seed=seed,
        restore_callback_states_from_checkpoint=True,
    )
    budget = TrainingTimeBudget(max_train_seconds, clock=budget_clock) if max_train_seconds else None
    trainer = ReftTrainer(
        model=model,
        args=arguments,
        train_dataset=dataset,
        processing_class=tokenizer,
        callbacks=[budget] if budget is not None else [],
    )
    result = trainer.train(resume_from_checkpoint=last)
    trainer.save_model(str(output))
    budget = next(
        (cb for cb in trainer.callback_handler.callbacks if isinstance(cb, TrainingTimeBudget)), None
    )
    summary: dict[str, Any] = {
        "steps": trainer.state.global_step,
        "train_loss": result.training_loss,
        "train_runtime_s": result.metrics.get("train_runtime"),
        "losses": [(e["step"], e["loss"]) for e in trainer.state.log_history if "loss" in e],
    }
    if budget is not None:
        summary.update(train_wall_s=budget.wall_elapsed, train_cpu_s=budget.cpu_elapsed)
    if plan is not None:
        summary["budget_plan"] = plan
    hub.atomic_write_text(output / SUMMARY_NAME, json.dumps(summary, indent=2))
    if not keep_checkpoints:
        shutil.rmtree(checkpoints, ignore_errors=True)
    return AdapterTraining(model, tokenizer, output, summary)


def _budget_plan(
    model: Any,
    tokenizer: Any,
    dataset: Any,
    batch_size: int,
    seconds: float,
    clock: str,
    checkpoints: Path,
    *,
    resuming: bool,
) -> dict[str, Any]:
    """``{"max_steps", "seconds_per_step", "clock"}`` for a time budget: a resumed run reads the plan its
    first sitting saved in ``checkpoints``; a new one times the first two batches and saves the plan."""
    from .. import hub
    from ..data import SupervisedCollator
    from ..training_budget import steps_for_budget

    path = checkpoints / BUDGET_PLAN_NAME
    if resuming and path.is_file():
        return json.loads(path.read_text())
    if len(dataset) < batch_size:
        raise ValueError(f"Planning a time budget needs {batch_size} training examples, got {len(dataset)}.")
    collator = SupervisedCollator.for_tokenizer(tokenizer, return_prompt_lengths=True)
    batches = [
        collator([dataset[i] for i in range(k * batch_size, (k + 1) * batch_size)])
        for k in range(min(2, len(dataset) // batch_size))
    ]
    steps, per_step = steps_for_budget(model, batches, seconds, clock=clock)
    plan = {"max_steps": steps, "seconds_per_step": per_step, "clock": clock}
    hub.atomic_write_text(path, json.dumps(plan))
    return plan
