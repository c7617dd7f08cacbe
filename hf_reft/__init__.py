"""hf-reft: LoReFT, reinforced fine-tuning for reasoning, and RefTool, the Hugging Face way."""

from __future__ import annotations

__version__ = "0.1.0"

from .models import SplitGGUF, default_chat_model, default_chat_model_path, gguf_model_path, load_chat_model
from .reftool import Reference, RefToolSolver, Tool, Toolbox, get_chat_backend
from .representation import (  # importing registers "reft" with the Auto classes
    INTERVENTIONS,
    ConsreftIntervention,
    DireftIntervention,
    LobireftIntervention,
    LoreftIntervention,
    NoreftIntervention,
    ReftConfig,
    ReftModelForCausalLM,
    ReftModelForSequenceClassification,
    get_reft_model,
)

__all__ = [
    "INTERVENTIONS",
    "ConsreftIntervention",
    "DireftIntervention",
    "LobireftIntervention",
    "LoreftIntervention",
    "NoreftIntervention",
    "RefToolSolver",
    "Reference",
    "ReftConfig",
    "ReftModelForCausalLM",
    "ReftModelForSequenceClassification",
    "SplitGGUF",
    "Tool",
    "Toolbox",
    "__version__",
    "default_chat_model",
    "default_chat_model_path",
    "get_chat_backend",
    "get_reft_model",
    "gguf_model_path",
    "load_chat_model",
]
