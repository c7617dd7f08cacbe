"""``hf-reft reinforced ...``: the reinforced fine-tuning command group.

* ``hf-reft reinforced sft`` — warm-up SFT in the ``nl`` or ``program`` format, a full model or
  a LoReFT adapter (``--adapter``); the output folder loads with ``from_pretrained``.
* ``hf-reft reinforced evaluate`` — greedy accuracy and vote@k on SVAMP/GSM8K (or a file), with
  95 % intervals; a JSON report and a printed table.

* ``hf-reft reinforced train`` (PPO, :mod:`~hf_reft.reinforced.ppo_cli`) and ``verifier``
  (:mod:`~hf_reft.reinforced.verifier_cli`) are defined in their own modules.

:data:`SUBCOMMANDS` lists the functions that each add one command, as in every wing (see
:func:`hf_reft.cli_arguments.add_command_group`). Their shared arguments and checks live in
:mod:`hf_reft.cli_arguments`; the LoReFT flags of ``--adapter`` in
:mod:`hf_reft.representation.arguments` (also importable from here).

Examples::

    hf-reft reinforced sft --format nl --output runs/warmup-nl --max-steps 200
    hf-reft reinforced sft --format program --adapter --layers 6 12 18 24 --output runs/warmup-program-loreft
    hf-reft reinforced evaluate --model runs/warmup-nl --data svamp-test --limit 300 --vote-k 8 --vote-limit 100 \\
        --output runs/warmup-nl/eval.json
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..cli_arguments import (
    UsageError,
    add_data_arguments,
    add_format_argument,
    add_leak_check_arguments,
    add_model_argument,
    add_push_to_hub_argument,
    check_data,
    check_model,
    check_positive,
    data_source,
    last_checkpoint,
)
from ..representation.arguments import adapter_config_from_args, add_adapter_arguments
from .ppo_cli import add_train_command
from .verifier_cli import add_verifier_command

__all__ = [
    "DESCRIPTION",
    "SUBCOMMANDS",
    "adapter_config_from_args",
    "add_adapter_arguments",
    "add_data_arguments",
    "add_evaluate_command",
    "add_format_argument",
    "add_model_argument",
    "add_sft_command",
]


#: What ``hf-reft reinforced --help`` says first (the dispatcher builds the group from it and
#: :data:`SUBCOMMANDS`, see :func:`hf_reft.cli_arguments.add_command_group`).
DESCRIPTION = (
    "Reinforced fine-tuning for reasoning (Luong et al. 2024): warm-up SFT in the natural-language "
    "or program chain-of-thought format, evaluation with greedy decoding and vote@k, and PPO."
)


# ------------------------------------------------------------------------------------------- sft


def add_sft_command(commands: Any) -> None:
    """``hf-reft reinforced sft``."""
    parser = commands.add_parser(
        "sft",
        help="warm-up SFT on chains of thought (natural language or programs)",
        description="Warm-up supervised fine-tuning: the loss covers the chain of thought only; the prompt is "
        "'Question:\\n{question}\\nAnswer reasoning:\\n'. The output folder loads with from_pretrained.",
    )
    add_model_argument(parser)
    add_format_argument(parser)
    add_data_arguments(parser, default=None, what="training data (default: svamp-nl or svamp-program)")
    parser.add_argument(
        "--target-column", default=None, help="column with the chain of thought (default: answer_cot)"
    )
    parser.add_argument("--output", required=True, help="folder for the finished warm-up policy")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace a finished warm-up policy in --output"
    )
    add_leak_check_arguments(parser)
    training = parser.add_argument_group("training")
    training.add_argument("--max-steps", type=int, default=None, help="optimizer steps (overrides --epochs)")
    training.add_argument("--epochs", type=float, default=3.0, help="epochs (default 3)")
    training.add_argument("--batch-size", type=int, default=8, help="examples per step (default 8)")
    training.add_argument("--gradient-accumulation-steps", type=int, default=1)
    training.add_argument(
        "--learning-rate", type=float, default=None, help="default 1e-5 (full model) or 1e-3 (adapter)"
    )
    training.add_argument(
        "--warmup-steps", type=int, default=0, help="linear warm-up steps of the learning rate"
    )
    training.add_argument("--max-length", type=int, default=320, help="tokens per example (default 320)")
    training.add_argument(
        "--chat-template", action="store_true", help="wrap prompts in the tokenizer's chat template"
    )
    training.add_argument(
        "--save-steps", type=int, default=None, help="save a resumable checkpoint every N steps"
    )
    training.add_argument("--resume", action="store_true", help="resume from the last checkpoint in --output")
    training.add_argument("--logging-steps", type=int, default=10)
    training.add_argument(
        "--bf16",
        action="store_true",
        help="bfloat16 autocast (fp32 master weights); ~2x faster on CPUs with bf16 units",
    )
    training.add_argument("--seed", type=int, default=42)
    add_adapter_arguments(parser)
    add_push_to_hub_argument(parser)
    parser.set_defaults(func=_run_sft)


def _run_sft(args: argparse.Namespace) -> int:
    from ..data import DataLeakError
    from .prompts import get_format
    from .sft import WARMUP_INFO_NAME, default_test_sets, warmup_sft

    check_positive(
        {
            "--max-steps": args.max_steps,
            "--epochs": args.epochs,
            "--batch-size": args.batch_size,
            "--gradient-accumulation-steps": args.gradient_accumulation_steps,
            "--learning-rate": args.learning_rate,
            "--limit": args.limit,
            "--save-steps": args.save_steps,
            "--logging-steps": args.logging_steps,
        }
    )
    check_positive({"--warmup-steps": args.warmup_steps}, allow_zero=True)
    if args.max_length is not None and args.max_length < 16:
        raise UsageError(f"--max-length must be at least 16 tokens, got {args.max_length}.")
    adapter_config = adapter_config_from_args(args)
    fmt = get_format(args.format)
    name = args.data or fmt.train_set
    check_data(name, args.data_dir)
    data = data_source(args, name)
    check_model(args.model)
    output = Path(args.output)
    if output.exists() and not output.is_dir():
        raise UsageError(f"--output {output} is a file; choose a folder.")
    if (output / WARMUP_INFO_NAME).is_file() and not (args.overwrite or args.resume):
        raise UsageError(
            f"{output} already holds a warm-up policy; choose another --output or pass --overwrite."
        )
    test_sets = [] if args.no_leak_check else (args.test_set or default_test_sets(name))
    resume = last_checkpoint(output) if args.resume else None
    try:
        result = warmup_sft(
            args.model,
            data,
            output,
            format=fmt,
            adapter_config=adapter_config,
            data_dir=args.data_dir,
            limit=args.limit,
            test_sets=test_sets,
            max_length=args.max_length,
            use_chat_template=args.chat_template,
            question_column=args.question_column,
            target_column=args.target_column,
            resume_from_checkpoint=resume,
            push_to_hub=args.push_to_hub,
            keep_checkpoints=args.save_steps is not None,
            max_steps=args.max_steps if args.max_steps is not None else -1,
            num_train_epochs=args.epochs,
            per_device_train_batch_size=args.batch_size,
            gradient_accumulation_steps=args.gradient_accumulation_steps,
            learning_rate=args.learning_rate,
            warmup_steps=args.warmup_steps,
            logging_steps=args.logging_steps,
            save_strategy="steps" if args.save_steps else "no",
            save_steps=args.save_steps,
            seed=args.seed,
            bf16=args.bf16 or None,
        )
    except DataLeakError as err:
        raise UsageError(f"{err} (or pass --no-leak-check if you know what you are doing)") from err
    except (FileNotFoundError, ValueError) as err:
        raise UsageError(str(err)) from err
    info = result.info
    print(
        f"Warm-up policy ({info.policy}, {info.format}) saved to {result.output_dir}: {info.steps} steps, "
        f"final loss {info.final_loss if info.final_loss is None else round(info.final_loss, 4)}, "
        f"{info.train_seconds / 60:.1f} min"
    )
    if args.push_to_hub:
        print(f"Uploaded to {args.push_to_hub}")
    return 0


# ------------------------------------------------------------------------------------------ evaluate


def add_evaluate_command(commands: Any) -> None:
    """``hf-reft reinforced evaluate``."""
    parser = commands.add_parser(
        "evaluate",
        help="greedy accuracy and vote@k of a policy on SVAMP/GSM8K, with 95 %% intervals",
        description="Greedy accuracy and vote@k (k samples, majority over extracted answers, ties to the "
        "first answer seen). Programs run in the sandbox. Prints a table; --output writes a JSON report "
        "(and a .jsonl cache beside it, from which an interrupted run resumes).",
    )
    add_model_argument(parser)
    add_format_argument(parser, default=None)
    add_data_arguments(parser, default="svamp-test", what="test data", answers=True)
    parser.add_argument(
        "--sample-seed", type=int, default=None, help="with --limit: a seeded sample instead of the first N"
    )
    parser.add_argument("--output", default=None, help="JSON report to write (default: print only)")
    parser.add_argument(
        "--vote-k", type=int, default=0, help="samples per question for vote@k (default 0: off)"
    )
    parser.add_argument("--vote-limit", type=int, default=None, help="vote on the first N questions only")
    parser.add_argument("--no-greedy", action="store_true", help="skip greedy decoding (vote@k only)")
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument(
        "--temperature", type=float, default=1.0, help="vote@k sampling temperature (default 1)"
    )
    parser.add_argument("--top-k", type=int, default=0, help="vote@k top-k (default 0: off, as the paper)")
    parser.add_argument("--top-p", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0, help="sampling seed")
    parser.add_argument("--batch-size", type=int, default=16, help="completions generated at once")
    parser.add_argument(
        "--dtype", choices=("float32", "bfloat16"), default="float32", help="dtype to load the policy in"
    )
    parser.add_argument(
        "--lenient",
        action="store_true",
        help="nl: also accept the last number when there is no answer sentence (default: strict, as the paper)",
    )
    parser.add_argument(
        "--chat-template", action="store_true", default=None, help="prompt through the chat template"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--verifier",
        default=None,
        help="verifier folder (hf-reft reinforced verifier): adds rerank@k over vote@k",
    )
    parser.set_defaults(func=_run_evaluate)


def _run_evaluate(args: argparse.Namespace) -> int:
    from .evaluation import evaluate_model

    check_positive(
        {
            "--limit": args.limit,
            "--vote-limit": args.vote_limit,
            "--max-new-tokens": args.max_new_tokens,
            "--batch-size": args.batch_size,
            "--temperature": args.temperature,
        }
    )
    check_positive({"--vote-k": args.vote_k, "--top-k": args.top_k}, allow_zero=True)
    if not 0 < args.top_p <= 1:
        raise UsageError(f"--top-p must be in (0, 1], got {args.top_p}.")
    if args.vote_limit is not None and not args.vote_k:
        raise UsageError("--vote-limit needs --vote-k (the number of samples per question).")
    if args.no_greedy and not args.vote_k:
        raise UsageError("--no-greedy leaves nothing to evaluate: add --vote-k K.")
    if args.verifier is not None and not args.vote_k:
        raise UsageError("--verifier reranks the vote@k samples; add --vote-k K.")
    if args.sample_seed is not None and args.limit is None:
        raise UsageError("--sample-seed draws --limit questions; add --limit N.")
    check_data(args.data, args.data_dir)
    check_model(args.model)
    output = Path(args.output) if args.output else None
    if output is not None and output.is_dir():
        raise UsageError(f"--output {output} is a folder; give a file name such as {output / 'eval.json'}.")
    try:
        report = evaluate_model(
            args.model,
            data_source(args, args.data),
            format=args.format,
            data_dir=args.data_dir,
            limit=args.limit,
            sample_seed=args.sample_seed,
            question_column=args.question_column,
            answer_column=args.answer_column,
            use_chat_template=args.chat_template,
            batch_size=args.batch_size,
            dtype=args.dtype,
            greedy=not args.no_greedy,
            vote_k=args.vote_k,
            vote_limit=args.vote_limit,
            max_new_tokens=args.max_new_tokens,
            temperature=args.temperature,
            top_k=args.top_k,
            top_p=args.top_p,
            seed=args.seed,
            strict=not args.lenient,
            cache_path=None if output is None else output.with_suffix(".jsonl"),
            progress=not args.no_progress,
            verifier=args.verifier,
        )
    except (FileNotFoundError, ValueError) as err:
        raise UsageError(str(err)) from err
    print(report.table())
    if output is not None:
        report.save(output)
        print(f"Report written to {output}")
    return 0


#: Functions adding one ``reinforced`` command each, in help order (the PPO stage and the verifier
#: define theirs in their own modules).
SUBCOMMANDS: list[Callable[[Any], None]] = [
    add_sft_command,
    add_evaluate_command,
    add_train_command,
    add_verifier_command,
]
