"""LoReFT on the real SmolLM2-135M-Instruct: batched generation equals one-by-one generation."""

from __future__ import annotations

import pytest
import torch

import hf_reft
from hf_reft.models import load_chat_model

QUESTIONS = [
    "What is 2 + 3?",
    "Name a color.",
    "Write one word about the sea.",
    "Hi!",
    "What is the capital of France?",
    "Is ice cold?",
    "Count to three.",
    "Why is the sky blue? Answer in a few words.",
]
NEW_TOKENS = 12


@pytest.mark.slow
def test_left_padded_batch_of_8_equals_one_by_one_and_differs_from_base():
    base, tokenizer = load_chat_model()
    torch.manual_seed(0)
    model = hf_reft.get_reft_model(
        base, hf_reft.ReftConfig(layers=[6, 12, 18, 24], positions="f5+l5", rank=4, intervention="loreft")
    ).eval()
    prompts = [
        tokenizer.apply_chat_template(
            [{"role": "system", "content": "Be brief."}, {"role": "user", "content": q}],
            tokenize=False,
            add_generation_prompt=True,
        )
        for q in QUESTIONS
    ]
    tokenizer.padding_side = "left"
    batch = tokenizer(prompts, return_tensors="pt", padding=True)
    assert (batch.attention_mask == 0).any()  # the batch really is padded
    greedy = {"max_new_tokens": NEW_TOKENS, "min_new_tokens": NEW_TOKENS, "do_sample": False}
    together = model.generate(**batch, **greedy)[:, batch.input_ids.shape[1] :]
    for i, prompt in enumerate(prompts):
        alone = tokenizer(prompt, return_tensors="pt")
        single = model.generate(**alone, **greedy)[0, alone.input_ids.shape[1] :]
        assert together[i].tolist() == single.tolist(), (
            i,
            tokenizer.decode(together[i]),
            tokenizer.decode(single),
        )
    plain = base.generate(**batch, **greedy)[:, batch.input_ids.shape[1] :]
    differing = sum(plain[i].tolist() != together[i].tolist() for i in range(len(prompts)))
    assert differing >= len(prompts) // 2
