"""Rollouts: sampled completions turned into the tensors PPO trains on.

Layout of a rollout of ``N`` samples: every row is ``[prompt (left-padded to P) | response
(right-padded to R)]``, so that response position ``t`` is predicted by sequence position
``P - 1 + t`` in every row. The response mask comes from each completion's length, never from
comparing ids with the pad token, so a tokenizer whose pad token equals EOS keeps its EOS. The
terminal reward sits on each response's last real token: the EOS of a finished sample, the last
generated token of a sample cut at ``max_new_tokens``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields

import torch

from ..generation import Completion
from . import ppo_math as ppo
from .reference_policy import ReferencePolicy

__all__ = ["PaddedCompletions", "Rollout", "build_rollout", "pad_completions", "score_sequences"]

#: ``(input_ids, attention_mask, position_ids, prompt_lengths) -> (logits [B, T, V], values [B, T] or None)``
ForwardFn = Callable[
    [torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor | None]
]


@dataclass
class PaddedCompletions:
    """Token tensors of ``N`` completions (``P`` prompt width, ``R`` response width).

    Attributes:
        input_ids: ``[N, P + R]`` long.
        attention_mask: ``[N, P + R]`` long, 1 on real prompt and response tokens.
        position_ids: ``[N, P + R]`` long, counting real tokens from 0 (as ``generate`` does).
        response_mask: ``[N, R]`` float, 1 on the response tokens each sample produced.
        prompt_width: ``P``.
        finished: ``[N]`` bool, the sample ended with EOS (else it was truncated).
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    position_ids: torch.Tensor
    response_mask: torch.Tensor
    prompt_width: int
    finished: torch.Tensor

    @property
    def response_ids(self) -> torch.Tensor:
        """``[N, R]`` response token ids (padding where the mask is 0)."""
        return self.input_ids[:, self.prompt_width :]

    @property
    def prompt_lengths(self) -> torch.Tensor:
        """``[N]`` real prompt tokens per row."""
        return self.attention_mask[:, : self.prompt_width].sum(-1)


