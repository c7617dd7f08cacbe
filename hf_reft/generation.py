"""One small interface for sampling completions, so a faster engine can be plugged in.

The PPO rollout, warm-up evaluation (greedy, vote@k), verifier data collection and LoReFT
evaluation all ask a :class:`Generator` for completions. :class:`TransformersGenerator` runs
``model.generate`` in left-padded batches (a plain causal LM or an hf-reft LoReFT model alike); an engine such
as vLLM or TGI only needs to return the same :class:`Completion` objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import torch

__all__ = ["Completion", "Generator", "SamplingParams", "TransformersGenerator", "left_pad"]


def left_pad(rows: Sequence[Sequence[int]], pad_token_id: int, device: Any = None) -> dict[str, torch.Tensor]:
    """``generate()`` inputs for prompts of different lengths: ``input_ids`` and ``attention_mask``,
    both ``[len(rows), longest row]``, padded on the left (as decoder-only generation needs)."""
    width = max(len(row) for row in rows)
    input_ids = torch.full((len(rows), width), pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        if row:
            input_ids[i, width - len(row) :] = torch.tensor(list(row), dtype=torch.long)
            attention_mask[i, width - len(row) :] = 1
    return {"input_ids": input_ids.to(device), "attention_mask": attention_mask.to(device)}


@dataclass(frozen=True)
class SamplingParams:
    """How to sample. The reinforced paper samples at temperature 1 with top-k off (0)."""

    max_new_tokens: int = 256
    do_sample: bool = True
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    num_samples: int = 1

    def __post_init__(self) -> None:
        if self.max_new_tokens <= 0:
            raise ValueError(f"max_new_tokens must be positive, got {self.max_new_tokens}.")
        if self.num_samples <= 0:
            raise ValueError(f"num_samples must be positive, got {self.num_samples}.")
        if self.do_sample and self.temperature <= 0:
            raise ValueError(
                "temperature must be > 0 when sampling; use do_sample=False for greedy decoding."
            )


@dataclass
class Completion:
    """One sampled continuation of one prompt.

    Attributes:
        prompt_index: index of its prompt in the request.
        text: decoded response (special tokens removed).
        token_ids: response token ids, shape ``[T]``, ending with EOS when ``finished``.
        finished: the model emitted EOS; ``False`` means it was cut at ``max_new_tokens``.
        prompt_ids: the prompt's token ids (no padding).
    """

    prompt_index: int
    text: str
    token_ids: list[int]
    finished: bool
    prompt_ids: list[int] = field(default_factory=list)


@runtime_checkable
class Generator(Protocol):
    """Anything that turns prompts into completions (``num_samples`` per prompt, in order)."""

    def generate(self, prompts: Sequence[str], params: SamplingParams) -> list[list[Completion]]: ...


class TransformersGenerator:
    """Batched ``model.generate`` with left padding.

    Args:
        model: a causal LM with ``generate`` (transformers model or hf-reft LoReFT model).
        tokenizer: its tokenizer; a missing pad token falls back to EOS.
        batch_size: prompts per ``generate`` call (each expands to ``num_samples`` rows).
        add_special_tokens: whether prompts get the tokenizer's BOS etc.
    """

    def __init__(
        self, model: Any, tokenizer: Any, *, batch_size: int = 8, add_special_tokens: bool = True
    ) -> None:
        if tokenizer.eos_token_id is None:
            raise ValueError("The tokenizer has no eos_token_id: set one so that completions can end.")
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.add_special_tokens = add_special_tokens
        self.pad_token_id = (
            tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        )

    def _encode(self, prompts: Sequence[str]) -> tuple[dict[str, torch.Tensor], list[list[int]]]:
        ids = [self.tokenizer(p, add_special_tokens=self.add_special_tokens)["input_ids"] for p in prompts]
        return left_pad(ids, self.pad_token_id, next(self.model.parameters()).device), ids

    def _split_response(self, row: list[int]) -> tuple[list[int], bool]:
        """Cut a generated row at its first EOS (kept); pad after it is dropped.

        Works when the pad token equals EOS: the first EOS ends the response either way.
        """
        eos = self.tokenizer.eos_token_id
        if eos in row:
            end = row.index(eos)
            return row[: end + 1], True
        return row, False

    @torch.no_grad()
    def generate(self, prompts: Sequence[str], params: SamplingParams) -> list[list[Completion]]:
        """Return ``num_samples`` completions for each prompt, in prompt order."""
        results: list[list[Completion]] = []
        for start in range(0, len(prompts), self.batch_size):
            chunk = prompts[start : start + self.batch_size]
            inputs, prompt_ids = self._encode(chunk)
            sampling = (
                {
                    "do_sample": True,
                    "temperature": params.temperature,
                    "top_k": params.top_k,
                    "top_p": params.top_p,
                }
                if params.do_sample
                else {"do_sample": False, "temperature": None, "top_k": None, "top_p": None}
            )
            out = self.model.generate(
                **inputs,
                max_new_tokens=params.max_new_tokens,
                num_return_sequences=params.num_samples,
                pad_token_id=self.pad_token_id,
                eos_token_id=self.tokenizer.eos_token_id,
                **sampling,
            )
            new_tokens = out[:, inputs["input_ids"].shape[1] :].tolist()
            for i in range(len(chunk)):
                samples = []
                for j in range(params.num_samples):
                    tokens, finished = self._split_response(new_tokens[i * params.num_samples + j])
                    text = self.tokenizer.decode(tokens, skip_special_tokens=True)
                    samples.append(Completion(start + i, text, tokens, finished, prompt_ids[i]))
                results.append(samples)
        return results
