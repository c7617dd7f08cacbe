"""``hf-reft representation train|evaluate``: LoReFT adapters from the command line.

* ``train`` — a LoReFT adapter on (prompt, response) data through :class:`ReftTrainer`; refuses
  training data that overlaps the test set (``--eval-data`` / ``--test-set``, and by default the
  named test set of the training data's benchmark); evaluates on ``--eval-data`` afterwards. The
  ``--output`` folder is a finished adapter (config, weights, tokenizer, card with the evaluation
  result); checkpoints live in ``--output/checkpoints`` while training runs and make ``--resume``
  continue a cut-off run.
* ``evaluate`` — greedy-decoding accuracy of an adapter (or any causal LM) on a named set or a
  file, with a 95 % interval; JSON output; optionally into the adapter's card.

Examples::

    hf-reft representation train --data svamp-nl --prompt-template $'Question:\\n{question}\\nAnswer reasoning:\\n' \\
        --layers 6 12 18 24 --positions f5+l5 --rank 8 --learning-rate 4e-3 --max-train-minutes 15 \\
        --eval-data svamp-test --eval-limit 300 --output runs/loreft-svamp
    hf-reft representation evaluate --model runs/loreft-svamp --data svamp-test --limit 300 \\
        --prompt-template $'Question:\\n{question}\\nAnswer reasoning:\\n' --output runs/loreft-svamp/eval.json
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
from pathlib import Path
from typing import Any, NamedTuple

from ..cli_arguments import (
    UsageError,
    add_data_source_arguments,
    add_model_argument,
    add_push_to_hub_argument,
    check_data,
    check_model,
    check_positive,
    data_source,
)
from .arguments import add_reft_arguments, reft_config_from_args
from .saving import check_portable_base
from .training import CHECKPOINTS_DIR

__all__ = ["DESCRIPTION", "SUBCOMMANDS"]

#: Named test set checked for overlap by default, per benchmark of a named training set.
DEFAULT_TEST_SETS = {"svamp": "svamp-test", "gsm8k": "gsm8k-test"}
EVALUATION_NAME = "evaluation.json"


#: What ``hf-reft representation --help`` says first (the dispatcher builds the group from it and
#: :data:`SUBCOMMANDS`, see :func:`hf_reft.cli_arguments.add_command_group`).
DESCRIPTION = (
    "Representation finetuning (LoReFT and its family): train an adapter over a frozen model, "
    "evaluate adapters and base models by greedy generation."
)


# ----------------------------------------------------------------------------------------- arguments
def _add_data_arguments(parser: argparse.ArgumentParser, *, what: str) -> None:
    from ..data import NAMED_DATASETS

    named = ", ".join(n for n in NAMED_DATASETS if not n.startswith("llm-adapters/"))
    parser.add_argument(
        "--data",
        default=None,
        help=f"{what}: a named set ({named}, llm-adapters/<set>), a local json/jsonl/csv/parquet/arrow file "
        "or folder, or a Hub dataset id",
    )
    add_data_source_arguments(parser)
    parser.add_argument(
        "--question-column",
        default=None,
        help="column with the question/prompt (default: the set's, else question)",
    )
    parser.add_argument(
        "--prompt-template",
        default=None,
        help="str.format template over a row, e.g. 'Question:\\n{question}\\nAnswer reasoning:\\n' "
        "(default: the question column as it is)",
    )
    parser.add_argument(
        "--chat-template", action="store_true", help="wrap prompts in the tokenizer's chat template"
    )
    parser.add_argument("--system-prompt", default=None, help="system message (with --chat-template)")


def _add_generation_arguments(parser: argparse.ArgumentParser, *, prefix: str = "") -> None:
    parser.add_argument(
        f"--{prefix}batch-size",
        dest="eval_batch_size",
        type=int,
        default=16,
        help="prompts per generate call (default 16)",
    )
    parser.add_argument("--max-new-tokens", type=int, default=256, help="generation budget (default 256)")
    parser.add_argument(
        "--benchmark",
        default=None,
        help="answer-extraction strategy (hf_reft.answers benchmark: svamp, gsm8k, boolq, …; default: the "
        "set's, else numeric)",
    )
    parser.add_argument(
        "--answer-column", default=None, help="column with the gold answer (default: the set's, else answer)"
    )


def _add_train(commands: Any) -> None:
    parser = commands.add_parser(
        "train",
        help="train a LoReFT adapter (and evaluate it)",
        description="Train a LoReFT adapter over a frozen causal LM on (prompt, response) data; the loss covers the "
        "response only. The output folder is a finished adapter that from_pretrained loads.",
    )
    add_model_argument(
        parser, help="base model: Hub id or folder (default: the offline SmolLM2-135M-Instruct)"
    )
    _add_data_arguments(parser, what="training data")
    parser.add_argument(
        "--response-column",
        "--target-column",
        dest="response_column",
        default=None,
        help="column with the training target (default: the set's, else response)",
    )
    parser.add_argument("--limit", type=int, default=None, help="train on the first N rows only")
    parser.add_argument(
        "--output", "--output-dir", dest="output", required=True, help="folder of the adapter"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace a finished adapter in --output")
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint in --output")

    add_reft_arguments(parser.add_argument_group("LoReFT adapter"))

    training = parser.add_argument_group("training")
    training.add_argument("--learning-rate", "--lr", dest="learning_rate", type=float, default=1e-3)
    training.add_argument("--epochs", type=float, default=1.0, help="epochs (default 1)")
    training.add_argument("--max-steps", type=int, default=None, help="optimizer steps (overrides --epochs)")
    training.add_argument("--batch-size", type=int, default=8, help="examples per step (default 8)")
    training.add_argument("--gradient-accumulation-steps", type=int, default=1)
    training.add_argument("--warmup-ratio", type=float, default=0.0, help="share of steps with a rising LR")
    training.add_argument("--weight-decay", type=float, default=0.0)
    training.add_argument("--max-length", type=int, default=512, help="tokens per example (default 512)")
    training.add_argument(
        "--max-train-minutes", type=float, default=None, help="stop training after this many minutes"
    )
    training.add_argument(
        "--budget-clock",
        choices=("wall", "cpu"),
        default="wall",
        help="what --max-train-minutes counts: wall-clock or this process's CPU time (default wall)",
    )
    training.add_argument("--save-steps", type=int, default=50, help="checkpoint every N steps (default 50)")
    training.add_argument("--logging-steps", type=int, default=10)
    training.add_argument("--seed", type=int, default=42)
    training.add_argument("--threads", type=int, default=None, help="torch CPU threads")

    evaluation = parser.add_argument_group("test set and evaluation")
    evaluation.add_argument(
        "--eval-data",
        default=None,
        help="test set (named or file): training data overlapping it is refused; evaluated after training",
    )
    evaluation.add_argument(
        "--test-set",
        action="append",
        default=[],
        help="another test set the training questions must not overlap (repeatable)",
    )
    evaluation.add_argument(
        "--eval-question-column",
        default=None,
        help="question column of the test set (default: the set's, else question)",
    )
    evaluation.add_argument("--eval-limit", type=int, default=None, help="evaluate on the first N test rows")
    _add_generation_arguments(parser, prefix="eval-")
    evaluation.add_argument(
        "--no-leak-check", action="store_true", help="skip the train/test overlap check (not recommended)"
    )
    add_push_to_hub_argument(parser, help="upload the finished adapter")
    parser.set_defaults(func=_run_train)


def _add_evaluate(commands: Any) -> None:
    parser = commands.add_parser(
        "evaluate",
        help="greedy-decoding accuracy of an adapter or a model",
        description="Evaluate a LoReFT adapter (folder or Hub id) or any causal LM by greedy generation: answers "
        "extracted by the benchmark's strategy, accuracy with a 95 %% Wilson interval.",
    )
    add_model_argument(
        parser, help="adapter or model: Hub id or folder (default: the offline SmolLM2-135M-Instruct)"
    )
    parser.add_argument("--base-model", default=None, help="load the adapter on this base instead of its own")
    parser.add_argument(
        "--no-interventions",
        action="store_true",
        help="evaluate the adapter's base model (interventions off)",
    )
    _add_data_arguments(parser, what="evaluation data")
    parser.add_argument("--limit", type=int, default=None, help="evaluate on the first N rows")
    _add_generation_arguments(parser)
    parser.add_argument(
        "--output", default=None, help="write the result (with every completion) to this JSON file"
    )
    parser.add_argument(
        "--cache", default=None, help="JSONL of finished completions: a rerun continues from it"
    )
    parser.add_argument(
        "--update-card", action="store_true", help="add the result to the adapter folder's README.md card"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.set_defaults(func=_run_evaluate)


# ------------------------------------------------------------------------------------------ checks
def _load_data(
    args: argparse.Namespace, name: str | None, flag: str, limit: int | None = None, *, split: str = "train"
):
    """``(dataset, spec or None)`` for ``name`` (a named set, a local file or folder, a Hub dataset with
    ``--data-config`` / ``--data-split``); clear errors for bad names and folders."""
    from ..data import load_data

    if name is None:
        raise UsageError(
            f"{flag} is required: a named set (e.g. svamp-nl), a local data file or a Hub dataset id."
        )
    check_data(name, args.data_dir, flag=flag)
    try:
        source = data_source(args, name) if flag == "--data" else name  # --data-config/--data-split: --data's
        return load_data(source, args.data_dir, limit=limit, default_split=split)
    except Exception as err:  # datasets' errors for malformed files, unknown Hub ids, configs or splits
        raise UsageError(f"{flag} {name}: could not load it ({type(err).__name__}: {err}).") from err


def _column(explicit: str | None, spec_value: str | None, fallback: str, dataset: Any, flag: str) -> str:
    from ..data import check_columns

    column = explicit or spec_value or fallback
    try:
        check_columns(dataset, {column: flag}, "The data")
    except ValueError as err:
        raise UsageError(str(err)) from None
    return column


class _TestSet(NamedTuple):
    """A set to evaluate on: the rows, their question and gold-answer columns, the benchmark."""

    name: str
    data: Any
    question_column: str
    answer_column: str
    benchmark: str


def _load_test_set(
    args: argparse.Namespace, name: str | None, flag: str, limit: int | None, question: tuple[str | None, str]
) -> _TestSet:
    """The test set ``name`` (``flag`` names it in errors) with its columns (``question``: the
    explicit column and its flag), template and benchmark checked."""
    test, spec = _load_data(args, name, flag, limit, split="test")
    explicit, question_flag = question
    question_column = _column(explicit, spec.question if spec else None, "question", test, question_flag)
    answer_column = _column(
        args.answer_column, spec.answer if spec else None, "answer", test, "--answer-column"
    )
    _check_template(args.prompt_template, test)
    return _TestSet(str(name), test, question_column, answer_column, _benchmark(args.benchmark, spec))


def _check_template(template: str | None, dataset: Any) -> None:
    if template is None:
        return
    import string

    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    except ValueError as err:
        raise UsageError(f"--prompt-template is not a valid str.format template: {err}.") from None
    missing = sorted(fields - set(dataset.column_names))
    if missing:
        raise UsageError(
            f"--prompt-template names {missing}, not columns of the data ({', '.join(dataset.column_names)})."
        )


def _check_repo_id(repo_id: str | None) -> None:
    if repo_id is None:
        return
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as err:
        raise UsageError(f"--push-to-hub {repo_id!r} is not a valid repo id (user/name): {err}") from None


def _benchmark(explicit: str | None, spec: Any) -> str:
    from ..answers import get_benchmark

    name = explicit or (spec.benchmark if spec is not None else "numeric")
    try:
        return get_benchmark(name).name
    except ValueError as err:
        raise UsageError(f"--benchmark: {err}") from None


def _set_threads(threads: int | None) -> None:
    if threads is None:
        return
    check_positive({"--threads": threads})
    import torch

    torch.set_num_threads(threads)


# ------------------------------------------------------------------------------------------- train
def _test_sets(args: argparse.Namespace, spec: Any) -> list[str]:
    sets = list(args.test_set)
    if args.eval_data:
        sets.insert(0, args.eval_data)
    if spec is not None and spec.benchmark in DEFAULT_TEST_SETS and not sets:
        sets.append(DEFAULT_TEST_SETS[spec.benchmark])
    return list(dict.fromkeys(sets))


def _leak_check(args: argparse.Namespace, train: Any, question_column: str, spec: Any) -> None:
    from ..data import DataLeakError, check_no_overlap

    for name in _test_sets(args, spec):
        test, test_spec = _load_data(args, name, "--eval-data/--test-set", split="test")
        column = _column(
            args.eval_question_column if name == args.eval_data else None,
            test_spec.question if test_spec else None,
            "question",
            test,
            "--eval-question-column",
        )
        try:
            check_no_overlap(
                [str(q) for q in train[question_column]],
                [str(q) for q in test[column]],
                train_name=f"the training data ({args.data})",
                test_name=f"the test set ({name})",
            )
        except DataLeakError as err:
            raise UsageError(str(err)) from None


def _prepare_output(args: argparse.Namespace) -> Path:
    output = Path(args.output)
    if output.exists() and not output.is_dir():
        raise UsageError(f"--output {output} is a file; pass a folder.")
    finished = (output / "model.safetensors").is_file()
    checkpoints = output / CHECKPOINTS_DIR
    if args.resume and args.overwrite:
        raise UsageError("--resume continues a run and --overwrite starts afresh; pass one of them.")
    if finished and not args.overwrite:
        raise UsageError(f"{output} already holds a finished adapter; pass --overwrite to replace it.")
    if args.resume and not checkpoints.is_dir():
        raise UsageError(f"--resume: {checkpoints} does not exist; train without --resume to start a run.")
    if not args.resume and not args.overwrite and checkpoints.is_dir():
        raise UsageError(
            f"{checkpoints} holds checkpoints of an unfinished run; pass --resume to continue it or --overwrite."
        )
    if args.overwrite and output.is_dir():
        shutil.rmtree(output)
    return output


def _run_train(args: argparse.Namespace) -> int:
    check_positive(
        {
            "--learning-rate": args.learning_rate,
            "--epochs": args.epochs,
            "--max-steps": args.max_steps,
            "--batch-size": args.batch_size,
            "--gradient-accumulation-steps": args.gradient_accumulation_steps,
            "--max-length": args.max_length,
            "--max-train-minutes": args.max_train_minutes,
            "--save-steps": args.save_steps,
            "--logging-steps": args.logging_steps,
            "--limit": args.limit,
            "--eval-limit": args.eval_limit,
            "--eval-batch-size": args.eval_batch_size,
            "--max-new-tokens": args.max_new_tokens,
        }
    )
    check_positive({"--weight-decay": args.weight_decay}, allow_zero=True)
    if not 0 <= args.warmup_ratio < 1:
        raise UsageError(f"--warmup-ratio must be in [0, 1), got {args.warmup_ratio}.")
    if args.max_length < 2:
        raise UsageError(f"--max-length must be at least 2, got {args.max_length}.")
    check_model(args.model)
    _check_repo_id(args.push_to_hub)
    if args.push_to_hub:
        try:
            check_portable_base(
                args.model, what=f"--model {args.model or '(the offline default, a local folder)'}"
            )
        except ValueError as err:
            raise UsageError(f"--push-to-hub: {err}") from None
    config = reft_config_from_args(args)
    train, spec = _load_data(args, args.data, "--data", args.limit)
    question_column = _column(
        args.question_column, spec.question if spec else None, "question", train, "--question-column"
    )
    response_column = _column(
        args.response_column, spec.target if spec else None, "response", train, "--response-column"
    )
    _check_template(args.prompt_template, train)
    if not args.no_leak_check:
        _leak_check(args, train, question_column, spec)
    eval_setup = None
    if args.eval_data:
        eval_setup = _load_test_set(
            args,
            args.eval_data,
            "--eval-data",
            args.eval_limit,
            (args.eval_question_column, "--eval-question-column"),
        )
    output = _prepare_output(args)
    _set_threads(args.threads)
    return _train(args, config, train, question_column, response_column, eval_setup, output)


def _train(
    args, config, train, question_column, response_column, eval_setup: _TestSet | None, output: Path
) -> int:
    from .training import train_adapter

    try:
        trained = train_adapter(
            args.model,
            train,
            config,
            output,
            prompt_column=question_column,
            response_column=response_column,
            prompt_template=args.prompt_template,
            use_chat_template=args.chat_template,
            system_prompt=args.system_prompt,
            max_length=args.max_length,
            learning_rate=args.learning_rate,
            batch_size=args.batch_size,
            gradient_accumulation_steps=args.gradient_accumulation_steps,
            epochs=args.epochs,
            max_steps=args.max_steps,
            warmup=args.warmup_ratio,
            weight_decay=args.weight_decay,
            save_steps=args.save_steps,
            logging_steps=args.logging_steps,
            seed=args.seed,
            max_train_seconds=args.max_train_minutes * 60 if args.max_train_minutes else None,
            budget_clock=args.budget_clock,
            resume=args.resume,
            keep_checkpoints=eval_setup is not None,  # removed once the evaluation is written too
        )
    except ValueError as err:  # what the arguments ask is impossible for this model or folder
        raise UsageError(str(err)) from None
    model, tokenizer, summary = trained.model, trained.tokenizer, trained.summary
    checkpoints = output / CHECKPOINTS_DIR
    print(f"trained {summary['steps']} steps, loss {summary['train_loss']:.4f}; adapter in {output}")
    if eval_setup is not None:
        result = _generate_and_score(model, tokenizer, eval_setup, args)
        result.save(output / EVALUATION_NAME)
        _add_to_card(output, result)
        print(result.summary())
    shutil.rmtree(checkpoints, ignore_errors=True)  # the run is finished: the folder is the adapter
    if args.push_to_hub:
        from .. import hub

        info = hub.upload_folder(
            output, args.push_to_hub, commit_message="Upload LoReFT adapter with hf-reft"
        )
        print(f"pushed to {getattr(info, 'commit_url', args.push_to_hub)}")
    return 0


def _generate_and_score(model, tokenizer, test: _TestSet, args, *, cache: str | None = None):
    from .evaluation import evaluate_generation

    if args.chat_template and not getattr(tokenizer, "chat_template", None):
        raise UsageError("--chat-template: this model's tokenizer has no chat template; drop the flag.")
    return evaluate_generation(
        model,
        tokenizer,
        test.data,
        question_column=test.question_column,
        answer_column=test.answer_column,
        benchmark=test.benchmark,
        prompt_template=args.prompt_template,
        use_chat_template=args.chat_template,
        system_prompt=args.system_prompt,
        batch_size=args.eval_batch_size,
        max_new_tokens=args.max_new_tokens,
        cache_file=cache,
        dataset_name=test.name,
    )


def _add_to_card(folder: Path, result: Any) -> None:
    from .evaluation import add_evaluation_to_card

    add_evaluation_to_card(folder, {"LoReFT adapter": result})


# ---------------------------------------------------------------------------------------- evaluate
def _load_for_evaluation(args: argparse.Namespace):
    """``(model, tokenizer, is_adapter)`` for ``--model`` (a LoReFT adapter or any causal LM)."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from .. import hub
    from ..models import load_chat_model

    if args.model is None:
        if args.base_model or args.no_interventions:
            raise UsageError("--base-model/--no-interventions need an adapter in --model.")
        model, tokenizer = load_chat_model()
        return model, tokenizer, False
    try:
        config = AutoConfig.from_pretrained(args.model)
    except (OSError, ValueError) as err:
        raise UsageError(f"--model {args.model}: no model or adapter there ({err}).") from None
    if config.model_type != "reft":
        if args.base_model or args.no_interventions:
            raise UsageError(
                "--base-model/--no-interventions apply to LoReFT adapters; --model is a plain model."
            )
        model, tokenizer = load_chat_model(args.model)
        return model, tokenizer, False
    if config.task != "causal_lm":
        raise UsageError(
            f"--model {args.model} is a {config.task} adapter; generation-based evaluation needs a causal-LM "
            "adapter (use hf_reft.representation.evaluation.evaluate_classification for classifiers)."
        )
    base = None
    if args.base_model:
        check_model(args.base_model, "--base-model")
        base, tokenizer = load_chat_model(args.base_model)
    try:
        model = AutoModelForCausalLM.from_pretrained(args.model, base_model=base)
    except (OSError, ValueError, RuntimeError) as err:
        raise UsageError(f"--model {args.model}: could not load the adapter: {err}") from None
    if base is None:
        folder = hub.resolve_folder(args.model)
        source = folder if (folder / "tokenizer_config.json").is_file() else config.base_model_name_or_path
        tokenizer = AutoTokenizer.from_pretrained(source)
    return model, tokenizer, True


