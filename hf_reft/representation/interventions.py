"""The interventions Φ of the LoReFT family: one small ``nn.Module`` per kind.

Every intervention maps hidden states ``h`` of shape ``[..., hidden]`` to ``Φ(h)`` of the same
shape. With ``R`` (``[rank, hidden]``, orthonormal rows), ``W``/``W₁``/``W₂`` (``[rank, hidden]``)
and ``b`` (``[rank]``):

============  ==============================  =====================================
kind          Φ(h)                            trainable
============  ==============================  =====================================
``loreft``    h + Rᵀ(act(Wh + b) − Rh)        R (orthonormal rows), W, b
``direft``    h + W₂ᵀ act(W₁h + b)            W₁, b, W₂
``noreft``    h + W₂ᵀ(act(W₁h + b) − W₂h)     W₁, b, W₂
``consreft``  h + Rᵀ(b − Rh)                  R (orthonormal rows), b
``lobireft``  h + Rᵀb                         R (orthonormal rows), b
============  ==============================  =====================================

``act`` is the identity unless a config asks for another activation; dropout (training only)
acts on the ``rank``-dimensional edit inside the brackets. R's orthonormality holds through
training via ``torch.nn.utils.parametrizations.orthogonal`` (Householder map, no trivialization),
so the only stored tensor is ``rotate.parametrizations.weight.original`` and reloading is exact.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn.utils.parametrizations import orthogonal

__all__ = [
    "ACTIVATIONS",
    "INTERVENTIONS",
    "ConsreftIntervention",
    "DireftIntervention",
    "Intervention",
    "LobireftIntervention",
    "LoreftIntervention",
    "LowRankRows",
    "NoreftIntervention",
    "build_intervention",
]

#: Activations for ``act(Wh + b)``; ``"linear"`` is the paper's LoReFT.
ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "linear": lambda x: x,
    "relu": torch.relu,
    "gelu": nn.functional.gelu,
    "silu": nn.functional.silu,
    "tanh": torch.tanh,
}


class LowRankRows(nn.Module):
    """A ``[rank, hidden]`` matrix, optionally with orthonormal rows kept so by a parametrization.

    Args:
        hidden_size: ``d``.
        rank: ``r < d``.
        orthonormal: keep the rows orthonormal through training.
    """

    def __init__(self, hidden_size: int, rank: int, *, orthonormal: bool) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(rank, hidden_size))
        nn.init.orthogonal_(self.weight)
        if orthonormal:
            orthogonal(self, "weight", use_trivialization=False)

    def project(self, h: torch.Tensor) -> torch.Tensor:
        """``h`` ``[..., d]`` → ``Rh`` ``[..., r]``."""
        return h @ self.weight.T

    def lift(self, z: torch.Tensor) -> torch.Tensor:
        """``z`` ``[..., r]`` → ``Rᵀz`` ``[..., d]``."""
        return z @ self.weight


class Intervention(nn.Module):
    """Base class: ``forward(h) = h + edit(h)``; subclasses implement :meth:`edit`.

    Args:
        hidden_size: width ``d`` of the hidden states.
        rank: ``r``.
        dropout: dropout probability on the ``r``-dimensional edit (training only).
        activation: a key of :data:`ACTIVATIONS`.
    """

    #: Registry name, also written to ``config.json`` as ``intervention``.
    kind: str = ""

    def __init__(
        self, hidden_size: int, rank: int, *, dropout: float = 0.0, activation: str = "linear"
    ) -> None:
        super().__init__()
        if rank >= hidden_size:
            raise ValueError(
                f"rank {rank} must be smaller than the hidden size {hidden_size}; choose a smaller rank."
            )
        if activation not in ACTIVATIONS:
            raise ValueError(f"Unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)}.")
        self.hidden_size = hidden_size
        self.rank = rank
        self.activation = activation
        self.act = ACTIVATIONS[activation]
        self.dropout = nn.Dropout(dropout)

    def edit(self, h: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        """The additive edit ``Φ(h) − h``, shape ``[..., d]``."""
        raise NotImplementedError

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """``Φ(h)`` for hidden states ``h`` of shape ``[..., d]`` (computed in the parameters' dtype)."""
        return h + self.edit(h)

    def extra_repr(self) -> str:
        return f"hidden_size={self.hidden_size}, rank={self.rank}, activation={self.activation!r}"


class LoreftIntervention(Intervention):
    """LoReFT: ``Φ(h) = h + Rᵀ(act(Wh + b) − Rh)`` with orthonormal rows of ``R``."""

    kind = "loreft"

    def __init__(self, hidden_size: int, rank: int, **kwargs) -> None:
        super().__init__(hidden_size, rank, **kwargs)
        self.rotate = LowRankRows(hidden_size, rank, orthonormal=True)
        self.source = nn.Linear(hidden_size, rank)

    def edit(self, h: torch.Tensor) -> torch.Tensor:
        r = self.rotate.weight  # computed once per call from the parametrization
        return self.dropout(self.act(self.source(h)) - h @ r.T) @ r


class DireftIntervention(Intervention):
    """DiReFT: ``Φ(h) = h + W₂ᵀ act(W₁h + b)`` (no orthogonality, no subtraction of ``W₂h``)."""

    kind = "direft"

    def __init__(self, hidden_size: int, rank: int, **kwargs) -> None:
        super().__init__(hidden_size, rank, **kwargs)
        self.proj = LowRankRows(hidden_size, rank, orthonormal=False)
        self.source = nn.Linear(hidden_size, rank)

    def edit(self, h: torch.Tensor) -> torch.Tensor:
        return self.proj.lift(self.dropout(self.act(self.source(h))))


class NoreftIntervention(Intervention):
    """NoReFT: ``Φ(h) = h + W₂ᵀ(act(W₁h + b) − W₂h)`` (LoReFT without orthogonality)."""

    kind = "noreft"

    def __init__(self, hidden_size: int, rank: int, **kwargs) -> None:
        super().__init__(hidden_size, rank, **kwargs)
        self.proj = LowRankRows(hidden_size, rank, orthonormal=False)
        self.source = nn.Linear(hidden_size, rank)

    def edit(self, h: torch.Tensor) -> torch.Tensor:
        w2 = self.proj.weight
        return self.dropout(self.act(self.source(h)) - h @ w2.T) @ w2


class ConsreftIntervention(Intervention):
    """ConsReFT: ``Φ(h) = h + Rᵀ(b − Rh)``: the subspace coordinates are set to a constant ``b``."""

    kind = "consreft"

    def __init__(self, hidden_size: int, rank: int, **kwargs) -> None:
        super().__init__(hidden_size, rank, **kwargs)
        self.rotate = LowRankRows(hidden_size, rank, orthonormal=True)
        self.bias = nn.Parameter(torch.zeros(rank))

    def edit(self, h: torch.Tensor) -> torch.Tensor:
        r = self.rotate.weight
        return self.dropout(self.bias - h @ r.T) @ r


class LobireftIntervention(Intervention):
    """LoBiReFT: ``Φ(h) = h + Rᵀb``: a learned bias inside an orthonormal subspace."""

    kind = "lobireft"

    def __init__(self, hidden_size: int, rank: int, **kwargs) -> None:
        super().__init__(hidden_size, rank, **kwargs)
        self.rotate = LowRankRows(hidden_size, rank, orthonormal=True)
        self.bias = nn.Parameter(torch.zeros(rank))

    def edit(self, h: torch.Tensor) -> torch.Tensor:
        return self.rotate.lift(self.dropout(self.bias)).expand_as(h)


#: Intervention kinds by name (the ``intervention`` field of :class:`~hf_reft.ReftConfig`).
INTERVENTIONS: dict[str, type[Intervention]] = {
    cls.kind: cls
    for cls in (
        LoreftIntervention,
        DireftIntervention,
        NoreftIntervention,
        ConsreftIntervention,
        LobireftIntervention,
    )
}


def build_intervention(
    kind: str,
    hidden_size: int,
    rank: int,
    *,
    dropout: float = 0.0,
    activation: str = "linear",
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Intervention:
    """Create an intervention of ``kind`` (a key of :data:`INTERVENTIONS`)."""
    try:
        cls = INTERVENTIONS[kind]
    except KeyError:
        raise ValueError(
            f"Unknown intervention kind {kind!r}; choose one of {sorted(INTERVENTIONS)}."
        ) from None
    module = cls(hidden_size, rank, dropout=dropout, activation=activation)
    return module.to(device=device, dtype=dtype)
