"""PPO pieces of reinforced fine-tuning against hand-computed tensors."""

from __future__ import annotations

import math

import pytest
import torch

from hf_reft.generation import Completion
from hf_reft.reinforced import ppo_math as ppo
from hf_reft.reinforced.rollout import build_rollout, pad_completions

EOS = 2


def close(actual: torch.Tensor, expected, atol: float = 1e-5) -> None:
    torch.testing.assert_close(actual, torch.as_tensor(expected, dtype=actual.dtype), atol=atol, rtol=0)


# --------------------------------------------------------------------------- reductions
def test_masked_mean_var_and_whitening():
    values = torch.tensor([[1.0, 2.0, 3.0], [4.0, 99.0, 99.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    close(ppo.masked_mean(values, mask), 2.5)
    close(ppo.masked_mean(values, mask, dim=-1), [2.0, 4.0])
    close(ppo.masked_var(values, mask), 5 / 3)  # (1.5^2 + 0.5^2 + 0.5^2 + 1.5^2) / 3
    s = math.sqrt(5 / 3)
    close(ppo.masked_whiten(values, mask), [[-1.5 / s, -0.5 / s, 0.5 / s], [1.5 / s, 0.0, 0.0]], atol=1e-4)
    # statistics gathered elsewhere (other processes) replace the local ones
    close(
        ppo.masked_whiten(values, mask, mean=torch.tensor(1.0), var=torch.tensor(4.0)),
        [[0, 0.5, 1], [1.5, 0, 0]],
    )
    close(
        ppo.masked_whiten(values, mask, shift_mean=False)[0],
        [-1.5 / s + 2.5, -0.5 / s + 2.5, 0.5 / s + 2.5],
        atol=1e-4,
    )
    # the paper's aggregation: each sample's token mean, then the mean over samples
    close(ppo.sample_mean(values, mask), (2.0 + 4.0) / 2)


# --------------------------------------------------------------------------- per-token quantities
def test_logprobs_and_entropy_from_logits():
    logits = torch.tensor([[[0.0, math.log(3.0)], [0.0, 0.0]]])
    labels = torch.tensor([[1, 0]])
    close(ppo.logprobs_from_logits(logits, labels), [[math.log(0.75), math.log(0.5)]])
    hot = 1 + math.sqrt(3)  # temperature 2: softmax([0, log(3) / 2]) = [1, sqrt 3] / (1 + sqrt 3)
    close(
        ppo.logprobs_from_logits(logits, labels, temperature=2.0),
        [[math.log(math.sqrt(3) / hot), math.log(0.5)]],
    )
    close(ppo.entropy_from_logits(torch.zeros(1, 4)), [math.log(4)])
    close(ppo.entropy_from_logits(logits)[0, 0], -(0.25 * math.log(0.25) + 0.75 * math.log(0.75)))


def test_per_token_kl_is_the_log_ratio_on_real_tokens():
    logprobs = torch.tensor([[-1.0, -2.0, -0.5]])
    ref = torch.tensor([[-1.5, -1.0, -3.0]])
    mask = torch.tensor([[1.0, 1.0, 0.0]])
    close(ppo.kl_log_ratio(logprobs, ref, mask), [[0.5, -1.0, 0.0]])


def test_score_sits_on_the_last_real_token():
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0], [1.0, 1.0, 1.0, 1.0], [1.0, 0.0, 0.0, 0.0]])
    scores = torch.tensor([1.0, 0.1, 0.0])
    close(ppo.last_token_index(mask), [2, 3, 0])
    close(ppo.place_scores(scores, mask), [[0, 0, 1, 0], [0, 0, 0, 0.1], [0, 0, 0, 0]])
    kl = torch.tensor([[0.2, 0.1, -0.1, 0.7], [0.0, 0.0, 0.0, 0.4], [0.3, 0.0, 0.0, 0.0]])
    close(
        ppo.shape_rewards(scores, kl * mask, mask, kl_coef=0.5),
        [[-0.1, -0.05, 1.05, 0.0], [0.0, 0.0, 0.0, -0.2 + 0.1], [-0.15, 0.0, 0.0, 0.0]],
    )
    with pytest.raises(ValueError, match="no tokens"):
        ppo.last_token_index(torch.tensor([[0.0, 0.0]]))


