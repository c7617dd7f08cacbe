"""The PPO stage in one call: from a warm-up checkpoint to a saved reinforced policy.

:func:`train_ppo` is what ``hf-reft reinforced train`` runs: it reads how the warm-up policy was
prompted (:data:`~hf_reft.reinforced.sft.WARMUP_INFO_NAME`: format, prompt, chat template), loads
the policy (full model or LoReFT adapter) and the training questions, refuses a train/test leak,
runs :class:`~hf_reft.reinforced.trainer.ReinforcedTrainer` and saves the policy with its value
head. The output folder also carries the warm-up record, so that ``hf-reft reinforced evaluate``
prompts the PPO policy exactly like its warm-up model.

Example::

    from hf_reft.reinforced.ppo_stage import train_ppo

    result = train_ppo("runs/warmup-nl", "runs/ppo-nl", max_steps=100, samples_per_question=4)
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .. import hub
from ..data import check_columns, check_no_overlap, format_prompt, load_data, source_name
from .configuration import ReinforcedConfig
from .prompts import PromptFormat, get_format
from .rewards import RewardFunction
from .sft import WARMUP_INFO_NAME, default_test_sets, is_adapter, load_policy, read_warmup_info
from .trainer import ReinforcedTrainer
from .value_head import VALUE_HEAD_FILE, PolicyWithValueHead

__all__ = [
    "PPO_INFO_NAME",
    "PPOResult",
    "PPOSetup",
    "default_learning_rate",
    "prepare_ppo",
    "run_ppo",
    "train_ppo",
]

#: The file in a PPO output folder that says how it was trained.
PPO_INFO_NAME = "reinforced_ppo.json"
#: Starting points for the learning rate (the paper: 3e-7 for 7B full models); LoReFT trains far fewer weights.
FULL_MODEL_LR = 1e-6
ADAPTER_LR = 1e-4


def default_learning_rate(model: Any) -> float:
    """1e-6 for a full model, 1e-4 for a LoReFT adapter."""
    return ADAPTER_LR if is_adapter(model) else FULL_MODEL_LR


@dataclass
class PPOSetup:
    """A ready :class:`ReinforcedTrainer` and what :func:`run_ppo` records about it."""

    trainer: ReinforcedTrainer
    format: PromptFormat
    warmup_info: Any
    source: str | None
    train_data: str
    train_questions: int
    started: float


@dataclass
class PPOResult:
    """What :func:`train_ppo` returns."""

    output_dir: Path
    info: dict[str, Any]
    log_history: list[dict[str, Any]] = field(repr=False)
    model: Any = field(repr=False)
    tokenizer: Any = field(repr=False)


def _load_questions(
    data: Any,
    data_dir: Any,
    limit: int | None,
    question_column: str | None,
    answer_column: str | None,
    fmt: PromptFormat,
    default_split: str = "train",
) -> tuple[Any, str, str, str]:
    """``(dataset, name, question column, answer column)``."""
    dataset, spec = load_data(data, data_dir, limit=limit, default_split=default_split)
    question = question_column or (spec.question if spec else fmt.question_column)
    answer = answer_column or (spec.answer if spec else fmt.answer_column)
    check_columns(dataset, {question: "--question-column", answer: "--answer-column"}, data)
    return dataset, source_name(data), question, answer


def _with_prompts(dataset: Any, fmt: PromptFormat, question: str, tokenizer: Any, chat: bool) -> Any:
    """Add a ``prompt`` column rendered exactly as the warm-up training rendered prompts."""

    def render(row: dict[str, Any]) -> dict[str, str]:
        text = format_prompt(
            row, tokenizer, prompt_template=lambda r: fmt.prompt(str(r[question])), use_chat_template=chat
        )
        return {"prompt": text}

    return dataset.map(render, desc="Prompts")


def prepare_ppo(
    model: Any,
    output_dir: str | os.PathLike[str],
    *,
    train_data: Any = None,
    format: str | None = None,
    tokenizer: Any = None,
    data_dir: str | os.PathLike[str] | None = None,
    limit: int | None = None,
    test_sets: list[str] | None = None,
    question_column: str | None = None,
    answer_column: str | None = None,
    use_chat_template: bool | None = None,
    eval_data: Any = None,
    eval_limit: int | None = None,
    reward_funcs: RewardFunction | list[RewardFunction] | None = None,
    reward_weights: list[float] | None = None,
    training_args: ReinforcedConfig | None = None,
    callbacks: list[Any] | None = None,
    **config_kwargs: Any,
) -> PPOSetup:
    """Load the policy and questions and build the trainer (every bad input fails here, before training).

    Args:
        model: a warm-up folder or Hub id (full model or LoReFT adapter, optionally with a value
            head from an earlier PPO run), or a loaded model / :class:`PolicyWithValueHead` (then
            pass ``tokenizer``). Its current weights are the KL reference.
        output_dir: the finished folder; checkpoints go to ``output_dir/checkpoints``.
        train_data: a named set, a JSON/JSONL file or a :class:`datasets.Dataset` of questions
            with gold answers; default: the format's SVAMP training set.
        format: ``"nl"`` or ``"program"``; default: the warm-up folder's.
        limit / eval_limit: use the first rows only.
        test_sets: named test sets the training questions must not overlap (refused otherwise);
            default: ``svamp-test`` / ``gsm8k-test`` for named SVAMP / GSM8K training sets.
        question_column, answer_column: default: the named set's, else ``question`` / ``answer_value``.
        use_chat_template: default: what the warm-up folder recorded.
        eval_data: questions :meth:`ReinforcedTrainer.evaluate` reports greedy reward and accuracy on.
        reward_funcs, reward_weights: replace the built-in 1 / 0.1 / 0 reward (see
            :class:`~hf_reft.reinforced.trainer.ReinforcedTrainer`).
        training_args: a full :class:`ReinforcedConfig`; else one built from ``config_kwargs``
            (``max_steps``, ``learning_rate``, ``samples_per_question``, ``kl_coef``...).
    """
    started = time.perf_counter()
    source = None if model is None or not isinstance(model, str | os.PathLike) else str(model)
    info = read_warmup_info(source) if source is not None else None
    fmt_name = format or (info.format if info else None)
    if fmt_name is None:
        raise ValueError(
            "The chain-of-thought format is unknown: the model folder has no warm-up record "
            f"({WARMUP_INFO_NAME}). Pass format='nl' or 'program' (--format)."
        )
    if info is not None and format is not None and format != info.format:
        raise ValueError(
            f"The warm-up policy was trained on format {info.format!r}, not {format!r}; drop --format."
        )
    fmt = info.prompt_format() if info is not None else get_format(fmt_name)
    chat = use_chat_template if use_chat_template is not None else bool(info and info.use_chat_template)

    if source is not None or model is None:
        policy, tokenizer = load_policy(source)
        wrapped = PolicyWithValueHead(policy)
        if source is not None and (head := hub.resolve_folder(source) / VALUE_HEAD_FILE).is_file():
            wrapped.load_value_head(head)
    else:
        if tokenizer is None:
            raise ValueError("Pass the tokenizer along with an already loaded model.")
        wrapped = model if isinstance(model, PolicyWithValueHead) else PolicyWithValueHead(model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token

    dataset, data_name, question, answer = _load_questions(
        train_data if train_data is not None else fmt.train_set,
        data_dir,
        limit,
        question_column,
        answer_column,
        fmt,
    )
    for test_set in default_test_sets(data_name) if test_sets is None else test_sets:
        test, spec = load_data(test_set, data_dir, default_split="test")
        check_no_overlap(
            dataset[question],
            test[spec.question if spec else question],
            train_name=data_name,
            test_name=test_set,
        )
    dataset = _with_prompts(dataset, fmt, question, tokenizer, chat)
    evaluation = None
    if eval_data is not None:
        evaluation, eval_name, eval_question, eval_answer = _load_questions(
            eval_data, data_dir, eval_limit, None, None, fmt, default_split="test"
        )
        if test_sets != []:  # the evaluation questions are test questions too
            check_no_overlap(
                dataset[question], evaluation[eval_question], train_name=data_name, test_name=eval_name
            )
        if eval_answer != answer:  # the reward reads the training set's answer column
            if answer in evaluation.column_names:
                evaluation = evaluation.remove_columns(answer)
            evaluation = evaluation.rename_column(eval_answer, answer)
        evaluation = _with_prompts(evaluation, fmt, eval_question, tokenizer, chat)

    if training_args is None:
        config_kwargs.setdefault("learning_rate", default_learning_rate(wrapped.policy))
        training_args = ReinforcedConfig(
            output_dir=str(Path(output_dir) / "checkpoints"),
            format=fmt.name,
            prompt_column="prompt",
            answer_column=answer,
            add_special_tokens=not chat,
            **config_kwargs,
        )
    trainer = ReinforcedTrainer(
        wrapped,
        training_args,
        train_dataset=dataset,
        eval_dataset=evaluation,
        processing_class=tokenizer,
        reward_funcs=reward_funcs,
        reward_weights=reward_weights,
        callbacks=callbacks,
    )
    return PPOSetup(trainer, fmt, info, source, data_name, len(dataset), started)


def run_ppo(
    setup: PPOSetup,
    output_dir: str | os.PathLike[str],
    *,
    resume_from_checkpoint: str | bool | None = None,
    push_to_hub: str | None = None,
) -> PPOResult:
    """Train, then save the policy with its value head (and the warm-up and PPO records) to ``output_dir``."""
    trainer, info = setup.trainer, setup.warmup_info
    args = trainer.args
    output = trainer.train(resume_from_checkpoint=resume_from_checkpoint)
    rewards = [h["reward"] for h in trainer.state.log_history if "reward" in h]
    evaluations = [h for h in trainer.state.log_history if "eval_reward" in h]
    summary = {
        "format": setup.format.name,
        "policy": "adapter" if is_adapter(trainer.model.policy) else "full",
        "started_from": setup.source,
        "train_data": setup.train_data,
        "train_questions": setup.train_questions,
        "steps": int(output.global_step),
        "questions_per_step": args.per_device_train_batch_size * args.world_size,
        "samples_per_question": args.samples_per_question,
        "kl_coef": args.kl_coef,
        "ppo_epochs": args.ppo_epochs,
        "learning_rate": float(args.learning_rate),
        "first_reward": rewards[0] if rewards else None,
        "last_reward": rewards[-1] if rewards else None,
        "evaluations": [
            {k: h[k] for k in ("step", "eval_reward", "eval_accuracy", "eval_samples")} for h in evaluations
        ],
        "train_seconds": round(time.perf_counter() - setup.started, 1),
    }

    def save(folder: Path) -> None:
        trainer.save_model(str(folder))
        if info is not None:
            hub.atomic_write_text(Path(folder) / WARMUP_INFO_NAME, json.dumps(asdict(info), indent=2))
        hub.atomic_write_text(Path(folder) / PPO_INFO_NAME, json.dumps(summary, indent=2))

    if trainer.is_world_process_zero():
        save(Path(output_dir))
        if push_to_hub:
            hub.push_to_hub(save, push_to_hub, commit_message="Upload reinforced (PPO) policy with hf-reft")
    return PPOResult(
        Path(output_dir), summary, list(trainer.state.log_history), trainer.model, trainer.processing_class
    )


def train_ppo(
    model: Any,
    output_dir: str | os.PathLike[str],
    *,
    resume_from_checkpoint: str | bool | None = None,
    push_to_hub: str | None = None,
    **kwargs: Any,
) -> PPOResult:
    """Run PPO from a warm-up policy and save the result (policy + value head) to ``output_dir``.

    ``kwargs`` are :func:`prepare_ppo`'s; ``resume_from_checkpoint`` goes to ``Trainer.train``,
    ``push_to_hub`` (a repo id) uploads the finished folder.
    """
    return run_ppo(
        prepare_ppo(model, output_dir, **kwargs),
        output_dir,
        resume_from_checkpoint=resume_from_checkpoint,
        push_to_hub=push_to_hub,
    )
