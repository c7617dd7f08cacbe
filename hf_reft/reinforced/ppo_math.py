"""The PPO math of reinforced fine-tuning, as pure tensor functions.

Shapes: ``N`` sequences in a rollout, ``R`` response positions (right-padded), ``V`` vocabulary.
Position ``t`` of a response is the action "emit response token ``t``"; ``mask[n, t]`` is 1 for the
tokens sample ``n`` really produced (its EOS included) and 0 for padding.

Everything follows Luong et al. (2024), "ReFT: Reasoning with Reinforced Fine-Tuning", and its
reference implementation: a terminal reward on the last response token, a per-token KL penalty
``-beta * (log pi_old - log pi_ref)``, GAE, advantage whitening, clipped policy and value losses,
each averaged over a sample's tokens and then over samples.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

__all__ = [
    "PolicyLoss",
    "ValueLoss",
    "entropy_from_logits",
    "gae",
    "kl_log_ratio",
    "last_token_index",
    "logprobs_from_logits",
    "masked_mean",
    "masked_var",
    "masked_whiten",
    "place_scores",
    "policy_loss",
    "sample_mean",
    "shape_rewards",
    "value_loss",
]


# --------------------------------------------------------------------------- reductions
def masked_mean(values: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """Mean of ``values`` where ``mask`` is 1 (over everything, or along ``dim``)."""
    mask = mask.to(values.dtype)
    if dim is None:
        return (values * mask).sum() / mask.sum().clamp(min=1.0)
    return (values * mask).sum(dim) / mask.sum(dim).clamp(min=1.0)


def masked_var(values: torch.Tensor, mask: torch.Tensor, *, unbiased: bool = True) -> torch.Tensor:
    """Variance of ``values`` where ``mask`` is 1 (Bessel-corrected by default)."""
    mask = mask.to(values.dtype)
    mean = masked_mean(values, mask)
    var = masked_mean((values - mean) ** 2, mask)
    if unbiased:
        count = mask.sum()
        var = var * count / (count - 1).clamp(min=1.0)
    return var


def masked_whiten(
    values: torch.Tensor,
    mask: torch.Tensor,
    *,
    shift_mean: bool = True,
    mean: torch.Tensor | None = None,
    var: torch.Tensor | None = None,
    eps: float = 1e-8,
) -> torch.Tensor:
    """``(values - mean) / sqrt(var + eps)`` over the masked entries; padding stays 0.

    ``mean``/``var`` default to the masked statistics of ``values``; pass statistics gathered
    over all processes to whiten globally. ``shift_mean=False`` keeps the mean (only rescales).
    """
    mean = masked_mean(values, mask) if mean is None else mean
    var = masked_var(values, mask) if var is None else var
    whitened = (values - mean) * torch.rsqrt(var + eps)
    if not shift_mean:
        whitened = whitened + mean
    return whitened * mask.to(values.dtype)


def sample_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over each sample's tokens, then over samples (the paper's loss aggregation)."""
    return masked_mean(values, mask, dim=-1).mean()


# --------------------------------------------------------------------------- per-token quantities
def logprobs_from_logits(
    logits: torch.Tensor, labels: torch.Tensor, *, temperature: float = 1.0
) -> torch.Tensor:
    """Log-probability of ``labels`` under ``softmax(logits / temperature)``.

    Args:
        logits: ``[..., V]``.
        labels: ``[...]`` token ids.
    Returns:
        ``[...]`` float32 log-probabilities.
    """
    logits = logits.float()
    if temperature != 1.0:
        logits = logits / temperature
    picked = torch.gather(logits, -1, labels.unsqueeze(-1)).squeeze(-1)
    return picked - torch.logsumexp(logits, dim=-1)


def entropy_from_logits(logits: torch.Tensor, *, temperature: float = 1.0) -> torch.Tensor:
    """Entropy ``-sum_v p log p`` of ``softmax(logits / temperature)``: ``[..., V] -> [...]``."""
    logits = logits.float()
    if temperature != 1.0:
        logits = logits / temperature
    logp = torch.log_softmax(logits, dim=-1)
    return -(logp.exp() * logp).sum(-1)


