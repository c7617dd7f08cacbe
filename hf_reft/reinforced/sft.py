"""Warm-up SFT: supervised fine-tuning on chains of thought before PPO.

The policy is either a full causal LM or a LoReFT adapter over a frozen base
(:mod:`hf_reft.representation`); both go through the same code path — the same tokenization
(:func:`hf_reft.data.prepare_supervised_dataset`, loss on the target tokens only), the same
collator and ``transformers.Trainer`` — and both save with ``save_pretrained`` into a folder that
``AutoModelForCausalLM.from_pretrained`` (after ``import hf_reft``) and :func:`load_policy` load
again, tokenizer included, so the PPO stage starts from it.

Example::

    from hf_reft.reinforced.sft import warmup_sft

    result = warmup_sft(None, "svamp-nl", "runs/warmup-nl", format="nl", max_steps=200)
    # None: the offline default chat model; an adapter instead: adapter_config=hf_reft.ReftConfig(...)
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .. import hub
from ..data import (
    NAMED_DATASETS,
    SupervisedCollator,
    check_columns,
    check_no_overlap,
    load_data,
    prepare_supervised_dataset,
    source_name,
)
from .prompts import PromptFormat, get_format

__all__ = [
    "WARMUP_INFO_NAME",
    "WarmupInfo",
    "WarmupResult",
    "build_warmup_trainer",
    "default_training_arguments",
    "is_adapter",
    "load_policy",
    "policy_prompt_format",
    "prepare_warmup_dataset",
    "read_warmup_info",
    "save_warmup",
    "warmup_sft",
]

logger = logging.getLogger(__name__)

#: The file in a warm-up folder that says how it was trained (format, prompt, data, steps).
WARMUP_INFO_NAME = "reinforced_warmup.json"
#: Default learning rates: the paper's 1e-5 for full models; LoReFT trains far fewer parameters.
FULL_MODEL_LR = 1e-5
ADAPTER_LR = 1e-3


def is_adapter(model: Any) -> bool:
    """Whether ``model`` is an hf-reft LoReFT adapter (interventions over a frozen base)."""
    from ..representation import ReftPreTrainedModel

    return isinstance(model, ReftPreTrainedModel)


def _load_tokenizer(source: str, model: Any) -> Any:
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError, TypeError):
        base = getattr(model.config, "base_model_name_or_path", None) if is_adapter(model) else None
        if not base:
            raise
        return AutoTokenizer.from_pretrained(base)  # an adapter saved without its tokenizer


def load_policy(
    model_name_or_path: str | os.PathLike[str] | None = None,
    *,
    adapter_config: Any = None,
    **kwargs: Any,
) -> tuple[Any, Any]:
    """Load a policy and its tokenizer: a full model, a saved LoReFT adapter, or a new adapter.

    Args:
        model_name_or_path: Hub id or folder of a causal LM or of an hf-reft adapter (a warm-up
            checkpoint of either kind); ``None`` is the offline default chat model.
        adapter_config: a :class:`hf_reft.ReftConfig` to wrap the loaded model in new LoReFT
            interventions (the base is frozen; only the interventions train).
        **kwargs: for ``AutoModelForCausalLM.from_pretrained`` (``dtype``, ``revision``, ...).

    Returns:
        ``(model, tokenizer)``; the tokenizer pads with EOS when it has no pad token.
    """
    from transformers import AutoModelForCausalLM

    from .. import representation  # noqa: F401  (registers the "reft" model type)
    from ..models import default_chat_model_path

    source = str(default_chat_model_path() if model_name_or_path is None else model_name_or_path)
    model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    tokenizer = _load_tokenizer(source, model)
    if adapter_config is not None:
        if is_adapter(model):
            raise ValueError(
                f"{source} is already a LoReFT adapter; drop adapter_config to continue training it, "
                "or pass its base model to start a new adapter."
            )
        from ..representation import get_reft_model

        model = get_reft_model(model, adapter_config)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def _check_targets_match_format(targets: Sequence[str], fmt: PromptFormat) -> None:
    """Refuse data whose targets clearly belong to the other format (programs vs prose)."""
    sample = [str(t) for t in targets[:50]]
    programs = sum("def solution(" in t for t in sample)
    if fmt.is_program and programs < len(sample) / 2:
        raise ValueError(
            f"--format program, but only {programs} of the first {len(sample)} targets hold a "
            "'def solution():' program. Train on program data (e.g. svamp-program) or use --format nl."
        )
    if not fmt.is_program and programs > len(sample) / 2:
        raise ValueError(
            f"--format nl, but {programs} of the first {len(sample)} targets are 'def solution():' programs. "
            "Use --format program for program data, or natural-language data (e.g. svamp-nl)."
        )


def prepare_warmup_dataset(
    dataset: Any,
    tokenizer: Any,
    format: str | PromptFormat = "nl",
    *,
    max_length: int | None = None,
    use_chat_template: bool = False,
    question_column: str | None = None,
    target_column: str | None = None,
    drop_longer: bool = True,
) -> Any:
    """Tokenize (question, chain of thought) rows for warm-up SFT.

    The prompt is the format's ``"Question:\\n{question}\\nAnswer reasoning:\\n"`` (as a user turn
    of the chat template with ``use_chat_template``); the target is the chain of thought followed
    by EOS; the loss covers the target only.

    ``drop_longer`` drops examples longer than ``max_length`` instead of cutting them: a cut
    chain of thought loses its final answer and its EOS, which would teach the policy to ramble.

    Returns:
        A :class:`datasets.Dataset` with ``input_ids``, ``attention_mask``, ``labels`` (``-100`` on
        the prompt) and ``prompt_length``, each example at most ``max_length`` tokens.
    """
    fmt = get_format(format)
    question = question_column or fmt.question_column
    target = target_column or fmt.target_column
    check_columns(dataset, {question: "--question-column", target: "--target-column"}, "The training data")
    if len(dataset) == 0:
        raise ValueError("The training data is empty.")
    _check_targets_match_format(dataset[target][:50], fmt)
    tokenized = prepare_supervised_dataset(
        dataset,
        tokenizer,
        prompt_template=lambda row: fmt.prompt(str(row[question])),
        response_column=target,
        use_chat_template=use_chat_template,
        max_length=max_length,
    )
    if drop_longer and max_length is not None:
        eos = tokenizer.eos_token_id
        kept = tokenized.filter(lambda row: row["labels"][-1] == eos, desc="Dropping cut examples")
        if len(kept) == 0:
            raise ValueError(
                f"Every example is longer than max_length={max_length} tokens; raise --max-length."
            )
        if len(kept) < len(tokenized):
            logger.info(
                "Dropped %d of %d examples longer than %d tokens.",
                len(tokenized) - len(kept),
                len(tokenized),
                max_length,
            )
        tokenized = kept
    return tokenized


def default_training_arguments(
    output_dir: str | os.PathLike[str], *, adapter: bool = False, **overrides: Any
):
    """``TrainingArguments`` for warm-up SFT: batch 8, lr 1e-5 (full model) or 1e-3 (adapter),
    3 epochs, linear decay, length-grouped batches, no checkpoints unless asked; ``overrides`` win
    (``bf16=True`` on a machine without a GPU means bf16 autocast on the CPU)."""
    from transformers import TrainingArguments

    values: dict[str, Any] = {
        "output_dir": str(output_dir),
        "per_device_train_batch_size": 8,
        "learning_rate": ADAPTER_LR if adapter else FULL_MODEL_LR,
        "num_train_epochs": 3.0,
        "lr_scheduler_type": "linear",
        "logging_steps": 10,
        "save_strategy": "no",
        "report_to": "none",
        "train_sampling_strategy": "group_by_length",
        "seed": 42,
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    if values.get("bf16"):
        import torch

        if not (torch.cuda.is_available() or torch.backends.mps.is_available()):
            values.setdefault("use_cpu", True)  # bf16 autocast on CPU (transformers asks for use_cpu)
    return TrainingArguments(**values)


def _trainer_class(model: Any) -> type:
    """``transformers.Trainer`` for a full model, the LoReFT ``ReftTrainer`` for an adapter policy
    (complete adapters in every checkpoint, the prompt kept on the interventions' positions)."""
    if is_adapter(model):
        from ..representation import ReftTrainer

        return ReftTrainer
    from transformers import Trainer

    return Trainer


def build_warmup_trainer(
    model: Any,
    tokenizer: Any,
    train_dataset: Any,
    args: Any,
    *,
    eval_dataset: Any = None,
    callbacks: Sequence[Any] | None = None,
) -> Any:
    """A ``Trainer`` over tokenized warm-up data (right-padded batches from the shared collator)."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    if trainable == 0:
        raise ValueError("The policy has no trainable parameters; nothing would learn.")
    collator = SupervisedCollator.for_tokenizer(tokenizer, padding_side="right")
    return _trainer_class(model)(
        model=model,
        args=args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        data_collator=collator,
        processing_class=tokenizer,
        callbacks=list(callbacks or []),
    )


@dataclass
class WarmupInfo:
    """What a warm-up folder holds and how it was made (saved as :data:`WARMUP_INFO_NAME`)."""

    format: str
    policy: str  # "full" or "adapter"
    base_model: str | None = None
    instruction: str = "Question:\n"
    cot_trigger: str = "\nAnswer reasoning:\n"
    use_chat_template: bool = False
    train_data: str | None = None
    train_examples: int = 0
    steps: int = 0
    batch_size: int = 0
    learning_rate: float = 0.0
    max_length: int | None = None
    trainable_parameters: int = 0
    final_loss: float | None = None
    train_seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def prompt_format(self) -> PromptFormat:
        """The :class:`PromptFormat` the policy was trained with (to prompt it the same way)."""
        base = get_format(self.format)
        return PromptFormat(
            base.name,
            instruction=self.instruction,
            cot_trigger=self.cot_trigger,
            train_set=base.train_set,
            description=base.description,
        )


def read_warmup_info(model_name_or_path: str | os.PathLike[str]) -> WarmupInfo | None:
    """The :class:`WarmupInfo` of a warm-up folder or Hub repo; ``None`` for other models."""
    try:
        folder = hub.resolve_folder(model_name_or_path, allow_patterns=[WARMUP_INFO_NAME])
    except Exception:  # not a folder and not a reachable repo: not a warm-up checkpoint
        return None
    path = Path(folder) / WARMUP_INFO_NAME
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    known = set(WarmupInfo.__dataclass_fields__)
    return WarmupInfo(**{k: v for k, v in data.items() if k in known})


def policy_prompt_format(
    model: str | os.PathLike[str] | None, format: str | None = None
) -> tuple[PromptFormat, bool]:
    """How to prompt ``model``: ``(prompt format, use the chat template)``.

    A warm-up folder's recorded format (unless ``format`` names another one) and chat-template
    setting; otherwise ``format`` (default ``"nl"``). ``None`` is the offline default model.
    """
    info = read_warmup_info(model) if model is not None else None
    fmt = (
        info.prompt_format()
        if info is not None and format in (None, info.format)
        else get_format(format or "nl")
    )
    return fmt, bool(info and info.use_chat_template)


def _card(model: Any, info: WarmupInfo, repo_id: str | None) -> Any:
    fmt = info.prompt_format()
    return hub.render_card(
        "reinforced_warmup.md",
        base_model=info.base_model,
        base_model_relation="adapter" if info.policy == "adapter" else "finetune",
        tags=["reinforced-fine-tuning", "warm-up", "math-reasoning", f"cot-{info.format}"],
        pipeline_tag="text-generation",
        model_name=f"Warm-up policy ({info.format} chain of thought)",
        policy_kind="LoReFT adapter over a frozen base" if info.policy == "adapter" else "full model",
        cot_format=info.format,
        format_description=fmt.description,
        prompt_example=fmt.prompt("<question>").replace("\n", "\\n"),
        train_data=info.train_data or "custom data",
        train_examples=info.train_examples,
        steps=info.steps,
        batch_size=info.batch_size,
        learning_rate=info.learning_rate,
        max_length=info.max_length,
        trainable_params=info.trainable_parameters,
        final_loss=info.final_loss,
        evaluation=info.extra.get("evaluation"),
        repo_id=repo_id,
    )


def save_warmup(
    model: Any,
    tokenizer: Any,
    output_dir: str | os.PathLike[str],
    info: WarmupInfo,
    *,
    repo_id: str | None = None,
) -> Path:
    """Write a warm-up folder atomically: the policy's ``save_pretrained`` (full weights, or the
    adapter's config + intervention tensors + card), the tokenizer, :data:`WARMUP_INFO_NAME`, and
    for a full model a ``README.md`` card. Everything is safetensors."""
    with hub.atomic_save(output_dir) as staging:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        (staging / WARMUP_INFO_NAME).write_text(json.dumps(asdict(info), indent=2) + "\n", encoding="utf-8")
        if not is_adapter(model):  # an adapter writes its own card (layers, rank, positions ...)
            _card(model, info, repo_id).save(staging / "README.md")
    return Path(output_dir)


@dataclass
class WarmupResult:
    """What :func:`warmup_sft` did."""

    output_dir: Path
    info: WarmupInfo
    log_history: list[dict[str, Any]]
    model: Any = field(repr=False, default=None)
    tokenizer: Any = field(repr=False, default=None)


def _final_loss(log_history: Sequence[dict[str, Any]]) -> float | None:
    losses = [entry["loss"] for entry in log_history if "loss" in entry]
    if losses:
        return float(losses[-1])
    final = [entry["train_loss"] for entry in log_history if "train_loss" in entry]
    return float(final[-1]) if final else None


def _load_train_data(train_data: Any, fmt: PromptFormat, data_dir: Any, limit: int | None) -> tuple[Any, str]:
    if train_data is None:
        train_data = fmt.train_set
    dataset, _ = load_data(train_data, data_dir, limit=limit)
    return dataset, source_name(train_data)


def _check_leak(
    dataset: Any, question_column: str, test_sets: Sequence[str], data_dir: Any, name: str
) -> None:
    for test_set in test_sets:
        test, spec = load_data(test_set, data_dir, default_split="test")
        column = spec.question if spec is not None else question_column
        check_no_overlap(dataset[question_column], test[column], train_name=name, test_name=test_set)


def warmup_sft(
    model: Any,
    train_data: Any,
    output_dir: str | os.PathLike[str],
    *,
    format: str | PromptFormat = "nl",
    tokenizer: Any = None,
    adapter_config: Any = None,
    data_dir: str | os.PathLike[str] | None = None,
    limit: int | None = None,
    test_sets: Sequence[str] = (),
    max_length: int | None = 320,
    use_chat_template: bool = False,
    question_column: str | None = None,
    target_column: str | None = None,
    training_args: Any = None,
    resume_from_checkpoint: str | bool | None = None,
    callbacks: Sequence[Any] | None = None,
    push_to_hub: str | None = None,
    keep_checkpoints: bool = False,
    **training_kwargs: Any,
) -> WarmupResult:
    """Warm up a policy on chains of thought and save it to ``output_dir``.

    Args:
        model: a Hub id or folder (full model or saved adapter), ``None`` for the offline default,
            or an already loaded model (then pass ``tokenizer``).
        train_data: a named set (``"svamp-nl"``, ``"svamp-program"``, ``"gsm8k-train"``), a
            JSON/JSONL file, or a :class:`datasets.Dataset`; ``None`` is the format's SVAMP set.
        output_dir: the finished warm-up folder (checkpoints go to ``output_dir/checkpoints``).
        format: ``"nl"`` or ``"program"``.
        adapter_config: a :class:`hf_reft.ReftConfig`: train LoReFT interventions over the frozen
            model instead of the full model.
        limit: use the first ``limit`` training rows.
        test_sets: named test sets the training questions must not overlap (refused otherwise).
        max_length: longest example in tokens; longer ones are dropped (see :func:`prepare_warmup_dataset`).
        use_chat_template: wrap prompts in the tokenizer's chat template.
        training_args: a full ``TrainingArguments``; otherwise :func:`default_training_arguments`
            with ``training_kwargs`` (``max_steps``, ``learning_rate``, ``per_device_train_batch_size``, ...).
        resume_from_checkpoint: passed to ``Trainer.train``.
        push_to_hub: a repo id to upload the finished folder to.
        keep_checkpoints: keep the Trainer's checkpoints (``output_dir/checkpoints`` unless
            ``training_args`` says otherwise) after the finished policy is saved.
    """
    fmt = get_format(format)
    started = time.perf_counter()
    dataset, data_name = _load_train_data(train_data, fmt, data_dir, limit)
    question = question_column or fmt.question_column
    if test_sets:  # before loading any model: a leak is refused at once
        _check_leak(dataset, question, test_sets, data_dir, data_name)
    if model is None or isinstance(model, str | os.PathLike):
        if model is None:  # the offline default: a local conversion of this Hub model
            from ..models import DEFAULT_CHAT_MODEL_HUB_ID as base_name
        else:
            base_name = str(model)
        model, loaded_tokenizer = load_policy(model, adapter_config=adapter_config)
        tokenizer = tokenizer or loaded_tokenizer
    else:
        base_name = getattr(model.config, "_name_or_path", None) or None
        if tokenizer is None:
            raise ValueError("Pass the tokenizer along with an already loaded model.")
        if adapter_config is not None:
            from ..representation import get_reft_model

            model = get_reft_model(model, adapter_config)
    if is_adapter(model):
        base_name = model.config.base_model_name_or_path or base_name
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token

    tokenized = prepare_warmup_dataset(
        dataset,
        tokenizer,
        fmt,
        max_length=max_length,
        use_chat_template=use_chat_template,
        question_column=question_column,
        target_column=target_column,
    )
    args = training_args or default_training_arguments(
        Path(output_dir) / "checkpoints", adapter=is_adapter(model), **training_kwargs
    )
    trainer = build_warmup_trainer(model, tokenizer, tokenized, args, callbacks=callbacks)
    output = trainer.train(resume_from_checkpoint=resume_from_checkpoint)
    model = trainer.model
    model.eval()
    info = WarmupInfo(
        format=fmt.name,
        policy="adapter" if is_adapter(model) else "full",
        base_model=base_name,
        instruction=fmt.instruction,
        cot_trigger=fmt.cot_trigger,
        use_chat_template=use_chat_template,
        train_data=data_name,
        train_examples=len(tokenized),
        steps=int(output.global_step),
        batch_size=args.per_device_train_batch_size * args.gradient_accumulation_steps * args.world_size,
        learning_rate=float(args.learning_rate),
        max_length=max_length,
        trainable_parameters=sum(p.numel() for p in model.parameters() if p.requires_grad),
        final_loss=_final_loss(trainer.state.log_history),
        train_seconds=round(time.perf_counter() - started, 1),
        extra={"bf16": bool(getattr(args, "bf16", False))},
    )
    if trainer.is_world_process_zero():
        save_warmup(model, tokenizer, output_dir, info, repo_id=push_to_hub)
        checkpoints, final = Path(args.output_dir).resolve(), Path(output_dir).resolve()
        if not keep_checkpoints and checkpoints != final and checkpoints.is_relative_to(final):
            shutil.rmtree(checkpoints, ignore_errors=True)  # only ours, inside the finished folder
        if push_to_hub:
            hub.upload_folder(output_dir, push_to_hub, commit_message="Upload warm-up policy with hf-reft")
    return WarmupResult(Path(output_dir), info, list(trainer.state.log_history), model, tokenizer)


def default_test_sets(train_data: str | None) -> list[str]:
    """The named test sets a named training set must not overlap: SVAMP data → ``svamp-test``,
    GSM8K → ``gsm8k-test``; none for files and custom data."""
    spec = NAMED_DATASETS.get(train_data or "")
    if spec is None:
        return []
    return [name for name in ("svamp-test", "gsm8k-test") if NAMED_DATASETS[name].benchmark == spec.benchmark]
