"""The generation interface: batched, left-padded, EOS handling including pad == EOS."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM

from hf_reft.generation import Completion, Generator, SamplingParams, TransformersGenerator

from tiny_models import make_tokenizer, tiny_config


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return AutoModelForCausalLM.from_config(tiny_config("llama")).eval()


def test_batched_greedy_equals_one_by_one(model):
    tok = make_tokenizer()
    gen = TransformersGenerator(model, tok, batch_size=3)
    assert isinstance(gen, Generator)
    prompts = ["Question: 3", "Question: Tom has 3 apples and buys 5 more", "def solution():"]
    greedy = SamplingParams(max_new_tokens=6, do_sample=False)
    batched = gen.generate(prompts, greedy)
    single = [TransformersGenerator(model, tok, batch_size=1).generate([p], greedy)[0] for p in prompts]
    assert [c[0].token_ids for c in batched] == [c[0].token_ids for c in single]
    assert [c[0].prompt_index for c in batched] == [0, 1, 2]
    assert batched[1][0].prompt_ids == tok(prompts[1])["input_ids"]


def test_num_samples_and_truncation_flag(model):
    tok = make_tokenizer()
    torch.manual_seed(1)
    out = TransformersGenerator(model, tok).generate(
        ["Question:"] * 2, SamplingParams(max_new_tokens=5, num_samples=3)
    )
    assert [len(x) for x in out] == [3, 3]
    for sample in (c for row in out for c in row):
        assert sample.finished == (sample.token_ids[-1] == tok.eos_token_id)
        assert len(sample.token_ids) <= 5


def test_response_cut_at_first_eos_when_pad_equals_eos(model):
    tok = make_tokenizer()
    tok.pad_token = tok.eos_token
    gen = TransformersGenerator(model, tok)
    eos = tok.eos_token_id
    assert gen._split_response([7, 8, eos, eos, eos]) == ([7, 8, eos], True)
    assert gen._split_response([7, 8, 9]) == ([7, 8, 9], False)
    assert Completion(0, "", [eos], True).finished


def test_bad_params():
    with pytest.raises(ValueError, match="max_new_tokens"):
        SamplingParams(max_new_tokens=0)
    with pytest.raises(ValueError, match="do_sample=False"):
        SamplingParams(temperature=0)


def test_the_old_import_path_still_works_with_a_deprecation_warning():
    import importlib
    import sys

    sys.modules.pop("hf_reft.reinforced.generation", None)
    with pytest.warns(DeprecationWarning, match="moved to hf_reft.generation"):
        old = importlib.import_module("hf_reft.reinforced.generation")
    assert old.TransformersGenerator is TransformersGenerator and old.SamplingParams is SamplingParams


def test_left_pad_pads_on_the_left_with_a_mask():
    from hf_reft.generation import left_pad

    inputs = left_pad([[5, 6, 7], [8], []], pad_token_id=0)
    assert inputs["input_ids"].tolist() == [[5, 6, 7], [0, 0, 8], [0, 0, 0]]
    assert inputs["attention_mask"].tolist() == [[1, 1, 1], [0, 0, 1], [0, 0, 0]]
