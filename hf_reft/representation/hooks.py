"""What the forward hooks do: gather hidden states at the pass's positions, apply Φ, scatter back.

An :class:`InterventionPass` holds one batch's positions; the model creates it in ``forward`` /
``generate`` and every hooked layer of that forward call reads it. :func:`intervene` is the
whole per-layer work; it never modifies its input in place (autograd-safe) and computes Φ in the
interventions' dtype (fp32 interventions on a bf16 base).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["InterventionPass", "cache_length", "intervene", "is_exporting"]


class InterventionPass:
    """Positions of one intervened forward pass, shared by all layer hooks.

    Args:
        positions: ``[batch, p + s]`` token indices, ``-1`` for unused slots.
        n_prefix: ``p``: columns ``[:p]`` go to the prefix intervention, the rest to the suffix one.
        seq_len: length of the sequence the hooks must see (the prompt in ``generate``).
    """

    def __init__(self, positions: torch.Tensor, n_prefix: int, seq_len: int) -> None:
        self.positions = positions
        self.n_prefix = n_prefix
        self.seq_len = seq_len
        self.calls = 0  # base forward calls since the pass started; hooks act on call 1 only
        self._flat: dict[tuple[int, torch.device], tuple[torch.Tensor, torch.Tensor, int]] = {}

    def flat_indices(self, batch: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, int]:
        """``(row_idx [N], token_idx [N], n_prefix_rows)`` for a hidden state of ``batch`` rows.

        Prefix positions come first (``n_prefix_rows`` of them), then suffix positions. ``batch``
        may be a multiple ``B·k`` of the pass's batch ``B`` (``num_return_sequences``, beam
        search): generation repeats each example ``k`` times in a row (``repeat_interleave``).
        """
        key = (batch, device)
        if key not in self._flat:
            base = self.positions.shape[0]
            if base == 0 or batch % base:
                raise RuntimeError(
                    f"hf-reft: a hooked layer saw a batch of {batch} rows but positions were computed for "
                    f"{base} examples. Call the model through its forward/generate."
                )
            positions = self.positions.to(device)
            if batch != base:
                positions = positions.repeat_interleave(batch // base, dim=0)
            prefix, suffix = positions[:, : self.n_prefix], positions[:, self.n_prefix :]
            b_pre, j_pre = (prefix >= 0).nonzero(as_tuple=True)
            b_suf, j_suf = (suffix >= 0).nonzero(as_tuple=True)
            rows = torch.cat([b_pre, b_suf])
            cols = torch.cat([prefix[b_pre, j_pre], suffix[b_suf, j_suf]])
            self._flat[key] = (rows, cols, int(b_pre.numel()))
        return self._flat[key]


def intervene(output: Any, state: InterventionPass, group: nn.ModuleDict, key: str) -> Any:
    """Apply one layer's interventions to a hooked module's ``output``.

    Args:
        output: the module's output: hidden states ``[batch, seq, hidden]`` or a tuple/list whose
            first element they are.
        state: the current pass (positions).
        group: ``{"shared": Φ}`` or ``{"prefix": Φ₁, "suffix": Φ₂}`` (either may be absent).
        key: the layer's name, for error messages.

    Returns:
        ``output`` with the hidden states at the pass's positions replaced by ``Φ(h)``.
    """
    hidden = output[0] if isinstance(output, (tuple, list)) else output
    if not isinstance(hidden, torch.Tensor) or hidden.dim() != 3:
        raise RuntimeError(
            f"hf-reft: the hooked module of {key} returned {type(hidden).__name__} "
            f"{tuple(getattr(hidden, 'shape', ()))}, not hidden states [batch, seq, hidden]. Choose another "
            "component in ReftConfig."
        )
    if hidden.shape[1] != state.seq_len:
        raise RuntimeError(
            f"hf-reft: {key} saw {hidden.shape[1]} positions but the interventions were placed for "
            f"{state.seq_len}. Chunked prefill and manual caching are not supported with interventions."
        )
    rows, cols, n_prefix = state.flat_indices(hidden.shape[0], hidden.device)
    dtype = next(next(iter(group.values())).parameters()).dtype
    selected = hidden[rows, cols].to(dtype)  # [N, hidden]
    if "shared" in group:
        new = group["shared"](selected)
    else:
        # every intervention runs, on zero rows if need be, so that all of them take part in the
        # graph (DistributedDataParallel expects every trainable parameter to get a gradient)
        chunks = {"prefix": selected[:n_prefix], "suffix": selected[n_prefix:]}
        new = torch.cat([group[name](chunk) for name, chunk in chunks.items() if name in group])
    hidden = hidden.index_put((rows, cols), new.to(hidden.dtype))  # out of place
    if isinstance(output, tuple):
        return (hidden, *output[1:])
    if isinstance(output, list):
        return [hidden, *output[1:]]
    return hidden


def cache_length(kwargs: dict[str, Any]) -> int:
    """Tokens already in a KV cache passed to a forward call (0 when there is none)."""
    cache = kwargs.get("past_key_values", kwargs.get("cache"))
    if cache is None:
        return 0
    if hasattr(cache, "get_seq_length"):
        return int(cache.get_seq_length())
    return 1  # an unknown non-empty cache object: be safe and do not intervene


def is_exporting() -> bool:
    """Whether a tracer or exporter (TorchScript, ``torch.export``, ONNX) is running."""
    checks = (
        torch.jit.is_tracing,
        getattr(torch.compiler, "is_exporting", lambda: False),
        getattr(torch.onnx, "is_in_onnx_export", lambda: False),
    )
    return any(check() for check in checks)
