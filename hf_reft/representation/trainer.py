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
from typing import Any

import torch
from transformers import Trainer

from ..data import SupervisedCollator
from ..training_budget import TrainingTimeBudget, steps_for_budget  # re-exported: their old home
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
