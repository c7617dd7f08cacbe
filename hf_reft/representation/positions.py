"""Where to intervene: position specs (``f7+l7``, ``f1``, ``l3``) and per-example positions.

The model finds each example's positions itself from the batch it is given:

* the *prompt* of an example is its non-pad tokens (``attention_mask == 1``) before the first
  token whose label is not ``-100``; or its first ``prompt_lengths[i]`` non-pad tokens when a
  collator passes ``prompt_lengths``; or all its non-pad tokens (generation, classification);
* the *prefix* positions are the first ``p`` prompt tokens, the *suffix* positions the last ``s``;
* padding may sit on either side (or anywhere: the k-th prompt token is the k-th non-pad token);
* a prompt shorter than ``p + s`` is de-duplicated: a suffix position that is already a prefix
  position is dropped, so every position is intervened on at most once.

Positions are returned as a ``LongTensor`` ``[batch, p + s]`` of absolute token indices into the
padded sequence, ``-1`` marking an unused slot. Columns ``[:p]`` belong to the prefix
intervention, columns ``[p:]`` to the suffix intervention (the same module when weights are
shared).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch

__all__ = [
    "IGNORE_INDEX",
    "PositionSpec",
    "compute_positions",
    "prompt_lengths_from_labels",
    "reject_packed_batch",
    "validate_positions",
]

IGNORE_INDEX = -100
_TERM = re.compile(r"^([fl])(\d+)$")


@dataclass(frozen=True)
class PositionSpec:
    """``first`` prefix positions and ``last`` suffix positions, parsed from ``"f<p>+l<s>"``."""

    first: int = 0
    last: int = 0

    @classmethod
    def parse(cls, spec: str) -> PositionSpec:
        """Parse ``"f7+l7"``, ``"f1"``, ``"l3"`` (also ``"l3+f2"``; spaces are ignored).

        Raises:
            ValueError: for anything else, naming the accepted forms.
        """
        if not isinstance(spec, str):
            raise ValueError(f"positions must be a string such as 'f7+l7', got {spec!r}.")
        terms = spec.replace(" ", "").lower().split("+")
        first = last = None
        for term in terms:
            match = _TERM.match(term)
            if match is None:
                raise ValueError(
                    f"Malformed position spec {spec!r}: expected 'f<p>+l<s>' (first p and last s prompt "
                    "tokens), 'f<p>' or 'l<s>', e.g. 'f7+l7', 'f1', 'l3'."
                )
            kind, count = match.group(1), int(match.group(2))
            if (kind == "f" and first is not None) or (kind == "l" and last is not None):
                raise ValueError(f"Malformed position spec {spec!r}: '{kind}' is given twice.")
            if kind == "f":
                first = count
            else:
                last = count
        result = cls(first or 0, last or 0)
        if result.first + result.last == 0:
            raise ValueError(f"Position spec {spec!r} selects no positions; use e.g. 'f7+l7', 'f1' or 'l3'.")
        return result

    @property
    def n_positions(self) -> int:
        """``p + s``: the number of position slots per example."""
        return self.first + self.last

    def __str__(self) -> str:
        parts = ([f"f{self.first}"] if self.first else []) + ([f"l{self.last}"] if self.last else [])
        return "+".join(parts)


def _mask(attention_mask: torch.Tensor | None, shape: tuple[int, int], device: torch.device) -> torch.Tensor:
    if attention_mask is None:
        return torch.ones(shape, dtype=torch.bool, device=device)
    if attention_mask.dim() != 2:
        raise ValueError(
            f"attention_mask must be [batch, seq] (1 = token, 0 = padding), got shape {tuple(attention_mask.shape)}."
        )
    return attention_mask.to(device=device) != 0


def prompt_lengths_from_labels(
    labels: torch.Tensor, attention_mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Number of prompt tokens per example: non-pad tokens before the first labelled token.

    Args:
        labels: ``[batch, seq]`` token labels, ``-100`` where no loss is taken (prompt, padding).
        attention_mask: ``[batch, seq]``; ``None`` means no padding.

    Returns:
        ``LongTensor`` ``[batch]``. An example without any labelled token is all prompt.
    """
    if labels.dim() != 2:
        raise ValueError(f"labels must be [batch, seq] token labels, got shape {tuple(labels.shape)}.")
    mask = _mask(attention_mask, tuple(labels.shape), labels.device)
    seq = labels.shape[1]
    index = torch.arange(seq, device=labels.device).expand_as(labels)
    answer = mask & (labels != IGNORE_INDEX)
    first_answer = torch.where(answer, index, torch.full_like(index, seq)).min(dim=1).values
    return (mask & (index < first_answer[:, None])).sum(dim=1)


