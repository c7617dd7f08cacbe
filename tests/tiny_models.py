"""Tiny random models and an offline tokenizer for unit tests (as transformers' own tests do).

Nothing here downloads anything: the tokenizer is a byte-level BPE trained in memory on a
fixed corpus, so every run builds the same vocabulary.
"""

from __future__ import annotations

import functools

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    BertConfig,
    GPT2Config,
    LlamaConfig,
    PretrainedConfig,
    PreTrainedTokenizerFast,
    Qwen2Config,
)

SPECIAL_TOKENS = ["<pad>", "<s>", "</s>", "<unk>"]
CHAT_TEMPLATE = (
    "{% for m in messages %}<s>{{ m['role'] }}\n{{ m['content'] }}</s>\n{% endfor %}"
    "{% if add_generation_prompt %}<s>assistant\n{% endif %}"
)
_CORPUS = [
    "Question: Tom has 3 apples and buys 5 more. How many apples does he have?",
    "Answer reasoning: 3 + 5 = 8. Therefore, the answer is <8>.",
    "def solution():\n    return 3 + 5\n",
    "The quick brown fox jumps over the lazy dog 0 1 2 3 4 5 6 7 8 9.",
    "Chemistry: the molar mass of water is 18.02 g/mol; pV = nRT.",
] * 4
VOCAB_SIZE = 320


@functools.cache
def _tokenizer_json() -> str:
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS, trainer)
    return tok.to_str()


def make_tokenizer(padding_side: str = "right") -> PreTrainedTokenizerFast:
    """A ~320-token byte-level BPE tokenizer with pad/bos/eos/unk and a chat template."""
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(_tokenizer_json()),
        pad_token="<pad>",
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        padding_side=padding_side,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def tiny_config(arch: str = "llama", **overrides) -> PretrainedConfig:
    """A tiny random config: ``llama``, ``qwen2``, ``gpt2`` or ``bert`` (hidden 64, 4 layers)."""
    common = {"vocab_size": VOCAB_SIZE, "pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2}
    if arch == "llama":
        cfg = LlamaConfig(
            hidden_size=64,
            num_hidden_layers=4,
            num_attention_heads=4,
            num_key_value_heads=2,
            intermediate_size=128,
            max_position_embeddings=256,
            **common,
        )
    elif arch == "qwen2":
        cfg = Qwen2Config(
            hidden_size=64,
            num_hidden_layers=4,
            num_attention_heads=4,
            num_key_value_heads=2,
            intermediate_size=128,
            max_position_embeddings=256,
            **common,
        )
    elif arch == "gpt2":
        cfg = GPT2Config(n_embd=64, n_layer=4, n_head=4, n_positions=256, **common)
    elif arch == "bert":
        cfg = BertConfig(
            hidden_size=64,
            num_hidden_layers=4,
            num_attention_heads=4,
            intermediate_size=128,
            max_position_embeddings=256,
            vocab_size=VOCAB_SIZE,
            pad_token_id=0,
        )
    else:
        raise ValueError(f"unknown tiny architecture {arch!r}")
    for key, value in overrides.items():
        setattr(cfg, key, value)
    return cfg
