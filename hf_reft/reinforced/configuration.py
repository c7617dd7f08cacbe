"""Training arguments of reinforced fine-tuning's PPO stage."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from transformers import TrainingArguments

from ..generation import SamplingParams

__all__ = ["DEFAULT_KL_COEF", "ReinforcedConfig"]

#: The paper's KL coefficients: 0.05 for natural-language chains of thought, 0.01 for programs.
DEFAULT_KL_COEF: dict[str, float] = {"nl": 0.05, "program": 0.01}
_WHITENING = ("global", "local", "none")


@dataclass
class ReinforcedConfig(TrainingArguments):
    """:class:`~transformers.TrainingArguments` plus the PPO settings of Luong et al. (2024).

    One optimizer "step" of the :class:`~transformers.Trainer` (``global_step``) is one rollout:
    ``per_device_train_batch_size`` questions x ``samples_per_question`` samples per process,
    followed by ``ppo_epochs`` passes over ``num_mini_batches`` shuffled mini-batches (one
    optimizer update each). The learning-rate schedule advances once per rollout, as in the
    paper's code. Defaults follow the paper's scripts (``ppo_epochs=2``, ``vf_coef=5``, clip 0.2,
    gamma 1, lambda 0.95, global advantage whitening, gradient-norm clipping at 1) except the
    learning rate, which depends on the model.
    """

    format: Literal["nl", "program"] = field(
        default="nl",
        metadata={"help": "Chain-of-thought format: 'nl' (natural language) or 'program' (Python)."},
    )
    kl_coef: float | None = field(
        default=None,
        metadata={"help": "beta of the per-token KL penalty; default 0.05 for 'nl', 0.01 for 'program'."},
    )
    gamma: float = field(default=1.0, metadata={"help": "Discount factor of GAE."})
    lam: float = field(default=0.95, metadata={"help": "lambda of GAE."})
    cliprange: float = field(default=0.2, metadata={"help": "Clip range of the policy ratio."})
    cliprange_value: float = field(default=0.2, metadata={"help": "Clip range of the value predictions."})
    vf_coef: float = field(default=5.0, metadata={"help": "Weight of the value loss in the total loss."})
    ppo_epochs: int = field(default=2, metadata={"help": "Passes over each rollout."})
    num_mini_batches: int = field(
        default=1, metadata={"help": "Mini-batches (optimizer updates) per pass over a rollout."}
    )
    samples_per_question: int = field(default=1, metadata={"help": "Sampled solutions per question."})
    max_new_tokens: int = field(default=300, metadata={"help": "Longest sampled response (tokens)."})
    temperature: float = field(default=1.0, metadata={"help": "Sampling temperature."})
    top_k: int = field(default=0, metadata={"help": "Top-k sampling; 0 turns it off."})
    top_p: float = field(default=1.0, metadata={"help": "Nucleus sampling; 1 turns it off."})
    generation_batch_size: int = field(
        default=8, metadata={"help": "Prompts per generate call (each expands to samples_per_question rows)."}
    )
    forward_batch_size: int = field(
        default=8, metadata={"help": "Rows per no-grad forward pass when scoring a rollout."}
    )
    whiten_advantages: Literal["global", "local", "none"] = field(
        default="global",
        metadata={"help": "Whiten advantages over all processes ('global'), per process, or not at all."},
    )
    disable_dropout: bool = field(
        default=True, metadata={"help": "Set every dropout of the policy to 0 (PPO ratios need it)."}
    )
    prompt_column: str = field(default="prompt", metadata={"help": "Dataset column with the prompt text."})
    answer_column: str = field(
        default="answer_value", metadata={"help": "Dataset column with the gold answer."}
    )
    add_special_tokens: bool = field(
        default=True,
        metadata={
            "help": "Tokenize prompts with special tokens (BOS...); False for chat-template-rendered prompts."
        },
    )
    eval_num_samples: int = field(
        default=0, metadata={"help": "Sampled solutions per eval question; 0 means one greedy solution."}
    )

    # TrainingArguments defaults that suit PPO.
    logging_steps: float = field(default=1, metadata={"help": "Log every X rollouts."})
    remove_unused_columns: bool = field(
        default=False, metadata={"help": "Keep dataset columns: rewards may read any of them."}
    )
    max_grad_norm: float = field(default=1.0, metadata={"help": "Gradient-norm clipping of each update."})

    def __post_init__(self) -> None:
        if self.format not in DEFAULT_KL_COEF:
            raise ValueError(f"format must be 'nl' or 'program', got {self.format!r}.")
        if self.kl_coef is None:
            self.kl_coef = DEFAULT_KL_COEF[self.format]
        if self.whiten_advantages not in _WHITENING:
            raise ValueError(
                f"whiten_advantages must be one of {_WHITENING}, got {self.whiten_advantages!r}."
            )
        for name in (
            "ppo_epochs",
            "num_mini_batches",
            "samples_per_question",
            "generation_batch_size",
            "forward_batch_size",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}.")
        for name in ("kl_coef", "cliprange", "cliprange_value", "vf_coef", "eval_num_samples"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be non-negative, got {getattr(self, name)}.")
        if not 0 <= self.lam <= 1 or not 0 <= self.gamma <= 1:
            raise ValueError(f"gamma and lam must lie in [0, 1], got gamma={self.gamma}, lam={self.lam}.")
        self.sampling_params()  # validates max_new_tokens / temperature
        if self.remove_unused_columns:
            raise ValueError(
                "ReinforcedConfig needs remove_unused_columns=False: the trainer reads prompts and rewards read "
                "any dataset column, none of which is a model input."
            )
        super().__post_init__()
        if self.gradient_accumulation_steps != 1:
            raise ValueError(
                "ReinforcedConfig needs gradient_accumulation_steps=1: one step is one rollout. "
                "Use num_mini_batches to split a rollout into several updates instead."
            )
        rollout_rows = self.per_device_train_batch_size * self.samples_per_question
        if rollout_rows % self.num_mini_batches:
            raise ValueError(
                f"A rollout has per_device_train_batch_size x samples_per_question = {rollout_rows} "
                f"samples per process, which num_mini_batches={self.num_mini_batches} does not divide; "
                "choose num_mini_batches among its divisors."
            )

    @property
    def rollout_size(self) -> int:
        """Sampled solutions per process per rollout."""
        return self.per_device_train_batch_size * self.samples_per_question

    def sampling_params(self) -> SamplingParams:
        """How rollouts sample (the paper: temperature 1, top-k off)."""
        return SamplingParams(
            max_new_tokens=self.max_new_tokens,
            do_sample=True,
            temperature=self.temperature,
            top_k=self.top_k,
            top_p=self.top_p,
            num_samples=self.samples_per_question,
        )

    def eval_sampling_params(self) -> SamplingParams:
        """How :meth:`ReinforcedTrainer.evaluate` decodes: greedy, or ``eval_num_samples`` samples."""
        if self.eval_num_samples == 0:
            return SamplingParams(max_new_tokens=self.max_new_tokens, do_sample=False)
        return SamplingParams(
            max_new_tokens=self.max_new_tokens,
            temperature=self.temperature,
            top_k=self.top_k,
            top_p=self.top_p,
            num_samples=self.eval_num_samples,
        )
