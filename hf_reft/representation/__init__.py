"""Representation finetuning (LoReFT and its family) as Hugging Face models.

Importing this package registers :class:`ReftConfig` (``model_type="reft"``) with ``AutoConfig``
and the wrappers with ``AutoModelForCausalLM`` / ``AutoModelForSequenceClassification``, so a
saved adapter loads like any model::

    import hf_reft
    model = AutoModelForCausalLM.from_pretrained("user/my-loreft-adapter")
"""

from __future__ import annotations

from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSequenceClassification

from .configuration import FORMAT_VERSION, ReftConfig
from .interventions import (
    ACTIVATIONS,
    INTERVENTIONS,
    ConsreftIntervention,
    DireftIntervention,
    Intervention,
    LobireftIntervention,
    LoreftIntervention,
    NoreftIntervention,
    build_intervention,
)
from .layers import find_layers
from .modeling import (
    ReftModelForCausalLM,
    ReftModelForSequenceClassification,
    ReftPreTrainedModel,
    get_reft_model,
)
from .positions import PositionSpec, compute_positions, prompt_lengths_from_labels
from .saving import ADAPTER_WEIGHTS_NAME, load_base_model, read_adapter_tensors

__all__ = [
    "ACTIVATIONS",
    "ADAPTER_WEIGHTS_NAME",
    "FORMAT_VERSION",
    "INTERVENTIONS",
    "ConsreftIntervention",
    "DireftIntervention",
    "Intervention",
    "LobireftIntervention",
    "LoreftIntervention",
    "NoreftIntervention",
    "PositionSpec",
    "ReftConfig",
    "ReftModelForCausalLM",
    "ReftModelForSequenceClassification",
    "ReftPreTrainedModel",
    "build_intervention",
    "compute_positions",
    "find_layers",
    "get_reft_model",
    "load_base_model",
    "prompt_lengths_from_labels",
    "read_adapter_tensors",
]

AutoConfig.register(ReftConfig.model_type, ReftConfig, exist_ok=True)
AutoModelForCausalLM.register(ReftConfig, ReftModelForCausalLM, exist_ok=True)
AutoModelForSequenceClassification.register(ReftConfig, ReftModelForSequenceClassification, exist_ok=True)
