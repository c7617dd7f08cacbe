"""Rewards of reinforced fine-tuning.

A reward function takes the prompts, the sampled completions (decoded text) and the dataset's
other columns (one entry per completion, keyword arguments) and returns one float per completion::

    def reward(prompts: list[str], completions: list[str], **columns) -> list[float]: ...

The trainer also passes ``completion_ids`` (each completion's token ids, EOS included when it
finished) among the keyword arguments. For conversational prompts (lists of messages, as in TRL)
``prompts`` are those lists and each completion is ``[{"role": "assistant", "content": text}]``,
TRL's conversational format, so ``trl.rewards`` functions work as they are.

The built-in :class:`AnswerReward` is the paper's terminal reward: 1 when the extracted answer is
right (``|pred - gold| <= 1e-2``), 0.1 when an answer was extracted but is wrong, 0 when none was.
Answers come from the shared scoring of completions (:mod:`hf_reft.reinforced.extraction`), which
runs programs in the sandbox.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import torch

from ..answers import Answer, BenchmarkSpec, get_benchmark, is_correct

__all__ = [
    "CORRECT_REWARD",
    "NO_ANSWER_REWARD",
    "WRONG_ANSWER_REWARD",
    "AnswerReward",
    "RewardFunction",
    "answer_reward",
    "completion_text",
    "compute_rewards",
    "is_conversational",
]

#: ``reward(prompts=..., completions=..., **columns) -> list[float | None]``, called by keyword as in TRL.
RewardFunction = Callable[..., Sequence[float | None]]
CORRECT_REWARD = 1.0
WRONG_ANSWER_REWARD = 0.1
NO_ANSWER_REWARD = 0.0


def is_conversational(value: Any) -> bool:
    """Whether ``value`` is a conversation: a non-empty list of ``{"role": ..., "content": ...}`` messages."""
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(m, Mapping) and "role" in m and "content" in m for m in value)
    )


def completion_text(completion: str | Sequence[Mapping[str, Any]]) -> str:
    """A completion's text: the string itself, or the content of a conversational completion's last message."""
    if isinstance(completion, str):
        return completion
    if is_conversational(list(completion)):
        return str(completion[-1]["content"])
    raise TypeError(f"A completion must be text or a list of messages; got {type(completion).__name__}.")


def answer_reward(
    pred: Answer | None,
    gold: Any,
    *,
    benchmark: str | BenchmarkSpec = "numeric",
    abs_tol: float | None = None,
) -> float:
    """1 if ``pred`` answers ``gold`` correctly, 0.1 if it is another answer, 0 if ``None``.

    Correct means :func:`hf_reft.answers.is_correct` under ``benchmark``'s rules — the one comparison
    that evaluation, the verifier's labels and the Space use too; the default ``"numeric"`` is the
    paper's |pred - gold| <= 1e-2. ``abs_tol`` replaces the benchmark's tolerance.
    """
    if pred is None:
        return NO_ANSWER_REWARD
    return CORRECT_REWARD if is_correct(pred, gold, benchmark, abs_tol=abs_tol) else WRONG_ANSWER_REWARD


class AnswerReward:
    """The built-in reward: extract each completion's answer and compare it with the gold one.

    Args:
        format: ``"nl"`` (the answer follows "The answer is") or ``"program"`` (the answer is
            what the sandbox gets from running ``solution()``).
        answer_column: the dataset column with gold answers (SVAMP/GSM8K: ``answer_value``).
        benchmark: whose rules decide a correct answer (:func:`hf_reft.answers.get_benchmark`).
        abs_tol: replaces the benchmark's tolerance.
        extractor: the :class:`~hf_reft.reinforced.extraction.AnswerExtractor` to use (e.g. with
            its own sandbox); default: the shared one of ``format``, strict as the paper.
    """

    def __init__(
        self,
        format: Literal["nl", "program"] = "nl",
        *,
        answer_column: str = "answer_value",
        benchmark: str | BenchmarkSpec = "numeric",
        abs_tol: float | None = None,
        extractor: Any = None,
    ) -> None:
        from .extraction import AnswerExtractor

        self.extractor = extractor if extractor is not None else AnswerExtractor(format)
        self.format = self.extractor.format.name
        self.answer_column = answer_column
        self.benchmark = get_benchmark(benchmark)
        self.abs_tol = abs_tol

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], **columns: Any) -> list[float]:
        if self.answer_column not in columns:
            raise KeyError(
                f"The built-in reward needs the gold answers in column {self.answer_column!r}; the "
                f"dataset has {sorted(c for c in columns if c != 'completion_ids')}. Set answer_column "
                "(--answer-column) or pass a reward function."
            )
        golds = columns[self.answer_column]
        answers = self.extractor.extract_batch([completion_text(c) for c in completions])
        return [
            answer_reward(a, g, benchmark=self.benchmark, abs_tol=self.abs_tol)
            for a, g in zip(answers, golds, strict=True)
        ]


def compute_rewards(
    reward_funcs: RewardFunction | Sequence[RewardFunction],
    prompts: Sequence[str],
    completions: Sequence[str],
    columns: Mapping[str, Sequence[Any]],
    weights: Sequence[float] | None = None,
) -> torch.Tensor:
    """Call each reward function and sum their rewards (weighted): a float32 tensor ``[len(completions)]``.

    A function is called as TRL calls reward functions, by keyword — ``prompts=``, ``completions=``
    and every dataset column — so ``def reward(completions, **kwargs)`` works as it is. It returns
    one float per completion, or ``None`` where it does not apply (that function then adds nothing
    for that completion; a completion no function scores is an error).
    """
    funcs = list(reward_funcs) if isinstance(reward_funcs, Sequence) else [reward_funcs]
    weights = [1.0] * len(funcs) if weights is None else [float(w) for w in weights]
    if not funcs or len(weights) != len(funcs):
        raise ValueError(f"{len(funcs)} reward functions need as many reward_weights, got {len(weights)}.")
    total = [0.0] * len(completions)
    scored = [False] * len(completions)
    for func, weight in zip(funcs, weights, strict=True):
        name = getattr(func, "__name__", type(func).__name__)
        rewards = func(prompts=list(prompts), completions=list(completions), **columns)
        try:
            values = [None if r is None else float(r) for r in rewards]
        except (TypeError, ValueError):
            raise TypeError(
                f"The reward function {name} must return one float (or None) per completion; got "
                f"{type(rewards).__name__}."
            ) from None
        if len(values) != len(completions):
            raise ValueError(
                f"The reward function {name} returned {len(values)} rewards for {len(completions)} completions; "
                "return exactly one float (or None) per completion."
            )
        if not all(v is None or math.isfinite(v) for v in values):
            raise ValueError(f"The reward function {name} returned a NaN or infinite reward: {values}.")
        for i, value in enumerate(values):
            if value is not None:
                total[i] += weight * value
                scored[i] = True
    if not all(scored):
        raise ValueError(f"No reward function scored completion {scored.index(False)} (all returned None).")
    return torch.tensor(total, dtype=torch.float32)