def kl_log_ratio(logprobs: torch.Tensor, ref_logprobs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-token KL estimate ``log pi(a_t) - log pi_ref(a_t)`` on real tokens, 0 on padding: ``[N, R]``."""
    return (logprobs - ref_logprobs) * mask.to(logprobs.dtype)


def last_token_index(mask: torch.Tensor) -> torch.Tensor:
    """Index of each row's last real token: ``[N, R] -> [N]``.

    That token is the EOS of a finished sample and the last generated token of a sample cut at
    ``max_new_tokens``. Raises when a row has no real token.
    """
    lengths = mask.long().sum(-1)
    if bool((lengths == 0).any()):
        raise ValueError("A response has no tokens; every sample must have at least one response token.")
    return lengths - 1


def place_scores(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Put each sample's terminal reward on its last real token: ``[N], [N, R] -> [N, R]``."""
    placed = torch.zeros(mask.shape, dtype=scores.dtype, device=scores.device)
    rows = torch.arange(mask.shape[0], device=mask.device)
    placed[rows, last_token_index(mask)] = scores
    return placed


def shape_rewards(scores: torch.Tensor, kl: torch.Tensor, mask: torch.Tensor, kl_coef: float) -> torch.Tensor:
    """Per-token rewards ``r_t = -kl_coef * kl_t`` plus the terminal score on the last token.

    Args:
        scores: ``[N]`` terminal rewards (e.g. 1 / 0.1 / 0).
        kl: ``[N, R]`` per-token KL (see :func:`kl_log_ratio`).
        mask: ``[N, R]`` response mask.
    Returns:
        ``[N, R]``, zero on padding.
    """
    mask = mask.to(kl.dtype)
    return (-kl_coef * kl + place_scores(scores.to(kl.dtype), mask)) * mask


def gae(
    rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, *, gamma: float, lam: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalized advantage estimation over right-padded responses.

    ``delta_t = r_t + gamma * V_{t+1} - V_t`` (``V`` is 0 after the last real token),
    ``A_t = delta_t + gamma * lam * A_{t+1}``, returns ``R_t = A_t + V_t``.

    Args:
        rewards, values, mask: ``[N, R]``.
    Returns:
        ``(advantages, returns)``, both ``[N, R]`` and zero on padding.
    """
    mask = mask.to(values.dtype)
    values = values * mask
    rewards = rewards * mask
    length = rewards.shape[-1]
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[:, 0])
    for t in reversed(range(length)):
        next_value = values[:, t + 1] if t + 1 < length else torch.zeros_like(running)
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        running = (delta + gamma * lam * running) * mask[:, t]
        advantages[:, t] = running
    returns = (advantages + values) * mask
    return advantages, returns


# --------------------------------------------------------------------------- losses
class PolicyLoss(NamedTuple):
    """The clipped surrogate loss and its diagnostics (scalars)."""

    loss: torch.Tensor
    clip_fraction: torch.Tensor
    approx_kl: torch.Tensor
    ratio: torch.Tensor


class ValueLoss(NamedTuple):
    """The clipped value loss and the share of tokens where clipping was active (scalars)."""

    loss: torch.Tensor
    clip_fraction: torch.Tensor


def policy_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    clip_range: float,
) -> PolicyLoss:
    """PPO's clipped surrogate ``max(-A * ratio, -A * clip(ratio, 1 - eps, 1 + eps))``.

    Args:
        logprobs: ``[N, R]`` under the policy being trained.
        old_logprobs: ``[N, R]`` under the policy that sampled the rollout.
        advantages: ``[N, R]`` (whitened or not).
        mask: ``[N, R]`` response mask.
    Returns:
        :class:`PolicyLoss`: the loss (mean over each sample's tokens, then over samples), the
        token share where the clipped branch was taken, ``0.5 * mean((log ratio)^2)``, mean ratio.
    """
    log_ratio = logprobs - old_logprobs
    ratio = torch.exp(log_ratio)
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1.0 - clip_range, 1.0 + clip_range)
    loss = sample_mean(torch.maximum(unclipped, clipped), mask)
    with torch.no_grad():
        clip_fraction = masked_mean((clipped > unclipped).to(ratio.dtype), mask)
        approx_kl = 0.5 * masked_mean(log_ratio**2, mask)
        mean_ratio = masked_mean(ratio, mask)
    return PolicyLoss(loss, clip_fraction, approx_kl, mean_ratio)


def value_loss(
    values: torch.Tensor,
    old_values: torch.Tensor,
    returns: torch.Tensor,
    mask: torch.Tensor,
    *,
    clip_range: float,
) -> ValueLoss:
    """Clipped value loss ``0.5 * max((V - R)^2, (V_old + clip(V - V_old, -eps, eps) - R)^2)``.

    Args:
        values: ``[N, R]`` predictions of the value head being trained.
        old_values: ``[N, R]`` predictions at rollout time.
        returns: ``[N, R]`` GAE returns.
        mask: ``[N, R]`` response mask.
    """
    clipped_values = old_values + torch.clamp(values - old_values, -clip_range, clip_range)
    losses = (values - returns) ** 2
    clipped_losses = (clipped_values - returns) ** 2
    loss = 0.5 * sample_mean(torch.maximum(losses, clipped_losses), mask)
    with torch.no_grad():
        clip_fraction = masked_mean((clipped_losses > losses).to(values.dtype), mask)
    return ValueLoss(loss, clip_fraction)