def _run_evaluate(args: argparse.Namespace) -> int:
    check_positive(
        {"--limit": args.limit, "--batch-size": args.eval_batch_size, "--max-new-tokens": args.max_new_tokens}
    )
    check_model(args.model)
    test = _load_test_set(args, args.data, "--data", args.limit, (args.question_column, "--question-column"))
    card_folder = Path(args.model) if args.model else None
    if args.update_card and (card_folder is None or not (card_folder / "README.md").is_file()):
        raise UsageError("--update-card needs --model to be a local adapter folder with a README.md card.")
    if args.output and Path(args.output).is_dir():
        raise UsageError(f"--output {args.output} is a folder; pass a JSON file path.")
    _set_threads(args.threads)
    model, tokenizer, is_adapter = _load_for_evaluation(args)
    if args.update_card and not is_adapter:
        raise UsageError("--update-card applies to LoReFT adapters; --model is a plain model.")
    interventions = model.disable_interventions() if args.no_interventions else contextlib.nullcontext()
    with interventions:
        result = _generate_and_score(model, tokenizer, test, args, cache=args.cache)
    result.settings["model"] = args.model
    result.settings["interventions"] = is_adapter and not args.no_interventions
    if args.output:
        result.save(args.output)
    if args.update_card:
        from .evaluation import add_evaluation_to_card

        label = "base model (interventions off)" if args.no_interventions else "LoReFT adapter"
        add_evaluation_to_card(card_folder, {label: result})
    print(result.summary())
    return 0


#: Functions adding one ``representation`` command each, in help order.
SUBCOMMANDS = [_add_train, _add_evaluate]
