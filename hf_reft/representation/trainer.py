"""``ReftTrainer``: ``transformers.Trainer`` for LoReFT adapters, changed only where it must be.

A LoReFT model (:class:`~hf_reft.ReftModelForCausalLM`, :class:`~hf_reft.ReftModelForSequenceClassification`)
is a ``PreTrainedModel`` whose ``state_dict`` holds only the adapter, so plain ``Trainer`` already
trains it, saves checkpoints through its ``save_pretrained`` and resumes from them. ``ReftTrainer``
adds what plain ``Trainer`` gets wrong or leaves out for these models:

* **data**: the default collator is :class:`~hf_reft.data.SupervisedCollator` (pads token labels
  with -100 and passes ``prompt_lengths``), and the ``prompt_length`` column survives
  ``remove_unused_columns``;
* **loss**: ``num_items_in_batch`` goes to the base's loss only when that loss uses it (causal LM
  token losses); a sequence classifier's mean loss is left to ``Trainer``'s own gradient-accumulation
  scaling. With label smoothing or a ``compute_loss_func`` the labels are taken out of the model's
  inputs, so the prompt is then passed to the model as ``prompt_lengths`` — the interventions stay on
  the prompt — and causal-LM labels are shifted;
* **cards**: ``Trainer.push_to_hub`` keeps the adapter's hf-reft card (``library_name: hf-reft``,
  ``base_model``, how to load it) instead of writing transformers' generic one;
* **checkpoints**: every ``checkpoint-N`` and the final folder is a complete adapter
  (``config.json``, ``model.safetensors`` with the intervention tensors, ``README.md`` card, the
  tokenizer) that ``from_pretrained`` / ``AutoModelForCausalLM.from_pretrained`` load; the training
  arguments are written as ``training_args.json`` instead of a pickle.

Resuming (``trainer.train(resume_from_checkpoint=True)``) is ``Trainer``'s: the adapter tensors
(for LoReFT the orthogonal parametrization's underlying tensor), optimizer, scheduler and RNG
states come back, so a resumed run ends with the adapter of an uninterrupted one.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import torch
from transformers import Trainer, TrainerCallback
from transformers.trainer_callback import ExportableState

from ..data import SupervisedCollator
from .modeling import ReftPreTrainedModel
from .positions import prompt_lengths_from_labels
from .saving import check_portable_base

__all__ = ["TRAINING_ARGS_NAME", "ReftTrainer", "TrainingTimeBudget", "steps_for_budget"]

#: The training arguments beside a saved adapter, as JSON (``Trainer`` writes a pickle).
TRAINING_ARGS_NAME = "training_args.json"


class ReftTrainer(Trainer):
    """``Trainer`` for hf-reft LoReFT models; takes exactly ``Trainer``'s arguments.

    ``model`` must be a :class:`~hf_reft.representation.ReftPreTrainedModel` (from
    :func:`~hf_reft.get_reft_model` or ``from_pretrained``). When ``data_collator`` is not given,
    a right-padding :class:`~hf_reft.data.SupervisedCollator` built from ``processing_class``
    (the tokenizer) is used.

    Example::

        model = hf_reft.get_reft_model(base, hf_reft.ReftConfig(layers=[6, 12], positions="f5+l5", rank=4))
        train = prepare_supervised_dataset(rows, tokenizer, prompt_column="question", response_column="answer_cot")
        args = TrainingArguments("out", learning_rate=1e-3, num_train_epochs=1, per_device_train_batch_size=8)
        ReftTrainer(model=model, args=args, train_dataset=train, processing_class=tokenizer).train()
    """

    def __init__(self, model: ReftPreTrainedModel | None = None, args: Any = None, **kwargs: Any) -> None:
        if not isinstance(model, ReftPreTrainedModel):
            raise TypeError(
                "ReftTrainer trains hf-reft LoReFT models; wrap the base first: "
                f"model = hf_reft.get_reft_model(base, hf_reft.ReftConfig(...)) (got {type(model).__name__})."
            )
        if kwargs.get("data_collator") is None:
            tokenizer = kwargs.get("processing_class")
            if tokenizer is None or not hasattr(tokenizer, "eos_token_id"):
                raise ValueError(
                    "ReftTrainer needs a data_collator, or a tokenizer as processing_class to build one "
                    "(hf_reft.data.SupervisedCollator)."
                )
            kwargs["data_collator"] = SupervisedCollator.for_tokenizer(
                tokenizer, padding_side="right", return_prompt_lengths=True
            )
        super().__init__(model=model, args=args, **kwargs)
        # A token loss sums over the batch's tokens when given num_items_in_batch; a sequence
        # classifier's loss is a plain mean and must be scaled by Trainer for gradient accumulation.
        self.model_accepts_loss_kwargs = model.config.task == "causal_lm" and bool(model.accepts_loss_kwargs)

    # ------------------------------------------------------------------ data
    def _set_signature_columns_if_needed(self) -> None:
        super()._set_signature_columns_if_needed()
        if "prompt_length" not in self._signature_columns:
            self._signature_columns.append("prompt_length")  # the collator turns it into prompt_lengths

    # ------------------------------------------------------------------ loss
    def compute_loss(
        self,
        model: torch.nn.Module,
        inputs: dict[str, Any],
        return_outputs: bool = False,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, Any]:
        """The model's own loss (``num_items_in_batch`` passed on for token losses), or label
        smoothing / ``compute_loss_func`` on its logits with the prompt kept as ``prompt_lengths``.

        Args:
            inputs: the collated batch: ``input_ids``/``attention_mask`` ``[batch, seq]``, ``labels``
                (``[batch, seq]`` token labels with -100 on the prompt, or ``[batch]`` class labels),
                optionally ``prompt_lengths`` ``[batch]``.
            num_items_in_batch: labelled tokens in the whole accumulated (and gathered) batch.
        """
        custom_loss = self.label_smoother is not None or self.compute_loss_func is not None
        if not custom_loss or "labels" not in inputs:
            return super().compute_loss(
                model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch
            )
        causal = self._reft_model().config.task == "causal_lm"
        inputs = dict(inputs)
        labels = inputs.pop("labels")
        if causal and "prompt_lengths" not in inputs and "intervention_positions" not in inputs:
            inputs["prompt_lengths"] = prompt_lengths_from_labels(labels, inputs.get("attention_mask"))
        outputs = model(**inputs)
        if self.compute_loss_func is not None:
            loss = self.compute_loss_func(outputs, labels, num_items_in_batch=num_items_in_batch)
        else:
            loss = self.label_smoother(
                outputs, labels, shift_labels=causal, num_items_in_batch=num_items_in_batch
            )
        if self.args.average_tokens_across_devices and num_items_in_batch is not None:
            loss = loss * self.accelerator.num_processes  # DDP averages gradients over processes
        return (loss, outputs) if return_outputs else loss

    # ------------------------------------------------------------------ saving
    def _reft_model(self) -> ReftPreTrainedModel:
        model = self.accelerator.unwrap_model(self.model, keep_torch_compile=False)
        if not isinstance(model, ReftPreTrainedModel):
            raise TypeError(f"ReftTrainer's model must stay a LoReFT model, found {type(model).__name__}.")
        return model

    def push_to_hub(self, *args: Any, **kwargs: Any) -> Any:
        """``Trainer.push_to_hub`` for an adapter whose base is on the Hub (refused otherwise: it would
        load only on this machine), with the hf-reft card (:meth:`create_model_card`)."""
        check_portable_base(self._reft_model().config.base_model_name_or_path)
        return super().push_to_hub(*args, **kwargs)

    def create_model_card(
        self,
        language: str | None = None,
        license: str | None = None,
        tags: str | list[str] | None = None,
        model_name: str | None = None,
        finetuned_from: str | None = None,
        tasks: str | list[str] | None = None,
        dataset_tags: str | list[str] | None = None,
        dataset: str | list[str] | None = None,
        dataset_args: str | list[str] | None = None,
    ) -> None:
        """Keep the hf-reft adapter card in ``output_dir`` (``Trainer.push_to_hub`` calls this; the
        generic ``transformers`` card would claim ``library_name: transformers``, which cannot load an
        adapter): its metadata gains the given tags, datasets, language and licence."""
        if not self.is_world_process_zero():
            return
        from huggingface_hub import ModelCard

        path = os.path.join(self.args.output_dir, "README.md")
        card = ModelCard.load(path) if os.path.isfile(path) else self._reft_model().model_card()

        def as_list(value: str | list[str] | None) -> list[str]:
            return [value] if isinstance(value, str) else list(value or [])

        card.data.tags = list(dict.fromkeys([*(card.data.tags or []), *as_list(tags)]))
        if datasets := as_list(dataset_tags) or as_list(dataset):
            card.data.datasets = datasets
        if language:
            card.data.language = language
        if license:
            card.data.license = license
        card.save(path)

    def _save(self, output_dir: str | None = None, state_dict: dict | None = None) -> None:
        """Write a complete adapter (config, safetensors, card, tokenizer, training_args.json)."""
        output_dir = output_dir if output_dir is not None else self.args.output_dir
        if not self.args.should_save:
            return
        os.makedirs(output_dir, exist_ok=True)
        self._reft_model().save_pretrained(output_dir, state_dict=state_dict)
        if self.processing_class is not None:
            self.processing_class.save_pretrained(output_dir)
        arguments = json.loads(self.args.to_json_string())
        with open(os.path.join(output_dir, TRAINING_ARGS_NAME), "w", encoding="utf-8") as handle:
            json.dump(arguments, handle, indent=2, sort_keys=True)


class TrainingTimeBudget(TrainerCallback, ExportableState):
    """Stop training once ``max_seconds`` of training time have been spent.

    Only optimizer steps count (not evaluation or saving). ``clock="wall"`` counts wall-clock
    seconds; ``clock="cpu"`` counts this process's CPU seconds (all threads), the fair measure on a
    shared machine. Both are tracked (``elapsed`` / ``cpu_elapsed`` and ``wall_elapsed``). The state is
    exported into checkpoints, so with ``TrainingArguments(restore_callback_states_from_checkpoint=True)``
    a resumed run continues the same budget.

    Args:
        max_seconds: the budget in seconds.
        clock: ``"wall"`` or ``"cpu"``.
        wall_elapsed, cpu_elapsed: seconds already spent (restored from a checkpoint).
    """

    def __init__(
        self, max_seconds: float, clock: str = "wall", wall_elapsed: float = 0.0, cpu_elapsed: float = 0.0
    ) -> None:
        if max_seconds <= 0:
            raise ValueError(f"max_seconds must be positive, got {max_seconds}.")
        if clock not in ("wall", "cpu"):
            raise ValueError(f"clock must be 'wall' or 'cpu', got {clock!r}.")
        self.max_seconds = float(max_seconds)
        self.clock = clock
        self.wall_elapsed = float(wall_elapsed)
        self.cpu_elapsed = float(cpu_elapsed)
        self._start: tuple[float, float] | None = None

    @property
    def elapsed(self) -> float:
        """Seconds spent on the budget's clock."""
        return self.cpu_elapsed if self.clock == "cpu" else self.wall_elapsed

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._start is None:
            self._start = (time.perf_counter(), time.process_time())

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._start is not None:
            wall, cpu = self._start
            self.wall_elapsed += time.perf_counter() - wall
            self.cpu_elapsed += time.process_time() - cpu
            self._start = None
        if self.elapsed >= self.max_seconds:
            control.should_training_stop = True
            control.should_save = True

    def state(self) -> dict[str, Any]:
        return {
            "args": {
                "max_seconds": self.max_seconds,
                "clock": self.clock,
                "wall_elapsed": self.wall_elapsed,
                "cpu_elapsed": self.cpu_elapsed,
            },
            "attributes": {},
        }


