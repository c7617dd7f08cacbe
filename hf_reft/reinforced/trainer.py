"""``ReinforcedTrainer``: the PPO stage of reinforced fine-tuning as a ``transformers.Trainer``.

Each Trainer step (``global_step``) is one rollout and its updates:

1. the questions of the batch are sampled ``samples_per_question`` times through a
   :class:`~hf_reft.reinforced.generation.Generator` (the unwrapped policy, so DDP hooks stay out
   of generation);
2. the reward function scores the completions (built-in: 1 / 0.1 / 0 by answer correctness);
3. :func:`~hf_reft.reinforced.rollout.build_rollout` computes old log-probs and values, the
   reference log-probs, the KL-shaped rewards and GAE; advantages are whitened;
4. ``ppo_epochs`` passes over ``num_mini_batches`` shuffled mini-batches, each one optimizer
   update of :meth:`compute_loss` (clipped policy loss + ``vf_coef`` x clipped value loss). The
   last update is the Trainer's own optimizer step, so gradient clipping, the learning-rate
   schedule, callbacks, logging, checkpoints and resume are the Trainer's.

Metrics are reduced over processes at the end of each step and averaged over the steps between
two logs, then passed to :meth:`log` (so TensorBoard, W&B... receive them).
"""

from __future__ import annotations

import logging
import os
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from transformers import PreTrainedModel, Trainer

from ..generation import Completion, Generator, SamplingParams, TransformersGenerator
from ..hub import atomic_write_text
from . import ppo_math as ppo
from .configuration import ReinforcedConfig
from .prompts import get_format
from .reference_policy import FrozenReference, ReferencePolicy, default_reference
from .rewards import CORRECT_REWARD, AnswerReward, RewardFunction, compute_rewards, is_conversational
from .rollout import Rollout, build_rollout
from .value_head import PolicyWithValueHead

__all__ = ["ReinforcedTrainer"]

logger = logging.getLogger(__name__)


