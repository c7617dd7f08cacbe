"""hf-reft: LoReFT, reinforced fine-tuning for reasoning, and RefTool, the Hugging Face way.

The names below import on first use (:mod:`hf_reft._lazy`): ``import hf_reft`` loads no torch.
"""

from __future__ import annotations

__version__ = "0.1.0"

from typing import TYPE_CHECKING

from ._lazy import lazy_exports
from .representation.auto import register_with_auto_classes

if TYPE_CHECKING:
    from .models import (
        SplitGGUF,
        default_chat_model,
        default_chat_model_path,
        gguf_model_path,
        load_chat_model,
    )
    from .reftool import Reference, RefToolSolver, Tool, Toolbox, get_chat_backend
    from .representation import (
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

__getattr__, __dir__ = lazy_exports(__name__, __file__)

register_with_auto_classes()  # "reft" adapters load through AutoModelForCausalLM & co.
