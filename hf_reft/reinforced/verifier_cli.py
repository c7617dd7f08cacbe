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
from ..cli import UsageError
from .cli import (
    _check_data,
    _check_model,
    _positive,
    add_data_arguments,
    add_format_argument,
    add_model_argument,
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
    add_format_argument(parser, default=None)
    add_data_arguments(parser, default=None, what="training questions (default: the format's SVAMP set)")
    parser.add_argument(
        "--answer-column", default=None, help="column with the gold answer (default: answer_value)"
    )
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
    parser.add_argument("--push-to-hub", metavar="REPO_ID", default=None, help="upload the finished folder")
    parser.set_defaults(func=run_verifier)


def run_verifier(args: argparse.Namespace) -> int:
    from .evaluation import load_questions
    from .generation import TransformersGenerator
    from .sft import load_policy, read_warmup_info
    from .verifier import sample_verifier_data, train_verifier

    for value, flag in (
        (args.k, "--k"),
        (args.limit, "--limit"),
        (args.max_new_tokens, "--max-new-tokens"),
        (args.temperature, "--temperature"),
        (args.batch_size, "--batch-size"),
        (args.epochs, "--epochs"),
        (args.learning_rate, "--learning-rate"),
        (args.train_batch_size, "--train-batch-size"),
        (args.max_length, "--max-length"),
    ):
        _positive(value, flag)
    _check_model(args.model)
    _check_model(args.init)
    _check_data(args.data, args.data_dir)
    output = Path(args.output)
    if output.exists() and not output.is_dir():
        raise UsageError(f"--output {output} is a file; give a folder for the verifier.")
    info = read_warmup_info(args.model) if args.model is not None else None
    fmt = info.prompt_format() if info is not None and args.format in (None, info.format) else None
    format_name = fmt.name if fmt is not None else (args.format or "nl")
    data = args.data or ("svamp-nl" if format_name == "nl" else "svamp-program")
    try:
        questions, benchmark = load_questions(
            data,
            data_dir=args.data_dir,
            question_column=args.question_column,
            answer_column=args.answer_column,
            limit=args.limit,
        )
        policy, tokenizer = load_policy(args.model)
        policy.eval()
        chat = bool(info and info.use_chat_template)
        from .prompts import get_format

        prompt_format = fmt or get_format(format_name)
        dataset = sample_verifier_data(
            TransformersGenerator(policy, tokenizer, batch_size=args.batch_size),
            questions,
            format=prompt_format,
            benchmark=benchmark,
            k=args.k,
            render_prompt=lambda q: prompt_format.render(q, tokenizer, use_chat_template=chat),
            max_new_tokens=args.max_new_tokens,
            temperature=args.temperature,
            seed=args.seed,
            batch_size=args.batch_size,
        )
        del policy
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
        "format": format_name,
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
