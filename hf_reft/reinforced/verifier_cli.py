"""``hf-reft reinforced verifier``: sample solutions to training questions, label them, train a verifier.

Example::

    hf-reft reinforced verifier --model runs/warmup-nl --data svamp-nl --limit 500 --k 4 --output runs/verifier-nl
    hf-reft reinforced evaluate --model runs/ppo-nl --limit 100 --vote-k 8 --verifier runs/verifier-nl
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .. import hub
from ..cli_arguments import (
    UsageError,
    add_model_argument,
    add_push_to_hub_argument,
    add_training_question_arguments,
    check_data,
    check_model,
    check_positive,
    data_source,
)

__all__ = ["add_verifier_command"]


def add_verifier_command(commands: Any) -> None:
    """``hf-reft reinforced verifier``."""
    parser = commands.add_parser(
        "verifier",
        help="train a verifier (sequence classifier) on sampled solutions labelled by correctness",
        description="Sample --k solutions per training question from --model, label each right (1) or "
        "wrong/no answer (0) with the shared answer extraction, and train an AutoModelForSequenceClassification "
        "initialised from --init (default: --model; a LoReFT adapter starts from its base). The folder is what "
        "'hf-reft reinforced evaluate --verifier' uses for rerank@k.",
    )
    add_model_argument(parser, help="policy that samples the solutions (warm-up folder or Hub id)")
    add_training_question_arguments(parser)
    parser.add_argument("--output", required=True, help="folder for the verifier")
    parser.add_argument("--init", default=None, help="model the verifier starts from (default: --model)")
    parser.add_argument("--k", type=int, default=4, help="sampled solutions per question (default 4)")
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=16, help="completions generated at once")
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--learning-rate", type=float, default=1e-5)
    parser.add_argument("--train-batch-size", type=int, default=8)
    parser.add_argument(
        "--max-length", type=int, default=512, help="verifier input tokens (cut from the left)"
    )
    add_push_to_hub_argument(parser)
    parser.set_defaults(func=run_verifier)


def run_verifier(args: argparse.Namespace) -> int:
    """Handler of ``hf-reft reinforced verifier``."""
    from .evaluation import load_questions
    from .sft import policy_prompt_format
    from .verifier import sample_policy_verifier_data, train_verifier

    check_positive(
        {
            "--k": args.k,
            "--limit": args.limit,
            "--max-new-tokens": args.max_new_tokens,
            "--temperature": args.temperature,
            "--batch-size": args.batch_size,
            "--epochs": args.epochs,
            "--learning-rate": args.learning_rate,
            "--train-batch-size": args.train_batch_size,
            "--max-length": args.max_length,
        }
    )
    check_model(args.model)
    check_model(args.init)
    check_data(args.data, args.data_dir)
    output = Path(args.output)
    if output.exists() and not output.is_dir():
        raise UsageError(f"--output {output} is a file; give a folder for the verifier.")
    fmt, _ = policy_prompt_format(args.model, args.format)
    data = data_source(args, args.data or fmt.train_set)
    try:
        questions, benchmark = load_questions(
            data,
            data_dir=args.data_dir,
            question_column=args.question_column,
            answer_column=args.answer_column,
            limit=args.limit,
        )
        dataset = sample_policy_verifier_data(
            args.model,
            questions,
            format=args.format,
            batch_size=args.batch_size,
            benchmark=benchmark,
            k=args.k,
            max_new_tokens=args.max_new_tokens,
            temperature=args.temperature,
            seed=args.seed,
        )
        positives = sum(dataset["label"])
        print(f"{len(dataset)} solutions, {positives} right ({positives / len(dataset):.0%})")
        verifier = train_verifier(
            args.init or args.model or _default_model(),
            dataset,
            output,
            max_length=args.max_length,
            num_train_epochs=args.epochs,
            learning_rate=args.learning_rate,
            per_device_train_batch_size=args.train_batch_size,
            seed=args.seed,
        )
    except (FileNotFoundError, ValueError) as err:
        raise UsageError(str(err)) from err
    record = {
        "data": str(data),
        "questions": len(questions),
        "k": args.k,
        "solutions": len(dataset),
        "right": positives,
        "format": fmt.name,
    }
    hub.atomic_write_text(output / "verifier_data.json", json.dumps(record, indent=1) + "\n")
    print(f"Verifier written to {output}")
    if args.push_to_hub:
        hub.upload_folder(output, args.push_to_hub)
        print(f"Pushed to {args.push_to_hub}")
    del verifier
    return 0


def _default_model() -> str:
    from ..models import default_chat_model_path

    return str(default_chat_model_path())
