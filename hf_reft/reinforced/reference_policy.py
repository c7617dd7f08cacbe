"""The reference policy of the KL penalty: the frozen warm-up policy.

The trainer only needs next-token logits from it, so a reference is anything with
:meth:`ReferencePolicy.logits`. :class:`FrozenReference` keeps a frozen copy of a full model.
:class:`InterventionReference` serves a LoReFT policy without a second copy of its base: it keeps
a frozen copy of the warm-up intervention weights and runs the policy's own (frozen) base with
them swapped in. :func:`default_reference` picks the right one for a policy.
"""

from __future__ import annotations

import copy
import inspect
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn

__all__ = ["FrozenReference", "InterventionReference", "ReferencePolicy", "default_reference", "frozen_copy"]


@runtime_checkable
class ReferencePolicy(Protocol):
    """Next-token logits of the reference policy."""

    def logits(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        position_ids: torch.Tensor,
        prompt_lengths: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``[B, T]`` ids, mask and positions (``[B]`` prompt lengths) -> ``[B, T, V]`` logits, no gradients."""
        ...


def takes_prompt_lengths(model: nn.Module) -> bool:
    """Whether ``model.forward`` takes ``prompt_lengths`` (a LoReFT policy places its interventions by them)."""
    return "prompt_lengths" in inspect.signature(model.forward).parameters


def forward_without_cache(
    model: nn.Module,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None,
    position_ids: torch.Tensor | None,
    prompt_lengths: torch.Tensor | None,
    *,
    pass_prompt_lengths: bool,
    **kwargs: Any,
) -> Any:
    """One forward of a policy over whole ``[B, T]`` sequences, without the KV cache.

    ``prompt_lengths`` ``[B]`` reaches the policy only when ``pass_prompt_lengths`` (see
    :func:`takes_prompt_lengths`); ``kwargs`` (``output_hidden_states``...) go to its forward too.
    Returns the policy's output (``logits`` ``[B, T, V]``...).
    """
    extra = {"prompt_lengths": prompt_lengths} if pass_prompt_lengths else {}
    return model(
        input_ids=input_ids,
        attention_mask=attention_mask,
        position_ids=position_ids,
        use_cache=False,
        **extra,
        **kwargs,
    )


class FrozenReference:
    """A frozen causal LM used as the reference policy (eval mode, no gradients).

    Args:
        model: the warm-up model; it is frozen in place, not copied (see :func:`frozen_copy`).
    """

    def __init__(self, model: nn.Module) -> None:
        self.model = model.eval()
        self.model.requires_grad_(False)
        self._prompt_lengths = takes_prompt_lengths(model)

    @torch.no_grad()
    def logits(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        position_ids: torch.Tensor,
        prompt_lengths: torch.Tensor | None = None,
    ) -> torch.Tensor:
        return forward_without_cache(
            self.model,
            input_ids,
            attention_mask,
            position_ids,
            prompt_lengths,
            pass_prompt_lengths=self._prompt_lengths,
        ).logits

    def to(self, device: torch.device | str) -> FrozenReference:
        self.model.to(device)
        return self


def frozen_copy(model: nn.Module) -> FrozenReference:
    """A :class:`FrozenReference` holding a deep copy of ``model`` as it is now."""
    return FrozenReference(copy.deepcopy(model))


class InterventionReference:
    """The warm-up interventions of a LoReFT policy, run on the policy's own frozen base.

    Args:
        policy: a LoReFT model (``copy_interventions()`` / ``use_interventions()``); its current
            interventions are copied and frozen now. The base is shared, never copied.
    """

    def __init__(self, policy: Any) -> None:
        self.policy = policy
        self.interventions = policy.copy_interventions()

    @torch.no_grad()
    def logits(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        position_ids: torch.Tensor,
        prompt_lengths: torch.Tensor | None = None,
    ) -> torch.Tensor:
        with self.policy.use_interventions(self.interventions):
            return forward_without_cache(
                self.policy, input_ids, attention_mask, position_ids, prompt_lengths, pass_prompt_lengths=True
            ).logits

    def to(self, device: torch.device | str) -> InterventionReference:
        self.interventions.to(device)
        return self


def default_reference(policy: nn.Module) -> ReferencePolicy:
    """The policy as it is now, frozen: intervention weights only for LoReFT, else a full copy."""
    if callable(getattr(policy, "copy_interventions", None)) and callable(
        getattr(policy, "use_interventions", None)
    ):
        return InterventionReference(policy)
    return frozen_copy(policy)