def test_gae_by_hand():
    # row 0: gamma 1, lambda 0.5, a padded 4th position whose value must be ignored
    rewards = torch.tensor([[0.0, 0.0, 1.0, 0.0]])
    values = torch.tensor([[0.5, 0.6, 0.8, 9.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0]])
    adv, ret = ppo.gae(rewards, values, mask, gamma=1.0, lam=0.5)
    # delta = [0.6 - 0.5, 0.8 - 0.6, 1 - 0.8] = [0.1, 0.2, 0.2]; A_2 = 0.2, A_1 = 0.2 + 0.5 * 0.2, A_0 = 0.1 + 0.5 * 0.3
    close(adv, [[0.25, 0.3, 0.2, 0.0]])
    close(ret, [[0.75, 0.9, 1.0, 0.0]])
    # gamma 0.9, lambda 1: returns are discounted reward sums
    adv, ret = ppo.gae(
        torch.tensor([[0.0, 1.0]]), torch.tensor([[0.2, 0.5]]), torch.ones(1, 2), gamma=0.9, lam=1.0
    )
    close(adv, [[0.7, 0.5]])
    close(ret, [[0.9, 1.0]])
    # the paper's setting (gamma 1, lambda 0.95) on a batch of two different lengths
    adv, _ = ppo.gae(
        torch.tensor([[0.0, 1.0], [0.5, 0.0]]),
        torch.zeros(2, 2),
        torch.tensor([[1.0, 1.0], [1.0, 0.0]]),
        gamma=1.0,
        lam=0.95,
    )
    close(adv, [[0.95, 1.0], [0.5, 0.0]])


