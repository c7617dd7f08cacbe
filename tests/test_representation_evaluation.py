"""Evaluation helpers: prompts as in training, resumable cache, scoring, classification, cards, paired differences."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from datasets import Dataset
from huggingface_hub import ModelCard
from transformers import LlamaForCausalLM, LlamaForSequenceClassification

import hf_reft
from hf_reft.data import prepare_supervised_dataset
from hf_reft.representation.evaluation import (
    GenerationEvaluation,
    add_evaluation_to_card,
    evaluate_classification,
    evaluate_generation,
    paired_comparison,
)
from hf_reft.results import ResultsMismatchError

from tiny_models import make_tokenizer, tiny_config

ROWS = [{"question": f"Tom has {a} apples and {b} pears", "answer_value": str(float(a + b))} for a, b in [(1, 2), (3, 4), (2, 2), (5, 1), (0, 3)]]  # fmt: skip
TEMPLATE = "Question: {question}\nAnswer: "


@pytest.fixture(scope="module")
def tokenizer():
    return make_tokenizer()


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    base = LlamaForCausalLM(tiny_config("llama"))
    return hf_reft.get_reft_model(base, hf_reft.ReftConfig(layers=[1, 2], positions="f1+l2", rank=2))


@pytest.mark.parametrize("chat", [False, True])
def test_generation_prompts_are_the_training_prompts_token_for_token(model, tokenizer, chat, monkeypatch):
    seen = []
    original = model.generate

    def spy(*args, **kwargs):
        seen.append((kwargs["input_ids"].clone(), kwargs["attention_mask"].clone()))
        return original(*args, **kwargs)

    monkeypatch.setattr(model, "generate", spy)
    evaluate_generation(
        model, tokenizer, ROWS, prompt_template=TEMPLATE, use_chat_template=chat, max_new_tokens=2,
        batch_size=8, progress=False, system_prompt="Be brief." if chat else None,
    )  # fmt: skip
    prompts = [
        ids[mask.bool()].tolist() for batch, masks in seen for ids, mask in zip(batch, masks, strict=True)
    ]
    training = prepare_supervised_dataset(
        Dataset.from_list([{**row, "response": "x"} for row in ROWS]),
        tokenizer,
        prompt_template=TEMPLATE,
        use_chat_template=chat,
        system_prompt="Be brief." if chat else None,
    )
    expected = [row["input_ids"][: row["prompt_length"]] for row in training]
    assert sorted(prompts) == sorted(expected)


def test_cache_resumes_a_cut_off_evaluation(model, tokenizer, tmp_path, monkeypatch):
    cache = tmp_path / "cache.jsonl"
    settings = {
        "prompt_template": TEMPLATE,
        "max_new_tokens": 4,
        "batch_size": 2,
        "progress": False,
        "benchmark": "svamp",
    }
    full = evaluate_generation(model, tokenizer, ROWS, cache_file=cache, **settings)
    lines = cache.read_text().splitlines()
    assert len(lines) == 1 + len(ROWS)  # the header naming model, data and settings, then one row each
    cache.write_text("\n".join(lines[:3]) + "\n" + lines[3][:15])  # two finished rows and a torn line

    calls = []
    original = model.generate
    monkeypatch.setattr(
        model, "generate", lambda *a, **k: calls.append(k["input_ids"].shape[0]) or original(*a, **k)
    )
    resumed = evaluate_generation(model, tokenizer, ROWS, cache_file=cache, **settings)
    assert sum(calls) == len(ROWS) - 2  # only the unfinished rows were generated again
    assert [r["completion"] for r in resumed.records] == [r["completion"] for r in full.records]
    assert resumed.correct == full.correct

    # another prompt format is another run: its results are not mixed into this file
    with pytest.raises(ResultsMismatchError, match="prompt_template"):
        evaluate_generation(
            model, tokenizer, ROWS, cache_file=cache, **{**settings, "prompt_template": "Q: {question}\n"}
        )
    # nor another model's (the bug: a cache keyed on the prompt alone served any model)
    other = copy.deepcopy(model)
    other.name_or_path = "another/model"
    with pytest.raises(ResultsMismatchError, match="another/model"):
        evaluate_generation(other, tokenizer, ROWS, cache_file=cache, **settings)


def test_scoring_uses_the_benchmark_strategy(model, tokenizer, monkeypatch):
    from hf_reft.generation import TransformersGenerator

    replies = iter(
        ["3 apples. Therefore, the answer is <3>.", "the answer is 6", "4", "nothing here", "1,000 or 3"]
    )

    def fake_generate(self, prompts, params):
        from hf_reft.generation import Completion

        return [[Completion(0, next(replies), [1, 2], True)] for _ in prompts]

    monkeypatch.setattr(TransformersGenerator, "generate", fake_generate)
    result = evaluate_generation(
        model, tokenizer, ROWS, prompt_template=TEMPLATE, batch_size=8, progress=False, benchmark="svamp"
    )
    by_question = {r["prompt"]: r for r in result.records}
    assert result.n == 5 and result.n_correct == sum(r["correct"] for r in result.records)
    assert result.extracted == pytest.approx(4 / 5)
    assert result.interval[0] <= result.accuracy <= result.interval[1]
    assert all(r["answer"] is None for r in by_question.values() if r["completion"] == "nothing here")
    assert "%" in result.summary()


def test_bad_evaluation_input(model, tokenizer):
    with pytest.raises(ValueError, match="Column 'question'"):
        evaluate_generation(model, tokenizer, [{"q": "x", "answer_value": "1"}], progress=False)
    with pytest.raises(ValueError, match="Unknown benchmark"):
        evaluate_generation(model, tokenizer, ROWS, benchmark="nope", progress=False)
    with pytest.raises(ValueError, match="empty"):
        evaluate_generation(model, tokenizer, [], progress=False)


def test_result_round_trips_through_json(model, tokenizer, tmp_path):
    result = evaluate_generation(
        model, tokenizer, ROWS, prompt_template=TEMPLATE, max_new_tokens=2, progress=False, limit=3
    )
    assert result.n == 3
    result.save(tmp_path / "r.json")
    again = GenerationEvaluation.load(tmp_path / "r.json")
    assert again == result
    assert json.loads((tmp_path / "r.json").read_text())["records"][0]["index"] == 0


def test_classification_accuracy(tokenizer):
    torch.manual_seed(3)
    classifier = hf_reft.get_reft_model(
        LlamaForSequenceClassification(tiny_config("llama", num_labels=3)),
        hf_reft.ReftConfig(layers=[1], positions="l1", rank=2),
    )
    rows = [{"text": f"example {i} " * (1 + i % 3), "label": i % 3} for i in range(7)]
    result = evaluate_classification(classifier, tokenizer, rows, batch_size=3, progress=False)
    predictions = []
    for row in rows:
        with torch.no_grad():
            logits = classifier(**tokenizer(row["text"], return_tensors="pt")).logits
        predictions.append(int(logits.argmax()))
    assert result.predictions == predictions  # batching with padding changes nothing
    assert result.n_correct == sum(p == r["label"] for p, r in zip(predictions, rows, strict=True))


def test_paired_comparison_counts_wins_and_losses():
    base = [False] * 60 + [True] * 20 + [False] * 20
    better = [True] * 60 + [True] * 20 + [False] * 20
    comparison = paired_comparison(base, better)
    assert comparison["wins"] == 60 and comparison["losses"] == 0
    assert comparison["difference"]["estimate"] == pytest.approx(0.6)
    assert comparison["excludes_zero"]
    assert not paired_comparison(base, base)["excludes_zero"]
    with pytest.raises(ValueError, match="same questions"):
        paired_comparison(base, better[:-1])


def test_card_gets_one_evaluation_section(model, tokenizer, tmp_path):
    model.save_pretrained(tmp_path / "adapter")
    result = evaluate_generation(
        model, tokenizer, ROWS, prompt_template=TEMPLATE, max_new_tokens=2, progress=False, dataset_name="toy"
    )
    comparison = paired_comparison([False] * 5, result.correct)
    for _ in range(2):  # a second call replaces the section
        add_evaluation_to_card(
            tmp_path / "adapter",
            {"LoReFT adapter": result, "base": result},
            comparisons={"LoReFT − base": comparison},
            notes="Trained briefly.",
        )
    card = ModelCard.load(tmp_path / "adapter" / "README.md")
    assert card.text.count("## Evaluation") == 1
    assert "| LoReFT adapter | toy | 5 |" in card.text and "Trained briefly." in card.text
    assert card.data.eval_results[0].metric_value == round(result.accuracy, 4)
    assert "## Usage" in card.text  # the adapter's own card is kept
    with pytest.raises(FileNotFoundError, match="save_pretrained"):
        add_evaluation_to_card(tmp_path / "nothing", {"x": result})
