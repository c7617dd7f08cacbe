"""Finding the layers of any Hugging Face model, without a per-architecture table.

The layers of a transformer are the ``nn.ModuleList`` whose length is the config's number of
hidden layers (``num_hidden_layers``, which GPT-2 style configs map from ``n_layer``). When
several lists qualify (an encoder-decoder), the one holding the most parameters wins; a
``layers_module`` path in the adapter config overrides the search.
"""

from __future__ import annotations

from torch import nn
from transformers import PreTrainedModel

__all__ = ["find_layers", "hidden_size_of", "num_layers_of"]


def _text_config(model: PreTrainedModel):
    config = model.config
    return config.get_text_config() if hasattr(config, "get_text_config") else config


def num_layers_of(model: PreTrainedModel) -> int:
    """Number of layers declared by ``model.config`` (``num_hidden_layers`` / ``n_layer``)."""
    config = _text_config(model)
    for name in ("num_hidden_layers", "n_layer", "num_layers"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    raise ValueError(
        f"{type(model).__name__}'s config declares no number of layers (num_hidden_layers); hf-reft can't "
        "tell which modules are its layers."
    )


def hidden_size_of(model: PreTrainedModel) -> int:
    """Width of the hidden states (``hidden_size`` / ``n_embd`` / ``d_model``)."""
    config = _text_config(model)
    for name in ("hidden_size", "n_embd", "d_model"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    raise ValueError(
        f"{type(model).__name__}'s config declares no hidden_size; hf-reft can't size the interventions."
    )


def find_layers(model: nn.Module, layers_module: str | None = None) -> tuple[str, nn.ModuleList]:
    """Return ``(dotted path, ModuleList)`` of the model's layers.

    Args:
        model: a ``PreTrainedModel`` (any architecture).
        layers_module: dotted path of the layer list; ``None`` searches for it.

    Raises:
        ValueError: when no list (or the given path) holds ``num_hidden_layers`` modules.
    """
    n_layers = num_layers_of(model)
    if layers_module is not None:
        try:
            found = model.get_submodule(layers_module)
        except AttributeError:
            raise ValueError(
                f"layers_module {layers_module!r} does not exist in {type(model).__name__}; set it to the dotted "
                "path of the nn.ModuleList of layers (see print(model)) or leave it None."
            ) from None
        if not isinstance(found, nn.ModuleList):
            raise ValueError(
                f"layers_module {layers_module!r} is a {type(found).__name__}, not an nn.ModuleList."
            )
        return layers_module, found
    candidates = []
    for name, module in model.named_modules():
        if isinstance(module, nn.ModuleList) and len(module) == n_layers and n_layers > 0:
            kinds = {type(layer) for layer in module}
            if len(kinds) == 1:
                size = sum(p.numel() for p in module.parameters())
                candidates.append((size, name, module))
    if not candidates:
        raise ValueError(
            f"Could not find the layers of {type(model).__name__}: no nn.ModuleList of {n_layers} identical "
            "modules (config.num_hidden_layers). Set layers_module in ReftConfig to their dotted path."
        )
    size, name, module = max(candidates, key=lambda c: c[0])  # max keeps the first of equals
    return name, module