# --------------------------------------------------------------------------- losses
def test_clipped_policy_loss_by_hand():
    old = torch.zeros(2, 3)
    ratio = torch.tensor([[1.5, 0.5, 1.0], [1.5, 1.0, 1.0]])
    logprobs = torch.log(ratio).requires_grad_(True)
    adv = torch.tensor([[1.0, 1.0, -2.0], [-1.0, 0.0, 0.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    out = ppo.policy_loss(logprobs, old, adv, mask, clip_range=0.2)
    # row 0: max(-1.5, -1.2) = -1.2 (clipped), max(-0.5, -0.8) = -0.5, 2.0 -> mean 0.1; row 1: max(1.5, 1.2) = 1.5
    close(out.loss.detach(), (0.1 + 1.5) / 2)
    close(out.clip_fraction, 1 / 4)
    close(out.approx_kl, 0.5 * (2 * math.log(1.5) ** 2 + math.log(0.5) ** 2) / 4)
    out.loss.backward()
    # d/dlogp of -A * ratio is -A * ratio; the clipped token gets no gradient; 1/3 per token of row 0, 1/2 per row
    close(logprobs.grad, [[0.0, -0.5 / 6, 2.0 / 6], [1.5 / 2, 0.0, 0.0]])


def test_clipped_value_loss_by_hand():
    values = torch.tensor([[1.0, 0.6, 5.0]], requires_grad=True)
    old = torch.tensor([[0.5, 0.0, 0.0]])
    returns = torch.tensor([[0.0, 1.0, 0.0]])
    mask = torch.tensor([[1.0, 1.0, 0.0]])
    out = ppo.value_loss(values, old, returns, mask, clip_range=0.2)
    # token 0: max((1 - 0)^2, (0.7 - 0)^2) = 1; token 1: max(0.4^2, (0.2 - 1)^2) = 0.64 (clipped branch)
    close(out.loss.detach(), 0.5 * (1.0 + 0.64) / 2)
    close(out.clip_fraction, 0.5)
    out.loss.backward()
    # token 0 unclipped: 0.5 * 2 * (1 - 0) / 2 = 0.5; token 1 clipped branch is constant in values: 0
    close(values.grad, [[0.5, 0.0, 0.0]])


# --------------------------------------------------------------------------- rollout tensors
def _completions() -> list[Completion]:
    return [
        Completion(0, "a", [5, EOS], True, [10, 11]),  # finished: EOS is its last token
        Completion(1, "bcd", [7, 8, 9], False, [12, 13, 14]),  # truncated at max_new_tokens
    ]


@pytest.mark.parametrize("pad", [0, EOS], ids=["pad-differs", "pad-is-eos"])
def test_padding_layout_and_reward_placement(pad):
    batch = pad_completions(_completions(), pad_token_id=pad)
    assert batch.prompt_width == 3
    close(batch.input_ids, [[pad, 10, 11, 5, EOS, pad], [12, 13, 14, 7, 8, 9]])
    close(batch.attention_mask, [[0, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1]])
    close(batch.position_ids, [[0, 0, 1, 2, 3, 3], [0, 1, 2, 3, 4, 5]])
    # the mask comes from lengths: the EOS stays a response token even when pad == EOS
    close(batch.response_mask, [[1, 1, 0], [1, 1, 1]])
    assert batch.finished.tolist() == [True, False]
    close(ppo.place_scores(torch.tensor([1.0, 0.1]), batch.response_mask), [[0, 1, 0], [0, 0, 0.1]])


def test_build_rollout_places_rewards_and_reads_the_response_slice():
    vocab = 16
    seen = []

    def policy_forward(ids, mask, pos, lengths):  # uniform policy, value = position id
        seen.append(ids.shape[0])
        return torch.zeros(*ids.shape, vocab), pos.float()

    rollout = build_rollout(
        _completions(),
        torch.tensor([1.0, 0.1]),
        policy_forward=policy_forward,
        reference=None,
        pad_token_id=EOS,
        kl_coef=0.05,
        gamma=1.0,
        lam=1.0,
        batch_size=1,
    )
    assert seen == [1, 1]  # forward passes in batches of batch_size rows
    mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]])
    close(rollout.logprobs, -math.log(vocab) * mask)
    # values of response position t come from sequence position P - 1 + t: positions 1, 2 / 2, 3, 4
    close(rollout.values, [[1.0, 2.0, 0.0], [2.0, 3.0, 4.0]])
    close(rollout.kl, torch.zeros(2, 3))  # no reference: no penalty
    close(rollout.rewards, [[0.0, 1.0, 0.0], [0.0, 0.0, 0.1]])
    # gamma = lambda = 1: returns are the terminal score everywhere, advantages returns - values
    close(rollout.returns, [[1.0, 1.0, 0.0], [0.1, 0.1, 0.1]])
    close(rollout.advantages, [[0.0, -1.0, 0.0], [-1.9, -2.9, -3.9]])
    batch = rollout.mini_batch(torch.tensor([1]))
    assert batch["prompt_width"] == 3 and batch["input_ids"].shape == (1, 6)


def test_build_rollout_kl_by_hand():
    class Reference:
        def logits(self, ids, mask, pos, prompt_lengths=None):
            out = torch.zeros(*ids.shape, 4)
            out[..., 1] = math.log(3.0)  # reference: token 1 has probability 1/2, others 1/6
            return out

    rollout = build_rollout(
        [Completion(0, "", [1, 3], True, [0])],
        torch.tensor([1.0]),
        policy_forward=lambda ids, mask, pos, lengths: (torch.zeros(*ids.shape, 4), torch.zeros(ids.shape)),
        reference=Reference(),
        pad_token_id=0,
        kl_coef=0.5,
        gamma=1.0,
        lam=1.0,
        batch_size=4,
    )
    kl = [math.log(0.25 / 0.5), math.log(0.25 / (1 / 6))]
    close(rollout.kl, [kl])
    close(rollout.rewards, [[-0.5 * kl[0], -0.5 * kl[1] + 1.0]])
