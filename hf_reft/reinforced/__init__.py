"""Reinforced fine-tuning for reasoning (Luong et al. 2024): warm-up SFT, then PPO on sampled chains of thought."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .configuration import ReinforcedConfig
    from .evaluation import EvaluationReport, evaluate_model, evaluate_policy, load_questions
    from .extraction import AnswerExtractor, extract_answers
    from .prompts import PromptFormat, build_prompt, get_format
    from .reference_policy import FrozenReference, InterventionReference, ReferencePolicy, default_reference
    from .rewards import AnswerReward, RewardFunction
    from .sft import WarmupInfo, load_policy, read_warmup_info, warmup_sft
    from .trainer import ReinforcedTrainer
    from .value_head import PolicyWithValueHead, ValueHead
    from .verifier import Verifier

__all__ = [
    "AnswerExtractor",
    "AnswerReward",
    "EvaluationReport",
    "FrozenReference",
    "InterventionReference",
    "PolicyWithValueHead",
    "PromptFormat",
    "ReferencePolicy",
    "ReinforcedConfig",
    "ReinforcedTrainer",
    "RewardFunction",
    "ValueHead",
    "Verifier",
    "WarmupInfo",
    "build_prompt",
    "default_reference",
    "evaluate_model",
    "evaluate_policy",
    "extract_answers",
    "get_format",
    "load_policy",
    "load_questions",
    "read_warmup_info",
    "warmup_sft",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__)
