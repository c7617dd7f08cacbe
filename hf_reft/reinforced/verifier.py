"""Verifier reranking (Luong et al. 2024, §4): score sampled solutions, keep the best-scored answer.

1. **Data** — :func:`sample_verifier_data` samples ``k`` solutions per training question from a
   policy (:func:`sample_policy_verifier_data` loads a saved one first); each is labelled 1 if its extracted answer is right and 0 otherwise (no answer: 0),
   with the shared :class:`~hf_reft.reinforced.extraction.AnswerExtractor` (programs run in the
   sandbox) and :func:`hf_reft.answers.is_correct`. :func:`label_completions` does the labelling
   for completions you already have.
2. **Training** — :func:`train_verifier`: an ``AutoModelForSequenceClassification`` with two labels
   (initialised from the warm-up model: its body, a new classification head) trained with
   ``transformers.Trainer`` on ``prompt + completion`` texts.
3. **rerank@k** — :class:`Verifier` scores texts (``logit[correct] − logit[wrong]``);
   :func:`rerank` picks the highest-scored sample among those with an extractable answer;
   :func:`rerank_report` adds rerank@k to the vote records of an
   :class:`~hf_reft.reinforced.evaluation.EvaluationReport` (same samples as vote@k).

Example::

    data = sample_verifier_data(generator, questions, format="nl", k=4)
    verifier = train_verifier("runs/warmup-nl", data, "runs/verifier-nl", num_train_epochs=2)
    report = evaluate_model("runs/ppo-nl", "svamp-test", limit=100, vote_k=8, verifier=verifier)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from .. import hub
from ..answers import get_benchmark, is_correct, parse_gold
from ..generation import Generator, SamplingParams, TransformersGenerator
from .extraction import AnswerExtractor
from .prompts import PromptFormat, get_format

__all__ = [
    "Verifier",
    "label_completions",
    "rerank",
    "rerank_report",
    "sample_policy_verifier_data",
    "sample_verifier_data",
    "train_verifier",
]

#: Label of a correct solution (the other label, 0, is "wrong or no answer").
CORRECT = 1


def label_completions(
    prompts: Sequence[str],
    completions: Sequence[Sequence[str]],
    golds: Sequence[Any],
    *,
    extractor: AnswerExtractor,
    benchmark: str = "numeric",
) -> Any:
    """A ``datasets.Dataset`` with ``text`` (prompt + completion), ``label`` (1 right, 0 wrong or
    no answer), ``answer`` (the extracted value or ``None``) and ``question_index``.

    Args:
        prompts: ``[Q]`` prompt texts, as the policy saw them.
        completions: ``[Q][k]`` completion texts per prompt.
        golds: ``[Q]`` gold answers as the data writes them.
    """
    from datasets import Dataset

    if not len(prompts) == len(completions) == len(golds):
        raise ValueError(
            f"prompts ({len(prompts)}), completions ({len(completions)}) and golds ({len(golds)}) must "
            "have one entry per question."
        )
    spec = get_benchmark(benchmark)
    flat = [(q, text) for q, samples in enumerate(completions) for text in samples]
    answers = extractor.extract_batch([text for _, text in flat])
    gold_answers = [parse_gold(g, spec) for g in golds]
    rows: dict[str, list[Any]] = {"text": [], "label": [], "answer": [], "question_index": []}
    for (q, text), answer in zip(flat, answers, strict=True):
        right = answer is not None and is_correct(answer, gold_answers[q], spec)
        rows["text"].append(prompts[q] + text)
        rows["label"].append(CORRECT if right else 0)
        rows["answer"].append(None if answer is None else str(answer.value))
        rows["question_index"].append(q)
    return Dataset.from_dict(rows)


def sample_verifier_data(
    generator: Generator,
    questions: Sequence[Any],
    *,
    format: str | PromptFormat = "nl",
    benchmark: str = "numeric",
    k: int = 4,
    render_prompt: Callable[[str], str] | None = None,
    max_new_tokens: int = 256,
    temperature: float = 1.0,
    top_k: int = 0,
    seed: int = 0,
    batch_size: int = 16,
    strict: bool = True,
) -> Any:
    """Sample ``k`` solutions per question (``questions``: :class:`~hf_reft.reinforced.evaluation.Question`
    items, e.g. training questions with their gold answers) and label them (:func:`label_completions`).

    Sampling is seeded per batch (``seed + batch number``), so a rerun produces the same data.
    """
    if k <= 0:
        raise ValueError(f"k (samples per question) must be positive, got {k}.")
    fmt = get_format(format)
    render = render_prompt or fmt.prompt
    extractor = AnswerExtractor(fmt, benchmark=get_benchmark(benchmark), strict=strict)
    params = SamplingParams(
        max_new_tokens=max_new_tokens, do_sample=True, temperature=temperature, top_k=top_k, num_samples=k
    )
    per_batch = max(1, batch_size // k)
    prompts, texts, golds = [], [], []
    for number, start in enumerate(range(0, len(questions), per_batch)):
        batch = list(questions[start : start + per_batch])
        torch.manual_seed(seed + number)
        batch_prompts = [render(q.question) for q in batch]
        samples = generator.generate(batch_prompts, params)
        prompts += batch_prompts
        texts += [[c.text for c in row] for row in samples]
        golds += [q.gold for q in batch]
    return label_completions(prompts, texts, golds, extractor=extractor, benchmark=benchmark)


def sample_policy_verifier_data(
    model: str | os.PathLike[str] | None,
    questions: Sequence[Any],
    *,
    format: str | None = None,
    batch_size: int = 16,
    **sampling: Any,
) -> Any:
    """Load a saved policy and :func:`sample_verifier_data` from it, prompted the way it was trained.

    Args:
        model: a warm-up folder, Hub id or full model; ``None`` is the offline default model.
        questions: :class:`~hf_reft.reinforced.evaluation.Question` items with gold answers.
        format: ``"nl"`` or ``"program"``; default: what the warm-up folder recorded, else ``"nl"``
            (the chat template too: :func:`~hf_reft.reinforced.sft.policy_prompt_format`).
        batch_size: completions generated at once.
        **sampling: :func:`sample_verifier_data`'s ``benchmark``, ``k``, ``max_new_tokens``,
            ``temperature``, ``top_k``, ``seed``, ``strict``.
    """
    from .sft import load_policy, policy_prompt_format

    fmt, chat = policy_prompt_format(model, format)
    policy, tokenizer = load_policy(model)
    policy.eval()
    return sample_verifier_data(
        TransformersGenerator(policy, tokenizer, batch_size=batch_size),
        questions,
        format=fmt,
        render_prompt=lambda q: fmt.render(q, tokenizer, use_chat_template=chat),
        batch_size=batch_size,
        **sampling,
    )


def _classifier_source(name_or_path: str | os.PathLike[str]) -> str:
    """The full model a verifier starts from: the folder itself, or a LoReFT adapter's base."""
    from transformers import AutoConfig

    from .. import representation  # noqa: F401  (registers the "reft" model type)

    config = AutoConfig.from_pretrained(str(name_or_path))
    if getattr(config, "model_type", None) == "reft":
        if not config.base_model_name_or_path:
            raise ValueError(f"The LoReFT adapter {name_or_path} does not name its base model.")
        return str(config.base_model_name_or_path)
    return str(name_or_path)


