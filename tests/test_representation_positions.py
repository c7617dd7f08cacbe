"""Position specs and per-example positions: padding on either side, short prompts, labels."""

from __future__ import annotations

import pytest
import torch

from hf_reft.representation.positions import (
    PositionSpec,
    compute_positions,
    prompt_lengths_from_labels,
    validate_positions,
)


@pytest.mark.parametrize(
    ("spec", "first", "last"),
    [("f7+l7", 7, 7), ("f1", 1, 0), ("l3", 0, 3), ("l3+f2", 2, 3), (" F5 + L5 ", 5, 5)],
)
def test_parse(spec, first, last):
    parsed = PositionSpec.parse(spec)
    assert (parsed.first, parsed.last) == (first, last)
    assert PositionSpec.parse(str(parsed)) == parsed


@pytest.mark.parametrize("spec", ["", "f", "x3", "f3+", "f3+f4", "first7", "f-1", "f0", "f0+l0", "7+7", 7])
def test_malformed_specs_raise(spec):
    with pytest.raises(ValueError, match=r"position spec|positions must be|selects no positions"):
        PositionSpec.parse(spec)


def test_right_and_left_padding_give_the_same_token_positions():
    spec = PositionSpec(2, 2)
    right = torch.tensor([[1, 1, 1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1, 1, 1]])
    left = torch.tensor([[0, 0, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1, 1]])
    assert compute_positions(spec, right).tolist() == [[0, 1, 4, 5], [0, 1, 6, 7]]
    assert compute_positions(spec, left).tolist() == [[2, 3, 6, 7], [0, 1, 6, 7]]


def test_prompt_lengths_restrict_positions_to_the_prompt():
    spec = PositionSpec(1, 2)
    mask = torch.tensor([[0, 0, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1, 0]])
    positions = compute_positions(spec, mask, torch.tensor([4, 5]))
    # example 0: prompt tokens at 2..5; example 1: at 0..4
    assert positions.tolist() == [[2, 4, 5], [0, 3, 4]]


def test_short_prompt_is_deduplicated_and_each_position_used_once():
    spec = PositionSpec(3, 3)
    mask = torch.tensor([[0, 0, 0, 1, 1], [1, 1, 1, 1, 1], [1, 1, 0, 0, 0]])
    positions = compute_positions(spec, mask, torch.tensor([2, 4, 2]))
    # 2 prompt tokens: the prefix takes both, nothing is left for the suffix
    assert positions.tolist() == [[3, 4, -1, -1, -1, -1], [0, 1, 2, -1, -1, 3], [0, 1, -1, -1, -1, -1]]
    for row in positions.tolist():
        used = [p for p in row if p >= 0]
        assert len(used) == len(set(used))


def test_suffix_only_and_no_prompt():
    spec = PositionSpec(0, 2)
    mask = torch.tensor([[1, 1, 1, 0], [0, 0, 0, 0]])
    assert compute_positions(spec, mask).tolist() == [[1, 2], [-1, -1]]


def test_no_attention_mask_means_no_padding():
    positions = compute_positions(PositionSpec(1, 1), None, shape=(2, 3), device=torch.device("cpu"))
    assert positions.tolist() == [[0, 2], [0, 2]]


def test_prompt_lengths_from_labels_either_padding_side():
    # right padding: prompt = 3 tokens, then 2 answer tokens, then 1 pad
    labels = torch.tensor([[-100, -100, -100, 7, 8, -100], [-100, 5, 6, 7, 8, 9]])
    mask = torch.tensor([[1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1]])
    assert prompt_lengths_from_labels(labels, mask).tolist() == [3, 1]
    # left padding: 2 pads, prompt 2 tokens, answer 2 tokens
    labels = torch.tensor([[-100, -100, -100, -100, 7, 8]])
    mask = torch.tensor([[0, 0, 1, 1, 1, 1]])
    assert prompt_lengths_from_labels(labels, mask).tolist() == [2]
    # no answer at all: everything is prompt
    assert prompt_lengths_from_labels(torch.full((1, 4), -100), torch.tensor([[1, 1, 1, 0]])).tolist() == [3]


def test_validate_explicit_positions():
    spec = PositionSpec(1, 1)
    assert validate_positions(torch.tensor([[0, 3], [2, -1]]), spec, 2, 4).tolist() == [[0, 3], [2, -1]]
    with pytest.raises(ValueError, match=r"shape \[batch, p \+ s\] = \[2, 2\]"):
        validate_positions(torch.tensor([[0, 1, 2], [0, 1, 2]]), spec, 2, 4)
    with pytest.raises(ValueError, match=r"must lie in \[0, 3\]"):
        validate_positions(torch.tensor([[0, 4], [0, 1]]), spec, 2, 4)
    with pytest.raises(ValueError, match="repeats a position"):
        validate_positions(torch.tensor([[1, 1], [0, 1]]), spec, 2, 4)
    with pytest.raises(ValueError, match="prompt_lengths has 1 entries"):
        compute_positions(spec, torch.ones(2, 4), torch.tensor([1]))
