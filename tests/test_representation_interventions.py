"""Each intervention against its formula on hand-computed tensors, orthonormality, dtypes."""

from __future__ import annotations

import pytest
import torch

from hf_reft.representation import INTERVENTIONS, build_intervention
from hf_reft.representation.interventions import (
    ConsreftIntervention,
    DireftIntervention,
    LobireftIntervention,
    LoreftIntervention,
    NoreftIntervention,
)

D, R = 4, 2


def _set(param_holder, name, value):
    with torch.no_grad():
        getattr(param_holder, name).copy_(torch.tensor(value, dtype=torch.float32))


# R: rows e1 and e2 (orthonormal) — set through the parametrization by assigning the weight.
R_ROWS = [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]]
H = torch.tensor([[1.0, 2.0, 3.0, 4.0], [-1.0, 0.5, 0.0, 2.0]])


def _set_rotation(module):
    with torch.no_grad():
        module.rotate.weight = torch.tensor(R_ROWS)  # right_inverse of the orthogonal parametrization
    assert torch.allclose(module.rotate.weight, torch.tensor(R_ROWS), atol=1e-6)


def test_loreft_matches_formula_on_hand_computed_tensors():
    module = LoreftIntervention(D, R)
    _set_rotation(module)
    _set(module.source, "weight", [[1.0, 0.0, 0.0, 1.0], [0.0, 0.0, 2.0, 0.0]])
    _set(module.source, "bias", [0.5, -1.0])
    # h = [1,2,3,4]: Wh+b = [1+4+0.5, 6-1] = [5.5, 5]; Rh = [1, 2]; edit = [4.5, 3] on e1, e2
    # h = [-1,.5,0,2]: Wh+b = [-1+2+.5, 0-1] = [1.5, -1]; Rh = [-1, .5]; edit = [2.5, -1.5]
    expected = torch.tensor([[5.5, 5.0, 3.0, 4.0], [1.5, -1.0, 0.0, 2.0]])
    assert torch.allclose(module(H), expected, atol=1e-6)


def test_direft_matches_formula():
    module = DireftIntervention(D, R)
    _set(module.proj, "weight", [[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 2.0]])
    _set(module.source, "weight", [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]])
    _set(module.source, "bias", [1.0, 0.0])
    # h1: W1h+b = [2, 2] -> W2ᵀ[2,2] = [2, 2, 0, 4]; h2: [0, .5] -> [0, 0, 0, 1]
    expected = torch.tensor([[3.0, 4.0, 3.0, 8.0], [-1.0, 0.5, 0.0, 3.0]])
    assert torch.allclose(module(H), expected, atol=1e-6)


def test_noreft_matches_formula():
    module = NoreftIntervention(D, R)
    _set(module.proj, "weight", [[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 2.0]])
    _set(module.source, "weight", [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]])
    _set(module.source, "bias", [1.0, 0.0])
    # h1: W1h+b = [2, 2], W2h = [3, 8] -> diff [-1, -6] -> W2ᵀ = [-1, -1, 0, -12]
    # h2: W1h+b = [0, .5], W2h = [-.5, 4] -> diff [.5, -3.5] -> [.5, .5, 0, -7]
    expected = torch.tensor([[0.0, 1.0, 3.0, -8.0], [-0.5, 1.0, 0.0, -5.0]])
    assert torch.allclose(module(H), expected, atol=1e-6)


def test_consreft_matches_formula():
    module = ConsreftIntervention(D, R)
    _set_rotation(module)
    _set(module, "bias", [7.0, -7.0])
    # the subspace coordinates become b, everything else is kept
    expected = torch.tensor([[7.0, -7.0, 3.0, 4.0], [7.0, -7.0, 0.0, 2.0]])
    assert torch.allclose(module(H), expected, atol=1e-6)


def test_lobireft_matches_formula():
    module = LobireftIntervention(D, R)
    _set_rotation(module)
    _set(module, "bias", [1.0, 2.0])
    expected = H + torch.tensor([1.0, 2.0, 0.0, 0.0])
    assert torch.allclose(module(H), expected, atol=1e-6)


def test_loreft_with_random_weights_matches_closed_form():
    torch.manual_seed(0)
    module = LoreftIntervention(16, 3)
    h = torch.randn(5, 7, 16)
    r, w, b = module.rotate.weight, module.source.weight, module.source.bias
    expected = h + (h @ w.T + b - h @ r.T) @ r
    assert torch.allclose(module(h), expected, atol=1e-5)


@pytest.mark.parametrize("kind", ["loreft", "consreft", "lobireft"])
def test_rows_stay_orthonormal_through_training(kind):
    torch.manual_seed(0)
    module = build_intervention(kind, 32, 4)
    optimizer = torch.optim.Adam(module.parameters(), lr=0.1)
    target = torch.randn(8, 32)
    for _ in range(25):
        optimizer.zero_grad()
        loss = (module(torch.randn(8, 32)) - target).pow(2).mean()
        loss.backward()
        optimizer.step()
    r = module.rotate.weight
    assert torch.allclose(r @ r.T, torch.eye(4), atol=1e-5)
    # only the parametrization's underlying tensor is stored (no trivialization base matrix)
    assert "rotate.parametrizations.weight.original" in module.state_dict()
    assert not any(key.endswith(".base") for key in module.state_dict())


def test_registry_and_unknown_kind():
    assert set(INTERVENTIONS) == {"loreft", "direft", "noreft", "consreft", "lobireft"}
    for kind, cls in INTERVENTIONS.items():
        assert cls.kind == kind
    with pytest.raises(ValueError, match=r"Unknown intervention kind 'lora'.*loreft"):
        build_intervention("lora", 16, 2)
    with pytest.raises(ValueError, match="rank 16 must be smaller than the hidden size 16"):
        build_intervention("loreft", 16, 16)


def test_dropout_acts_in_training_only_and_activation_applies():
    torch.manual_seed(0)
    module = build_intervention("direft", 16, 4, dropout=0.5, activation="relu")
    h = torch.randn(64, 16)
    module.eval()
    expected = h + torch.relu(module.source(h)) @ module.proj.weight
    assert torch.allclose(module(h), expected, atol=1e-5)
    module.train()
    assert not torch.allclose(module(h), expected, atol=1e-5)