def train_verifier(
    init: str | os.PathLike[str],
    dataset: Any,
    output_dir: str | os.PathLike[str],
    *,
    tokenizer: Any = None,
    max_length: int = 512,
    eval_dataset: Any = None,
    **training_kwargs: Any,
) -> Verifier:
    """Train a two-label sequence classifier on ``dataset`` (``text``, ``label``) and save it.

    Args:
        init: the model to start from (a warm-up folder or Hub id; a LoReFT adapter starts from
            its base model). Its body is loaded, the classification head is new.
        dataset: from :func:`label_completions` / :func:`sample_verifier_data`.
        output_dir: the saved verifier (``AutoModelForSequenceClassification`` + tokenizer),
            written atomically; the Trainer's checkpoints go to ``output_dir/checkpoints``.
        tokenizer: default: the one saved with ``init``.
        max_length: longer texts are cut from the left (the answer is at the end).
        **training_kwargs: ``TrainingArguments`` (``num_train_epochs``, ``learning_rate``...).
    """
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
    )

    missing = {"text", "label"} - set(dataset.column_names)
    if missing:
        raise ValueError(
            f"The verifier data lacks column(s) {sorted(missing)}; build it with label_completions()."
        )
    if len(set(dataset["label"])) < 2:
        raise ValueError(
            "The verifier data has only one label (all solutions right, or all wrong); sample more solutions "
            "(larger k, more questions, or a higher temperature) so that both kinds appear."
        )
    source = _classifier_source(init)
    if tokenizer is None:
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(init))
        except (OSError, ValueError):
            tokenizer = AutoTokenizer.from_pretrained(source)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.truncation_side = "left"
    model = AutoModelForSequenceClassification.from_pretrained(source, num_labels=2)
    model.config.pad_token_id = tokenizer.pad_token_id

    def encode(batch: dict[str, list[Any]]) -> dict[str, Any]:
        return tokenizer(batch["text"], truncation=True, max_length=max_length)

    columns = [c for c in dataset.column_names if c != "label"]
    train = dataset.map(encode, batched=True, remove_columns=columns)
    evaluation = None
    if eval_dataset is not None:
        evaluation = eval_dataset.map(
            encode, batched=True, remove_columns=[c for c in eval_dataset.column_names if c != "label"]
        )
    settings = {"report_to": "none", "save_strategy": "no", "use_cpu": not torch.cuda.is_available()}
    settings.update(training_kwargs)
    args = TrainingArguments(output_dir=str(Path(output_dir) / "checkpoints"), **settings)
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train,
        eval_dataset=evaluation,
        processing_class=tokenizer,
        data_collator=DataCollatorWithPadding(tokenizer),
    )
    trainer.train()
    verifier = Verifier(trainer.model, tokenizer, max_length=max_length)
    verifier.save_pretrained(output_dir)
    return verifier


