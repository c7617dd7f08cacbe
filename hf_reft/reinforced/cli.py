"""``hf-reft reinforced ...``: the reinforced fine-tuning command group.

* ``hf-reft reinforced sft`` — warm-up SFT in the ``nl`` or ``program`` format, a full model or
  a LoReFT adapter (``--adapter``); the output folder loads with ``from_pretrained``.
* ``hf-reft reinforced evaluate`` — greedy accuracy and vote@k on SVAMP/GSM8K (or a file), with
  95 % intervals; a JSON report and a printed table.

Other modules add commands to the group (the PPO stage adds ``train``): :data:`SUBCOMMANDS`
lists ``"module:function"`` entries; each function takes the group's sub-parsers and adds one
command with ``set_defaults(func=handler)``. The ``add_*_arguments`` helpers and
:func:`adapter_config_from_args` here are meant to be shared by those commands.

Examples::

    hf-reft reinforced sft --format nl --output runs/warmup-nl --max-steps 200
    hf-reft reinforced sft --format program --adapter --layers 6 12 18 24 --output runs/warmup-program-loreft
    hf-reft reinforced evaluate --model runs/warmup-nl --data svamp-test --limit 300 --vote-k 8 --vote-limit 100 \\
        --output runs/warmup-nl/eval.json
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path
from typing import Any

from ..cli import UsageError

__all__ = [
    "SUBCOMMANDS",
    "adapter_config_from_args",
    "add_adapter_arguments",
    "add_data_arguments",
    "add_evaluate_command",
    "add_format_argument",
    "add_model_argument",
    "add_sft_command",
    "register",
]

#: ``"module:function"`` entries; each function adds one command to ``hf-reft reinforced``.
SUBCOMMANDS: list[str] = [
    "hf_reft.reinforced.cli:add_sft_command",
    "hf_reft.reinforced.cli:add_evaluate_command",
    "hf_reft.reinforced.ppo_cli:add_train_command",
    "hf_reft.reinforced.verifier_cli:add_verifier_command",
]


def register(subparsers: Any) -> None:
    """Add the ``reinforced`` group and every command of :data:`SUBCOMMANDS` to ``hf-reft``."""
    group = subparsers.add_parser(
        "reinforced",
        help="reinforced fine-tuning for reasoning (Luong et al. 2024): warm-up SFT, evaluation, PPO",
        description="Reinforced fine-tuning for reasoning (Luong et al. 2024): warm-up SFT in the natural-language "
        "or program chain-of-thought format, evaluation with greedy decoding and vote@k, and PPO.",
    )
    commands = group.add_subparsers(dest="reinforced_command", metavar="COMMAND")

    def _help(args: argparse.Namespace) -> int:
        group.print_help()
        return 2

    group.set_defaults(func=_help)
    for entry in SUBCOMMANDS:
        module, _, function = entry.partition(":")
        getattr(importlib.import_module(module), function)(commands)


# ------------------------------------------------------------------------------------ shared arguments


def add_model_argument(parser: argparse.ArgumentParser, *, help: str | None = None) -> None:
    """``--model``: Hub id or folder (full model, warm-up folder or LoReFT adapter)."""
    parser.add_argument(
        "--model",
        default=None,
        help=help
        or "Hub id or folder of the policy: a causal LM, a warm-up folder or a LoReFT adapter "
        "(default: the offline SmolLM2-135M-Instruct)",
    )


def add_format_argument(parser: argparse.ArgumentParser, *, default: str | None = "nl") -> None:
    """``--format nl|program``."""
    parser.add_argument(
        "--format",
        choices=("nl", "program"),
        default=default,
        help="chain-of-thought format: natural language, or Python programs run in the sandbox"
        + (f" (default: {default})" if default else " (default: what the warm-up folder recorded, else nl)"),
    )


def add_data_arguments(parser: argparse.ArgumentParser, *, default: str | None, what: str) -> None:
    """``--data``, ``--data-dir``, ``--question-column``, ``--limit``."""
    from ..data import NAMED_DATASETS

    named = ", ".join(n for n in NAMED_DATASETS if not n.startswith("llm-adapters/"))
    parser.add_argument(
        "--data",
        default=default,
        help=f"{what}: a named set ({named}) or a JSON/JSONL file"
        + (f" (default: {default})" if default else ""),
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        help="the shared data folder (default: $HF_REFT_DATA_DIR or ../shared/data)",
    )
    parser.add_argument(
        "--question-column", default=None, help="column with the question (default: question)"
    )
    parser.add_argument("--limit", type=int, default=None, help="use only the first N rows")


def add_adapter_arguments(parser: argparse.ArgumentParser) -> None:
    """``--adapter`` and the LoReFT settings of a new adapter."""
    group = parser.add_argument_group("LoReFT adapter (instead of training the full model)")
    group.add_argument(
        "--adapter",
        action="store_true",
        help="train LoReFT interventions over the frozen model (hf_reft.ReftConfig)",
    )
    group.add_argument("--layers", nargs="+", default=None, help="layer indices, or 'all' (default: all)")
    group.add_argument(
        "--positions", default="f7+l7", help="prompt positions, e.g. f7+l7, f1, l3 (default f7+l7)"
    )
    group.add_argument("--rank", type=int, default=4, help="rank of the intervention (default 4)")
    group.add_argument("--intervention", default="loreft", help="loreft, direft, noreft, consreft, lobireft")
    group.add_argument("--share-weights", action="store_true", help="one intervention for prefix and suffix")


def adapter_config_from_args(args: argparse.Namespace) -> Any:
    """A :class:`hf_reft.ReftConfig` from :func:`add_adapter_arguments`'s options, or ``None``
    without ``--adapter``; bad values raise :class:`~hf_reft.cli.UsageError`."""
    adapter_options = args.layers is not None or args.share_weights
    if not args.adapter:
        if adapter_options:
            raise UsageError("--layers/--share-weights configure a LoReFT adapter; add --adapter.")
        return None
    from ..representation import ReftConfig

    layers: Any = "all"
    if args.layers and args.layers != ["all"]:
        try:
            layers = [int(layer) for layer in args.layers]
        except ValueError:
            raise UsageError(f"--layers takes layer indices or 'all', got {' '.join(args.layers)}.") from None
    try:
        return ReftConfig(
            layers=layers,
            positions=args.positions,
            rank=args.rank,
            intervention=args.intervention,
            share_weights=args.share_weights,
        )
    except (ValueError, TypeError, KeyError) as err:
        raise UsageError(f"Bad LoReFT adapter setting: {err}") from err


def _positive(value: Any, flag: str, *, allow_zero: bool = False) -> None:
    if value is None:
        return
    if value < 0 or (value == 0 and not allow_zero):
        raise UsageError(f"{flag} must be {'zero or ' if allow_zero else ''}positive, got {value}.")


def _check_data(data: str | None, data_dir: str | None) -> None:
    if data is None:
        return
    from ..data.sources import resolve_data_file

    if data_dir is not None and not Path(data_dir).is_dir():
        raise UsageError(f"--data-dir {data_dir} is not a folder; point it at the shared data folder.")
    try:
        resolve_data_file(data, data_dir)
    except FileNotFoundError as err:
        raise UsageError(str(err)) from err


def _check_model(model: str | None) -> None:
    if model is None:
        return
    path = Path(model).expanduser()
    looks_local = (
        model.startswith((".", "/", "~")) or model.count("/") > 1
    )  # a Hub id is "name" or "user/name"
    if (looks_local or path.exists()) and not path.is_dir():
        raise UsageError(
            f"--model {model} is not a folder; pass a model folder (config.json inside) or a Hub id (user/name)."
        )
    if path.is_dir() and not (path / "config.json").is_file():
        raise UsageError(f"--model {model} has no config.json: pass the folder written by save_pretrained.")


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
    parser.add_argument(
        "--test-set",
        action="append",
        default=None,
        help="named test set the training questions must not overlap (repeatable; default: svamp-test for "
        "SVAMP data, gsm8k-test for GSM8K data)",
    )
    parser.add_argument("--no-leak-check", action="store_true", help="skip the train/test overlap check")
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
    parser.add_argument("--push-to-hub", metavar="REPO_ID", default=None, help="upload the finished folder")
    parser.set_defaults(func=_run_sft)


def _run_sft(args: argparse.Namespace) -> int:
    from ..data import DataLeakError
    from .prompts import get_format
    from .sft import WARMUP_INFO_NAME, default_test_sets, warmup_sft

    for value, flag in (
        (args.max_steps, "--max-steps"),
        (args.epochs, "--epochs"),
        (args.batch_size, "--batch-size"),
        (args.gradient_accumulation_steps, "--gradient-accumulation-steps"),
        (args.learning_rate, "--learning-rate"),
        (args.limit, "--limit"),
        (args.save_steps, "--save-steps"),
        (args.logging_steps, "--logging-steps"),
    ):
        _positive(value, flag)
    _positive(args.warmup_steps, "--warmup-steps", allow_zero=True)
    if args.max_length is not None and args.max_length < 16:
        raise UsageError(f"--max-length must be at least 16 tokens, got {args.max_length}.")
    adapter_config = adapter_config_from_args(args)
    fmt = get_format(args.format)
    data = args.data or fmt.train_set
    _check_data(data, args.data_dir)
    _check_model(args.model)
    output = Path(args.output)
    if output.exists() and not output.is_dir():
        raise UsageError(f"--output {output} is a file; choose a folder.")
    if (output / WARMUP_INFO_NAME).is_file() and not (args.overwrite or args.resume):
        raise UsageError(
            f"{output} already holds a warm-up policy; choose another --output or pass --overwrite."
        )
    test_sets = [] if args.no_leak_check else (args.test_set or default_test_sets(data))
    resume = None
    if args.resume:
        checkpoints = sorted(
            (output / "checkpoints").glob("checkpoint-*"), key=lambda p: int(p.name.rsplit("-", 1)[1])
        )
        if not checkpoints:
            raise UsageError(
                f"--resume: no checkpoint in {output / 'checkpoints'}; train with --save-steps first."
            )
        resume = str(checkpoints[-1])
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
    add_data_arguments(parser, default="svamp-test", what="test data")
    parser.add_argument(
        "--answer-column", default=None, help="column with the gold answer (default: answer_value)"
    )
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

    for value, flag in (
        (args.limit, "--limit"),
        (args.vote_limit, "--vote-limit"),
        (args.max_new_tokens, "--max-new-tokens"),
        (args.batch_size, "--batch-size"),
        (args.temperature, "--temperature"),
    ):
        _positive(value, flag)
    _positive(args.vote_k, "--vote-k", allow_zero=True)
    _positive(args.top_k, "--top-k", allow_zero=True)
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
    _check_data(args.data, args.data_dir)
    _check_model(args.model)
    output = Path(args.output) if args.output else None
    if output is not None and output.is_dir():
        raise UsageError(f"--output {output} is a folder; give a file name such as {output / 'eval.json'}.")
    try:
        report = evaluate_model(
            args.model,
            args.data,
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