def pad_completions(completions: Sequence[Completion], pad_token_id: int) -> PaddedCompletions:
    """Stack completions into left-padded prompts and right-padded responses.

    Raises ``ValueError`` for a completion without response tokens or without prompt ids.
    """
    if not completions:
        raise ValueError("No completions to pad.")
    for c in completions:
        if not c.token_ids:
            raise ValueError(
                f"Completion of prompt {c.prompt_index} has no tokens; a generator must return at least "
                "the EOS token."
            )
        if not c.prompt_ids:
            raise ValueError(
                f"Completion of prompt {c.prompt_index} carries no prompt_ids; the rollout needs them."
            )
    width_p = max(len(c.prompt_ids) for c in completions)
    width_r = max(len(c.token_ids) for c in completions)
    n = len(completions)
    input_ids = torch.full((n, width_p + width_r), pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros((n, width_p + width_r), dtype=torch.long)
    response_mask = torch.zeros((n, width_r), dtype=torch.float32)
    for i, c in enumerate(completions):
        p, r = len(c.prompt_ids), len(c.token_ids)
        input_ids[i, width_p - p : width_p] = torch.tensor(c.prompt_ids)
        input_ids[i, width_p : width_p + r] = torch.tensor(c.token_ids)
        attention_mask[i, width_p - p : width_p + r] = 1
        response_mask[i, :r] = 1.0
    position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    finished = torch.tensor([c.finished for c in completions], dtype=torch.bool)
    return PaddedCompletions(input_ids, attention_mask, position_ids, response_mask, width_p, finished)


@torch.no_grad()
def score_sequences(
    forward: ForwardFn,
    batch: PaddedCompletions,
    *,
    batch_size: int,
    temperature: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Response log-probabilities ``[N, R]`` (and values ``[N, R]`` if ``forward`` gives them).

    ``forward`` runs on ``batch_size`` rows at a time; only the response slice of the logits is
    turned into log-probabilities, to keep memory at ``batch_size x R x V``.
    """
    p, r = batch.prompt_width, batch.response_mask.shape[1]
    logprobs, values = [], []
    for start in range(0, batch.input_ids.shape[0], batch_size):
        rows = slice(start, start + batch_size)
        logits, vals = forward(
            batch.input_ids[rows],
            batch.attention_mask[rows],
            batch.position_ids[rows],
            batch.prompt_lengths[rows],
        )
        logits = logits[:, p - 1 : p + r - 1]
        logprobs.append(ppo.logprobs_from_logits(logits, batch.response_ids[rows], temperature=temperature))
        if vals is not None:
            values.append(vals[:, p - 1 : p + r - 1].float())
        del logits
    mask = batch.response_mask
    return torch.cat(logprobs) * mask, (torch.cat(values) * mask if values else None)


@dataclass
class Rollout:
    """Everything PPO needs from one rollout; every ``[N, R]`` tensor is zero on padding.

    Attributes:
        tokens: the padded samples.
        scores: ``[N]`` terminal rewards.
        logprobs: ``[N, R]`` log-probabilities under the sampling policy.
        ref_logprobs: ``[N, R]`` under the reference policy (equal to ``logprobs`` without one).
        values: ``[N, R]`` value estimates at sampling time.
        kl: ``[N, R]`` per-token KL log-ratio.
        rewards: ``[N, R]`` shaped rewards (KL penalty + terminal score).
        advantages: ``[N, R]`` GAE advantages (whitened by the trainer when configured).
        returns: ``[N, R]`` GAE returns (value targets).
    """

    tokens: PaddedCompletions
    scores: torch.Tensor
    logprobs: torch.Tensor
    ref_logprobs: torch.Tensor
    values: torch.Tensor
    kl: torch.Tensor
    rewards: torch.Tensor
    advantages: torch.Tensor
    returns: torch.Tensor
    texts: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return self.scores.shape[0]

    def mini_batch(self, rows: torch.Tensor) -> dict[str, torch.Tensor]:
        """The tensors of rows ``rows`` as a dict for :meth:`ReinforcedTrainer.compute_loss`."""
        t = self.tokens
        return {
            "input_ids": t.input_ids[rows],
            "attention_mask": t.attention_mask[rows],
            "position_ids": t.position_ids[rows],
            "response_mask": t.response_mask[rows],
            "prompt_width": t.prompt_width,
            "prompt_lengths": t.prompt_lengths[rows],
            "old_logprobs": self.logprobs[rows],
            "old_values": self.values[rows],
            "advantages": self.advantages[rows],
            "returns": self.returns[rows],
        }

    def to(self, device: torch.device | str) -> Rollout:
        """Move every tensor to ``device`` (in place; returns self)."""
        for f in fields(PaddedCompletions):
            value = getattr(self.tokens, f.name)
            if isinstance(value, torch.Tensor):
                setattr(self.tokens, f.name, value.to(device))
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, torch.Tensor):
                setattr(self, f.name, value.to(device))
        return self


def build_rollout(
    completions: Sequence[Completion],
    scores: torch.Tensor,
    *,
    policy_forward: ForwardFn,
    reference: ReferencePolicy | None,
    pad_token_id: int,
    kl_coef: float,
    gamma: float,
    lam: float,
    batch_size: int,
    temperature: float = 1.0,
    device: torch.device | str = "cpu",
) -> Rollout:
    """Score sampled completions: old log-probs and values, reference log-probs, shaped rewards, GAE.

    Args:
        completions: ``N`` samples (flattened over prompts).
        scores: ``[N]`` terminal rewards.
        policy_forward: the policy with its value head (no gradients needed).
        reference: the reference policy; ``None`` means no KL penalty (``kl`` is 0).
        pad_token_id: id used for padding (may equal EOS).
        kl_coef, gamma, lam: PPO settings (beta, discount, GAE lambda).
        batch_size: rows per forward pass.
        temperature: the sampling temperature (log-probs are of ``softmax(logits / T)``).
        device: where the forward passes run.

    Advantages are returned un-whitened; whitening is the trainer's (it may gather statistics
    over processes).
    """
    tokens = pad_completions(completions, pad_token_id)
    for f in fields(PaddedCompletions):
        value = getattr(tokens, f.name)
        if isinstance(value, torch.Tensor):
            setattr(tokens, f.name, value.to(device))
    scores = scores.to(device)
    logprobs, values = score_sequences(policy_forward, tokens, batch_size=batch_size, temperature=temperature)
    if values is None:
        raise ValueError("policy_forward must return values (the policy needs a value head).")
    if reference is not None:

        def ref_forward(
            ids: torch.Tensor, mask: torch.Tensor, pos: torch.Tensor, lengths: torch.Tensor
        ) -> tuple[torch.Tensor, None]:
            return reference.logits(ids, mask, pos, prompt_lengths=lengths), None

        ref_logprobs, _ = score_sequences(ref_forward, tokens, batch_size=batch_size, temperature=temperature)
    else:
        ref_logprobs = logprobs.clone()
    kl = ppo.kl_log_ratio(logprobs, ref_logprobs, tokens.response_mask)
    rewards = ppo.shape_rewards(scores, kl, tokens.response_mask, kl_coef)
    advantages, returns = ppo.gae(rewards, values, tokens.response_mask, gamma=gamma, lam=lam)
    return Rollout(
        tokens=tokens,
        scores=scores,
        logprobs=logprobs,
        ref_logprobs=ref_logprobs,
        values=values,
        kl=kl,
        rewards=rewards,
        advantages=advantages,
        returns=returns,
        texts=[],
    )
