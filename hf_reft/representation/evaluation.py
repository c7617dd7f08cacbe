"""Evaluating LoReFT adapters (and their base models) the way they are trained.

* :func:`evaluate_generation` — batched greedy generation on the prompts the training data
  helpers build (:func:`hf_reft.data.format_prompt`, token for token), answers extracted by the
  benchmark's strategy in :mod:`hf_reft.answers`, accuracy from the package's ``evaluate``
  metrics (:func:`hf_reft.metrics.load`), a 95 % Wilson interval, a progress bar, ``limit``, and an
  optional cache file so that a cut-off evaluation resumes where it stopped.
* :func:`evaluate_classification` — accuracy of a sequence-classification adapter.
* :func:`paired_comparison` — two systems on the same questions: the paired difference with a
  bootstrap interval.
* :func:`add_evaluation_to_card` — writes results into an adapter's ``README.md`` (text and
  ``model-index`` metadata).

Generation goes through :class:`hf_reft.generation.TransformersGenerator`, so any model
with ``generate`` (a plain causal LM or a LoReFT model) is evaluated by the same loop.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from .. import hub, metrics, stats
from ..answers import get_benchmark
from ..data import format_prompt
from ..results import ResultsLog
from ..stats import wilson_interval

__all__ = [
    "ClassificationEvaluation",
    "GenerationEvaluation",
    "add_evaluation_to_card",
    "evaluate_classification",
    "evaluate_generation",
    "paired_comparison",
]


@dataclass
class GenerationEvaluation:
    """Result of :func:`evaluate_generation`.

    Attributes:
        benchmark: the answer strategy used (``hf_reft.answers`` benchmark name).
        dataset: a name for the evaluated data.
        n: questions evaluated; ``n_correct`` of them right.
        accuracy: ``n_correct / n``; ``interval`` its 95 % Wilson interval ``[low, high]``.
        extracted: share of completions from which an answer was extracted.
        seconds: wall-clock generation time of this call (cached completions cost nothing).
        new_tokens: tokens generated in this call.
        settings: prompt format and generation settings.
        records: one dict per question: ``index``, ``prompt``, ``completion``, ``finished``,
            ``reference``, ``answer`` (extracted, as text, or ``None``), ``correct``.
    """

    benchmark: str
    dataset: str
    n: int
    n_correct: int
    accuracy: float
    interval: tuple[float, float]
    extracted: float
    seconds: float
    new_tokens: int
    settings: dict[str, Any] = field(default_factory=dict)
    records: list[dict[str, Any]] = field(default_factory=list)

    @property
    def correct(self) -> list[bool]:
        """Per-question correctness, in data order."""
        return [bool(r["correct"]) for r in self.records]

    def summary(self) -> str:
        """``"svamp: 41/300 = 13.7 % [10.2, 18.0] (extracted 97 %)"``."""
        low, high = self.interval
        return (
            f"{self.dataset}: {self.n_correct}/{self.n} = {100 * self.accuracy:.1f} % "
            f"[{100 * low:.1f}, {100 * high:.1f}] (answer extracted from {100 * self.extracted:.0f} %)"
        )

    def to_dict(self, *, with_records: bool = True) -> dict[str, Any]:
        out = asdict(self)
        if not with_records:
            out.pop("records")
        return out

    def save(self, path: str | Path) -> None:
        """Write the result (with every record) as JSON, atomically."""
        hub.atomic_write_text(path, json.dumps(self.to_dict(), indent=2, ensure_ascii=False))

    @classmethod
    def load(cls, path: str | Path) -> GenerationEvaluation:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        data["interval"] = tuple(data["interval"])
        return cls(**data)


def evaluate_generation(
    model: Any,
    tokenizer: Any,
    dataset: Any,
    *,
    question_column: str = "question",
    answer_column: str = "answer_value",
    benchmark: str = "numeric",
    prompt_template: str | None = None,
    use_chat_template: bool = False,
    system_prompt: str | None = None,
    limit: int | None = None,
    batch_size: int = 16,
    max_new_tokens: int = 256,
    abs_tol: float | None = None,
    rel_tol: float | None = None,
    cache_file: str | Path | None = None,
    progress: bool = True,
    dataset_name: str = "eval",
) -> GenerationEvaluation:
    """Greedy-decode an answer for each question and score it.

    Args:
        model: a causal LM with ``generate`` — a LoReFT model or a plain transformers model.
        tokenizer: its tokenizer (EOS required; pad falls back to EOS).
        dataset: a :class:`datasets.Dataset` or a list of row dicts.
        question_column, answer_column: columns with the question and the gold answer.
        benchmark: answer strategy and metric (``hf_reft.answers`` benchmark, e.g. ``"svamp"``,
            ``"gsm8k"``, ``"boolq"``); choice benchmarks use the ``choice_accuracy`` metric.
        prompt_template, use_chat_template, system_prompt: the prompt format, as given to
            :func:`hf_reft.data.prepare_supervised_dataset` for training.
        limit: evaluate only the first ``limit`` rows.
        batch_size: prompts per ``generate`` call (left-padded; prompts are sorted by length).
        max_new_tokens: generation budget per question.
        abs_tol, rel_tol: override the benchmark's numeric tolerances.
        cache_file: a :class:`~hf_reft.results.ResultsLog` of finished completions: rows already
            there (same model, data and settings; same prompt) are not generated again, new ones
            are appended as each batch finishes; another model's file is refused.
        progress: show a tqdm progress bar.

    Returns:
        :class:`GenerationEvaluation`.
    """
    from ..generation import SamplingParams, TransformersGenerator  # one generation loop

    spec = get_benchmark(benchmark)
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}.")
    rows = [dict(row) for row in dataset]
    if limit is not None:
        rows = rows[:limit]
    if not rows:
        raise ValueError("Nothing to evaluate: the dataset is empty.")
    for column in (answer_column,) + (() if prompt_template else (question_column,)):
        if column not in rows[0]:
            raise ValueError(
                f"Column {column!r} is not in the evaluation data (it has {sorted(rows[0])}); pass the "
                "right column names."
            )
    prompts = [
        format_prompt(
            row,
            tokenizer,
            prompt_column=question_column,
            prompt_template=prompt_template,
            use_chat_template=use_chat_template,
            system_prompt=system_prompt,
        )
        for row in rows
    ]
    tolerances = {k: v for k, v in (("abs_tol", abs_tol), ("rel_tol", rel_tol)) if v is not None}
    settings = {
        "question_column": question_column,
        "prompt_template": prompt_template,
        "use_chat_template": use_chat_template,
        "system_prompt": system_prompt,
        "batch_size": batch_size,
        "max_new_tokens": max_new_tokens,
        "decoding": "greedy",
        **tolerances,
    }
    cache = ResultsLog(
        cache_file,
        kind="representation-evaluation",
        model=f"{type(model).__name__}:{getattr(model, 'name_or_path', '')}",
        data=dataset_name,
        settings={
            k: v for k, v in settings.items() if k != "batch_size"
        },  # batching does not change greedy output
    )
    done = {
        int(r["index"]): r
        for r in cache.records
        if int(r["index"]) < len(prompts) and r["prompt"] == prompts[int(r["index"])]
    }
    todo = [i for i in range(len(prompts)) if i not in done]
    # shortest prompts first: less padding per batch; the order does not change greedy outputs
    lengths = {
        i: len(tokenizer(prompts[i], add_special_tokens=not use_chat_template)["input_ids"]) for i in todo
    }
    todo.sort(key=lambda i: lengths[i])
    generator = TransformersGenerator(
        model, tokenizer, batch_size=batch_size, add_special_tokens=not use_chat_template
    )
    params = SamplingParams(max_new_tokens=max_new_tokens, do_sample=False)
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    start, new_tokens = time.perf_counter(), 0
    bar = tqdm(total=len(prompts), initial=len(done), desc=f"evaluating {dataset_name}", disable=not progress)
    try:
        for offset in range(0, len(todo), batch_size):
            chunk = todo[offset : offset + batch_size]
            with torch.no_grad():
                outputs = generator.generate([prompts[i] for i in chunk], params)
            finished = []
            for i, (completion,) in zip(chunk, outputs, strict=True):
                record = {
                    "index": i,
                    "prompt": prompts[i],
                    "completion": completion.text,
                    "finished": completion.finished,
                    "new_tokens": len(completion.token_ids),
                }
                new_tokens += len(completion.token_ids)
                done[i] = record
                finished.append(record)
            cache.append(finished)
            bar.update(len(chunk))
    finally:
        bar.close()
        if was_training and hasattr(model, "train"):
            model.train()
    seconds = time.perf_counter() - start

    completions = [done[i]["completion"] for i in range(len(prompts))]
    references = [rows[i][answer_column] for i in range(len(prompts))]
    metric = metrics.load("choice_accuracy" if spec.kind == "choice" else "numeric_accuracy")
    scores = metric.compute(
        predictions=completions,
        references=[r if isinstance(r, str) else float(r) for r in references],
        benchmark=spec.name,
        return_details=True,
        **tolerances,
    )
    records = []
    for i in range(len(prompts)):
        record = dict(done[i])
        record.update(
            reference=references[i],
            answer=scores["answers"][i],
            correct=bool(scores["correct"][i]),
        )
        records.append(record)
    n_correct = sum(r["correct"] for r in records)
    interval = wilson_interval(n_correct, len(records))
    return GenerationEvaluation(
        benchmark=spec.name,
        dataset=dataset_name,
        n=len(records),
        n_correct=n_correct,
        accuracy=n_correct / len(records),
        interval=(interval.low, interval.high),
        extracted=float(scores["extracted"]),
        seconds=seconds,
        new_tokens=new_tokens,
        settings=settings,
        records=records,
    )


@dataclass
class ClassificationEvaluation:
    """Result of :func:`evaluate_classification`: accuracy of argmax predictions over ``n`` examples."""

    dataset: str
    n: int
    n_correct: int
    accuracy: float
    interval: tuple[float, float]
    seconds: float
    predictions: list[int] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)

    def summary(self) -> str:
        low, high = self.interval
        return f"{self.dataset}: {self.n_correct}/{self.n} = {100 * self.accuracy:.1f} % [{100 * low:.1f}, {100 * high:.1f}]"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def evaluate_classification(
    model: Any,
    tokenizer: Any,
    dataset: Any,
    *,
    text_column: str = "text",
    label_column: str = "label",
    batch_size: int = 32,
    max_length: int | None = None,
    limit: int | None = None,
    progress: bool = True,
    dataset_name: str = "eval",
) -> ClassificationEvaluation:
    """Accuracy of a sequence classifier (a LoReFT classification adapter or any such model).

    Args:
        dataset: rows with ``text_column`` (str) and ``label_column`` (int class id).
        batch_size: examples per forward (right-padded).
        max_length: truncate texts to this many tokens.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
    rows = [dict(row) for row in dataset]
    if limit is not None:
        rows = rows[:limit]
    if not rows:
        raise ValueError("Nothing to evaluate: the dataset is empty.")
    for column in (text_column, label_column):
        if column not in rows[0]:
            raise ValueError(f"Column {column!r} is not in the evaluation data (it has {sorted(rows[0])}).")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    device = next(model.parameters()).device
    predictions: list[int] = []
    was_training = model.training
    model.eval()
    start = time.perf_counter()
    try:
        for offset in tqdm(
            range(0, len(rows), batch_size), desc=f"evaluating {dataset_name}", disable=not progress
        ):
            chunk = rows[offset : offset + batch_size]
            encoded = [
                tokenizer(str(r[text_column]), truncation=max_length is not None, max_length=max_length)[
                    "input_ids"
                ]
                for r in chunk
            ]
            width = max(len(ids) for ids in encoded)
            input_ids = torch.full((len(chunk), width), pad, dtype=torch.long)
            attention_mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for j, ids in enumerate(encoded):
                input_ids[j, : len(ids)] = torch.tensor(ids)
                attention_mask[j, : len(ids)] = 1
            with torch.no_grad():
                logits = model(
                    input_ids=input_ids.to(device), attention_mask=attention_mask.to(device)
                ).logits
            predictions.extend(logits.argmax(dim=-1).tolist())
    finally:
        if was_training:
            model.train()
    labels = [int(r[label_column]) for r in rows]
    n_correct = sum(p == y for p, y in zip(predictions, labels, strict=True))
    interval = wilson_interval(n_correct, len(rows))
    return ClassificationEvaluation(
        dataset=dataset_name,
        n=len(rows),
        n_correct=n_correct,
        accuracy=n_correct / len(rows),
        interval=(interval.low, interval.high),
        seconds=time.perf_counter() - start,
        predictions=predictions,
        labels=labels,
    )


