"""Reinforced fine-tuning for reasoning (Luong et al. 2024): warm-up SFT, then PPO on sampled chains of thought."""

from __future__ import annotations

# ---- PPO stage (issue 7): trainer, config, value-head model, rewards, reference policies ----------
from .configuration import ReinforcedConfig
from .reference import FrozenReference, InterventionReference, ReferencePolicy, default_reference
from .rewards import AnswerReward, RewardFunction
from .trainer import ReinforcedTrainer
from .value_head import PolicyWithValueHead, ValueHead

__all__ = [
    "AnswerReward",
    "FrozenReference",
    "InterventionReference",
    "PolicyWithValueHead",
    "ReferencePolicy",
    "ReinforcedConfig",
    "ReinforcedTrainer",
    "RewardFunction",
    "ValueHead",
    "default_reference",
]
