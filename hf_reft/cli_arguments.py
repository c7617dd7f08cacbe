"""Arguments and checks shared by the ``hf-reft`` command modules.

The command groups (each wing's ``cli`` module, built by :func:`add_command_group` from its
``DESCRIPTION`` and ``SUBCOMMANDS``) build their parsers from the ``add_*`` helpers and
check the parsed values with the ``check_*`` helpers; a bad value raises
:class:`UsageError` with one line that says what is wrong and how to fix it.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "COMMAND_GROUPS",
    "UsageError",
    "add_command_group",
    "add_config_flag",
    "add_data_arguments",
    "add_data_source_arguments",
    "add_format_argument",
    "add_leak_check_arguments",
    "add_model_argument",
    "add_push_to_hub_argument",
    "add_training_question_arguments",
    "check_data",
    "check_model",
    "check_positive",
    "data_source",
    "last_checkpoint",
]


#: The sub-command groups of ``hf-reft``, in help order: name → (the ``cli`` module holding the
#: group's ``DESCRIPTION`` and ``SUBCOMMANDS``, its one-line help). The dispatcher (:mod:`hf_reft.cli`)
#: imports only the group a command line names, so ``hf-reft --help`` and ``--version`` load no wing.
COMMAND_GROUPS: dict[str, tuple[str, str]] = {
    "representation": (
        "hf_reft.representation.cli",
        "LoReFT representation finetuning (Wu et al. 2024): train and evaluate adapters",
    ),
    "reinforced": (
        "hf_reft.reinforced.cli",
        "reinforced fine-tuning for reasoning (Luong et al. 2024): warm-up SFT, evaluation, PPO",
    ),
    "reftool": ("hf_reft.reftool.cli", "RefTool: reference books, chat models, toolboxes"),
    "space": ("hf_reft.space.cli", "the RefTool chemistry demo: run it locally or deploy it"),
}


class UsageError(Exception):
    """A bad command-line argument; the message says what is wrong and how to fix it."""


# ------------------------------------------------------------------------------------------ parsers
def add_command_group(
    subparsers: Any, name: str, *, description: str, commands: Sequence[Callable[[Any], None]]
) -> Any:
    """Add the ``hf-reft NAME`` group (its one-line help from :data:`COMMAND_GROUPS`) with its
    ``commands``, and return its sub-parsers (``dest``: ``NAME_command``).

    Every wing's group is built the same way, by the dispatcher: its ``cli`` module holds
    ``DESCRIPTION`` and ``SUBCOMMANDS``, functions that each add one command (``add_parser`` then
    ``set_defaults(func=handler)``), in help order. Without a command the group prints its help and
    exits with status 2.
    """
    group = subparsers.add_parser(name, help=COMMAND_GROUPS[name][1], description=description)
    sub = group.add_subparsers(dest=f"{name}_command", metavar="COMMAND")

    def _help(args: argparse.Namespace) -> int:
        group.print_help()
        return 2

    group.set_defaults(func=_help)
    for add in commands:
        add(sub)
    return sub


def add_model_argument(parser: argparse.ArgumentParser, *, help: str | None = None) -> None:
    """``--model``: Hub id or folder (default ``None``: the offline default model)."""
    parser.add_argument(
        "--model",
        default=None,
        help=help
        or "Hub id or folder of the policy: a causal LM, a warm-up folder or a LoReFT adapter "
        "(default: the offline SmolLM2-135M-Instruct)",
    )


def add_format_argument(parser: argparse.ArgumentParser, *, default: str | None = "nl") -> None:
    """``--format nl|program``: the chain-of-thought format of reinforced fine-tuning."""
    parser.add_argument(
        "--format",
        choices=("nl", "program"),
        default=default,
        help="chain-of-thought format: natural language, or Python programs run in the sandbox"
        + (f" (default: {default})" if default else " (default: what the warm-up folder recorded, else nl)"),
    )


def add_data_arguments(
    parser: argparse.ArgumentParser, *, default: str | None, what: str, answers: bool = False
) -> None:
    """``--data``, ``--data-dir``, ``--question-column``, ``--limit`` (the reinforced commands'), and
    with ``answers`` ``--answer-column``."""
    from .data import NAMED_DATASETS

    named = ", ".join(n for n in NAMED_DATASETS if not n.startswith("llm-adapters/"))
    parser.add_argument(
        "--data",
        default=default,
        help=f"{what}: a named set ({named}), a local json/jsonl/csv/parquet/arrow file or folder, or a "
        "Hub dataset id" + (f" (default: {default})" if default else ""),
    )
    add_data_source_arguments(parser)
    parser.add_argument(
        "--question-column", default=None, help="column with the question (default: question)"
    )
    parser.add_argument("--limit", type=int, default=None, help="use only the first N rows")
    if answers:
        parser.add_argument(
            "--answer-column", default=None, help="column with the gold answer (default: answer_value)"
        )


def add_data_source_arguments(parser: argparse.ArgumentParser) -> None:
    """``--data-dir`` (the shared folder of named sets) and a Hub dataset's ``--data-config`` and
    ``--data-split`` (read back by :func:`data_source`)."""
    parser.add_argument(
        "--data-dir",
        default=None,
        help="the shared data folder for named sets (default: $HF_REFT_DATA_DIR, else ../shared/data if it exists)",
    )
    parser.add_argument("--data-config", default=None, help="the Hub dataset's configuration, e.g. main")
    parser.add_argument(
        "--data-split",
        default=None,
        help="the split of a Hub dataset or folder (default: train; test to evaluate)",
    )


def data_source(args: argparse.Namespace, name: str | None) -> Any:
    """``name`` as :func:`hf_reft.data.load_data` takes it: with ``--data-config`` / ``--data-split``
    a :class:`hf_reft.data.DataSource`, else the name itself (``None`` stays ``None``)."""
    config, split = getattr(args, "data_config", None), getattr(args, "data_split", None)
    if name is None or (config is None and split is None):
        return name
    from .data.sources import DataSource

    return DataSource(name, config, split)


def add_training_question_arguments(parser: argparse.ArgumentParser) -> None:
    """``--format`` (default: the warm-up folder's) and the data arguments with ``--answer-column``
    for commands that sample solutions to training questions (PPO, the verifier)."""
    add_format_argument(parser, default=None)
    add_data_arguments(
        parser, default=None, what="training questions (default: the format's SVAMP set)", answers=True
    )


def add_leak_check_arguments(parser: argparse.ArgumentParser) -> None:
    """``--test-set`` (repeatable) and ``--no-leak-check`` of the reinforced training commands."""
    parser.add_argument(
        "--test-set",
        action="append",
        default=None,
        help="named test set the training questions must not overlap (repeatable; default: svamp-test for "
        "SVAMP data, gsm8k-test for GSM8K data)",
    )
    parser.add_argument("--no-leak-check", action="store_true", help="skip the train/test overlap check")


def add_config_flag(group: Any, config: type, name: str, flag: str | None = None) -> None:
    """A flag mirroring the dataclass field ``name`` of ``config`` (a ``TrainingArguments`` subclass,
    a ``PretrainedConfig``): its type, default and help come from the field, never copied by hand.
    The parsed value lands in ``args.<name>``."""
    field = next((f for f in dataclasses.fields(config) if f.name == name), None)
    if field is None:
        raise ValueError(f"{config.__name__} has no field {name!r}.")
    help = field.metadata.get("help", name.replace("_", " ")).rstrip(".")
    group.add_argument(
        flag or "--" + name.replace("_", "-"),
        dest=name,
        type=type(field.default),
        default=field.default,
        help=f"{help} (default {field.default})",
    )


def add_push_to_hub_argument(
    parser: argparse.ArgumentParser, *, help: str = "upload the finished folder"
) -> None:
    """``--push-to-hub REPO_ID``."""
    parser.add_argument("--push-to-hub", metavar="REPO_ID", default=None, help=help)


# ------------------------------------------------------------------------------------------- checks
def check_positive(values: Mapping[str, float | None], *, allow_zero: bool = False) -> None:
    """Refuse the first value (by flag, in order) that is not a finite positive number (or zero with
    ``allow_zero``); ``None`` (not given) passes."""
    for flag, value in values.items():
        if value is None:
            continue
        if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
            raise UsageError(f"{flag} must be {'zero or ' if allow_zero else ''}positive, got {value}.")


def check_model(model: str | None, flag: str = "--model") -> None:
    """A local model folder must exist and hold ``config.json``; a Hub id (``name`` or ``user/name``)
    passes; ``None`` (the default model) passes."""
    if model is None:
        return
    path = Path(model).expanduser()
    looks_local = model.startswith((".", "/", "~")) or model.count("/") > 1
    if (looks_local or path.exists()) and not path.is_dir():
        raise UsageError(
            f"{flag} {model} is not a folder; pass a model folder (config.json inside) or a Hub id (user/name)."
        )
    if path.is_dir() and not (path / "config.json").is_file():
        raise UsageError(f"{flag} {model} has no config.json: pass the folder written by save_pretrained.")


def check_data(name: str | None, data_dir: str | None, *, flag: str | None = None) -> None:
    """``data_dir`` must be a folder and ``name`` a data file or a named set found there; ``None``
    passes. ``flag`` (e.g. ``"--eval-data"``) leads the message about a missing set."""
    if name is None:
        return
    from .data.sources import looks_like_hub_dataset, resolve_data_file

    if data_dir is not None and not Path(data_dir).is_dir():
        raise UsageError(f"--data-dir {data_dir} is not a folder; point it at the shared data folder.")
    if looks_like_hub_dataset(name):
        return  # a Hub dataset id: loading it says what is wrong
    try:
        resolve_data_file(name, data_dir)
    except FileNotFoundError as err:
        raise UsageError(f"{flag}: {err}" if flag else str(err)) from err


def last_checkpoint(output: Path) -> str:
    """The newest ``output/checkpoints/checkpoint-N`` folder, for ``--resume``."""
    checkpoints = sorted(
        (output / "checkpoints").glob("checkpoint-*"), key=lambda p: int(p.name.rsplit("-", 1)[1])
    )
    if not checkpoints:
        raise UsageError(
            f"--resume: no checkpoint in {output / 'checkpoints'}; train with --save-steps first."
        )
    return str(checkpoints[-1])