def compute_positions(
    spec: PositionSpec,
    attention_mask: torch.Tensor | None,
    prompt_lengths: torch.Tensor | None = None,
    *,
    shape: tuple[int, int] | None = None,
    device: torch.device | None = None,
) -> torch.Tensor:
    """Intervention positions of every example.

    Args:
        spec: how many prefix / suffix prompt tokens.
        attention_mask: ``[batch, seq]`` (1 = token, 0 = padding, either side); ``None`` = no padding
            (then ``shape`` is required).
        prompt_lengths: ``[batch]`` number of prompt tokens (not counting padding) per example;
            ``None`` = every non-pad token is prompt. Longer than the example: clamped.
        shape: ``(batch, seq)`` when ``attention_mask`` is ``None``.
        device: device of the result when ``attention_mask`` is ``None``.

    Returns:
        ``LongTensor`` ``[batch, spec.first + spec.last]``: token indices, ``-1`` for unused slots.
    """
    if attention_mask is not None:
        shape = tuple(attention_mask.shape)
        device = attention_mask.device
    if shape is None:
        raise ValueError("compute_positions needs attention_mask or shape.")
    batch, seq = shape
    mask = _mask(attention_mask, shape, device)
    index = torch.arange(seq, device=device).expand(batch, seq)
    # k-th column = index of the k-th non-pad token (pads sorted to the end).
    order = torch.sort(torch.where(mask, index, index + seq), dim=1, stable=True).values
    order = torch.where(order >= seq, order - seq, order)
    n_tokens = mask.sum(dim=1)
    if prompt_lengths is None:
        lengths = n_tokens
    else:
        lengths = torch.as_tensor(prompt_lengths, device=device).reshape(-1).long()
        if lengths.shape[0] != batch:
            raise ValueError(
                f"prompt_lengths has {lengths.shape[0]} entries for a batch of {batch}; give one per example."
            )
        if (lengths < 0).any():
            raise ValueError(f"prompt_lengths must be >= 0, got {lengths.tolist()}.")
        lengths = torch.minimum(lengths, n_tokens)
    p, s = spec.first, spec.last
    first = torch.arange(p, device=device).expand(batch, p)
    first_valid = first < lengths[:, None]
    last = lengths[:, None] - s + torch.arange(s, device=device)
    last_valid = (last >= 0) & (last >= p)  # drop suffix slots that are already prefix slots
    slots = torch.cat([first, last], dim=1)
    valid = torch.cat([first_valid, last_valid], dim=1)
    positions = order.gather(1, slots.clamp(0, max(seq - 1, 0))) if seq else slots
    return torch.where(valid, positions, torch.full_like(positions, -1))


def validate_positions(positions: torch.Tensor, spec: PositionSpec, batch: int, seq: int) -> torch.Tensor:
    """Check explicit positions given by a user; returns them as a ``LongTensor``.

    Args:
        positions: ``[batch, p + s]`` token indices, ``-1`` for unused slots; columns ``[:p]`` go to
            the prefix intervention and ``[p:]`` to the suffix intervention.
    """
    positions = torch.as_tensor(positions)
    if positions.dim() != 2 or tuple(positions.shape) != (batch, spec.n_positions):
        raise ValueError(
            f"intervention_positions must have shape [batch, p + s] = [{batch}, {spec.n_positions}] "
            f"for positions={str(spec)!r}, got {tuple(positions.shape)}. Use -1 for unused slots."
        )
    if positions.dtype.is_floating_point:
        raise ValueError("intervention_positions must be an integer tensor of token indices.")
    positions = positions.long()
    if ((positions < -1) | (positions >= seq)).any():
        raise ValueError(f"intervention_positions must lie in [0, {seq - 1}] (or be -1 for unused slots).")
    valid = positions >= 0
    # duplicates among valid slots of a row: sort and compare neighbours
    keyed = torch.where(valid, positions, -1 - torch.arange(positions.shape[1], device=positions.device))
    ordered = keyed.sort(dim=1).values
    if (ordered[:, 1:] == ordered[:, :-1]).any():
        raise ValueError(
            "intervention_positions repeats a position within an example; list each position once."
        )
    return positions


def reject_packed_batch(base_kwargs: dict) -> None:
    """Refuse a packed batch (several examples in one row), naming the fix.

    A packed batch carries ``cu_seq_lens_q`` (TRL's padding-free collator) or ``position_ids``
    ``[batch, seq]`` that are 0 at more than one non-pad token of a row (each packed example
    starts again at 0; left padding alone gives one). The positions of each example's prompt cannot
    be told apart there, so LoReFT would intervene on the first example only.
    """
    position_ids = base_kwargs.get("position_ids")
    packed = base_kwargs.get("cu_seq_lens_q") is not None
    if not packed and isinstance(position_ids, torch.Tensor) and position_ids.dim() == 2:
        starts = position_ids == 0
        mask = base_kwargs.get("attention_mask")
        if isinstance(mask, torch.Tensor) and tuple(mask.shape) == tuple(position_ids.shape):
            starts &= mask != 0
        packed = bool((starts.sum(dim=1) > 1).any())
    if packed:
        raise ValueError(
            "This batch is packed (several examples in one row: position_ids restart inside a row). LoReFT "
            "intervenes at each example's own prompt positions, which packing hides; train with packing=False "
            "(and padding_free=False) in TRL's SFTConfig, or pad the examples into separate rows."
        )
