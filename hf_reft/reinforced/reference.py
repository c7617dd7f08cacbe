"""The reference policy of the KL penalty: the frozen warm-up model.

The trainer only needs next-token logits from it, so a reference is anything with
:meth:`ReferencePolicy.logits`. :class:`FrozenReference` keeps a frozen copy of a full model. A
LoReFT policy needs no second copy of its base: its reference can swap the frozen warm-up
intervention weights in, run the same model without gradients, and swap the trained ones back.
"""

from __future__ import annotations

import copy
from typing import Protocol, runtime_checkable

import torch
from torch import nn

__all__ = ["FrozenReference", "ReferencePolicy", "frozen_copy"]


@runtime_checkable
class ReferencePolicy(Protocol):
    """Next-token logits of the reference policy."""

    def logits(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, position_ids: torch.Tensor
    ) -> torch.Tensor:
        """``[B, T]`` ids, mask and positions -> ``[B, T, V]`` logits (no gradients)."""
        ...


class FrozenReference:
    """A frozen causal LM used as the reference policy (eval mode, no gradients).

    Args:
        model: the warm-up model; it is not copied (see :func:`frozen_copy`).
    """

    def __init__(self, model: nn.Module) -> None:
        self.model = model.eval()
        for param in self.model.parameters():
            param.requires_grad_(False)

    @torch.no_grad()
    def logits(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, position_ids: torch.Tensor
    ) -> torch.Tensor:
        return self.model(
            input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, use_cache=False
        ).logits

    def to(self, device: torch.device | str) -> FrozenReference:
        self.model.to(device)
        return self


def frozen_copy(model: nn.Module) -> FrozenReference:
    """A :class:`FrozenReference` holding a deep copy of ``model`` as it is now."""
    return FrozenReference(copy.deepcopy(model))
