"""The ``hf-reft`` command.

Each wing of the package adds its own sub-command group through a ``register(subparsers)``
function in its ``cli`` module (listed in :data:`COMMAND_MODULES`); this module only
builds the parser, dispatches, and turns user errors into one readable line.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from . import __version__

__all__ = ["COMMAND_MODULES", "UsageError", "build_parser", "main"]

#: Modules whose ``register(subparsers)`` adds a sub-command group, in help order.
COMMAND_MODULES: tuple[str, ...] = (
    "hf_reft.representation.cli",
    "hf_reft.reinforced.cli",
    "hf_reft.reftool.cli",
    "hf_reft.space.cli",
)


class UsageError(Exception):
    """A bad command-line argument; the message says what is wrong and how to fix it."""


def _default_model(args: argparse.Namespace) -> int:
    from .models import default_chat_model_path

    print(default_chat_model_path())
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The full ``hf-reft`` parser with every registered sub-command."""
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
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hf-reft`` console script; returns the exit status."""
    parser = build_parser()
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
