"""The LoReFT settings as command-line flags, declared once for every command that makes an adapter.

``hf-reft representation train`` and the reinforced commands' ``--adapter`` policies share these
flags; their defaults are :class:`~hf_reft.representation.ReftConfig`'s own (read from the config,
never copied), and :func:`reft_config_from_args` turns them back into a config.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from ..cli_arguments import UsageError
from .configuration import ReftConfig
from .interventions import INTERVENTIONS

__all__ = [
    "REFT_FLAGS",
    "adapter_config_from_args",
    "add_adapter_arguments",
    "add_reft_arguments",
    "parse_layers",
    "reft_config_from_args",
]

#: The ReftConfig fields a command line sets, with their flags' help (the default is appended).
REFT_FLAGS: dict[str, str] = {
    "layers": "layer indices (e.g. 6 12 18 24 or 6,12,18,24) or all",
    "positions": "prompt positions: f<p>+l<s> (first p and last s prompt tokens), f<p> or l<s>",
    "rank": "rank of each intervention",
    "intervention": "intervention kind: " + ", ".join(INTERVENTIONS),
    "share_weights": "with f<p>+l<s>: one intervention per layer for the first and last positions "
    "together, instead of one for each",
    "dropout": "dropout on the low-rank edit",
}


def _default(name: str) -> Any:
    return next(f.default for f in dataclasses.fields(ReftConfig) if f.name == name)


def add_reft_arguments(group: Any, *, dropout: bool = True) -> None:
    """``--layers``, ``--positions``, ``--rank``, ``--intervention``, ``--share-weights`` and (with
    ``dropout``) ``--dropout`` on ``group`` (a parser or an argument group), defaults from ReftConfig."""
    layers = _default("layers")
    group.add_argument(
        "--layers",
        nargs="+",
        default=[layers] if isinstance(layers, str) else list(layers),
        help=f"{REFT_FLAGS['layers']} (default {layers})",
    )
    for name, kind in (("positions", str), ("rank", int), ("intervention", str)):
        flag = "--" + name.replace("_", "-")
        group.add_argument(
            flag, type=kind, default=_default(name), help=f"{REFT_FLAGS[name]} (default %(default)s)"
        )
    group.add_argument("--share-weights", action="store_true", help=REFT_FLAGS["share_weights"])
    if dropout:
        group.add_argument(
            "--dropout",
            type=float,
            default=_default("dropout"),
            help=f"{REFT_FLAGS['dropout']} (default %(default)s)",
        )


def add_adapter_arguments(parser: argparse.ArgumentParser) -> None:
    """``--adapter`` and the LoReFT settings of a new adapter (read by :func:`adapter_config_from_args`)."""
    group = parser.add_argument_group("LoReFT adapter (instead of training the full model)")
    group.add_argument(
        "--adapter",
        action="store_true",
        help="train LoReFT interventions over the frozen model (hf_reft.ReftConfig)",
    )
    add_reft_arguments(group, dropout=False)


def parse_layers(values: list[str]) -> list[int] | str:
    """``--layers`` values (``6 12 18 24``, ``6,12,18,24`` or ``all``) as ``ReftConfig.layers``."""
    items = [item for value in values for item in value.replace(",", " ").split()]
    if items == ["all"]:
        return "all"
    try:
        layers = [int(item) for item in items]
    except ValueError:
        raise UsageError(
            f"--layers takes layer indices (6 12 18 24 or 6,12,18,24) or 'all', got {' '.join(values)!r}."
        ) from None
    if not layers:
        raise UsageError("--layers needs at least one layer index, or 'all'.")
    return layers


def reft_config_from_args(args: argparse.Namespace, **extra: Any) -> ReftConfig:
    """A :class:`ReftConfig` from the flags of :func:`add_reft_arguments`; ``extra``: further fields."""
    fields = {"dropout": args.dropout} if hasattr(args, "dropout") else {}
    try:
        return ReftConfig(
            layers=parse_layers(args.layers),
            positions=args.positions,
            rank=args.rank,
            intervention=args.intervention,
            share_weights=args.share_weights,
            **fields,
            **extra,
        )
    except (ValueError, TypeError, KeyError) as err:
        raise UsageError(f"Bad LoReFT setting: {err}") from None


def adapter_config_from_args(args: argparse.Namespace) -> ReftConfig | None:
    """:func:`reft_config_from_args` with ``--adapter`` (:func:`add_adapter_arguments`), else ``None``;
    adapter settings without ``--adapter`` are refused."""
    if not args.adapter:
        if args.layers != [_default("layers")] or args.share_weights:
            raise UsageError("--layers/--share-weights configure a LoReFT adapter; add --adapter.")
        return None
    return reft_config_from_args(args)