def steps_for_budget(
    model: torch.nn.Module,
    batches: list[dict[str, torch.Tensor]],
    budget_seconds: float,
    *,
    clock: str = "wall",
    minimum: int = 10,
) -> tuple[int, float]:
    """How many optimizer steps fit a time budget: times forward + backward on ``batches`` (no update).

    Use it to size a learning-rate schedule to a :class:`TrainingTimeBudget` (which stays the hard
    stop). The fastest of the timed batches is taken, so a first slow call does not shrink the plan.

    Args:
        model: any model returning ``.loss`` (a LoReFT model, a peft model, a full model).
        batches: collated training batches (e.g. two of the real batch size).
        budget_seconds: the budget, on ``clock`` (``"wall"`` or ``"cpu"``).

    Returns:
        ``(steps, seconds_per_step)``, ``steps >= minimum``.
    """
    if clock not in ("wall", "cpu"):
        raise ValueError(f"clock must be 'wall' or 'cpu', got {clock!r}.")
    if not batches:
        raise ValueError("steps_for_budget needs at least one batch to time.")
    was_training = model.training
    model.train()
    costs = []
    for batch in batches:
        wall, cpu = time.perf_counter(), time.process_time()
        model(**batch).loss.backward()
        costs.append(time.process_time() - cpu if clock == "cpu" else time.perf_counter() - wall)
    model.zero_grad(set_to_none=True)
    model.train(was_training)
    per_step = min(costs)
    return max(minimum, int(budget_seconds / per_step)), per_step