def _keep_rows(features: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Data collator: a batch of questions stays a list of dataset rows."""
    return features


def disable_dropout(model: nn.Module) -> None:
    """Set every dropout probability in ``model`` to 0 (PPO's ratio must be 1 before any update)."""
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0
        for name in ("attention_dropout", "dropout"):
            if isinstance(getattr(module, name, None), float):
                setattr(module, name, 0.0)


class ReinforcedTrainer(Trainer):
    """PPO for reasoning (Luong et al. 2024) on a policy with a value head.

    Args:
        model: a :class:`PolicyWithValueHead`, a causal LM (a new value head is added), or a
            folder / Hub id loaded with :meth:`PolicyWithValueHead.from_pretrained` (a warm-up
            checkpoint).
        args: the :class:`ReinforcedConfig`.
        train_dataset: rows with a prompt (``args.prompt_column``; else the paper's prompt is
            built from the ``question`` column) and whatever the reward reads (the built-in
            reward: the gold answer in ``args.answer_column``).
        eval_dataset: same layout; :meth:`evaluate` reports reward and accuracy on it.
        processing_class: the tokenizer (required: it tokenizes prompts and decodes samples).
        reward_funcs: a reward function or a list of them, called by keyword as TRL calls them
            (``prompts=``, ``completions=``, plus every dataset column) and returning one float (or
            ``None``) per completion; their weighted sum is the reward. Default: :class:`AnswerReward`
            for ``args.format`` (1 / 0.1 / 0, as the paper).
        reward_weights: one weight per reward function (default 1 each).
        reward_fn: the former name of ``reward_funcs`` (one function).
        reference: the KL reference: a :class:`ReferencePolicy`, a model (frozen in place), or
            ``None`` for the policy as it is now (the warm-up model): a frozen copy of a full
            model, or a frozen copy of a LoReFT policy's interventions on the same base (see
            :func:`~hf_reft.reinforced.reference_policy.default_reference`). Not created when
            ``kl_coef`` is 0.
        generator: how to sample; default :class:`TransformersGenerator` on the policy. An engine
            with its own copy of the weights gets ``sync_weights(policy)`` before each rollout if
            it defines that method.
        callbacks, optimizers: as for :class:`transformers.Trainer`.

    Metrics logged each ``logging_steps`` (averaged over the steps since the last log):
    ``reward``, ``reward_std``, ``accuracy`` (share of samples with the full reward of 1.0),
    ``kl`` (per-sample sum of the per-token KL to the reference), ``entropy``, ``policy_loss``,
    ``value_loss``, ``clip_fraction``, ``value_clip_fraction``, ``approx_kl``,
    ``response_length``, ``truncated_fraction``, and seconds per step in ``time_generation``,
    ``time_reward``, ``time_forward`` (rollout scoring passes), ``time_update`` with
    ``generation_share`` = generation / step time.
    """

    def __init__(
        self,
        model: PolicyWithValueHead | PreTrainedModel | str | os.PathLike[str],
        args: ReinforcedConfig | None = None,
        *,
        train_dataset: Any = None,
        eval_dataset: Any = None,
        processing_class: Any = None,
        reward_funcs: RewardFunction | Sequence[RewardFunction] | None = None,
        reward_weights: Sequence[float] | None = None,
        reward_fn: RewardFunction | None = None,
        reference: ReferencePolicy | nn.Module | None = None,
        generator: Generator | None = None,
        callbacks: list[Any] | None = None,
        optimizers: tuple[Any, Any] = (None, None),
        **kwargs: Any,
    ) -> None:
        args = args if args is not None else ReinforcedConfig(output_dir="reinforced-output")
        if not isinstance(args, ReinforcedConfig):
            raise TypeError(f"args must be a ReinforcedConfig, got {type(args).__name__}.")
        if processing_class is None:
            raise ValueError("ReinforcedTrainer needs the tokenizer: pass processing_class=tokenizer.")
        if args.deepspeed or args.fsdp:
            raise ValueError(
                "ReinforcedTrainer runs on one process or with DDP (torchrun / accelerate launch); "
                "DeepSpeed and FSDP are not supported yet."
            )
        if isinstance(model, (str, os.PathLike)):
            model = PolicyWithValueHead.from_pretrained(model)
        elif not isinstance(model, PolicyWithValueHead):
            model = PolicyWithValueHead(model)
        if args.disable_dropout:
            disable_dropout(model)
        if reference is None and args.kl_coef > 0:
            reference = default_reference(model.policy)
        elif isinstance(reference, nn.Module):
            reference = FrozenReference(reference)
        if reference is not None and not isinstance(reference, ReferencePolicy):
            raise TypeError(
                f"reference must be a ReferencePolicy or a model, got {type(reference).__name__}."
            )
        self.reference = reference
        if reward_fn is not None and reward_funcs is not None:
            raise ValueError("Pass reward_funcs (reward_fn is its former name), not both.")
        funcs = reward_funcs if reward_funcs is not None else reward_fn
        if funcs is None:
            funcs = AnswerReward(args.format, answer_column=args.answer_column)
        self.reward_funcs: list[RewardFunction] = list(funcs) if isinstance(funcs, Sequence) else [funcs]
        if reward_weights is not None and len(reward_weights) != len(self.reward_funcs):
            raise ValueError(
                f"reward_weights has {len(reward_weights)} weights for {len(self.reward_funcs)} reward functions."
            )
        self.reward_weights = None if reward_weights is None else [float(w) for w in reward_weights]
        for name, dataset in (("train_dataset", train_dataset), ("eval_dataset", eval_dataset)):
            self._check_columns(name, dataset, args)
        super().__init__(
            model=model,
            args=args,
            data_collator=_keep_rows,
            train_dataset=train_dataset,
            eval_dataset=eval_dataset,
            processing_class=processing_class,
            callbacks=callbacks,
            optimizers=optimizers,
            **kwargs,
        )
        if hasattr(self.reference, "to"):
            self.reference.to(self.args.device)
        self.generator = (
            generator
            if generator is not None
            else TransformersGenerator(
                model.policy,
                processing_class,
                batch_size=args.generation_batch_size,
                add_special_tokens=args.add_special_tokens,
            )
        )
        pad = processing_class.pad_token_id
        self.pad_token_id = pad if pad is not None else processing_class.eos_token_id
        self._metrics: dict[str, list[float]] = defaultdict(list)
        self._step_stats: dict[str, list[torch.Tensor]] = defaultdict(list)

    # ----------------------------------------------------------------------- data
    @staticmethod
    def _check_columns(name: str, dataset: Any, args: ReinforcedConfig) -> None:
        columns = getattr(dataset, "column_names", None)
        if isinstance(columns, dict):  # DatasetDict
            columns = next(iter(columns.values()), None)
        question = get_format(args.format).question_column
        if columns is not None and args.prompt_column not in columns and question not in columns:
            raise ValueError(
                f"{name} has neither a prompt column {args.prompt_column!r} nor a question column "
                f"{question!r} (columns: {sorted(columns)}). Add one, or set prompt_column."
            )

    def _prompts_and_columns(
        self, rows: Sequence[dict[str, Any]], repeat: int
    ) -> tuple[list[str], list[Any], dict[str, list[Any]]]:
        """The text to generate from (one per question), the prompts as the dataset gives them and
        the other columns, both repeated per sample.

        A row without ``prompt_column`` gets the paper's prompt built from its question. A
        conversational prompt (a list of ``{"role", "content"}`` messages, as in TRL) is rendered with
        the tokenizer's chat template and the generation prompt.
        """
        column = self.args.prompt_column
        fmt = get_format(self.args.format)
        given = [row[column] if column in row else fmt.prompt_for_row(row) for row in rows]
        prompts = [self._prompt_text(p) for p in given]
        repeated = [p for p in given for _ in range(repeat)]
        keys = [k for k in rows[0] if k != column] if rows else []
        columns = {k: [row[k] for row in rows for _ in range(repeat)] for k in keys}
        return prompts, repeated, columns

    def _prompt_text(self, prompt: Any) -> str:
        if isinstance(prompt, str):
            return prompt
        if is_conversational(prompt):
            if not getattr(self.processing_class, "chat_template", None):
                raise ValueError(
                    "The prompts are conversations (lists of messages) but the tokenizer has no chat template; "
                    "set tokenizer.chat_template or give the prompts as text."
                )
            return self.processing_class.apply_chat_template(
                prompt, tokenize=False, add_generation_prompt=True
            )
        raise TypeError(
            f"A prompt must be a string or a list of {{'role': ..., 'content': ...}} messages; got "
            f"{type(prompt).__name__}: {str(prompt)[:80]!r}."
        )

    def _rewards(self, prompts: list[Any], completions: Sequence[Completion], columns: dict[str, list[Any]]):
        """The ``[N]`` rewards of ``completions``, rewards called as TRL calls them: ``prompts=``,
        ``completions=`` (for conversational prompts, each a list holding one assistant message),
        ``completion_ids=`` and every dataset column."""
        texts = [c.text for c in completions]
        conversational = bool(prompts) and is_conversational(prompts[0])
        given = [[{"role": "assistant", "content": t}] for t in texts] if conversational else texts
        ids = {"completion_ids": [list(c.token_ids) for c in completions]}
        return compute_rewards(self.reward_funcs, prompts, given, {**columns, **ids}, self.reward_weights)

    # ----------------------------------------------------------------------- rollout
    def _policy_model(self) -> PolicyWithValueHead:
        return self.accelerator.unwrap_model(self.model)

    def _sample(self, prompts: list[str], params: SamplingParams) -> list[Completion]:
        model = self._policy_model()
        if hasattr(self.generator, "sync_weights"):
            self.generator.sync_weights(model.policy)
        was_training = model.training
        model.eval()
        try:
            grouped = self.generator.generate(prompts, params)
        finally:
            model.train(was_training)
        if len(grouped) != len(prompts) or any(len(g) != params.num_samples for g in grouped):
            raise ValueError(
                f"The generator returned {[len(g) for g in grouped]} completions for {len(prompts)} prompts "
                f"x {params.num_samples} samples; it must return num_samples completions per prompt."
            )
        return [c for group in grouped for c in group]

    def make_rollout(self, rows: Sequence[dict[str, Any]]) -> Rollout:
        """Sample, score and evaluate one batch of questions (``[N = rows x samples]`` tensors)."""
        args = self.args
        prompts, repeated, columns = self._prompts_and_columns(rows, args.samples_per_question)
        start = time.perf_counter()
        completions = self._sample(prompts, args.sampling_params())
        generated = time.perf_counter()
        texts = [c.text for c in completions]
        scores = self._rewards(repeated, completions, columns)
        rewarded = time.perf_counter()
        model = self._policy_model()
        was_training = model.training
        model.eval()
        try:

            def policy_forward(
                ids: torch.Tensor, mask: torch.Tensor, pos: torch.Tensor, lengths: torch.Tensor
            ):
                out = model(input_ids=ids, attention_mask=mask, position_ids=pos, prompt_lengths=lengths)
                return out.logits, out.value

            rollout = build_rollout(
                completions,
                scores,
                policy_forward=policy_forward,
                reference=self.reference,
                pad_token_id=self.pad_token_id,
                kl_coef=args.kl_coef,
                gamma=args.gamma,
                lam=args.lam,
                batch_size=args.forward_batch_size,
                temperature=args.temperature,
                device=args.device,
            )
        finally:
            model.train(was_training)
        rollout.texts = texts
        rollout.advantages = self._whiten(rollout.advantages, rollout.tokens.response_mask)
        scored = time.perf_counter()
        mask = rollout.tokens.response_mask
        self._record(
            reward=scores.mean(),
            reward_std=scores.std(unbiased=False),
            accuracy=(scores >= CORRECT_REWARD).float().mean(),
            kl=rollout.kl.sum(-1).mean(),
            response_length=mask.sum(-1).mean(),
            truncated_fraction=(~rollout.tokens.finished).float().mean(),
            time_generation=generated - start,
            time_reward=rewarded - generated,
            time_forward=scored - rewarded,
        )
        return rollout

    def _whiten(self, advantages: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        mode = self.args.whiten_advantages
        if mode == "none":
            return advantages
        if mode == "local" or self.accelerator.num_processes == 1:
            return ppo.masked_whiten(advantages, mask)
        stats = torch.stack([(advantages * mask).sum(), (advantages**2 * mask).sum(), mask.sum()])
        total, total_sq, count = self.accelerator.reduce(stats, reduction="sum")
        mean = total / count
        var = (total_sq / count - mean**2) * count / (count - 1).clamp(min=1.0)
        return ppo.masked_whiten(advantages, mask, mean=mean, var=var.clamp(min=0.0))

    # ----------------------------------------------------------------------- updates
    def training_step(
        self, model: nn.Module, inputs: list[dict[str, Any]], num_items_in_batch: Any = None
    ) -> torch.Tensor:
        """One rollout and its PPO updates; the last update's optimizer step is the Trainer's."""
        args = self.args
        rollout = self.make_rollout(inputs)
        start = time.perf_counter()
        model.train()
        size = len(rollout) // args.num_mini_batches
        generator = torch.Generator().manual_seed(
            args.seed + 1_000_003 * self.state.global_step + 7919 * self.accelerator.process_index
        )
        total_updates = args.ppo_epochs * args.num_mini_batches
        losses = []
        for _ in range(args.ppo_epochs):
            order = torch.randperm(len(rollout), generator=generator).to(args.device)
            for j in range(args.num_mini_batches):
                batch = rollout.mini_batch(order[j * size : (j + 1) * size])
                with self.compute_loss_context_manager():
                    loss = self.compute_loss(model, batch)
                self.accelerator.backward(loss)
                losses.append(loss.detach())
                if len(losses) < total_updates:
                    self._optimizer_update(model)
        self._record(time_update=time.perf_counter() - start)
        self._flush_step_stats()
        return torch.stack(losses).mean()

    def _optimizer_update(self, model: nn.Module) -> None:
        """An update inside a rollout: clip, step, zero (the Trainer does the rollout's last one)."""
        if self.args.max_grad_norm is not None and self.args.max_grad_norm > 0:
            self._clip_grad_norm(model)
        self.optimizer.step()
        model.zero_grad()

    def compute_loss(
        self,
        model: nn.Module,
        inputs: dict[str, Any],
        return_outputs: bool = False,
        num_items_in_batch: Any = None,
    ) -> torch.Tensor | tuple[torch.Tensor, Any]:
        """PPO loss of one mini-batch of a rollout (see :meth:`Rollout.mini_batch` for ``inputs``)."""
        args = self.args
        p = inputs["prompt_width"]
        mask = inputs["response_mask"]
        width = mask.shape[1]
        outputs = model(
            input_ids=inputs["input_ids"],
            attention_mask=inputs["attention_mask"],
            position_ids=inputs["position_ids"],
            prompt_lengths=inputs["prompt_lengths"],
        )
        logits = outputs.logits[:, p - 1 : p + width - 1]
        values = outputs.value[:, p - 1 : p + width - 1].float()
        logprobs = ppo.logprobs_from_logits(logits, inputs["input_ids"][:, p:], temperature=args.temperature)
        pg = ppo.policy_loss(
            logprobs, inputs["old_logprobs"], inputs["advantages"], mask, clip_range=args.cliprange
        )
        vf = ppo.value_loss(
            values, inputs["old_values"], inputs["returns"], mask, clip_range=args.cliprange_value
        )
        loss = pg.loss + args.vf_coef * vf.loss
        with torch.no_grad():
            entropy = ppo.masked_mean(
                ppo.entropy_from_logits(logits.detach(), temperature=args.temperature), mask
            )
        self._record(
            policy_loss=pg.loss.detach(),
            value_loss=vf.loss.detach(),
            clip_fraction=pg.clip_fraction,
            value_clip_fraction=vf.clip_fraction,
            approx_kl=pg.approx_kl,
            entropy=entropy,
        )
        return (loss, outputs) if return_outputs else loss

    # ----------------------------------------------------------------------- metrics
    def _record(self, **values: torch.Tensor | float) -> None:
        for key, value in values.items():
            self._step_stats[key].append(torch.as_tensor(value, dtype=torch.float32).detach().cpu())

    def _flush_step_stats(self) -> None:
        """Average this step's statistics, then over processes (one collective, same keys everywhere)."""
        keys = sorted(self._step_stats)
        local = torch.stack([torch.stack(self._step_stats[k]).mean() for k in keys]).to(self.args.device)
        if self.accelerator.num_processes > 1:
            local = self.accelerator.reduce(local, reduction="mean")
        stats = dict(zip(keys, local.tolist(), strict=True))
        step_time = (
            stats["time_generation"] + stats["time_reward"] + stats["time_forward"] + stats["time_update"]
        )
        stats["generation_share"] = stats["time_generation"] / step_time if step_time > 0 else 0.0
        for key, value in stats.items():
            self._metrics[key].append(value)
        self._step_stats.clear()

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        """Add the PPO metrics gathered since the last training log to a training log."""
        if "loss" in logs and self._metrics:
            logs = {**logs, **{k: sum(v) / len(v) for k, v in self._metrics.items()}}
            self._metrics.clear()
        super().log(logs, start_time)

    # ----------------------------------------------------------------------- evaluation
    def evaluate(
        self,
        eval_dataset: Any = None,
        ignore_keys: list[str] | None = None,
        metric_key_prefix: str = "eval",
    ) -> dict[str, float]:
        """Reward and accuracy of greedy (or ``eval_num_samples`` sampled) solutions on the eval set."""
        dataloader = self.get_eval_dataloader(eval_dataset)
        params = self.args.eval_sampling_params()
        start = time.perf_counter()
        scores, lengths = [], []
        for rows in dataloader:
            prompts, repeated, columns = self._prompts_and_columns(rows, params.num_samples)
            completions = self._sample(prompts, params)
            batch_scores = self._rewards(repeated, completions, columns)
            batch_lengths = torch.tensor([len(c.token_ids) for c in completions], dtype=torch.float32)
            scores.append(self.accelerator.gather_for_metrics(batch_scores.to(self.args.device)).cpu())
            lengths.append(self.accelerator.gather_for_metrics(batch_lengths.to(self.args.device)).cpu())
        all_scores, all_lengths = torch.cat(scores), torch.cat(lengths)
        metrics = {
            f"{metric_key_prefix}_reward": all_scores.mean().item(),
            f"{metric_key_prefix}_accuracy": (all_scores >= CORRECT_REWARD).float().mean().item(),
            f"{metric_key_prefix}_response_length": all_lengths.mean().item(),
            f"{metric_key_prefix}_samples": float(all_scores.numel()),
            f"{metric_key_prefix}_runtime": time.perf_counter() - start,
        }
        self.log(metrics)
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        return metrics

    # ----------------------------------------------------------------------- saving and resuming
    def _card_context(self) -> dict[str, Any]:
        return {
            "cot_format": {"nl": "natural language", "program": "Python program"}[self.args.format],
            "kl_coef": self.args.kl_coef,
            "steps": self.state.global_step,
        }

    def _save(self, output_dir: str | None = None, state_dict: dict | None = None) -> None:
        output_dir = output_dir if output_dir is not None else self.args.output_dir
        if not self.args.should_save:
            return
        model = self._policy_model()
        model.save_pretrained(output_dir, card_context=self._card_context())
        self.processing_class.save_pretrained(output_dir)
        atomic_write_text(os.path.join(output_dir, "training_args.json"), self.args.to_json_string())

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model: nn.Module | None = None) -> None:
        target = self.accelerator.unwrap_model(model if model is not None else self.model)
        target.load_checkpoint(resume_from_checkpoint)

    def _load_best_model(self) -> None:
        self._policy_model().load_checkpoint(self.state.best_model_checkpoint)

    def create_model_card(self, *args: Any, **kwargs: Any) -> None:
        """Write hf-reft's card for the policy and value head (not the generic Trainer card)."""
        if self.is_world_process_zero():
            card = self._policy_model().model_card(**self._card_context())
            card.save(os.path.join(self.args.output_dir, "README.md"))