def paired_comparison(
    baseline: GenerationEvaluation | Sequence[bool],
    candidate: GenerationEvaluation | Sequence[bool],
    *,
    confidence: float = 0.95,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> dict[str, Any]:
    """Accuracy difference ``candidate − baseline`` on the same questions, with a paired bootstrap interval.

    Returns ``difference`` (:class:`~hf_reft.stats.Interval` as a dict), ``wins`` (questions only the
    candidate gets right), ``losses`` (only the baseline), ``n`` and ``excludes_zero``.
    """
    a = baseline.correct if isinstance(baseline, GenerationEvaluation) else baseline
    b = candidate.correct if isinstance(candidate, GenerationEvaluation) else candidate
    if len(a) != len(b):
        raise ValueError(f"Paired comparison needs the same questions: {len(a)} vs {len(b)} results.")
    return stats.paired_comparison(a, b, confidence=confidence, n_resamples=n_resamples, seed=seed).to_dict()


def _format_percent(value: float) -> str:
    return "nan" if math.isnan(value) else f"{100 * value:.1f}"


def add_evaluation_to_card(
    folder: str | Path,
    results: Mapping[str, GenerationEvaluation | ClassificationEvaluation],
    *,
    comparisons: Mapping[str, Mapping[str, Any]] | None = None,
    notes: str | None = None,
) -> None:
    """Add an "Evaluation" section and ``model-index`` results to the adapter card in ``folder``.

    Args:
        folder: a saved adapter (``README.md`` written by ``save_pretrained``).
        results: label → evaluation (e.g. ``{"LoReFT adapter": ..., "base model": ...}``); the first
            one is the adapter's own result and goes into the metadata.
        comparisons: label → :func:`paired_comparison` output, shown under the table.
        notes: extra Markdown (training time, settings) appended to the section.
    """
    from huggingface_hub import EvalResult, ModelCard

    path = Path(folder) / "README.md"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: save the adapter with save_pretrained first.")
    if not results:
        raise ValueError("add_evaluation_to_card needs at least one result.")
    card = ModelCard.load(path)
    marker = "\n## Evaluation\n"
    text = card.text.split(marker)[0].rstrip() + "\n"
    lines = [
        marker,
        "| model | data | n | accuracy (%) | 95 % interval |",
        "|---|---|---|---|---|",
    ]
    for label, result in results.items():
        low, high = result.interval
        lines.append(
            f"| {label} | {result.dataset} | {result.n} | {_format_percent(result.accuracy)} | "
            f"[{_format_percent(low)}, {_format_percent(high)}] |"
        )
    for label, comparison in (comparisons or {}).items():
        diff = comparison["difference"]
        lines.append(
            f"\n{label}: {100 * diff['estimate']:+.1f} points, 95 % paired-bootstrap interval "
            f"[{100 * diff['low']:+.1f}, {100 * diff['high']:+.1f}] over {comparison['n']} questions "
            f"({comparison['wins']} won, {comparison['losses']} lost)."
        )
    first = next(iter(results.values()))
    if isinstance(first, GenerationEvaluation):
        lines.append(
            f"\nGreedy decoding, at most {first.settings.get('max_new_tokens')} new tokens; answers extracted "
            f"with hf-reft's `{first.benchmark}` strategy."
        )
    if notes:
        lines.append("\n" + notes.strip())
    card.text = text + "\n".join(lines) + "\n"
    model_name = card.data.get("model_name") or Path(folder).resolve().name
    card.data.model_name = model_name
    card.data.eval_results = [
        EvalResult(
            task_type="text-generation" if isinstance(first, GenerationEvaluation) else "text-classification",
            dataset_type=first.dataset,
            dataset_name=first.dataset,
            metric_type="accuracy",
            metric_value=round(first.accuracy, 4),
        )
    ]
    hub.atomic_write_text(path, str(card))
