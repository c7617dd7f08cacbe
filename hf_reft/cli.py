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

__all__ = ["COMMAND_GROUPS", "COMMAND_MODULES", "UsageError", "build_parser", "main"]

#: The sub-command groups, in help order: name → (module whose ``register(subparsers)`` adds the
#: group, its one-line help). Only the group a command line names is imported, so ``hf-reft --help``
#: and ``--version`` load no wing.
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
#: The modules of :data:`COMMAND_GROUPS`, in help order.
COMMAND_MODULES: tuple[str, ...] = tuple(module for module, _ in COMMAND_GROUPS.values())


class UsageError(Exception):
    """A bad command-line argument; the message says what is wrong and how to fix it."""


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
            importlib.import_module(module).register(sub)
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
