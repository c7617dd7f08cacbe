"""Representation finetuning (LoReFT and its family) as Hugging Face models.

``import hf_reft`` registers :class:`ReftConfig` (``model_type="reft"``) with ``AutoConfig`` and the
wrappers with ``AutoModelForCausalLM`` / ``AutoModelForSequenceClassification`` (when transformers
loads them: :mod:`~hf_reft.representation.auto`), so a saved adapter loads like any model::

    import hf_reft
    model = AutoModelForCausalLM.from_pretrained("user/my-loreft-adapter")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
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
    from .layer_discovery import find_layers
    from .modeling import (
        ReftModelForCausalLM,
        ReftModelForSequenceClassification,
        ReftPreTrainedModel,
        get_reft_model,
    )
    from .positions import PositionSpec, compute_positions, prompt_lengths_from_labels
    from .saving import ADAPTER_WEIGHTS_NAME, load_base_model, read_adapter_tensors
    from .trainer import ReftTrainer
    from .training import AdapterTraining, train_adapter

__all__ = [
    "ACTIVATIONS",
    "ADAPTER_WEIGHTS_NAME",
    "FORMAT_VERSION",
    "INTERVENTIONS",
    "AdapterTraining",
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
    "ReftTrainer",
    "build_intervention",
    "compute_positions",
    "find_layers",
    "get_reft_model",
    "load_base_model",
    "prompt_lengths_from_labels",
    "read_adapter_tensors",
    "train_adapter",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__)