class Verifier:
    """A trained verifier: ``score(texts)`` → ``logit[correct] − logit[wrong]`` per text.

    Args:
        model: an ``AutoModelForSequenceClassification`` with two labels.
        tokenizer: its tokenizer (padding side and pad token are set here).
    """

    def __init__(self, model: Any, tokenizer: Any, *, max_length: int = 512) -> None:
        if getattr(model.config, "num_labels", None) != 2:
            raise ValueError(
                f"A verifier has two labels (wrong, right); this model has {model.config.num_labels}."
            )
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.max_length = max_length
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        tokenizer.truncation_side = "left"
        model.config.pad_token_id = tokenizer.pad_token_id

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike[str], **kwargs: Any) -> Verifier:
        """Load a verifier saved by :meth:`save_pretrained` / :func:`train_verifier`."""
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        folder = hub.resolve_folder(name_or_path)
        model = AutoModelForSequenceClassification.from_pretrained(folder, **kwargs)
        return cls(model, AutoTokenizer.from_pretrained(folder))

    def save_pretrained(self, directory: str | os.PathLike[str]) -> None:
        """Save model and tokenizer (atomically)."""
        with hub.atomic_save(directory) as tmp:
            self.model.save_pretrained(tmp)
            self.tokenizer.save_pretrained(tmp)

    @torch.no_grad()
    def score(self, texts: Sequence[str], *, batch_size: int = 8) -> list[float]:
        """One score per text, higher = more likely correct."""
        device = next(self.model.parameters()).device
        scores: list[float] = []
        for start in range(0, len(texts), batch_size):
            batch = self.tokenizer(
                list(texts[start : start + batch_size]),
                truncation=True,
                max_length=self.max_length,
                padding=True,
                return_tensors="pt",
            ).to(device)
            logits = self.model(**batch).logits.float()  # [B, 2]
            scores += (logits[:, CORRECT] - logits[:, 1 - CORRECT]).tolist()
        return scores

    __call__ = score


def rerank(answers: Sequence[Any], scores: Sequence[float]) -> int | None:
    """Index of the highest-scored sample whose answer is not ``None`` (first on ties); ``None``
    when no sample has an answer."""
    if len(answers) != len(scores):
        raise ValueError(f"{len(answers)} answers but {len(scores)} scores.")
    best: int | None = None
    for i, (answer, score) in enumerate(zip(answers, scores, strict=True)):
        if answer is not None and (best is None or score > scores[best]):
            best = i
    return best


def rerank_report(
    report: Any,
    verifier: Callable[[Sequence[str]], Sequence[float]],
    *,
    render_prompt: Callable[[str], str] | None = None,
) -> Any:
    """Add rerank@k to every vote record of ``report`` (in place; also returned).

    Each record gets ``scores`` (one per sample), ``rerank`` (the chosen answer) and
    ``rerank_correct``. The samples are vote@k's, so both methods see the same solutions.
    """
    spec = get_benchmark(report.settings.benchmark)
    render = render_prompt or get_format(report.settings.format).prompt
    for record in report.vote:
        prompt = render(record["question"])
        scores = list(verifier([prompt + text for text in record["completions"]]))
        chosen = rerank(record["answers"], scores)
        answer = None if chosen is None else record["answers"][chosen]
        record["scores"] = scores
        record["rerank"] = answer
        record["rerank_correct"] = bool(answer is not None and is_correct(answer, record["gold"], spec))
    return report
