"""The ``hf-reft`` command.

Each wing of the package describes its sub-command group in its ``cli`` module (listed in
:data:`~hf_reft.cli_arguments.COMMAND_GROUPS`): ``DESCRIPTION`` and ``SUBCOMMANDS``, functions that
each add one command. This module builds the groups from them (only the one a command line names),
dispatches, and turns user errors
(:class:`~hf_reft.cli_arguments.UsageError`) into one readable line.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from . import __version__
from .cli_arguments import COMMAND_GROUPS, UsageError, add_command_group

__all__ = ["COMMAND_GROUPS", "UsageError", "build_parser", "main"]


def _default_model(args: argparse.Namespace) -> int:
    from .models import default_chat_model_path

    print(default_chat_model_path())
    return 0


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The ``hf-reft`` parser: every group in full, or with ``argv`` only the group it names (the
    others are listed by name and help, without importing their modules)."""
    parser = argparse.ArgumentParser(
        prog="hf-reft",
        description="LoReFT (representation finetuning), reinforced fine-tuning for reasoning, and RefTool.",
    )
    parser.add_argument("--version", action="version", version=f"hf-reft {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    model = sub.add_parser(
        "default-model",
        help="convert the offline default chat model (SmolLM2-135M-Instruct) once and print its folder",
    )
    model.set_defaults(func=_default_model)
    named = next((arg for arg in argv if not arg.startswith("-")), None) if argv is not None else None
    for name, (module, help) in COMMAND_GROUPS.items():
        if argv is None or name == named:
            group = importlib.import_module(module)
            add_command_group(sub, name, description=group.DESCRIPTION, commands=group.SUBCOMMANDS)
        else:
            sub.add_parser(name, help=help, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hf-reft`` console script; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UsageError as err:
        parser.exit(2, f"hf-reft: error: {err}\n")
    except KeyboardInterrupt:
        print("hf-reft: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
