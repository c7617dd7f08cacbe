"""``hf-reft reinforced train``: PPO from a warm-up checkpoint (:func:`~hf_reft.reinforced.ppo_stage.train_ppo`).

:func:`add_train_command` adds the command to the ``hf-reft reinforced`` group (listed in
:data:`hf_reft.reinforced.cli.SUBCOMMANDS`); its arguments and checks come from
:mod:`hf_reft.cli_arguments`.

Example::

    hf-reft reinforced train --model runs/warmup-nl --output runs/ppo-nl --max-steps 100 \\
        --samples-per-question 4 --eval-data svamp-test --eval-limit 100 --eval-steps 25
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..cli_arguments import (
    UsageError,
    add_config_flag,
    add_leak_check_arguments,
    add_model_argument,
    add_push_to_hub_argument,
    add_training_question_arguments,
    check_positive,
    data_source,
    last_checkpoint,
)

__all__ = ["add_train_command"]


def add_train_command(commands: Any) -> None:
    """``hf-reft reinforced train``."""
    parser = commands.add_parser(
        "train",
        help="PPO (reinforced fine-tuning) from a warm-up checkpoint",
        description="Reinforced fine-tuning (Luong et al. 2024): sample solutions to the training questions, "
        "reward them (1 right, 0.1 wrong answer, 0 none), and update the warm-up policy with PPO under a "
        "per-token KL penalty to the warm-up policy itself. Saves the policy with its value head to --output.",
    )
    add_model_argument(parser, help="warm-up folder or Hub id: a full model or a LoReFT adapter (required)")
    add_training_question_arguments(parser)
    parser.add_argument("--output", required=True, help="folder for the PPO policy (checkpoints inside)")
    add_leak_check_arguments(parser)
    parser.add_argument("--eval-data", default=None, help="questions to report greedy reward/accuracy on")
    parser.add_argument(
        "--eval-limit", type=int, default=None, help="use only the first N evaluation questions"
    )
    parser.add_argument(
        "--eval-steps", type=int, default=None, help="evaluate every N steps (needs --eval-data)"
    )
    ppo = parser.add_argument_group("PPO")
    ppo.add_argument(
        "--max-steps", type=int, default=None, help="rollouts (training steps; overrides --epochs)"
    )
    ppo.add_argument(
        "--epochs", type=float, default=1.0, help="passes over the training questions (default 1)"
    )
    ppo.add_argument("--batch-size", type=int, default=4, help="questions per process per step (default 4)")
    from .configuration import ReinforcedConfig

    for name in ("samples_per_question", "ppo_epochs"):
        add_config_flag(ppo, ReinforcedConfig, name)
    add_config_flag(ppo, ReinforcedConfig, "num_mini_batches", "--mini-batches")
    ppo.add_argument(
        "--learning-rate", type=float, default=None, help="default 1e-6 (full) or 1e-4 (adapter)"
    )
    ppo.add_argument("--kl-coef", type=float, default=None, help="beta (default 0.05 nl, 0.01 program)")
    for name in ("vf_coef", "max_new_tokens", "temperature", "top_k"):
        add_config_flag(ppo, ReinforcedConfig, name)
    ppo.add_argument(
        "--chat-template",
        action="store_true",
        default=None,
        help="prompt through the chat template (default: what the warm-up folder recorded)",
    )
    ppo.add_argument("--save-steps", type=int, default=None, help="save a resumable checkpoint every N steps")
    ppo.add_argument("--resume", action="store_true", help="resume from the last checkpoint in --output")
    ppo.add_argument("--logging-steps", type=int, default=1)
    ppo.add_argument("--report-to", default="none", help="none, tensorboard, wandb... (the Trainer's)")
    ppo.add_argument("--seed", type=int, default=42)
    add_push_to_hub_argument(parser)
    parser.set_defaults(func=run_train)


def _check(args: argparse.Namespace) -> None:
    if args.model is None:
        raise UsageError("--model is required: the warm-up folder or Hub id to start PPO from.")
    check_positive(
        {
            "--max-steps": args.max_steps,
            "--epochs": args.epochs,
            "--batch-size": args.batch_size,
            "--samples-per-question": args.samples_per_question,
            "--ppo-epochs": args.ppo_epochs,
            "--mini-batches": args.num_mini_batches,
            "--max-new-tokens": args.max_new_tokens,
            "--temperature": args.temperature,
            "--limit": args.limit,
            "--eval-limit": args.eval_limit,
            "--eval-steps": args.eval_steps,
            "--save-steps": args.save_steps,
            "--logging-steps": args.logging_steps,
        }
    )
    check_positive(
        {"--learning-rate": args.learning_rate, "--kl-coef": args.kl_coef, "--top-k": args.top_k},
        allow_zero=True,
    )
    if args.eval_steps and not args.eval_data:
        raise UsageError("--eval-steps needs --eval-data (the questions to evaluate on).")
    rows = args.batch_size * args.samples_per_question
    if rows % args.num_mini_batches:
        raise UsageError(
            f"--mini-batches {args.num_mini_batches} must divide --batch-size x --samples-per-question = {rows}."
        )


def run_train(args: argparse.Namespace) -> int:
    """Handler of ``hf-reft reinforced train``."""
    from ..data import DataLeakError
    from .ppo_stage import prepare_ppo, run_ppo

    _check(args)
    output = Path(args.output)
    resume = last_checkpoint(output) if args.resume else None
    config: dict[str, Any] = {
        "per_device_train_batch_size": args.batch_size,
        "samples_per_question": args.samples_per_question,
        "ppo_epochs": args.ppo_epochs,
        "num_mini_batches": args.num_mini_batches,
        "vf_coef": args.vf_coef,
        "max_new_tokens": args.max_new_tokens,
        "temperature": args.temperature,
        "top_k": args.top_k,
        "max_steps": args.max_steps if args.max_steps is not None else -1,
        "num_train_epochs": args.epochs,
        "save_strategy": "steps" if args.save_steps else "no",
        "save_steps": args.save_steps or 500,
        "logging_steps": args.logging_steps,
        "report_to": args.report_to,
        "seed": args.seed,
    }
    if args.learning_rate is not None:
        config["learning_rate"] = args.learning_rate
    if args.kl_coef is not None:
        config["kl_coef"] = args.kl_coef
    if args.eval_steps:
        config.update(eval_strategy="steps", eval_steps=args.eval_steps)
    try:  # bad input fails while setting up, before any training
        setup = prepare_ppo(
            args.model,
            output,
            train_data=data_source(args, args.data),
            format=args.format,
            data_dir=args.data_dir,
            limit=args.limit,
            test_sets=[] if args.no_leak_check else args.test_set,
            question_column=args.question_column,
            answer_column=args.answer_column,
            use_chat_template=args.chat_template,
            eval_data=args.eval_data,
            eval_limit=args.eval_limit,
            **config,
        )
    except DataLeakError as err:
        raise UsageError(f"{err} (or pass --no-leak-check if you know what you are doing)") from err
    except (ValueError, OSError, KeyError) as err:
        raise UsageError(str(err).strip("'\"")) from err
    result = run_ppo(setup, output, resume_from_checkpoint=resume, push_to_hub=args.push_to_hub)
    info = result.info
    print(json.dumps(info, indent=2))
    print(
        f"PPO policy ({info['policy']}, {info['format']}) with its value head saved to {result.output_dir}: "
        f"{info['steps']} steps, reward {info['first_reward']} -> {info['last_reward']}, "
        f"{info['train_seconds'] / 60:.1f} min"
    )
    if args.push_to_hub:
        print(f"Uploaded to {args.push_to_hub}")
    return 0
