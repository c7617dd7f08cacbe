"""Padding a batch of tokenized supervised examples on either side."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch

from .tokenization import IGNORE_INDEX

__all__ = ["SupervisedCollator"]


@dataclass
class SupervisedCollator:
    """Pad ``input_ids`` / ``attention_mask`` / ``labels`` to the longest example.

    Args:
        pad_token_id: id used for padding ``input_ids`` (the tokenizer's pad, or its EOS).
        padding_side: ``"right"`` for training, ``"left"`` for batched generation.
        pad_to_multiple_of: round the padded length up to a multiple of this.
        return_prompt_lengths: add ``prompt_lengths`` (shape ``[batch]``) when the examples
            carry ``prompt_length``; hf-reft's LoReFT models use it to place interventions,
            plain transformers models don't accept it.

    Returns (``__call__``): ``input_ids`` and ``attention_mask`` of shape ``[batch, L]`` (long),
    ``labels`` ``[batch, L]`` padded with -100 when present, ``prompt_lengths`` ``[batch]``.
    """

    pad_token_id: int
    padding_side: Literal["left", "right"] = "right"
    pad_to_multiple_of: int | None = None
    return_prompt_lengths: bool = False

    def __post_init__(self) -> None:
        if self.padding_side not in ("left", "right"):
            raise ValueError(f"padding_side must be 'left' or 'right', got {self.padding_side!r}.")
        if self.pad_token_id is None:
            raise ValueError("pad_token_id is None: set tokenizer.pad_token (e.g. to its eos_token) first.")

    @classmethod
    def for_tokenizer(cls, tokenizer: Any, **kwargs: Any) -> SupervisedCollator:
        """Build from a tokenizer, padding with its pad token (or EOS when it has none)."""
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        return cls(pad_token_id=pad, **kwargs)

    def _pad(self, rows: Sequence[Sequence[int]], value: int, length: int) -> torch.Tensor:
        out = torch.full((len(rows), length), value, dtype=torch.long)
        for i, row in enumerate(rows):
            row_t = torch.as_tensor(list(row), dtype=torch.long)
            if self.padding_side == "right":
                out[i, : len(row)] = row_t
            else:
                out[i, length - len(row) :] = row_t
        return out

    def __call__(self, features: Sequence[Mapping[str, Any]]) -> dict[str, torch.Tensor]:
        if not features:
            raise ValueError("Cannot collate an empty batch.")
        length = max(len(f["input_ids"]) for f in features)
        if self.pad_to_multiple_of:
            length = -(-length // self.pad_to_multiple_of) * self.pad_to_multiple_of
        batch = {
            "input_ids": self._pad([f["input_ids"] for f in features], self.pad_token_id, length),
            "attention_mask": self._pad(
                [f.get("attention_mask") or [1] * len(f["input_ids"]) for f in features], 0, length
            ),
        }
        if "labels" in features[0] and isinstance(features[0]["labels"], int | float):
            batch["labels"] = torch.tensor([f["labels"] for f in features])  # classification targets
        elif "labels" in features[0]:
            batch["labels"] = self._pad([f["labels"] for f in features], IGNORE_INDEX, length)
        if self.return_prompt_lengths and "prompt_length" in features[0]:
            batch["prompt_lengths"] = torch.tensor(
                [int(f["prompt_length"]) for f in features], dtype=torch.long
            )
        extra = {
            k for k in features[0] if k not in ("input_ids", "attention_mask", "labels", "prompt_length")
        }
        for key in sorted(extra):
            values = [f[key] for f in features]
            if all(isinstance(v, int | float) for v in values):
                batch[key] = torch.tensor(values)
        return batch
