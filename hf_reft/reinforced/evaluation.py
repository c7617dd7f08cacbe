"""Evaluating a policy on math word problems: greedy accuracy and vote@k.

* **greedy** — one greedy completion per question; accuracy with a 95 % Wilson interval.
* **vote@k** — ``k`` sampled completions per question (temperature 1, top-k off by default, as
  the paper samples); their answers are put to a majority vote (:func:`hf_reft.answers.majority_vote`:
  completions without an answer don't vote, ties go to the answer seen first, so the result is
  deterministic for given samples), and the winner is scored.

Completions are scored by the shared :class:`~hf_reft.reinforced.extraction.AnswerExtractor`
(programs run in the sandbox, a batch at a time). Every finished batch is appended to a JSONL
cache when ``cache_path`` is given, so an interrupted evaluation resumes where it stopped;
sampling is seeded per batch, so a resumed run samples exactly what an uninterrupted one would.

Example::

    from hf_reft.reinforced.evaluation import evaluate_model

    report = evaluate_model("runs/warmup-nl", "svamp-test", format="nl", limit=300, vote_k=8, vote_limit=100)
    print(report.table())
    report.save("runs/warmup-nl/eval-svamp.json")
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .. import hub
from ..answers import Answer, get_benchmark, is_correct, majority_vote, parse_gold
from ..data.sources import DataSource
from ..generation import Completion, Generator, SamplingParams, TransformersGenerator
from ..results import ResultsLog
from ..stats import Interval, paired_comparison, wilson_interval
from .extraction import AnswerExtractor
from .prompts import PromptFormat, get_format

__all__ = [
    "EvaluationReport",
    "EvaluationSettings",
    "Question",
    "compare_greedy",
    "evaluate_model",
    "evaluate_policy",
    "format_table",
    "load_questions",
    "rescore",
]


@dataclass(frozen=True)
class Question:
    """One test question: its position in the data, text and gold answer (as the data writes it)."""

    index: int
    question: str
    gold: Any


@dataclass(frozen=True)
class EvaluationSettings:
    """Everything that decides the completions, recorded in the report and the cache."""

    format: str
    benchmark: str
    max_new_tokens: int = 256
    vote_k: int = 0
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    seed: int = 0
    strict: bool = True
    use_chat_template: bool = False
    dtype: str = "float32"
    batch_size: int = 16  # batch composition decides the vote seeds (and padding, in low precision)


def load_questions(
    data: str | os.PathLike[str] | DataSource | Sequence[dict[str, Any]],
    *,
    data_dir: str | os.PathLike[str] | None = None,
    question_column: str | None = None,
    answer_column: str | None = None,
    limit: int | None = None,
    sample_seed: int | None = None,
) -> tuple[list[Question], str]:
    """Test questions from a named set (``svamp-test``, ``gsm8k-test``), a local file, a Hub dataset
    (a :class:`~hf_reft.data.DataSource` for its config and split; default split ``test``) or rows.

    ``limit`` keeps the first ``limit`` questions, or with ``sample_seed`` a seeded random sample
    of ``limit`` (in data order). Returns the questions and the benchmark whose answer rules apply
    (``"svamp"``/``"gsm8k"`` for named sets, ``"numeric"`` otherwise).
    """
    from ..data import check_columns, load_data

    rows, spec = load_data(data, data_dir, default_split="test")
    question_column = question_column or (spec.question if spec else "question")
    answer_column = answer_column or (spec.answer if spec else "answer_value")
    benchmark = spec.benchmark if spec else "numeric"
    if len(rows) == 0:
        raise ValueError("The test data is empty.")
    check_columns(rows, {question_column: "--question-column", answer_column: "--answer-column"}, data)
    indices = list(range(len(rows)))
    if limit is not None:
        if limit <= 0:
            raise ValueError(f"limit must be positive, got {limit}.")
        if sample_seed is not None:
            indices = sorted(random.Random(sample_seed).sample(indices, min(limit, len(indices))))
        else:
            indices = indices[:limit]
    if not indices:
        raise ValueError("The test data is empty.")
    questions = [Question(i, str(rows[i][question_column]), rows[i][answer_column]) for i in indices]
    return questions, benchmark


@dataclass
class EvaluationReport:
    """Results of one evaluation: per-question records and the summary metrics."""

    model: str
    data: str
    settings: EvaluationSettings
    greedy: list[dict[str, Any]] = field(default_factory=list)
    vote: list[dict[str, Any]] = field(default_factory=list)
    greedy_seconds: float = 0.0
    vote_seconds: float = 0.0

    @property
    def greedy_accuracy(self) -> Interval | None:
        """Greedy accuracy with its 95 % Wilson interval (``None`` without greedy results)."""
        if not self.greedy:
            return None
        return wilson_interval(sum(r["correct"] for r in self.greedy), len(self.greedy))

    @property
    def vote_accuracy(self) -> Interval | None:
        """vote@k accuracy with its 95 % Wilson interval (``None`` without vote results)."""
        if not self.vote:
            return None
        return wilson_interval(sum(r["correct"] for r in self.vote), len(self.vote))

    @property
    def rerank_accuracy(self) -> Interval | None:
        """rerank@k accuracy (the verifier's pick among the vote samples, see :mod:`.verifier`) with
        its 95 % Wilson interval (``None`` unless the vote records were reranked)."""
        if not self.vote or any("rerank_correct" not in r for r in self.vote):
            return None
        return wilson_interval(sum(r["rerank_correct"] for r in self.vote), len(self.vote))

    @property
    def greedy_answer_rate(self) -> float | None:
        """Share of greedy completions with an extractable answer."""
        if not self.greedy:
            return None
        return sum(r["answer"] is not None for r in self.greedy) / len(self.greedy)

    def summary(self) -> dict[str, Any]:
        """The headline numbers (what the printed table shows)."""
        greedy, vote = self.greedy_accuracy, self.vote_accuracy
        return {
            "model": self.model,
            "data": self.data,
            "format": self.settings.format,
            "greedy_n": len(self.greedy),
            "greedy_accuracy": None if greedy is None else greedy.to_dict(),
            "greedy_answer_rate": self.greedy_answer_rate,
            "vote_k": self.settings.vote_k,
            "vote_n": len(self.vote),
            "vote_accuracy": None if vote is None else vote.to_dict(),
            "rerank_accuracy": None if self.rerank_accuracy is None else self.rerank_accuracy.to_dict(),
            "greedy_minutes": round(self.greedy_seconds / 60, 2),
            "vote_minutes": round(self.vote_seconds / 60, 2),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary(),
            "settings": asdict(self.settings),
            "greedy": self.greedy,
            "vote": self.vote,
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the report as JSON (atomically)."""
        hub.atomic_write_text(path, json.dumps(self.to_dict(), indent=1) + "\n")
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> EvaluationReport:
        """Read a report written by :meth:`save`."""
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        summary = data["summary"]
        return cls(
            model=summary["model"],
            data=summary["data"],
            settings=EvaluationSettings(**data["settings"]),
            greedy=data["greedy"],
            vote=data["vote"],
            greedy_seconds=summary["greedy_minutes"] * 60,
            vote_seconds=summary["vote_minutes"] * 60,
        )

    def table(self) -> str:
        """A Markdown table of this report (see :func:`format_table`)."""
        return format_table([self])


def format_table(reports: Sequence[EvaluationReport], *, names: Sequence[str] | None = None) -> str:
    """One Markdown row per report: greedy and vote@k accuracy (%, 95 % interval), n, minutes."""
    lines = [
        "| model | format | greedy acc. % [95 % CI] | n | answered % | vote@k acc. % [95 % CI] | n | minutes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for i, report in enumerate(reports):
        name = names[i] if names else report.model
        greedy, vote = report.greedy_accuracy, report.vote_accuracy
        rate = report.greedy_answer_rate
        vote_cell = "—" if vote is None else f"vote@{report.settings.vote_k}: {vote.format()}"
        minutes = (report.greedy_seconds + report.vote_seconds) / 60
        lines.append(
            f"| {name} | {report.settings.format} | {'—' if greedy is None else greedy.format()} | "
            f"{len(report.greedy)} | {'—' if rate is None else f'{rate * 100:.0f}'} | {vote_cell} | "
            f"{len(report.vote)} | {minutes:.1f} |"
        )
    if any(r.rerank_accuracy is not None for r in reports):  # rerank@k (verifier) as one more column
        lines[0] += " rerank@k acc. % [95 % CI] |"
        lines[1] += "---|"
        for row, report in enumerate(reports, start=2):
            rerank = report.rerank_accuracy
            lines[row] += (
                " — |" if rerank is None else f" rerank@{report.settings.vote_k}: {rerank.format()} |"
            )
    return "\n".join(lines)


def compare_greedy(base: EvaluationReport, other: EvaluationReport, *, seed: int = 0) -> Interval:
    """Paired bootstrap interval of ``other``'s greedy accuracy minus ``base``'s, on the questions
    both answered (matched by their index in the data)."""
    a = {r["index"]: bool(r["correct"]) for r in base.greedy}
    b = {r["index"]: bool(r["correct"]) for r in other.greedy}
    shared = sorted(set(a) & set(b))
    if not shared:
        raise ValueError("The two reports share no questions; evaluate both on the same subset.")
    return paired_comparison([a[i] for i in shared], [b[i] for i in shared], seed=seed).difference


def rescore(
    report: EvaluationReport,
    *,
    format: str | PromptFormat | None = None,
    strict: bool | None = None,
    extractor: AnswerExtractor | None = None,
) -> EvaluationReport:
    """Score a report's stored completions again under another format or answer rule, without
    generating anything: e.g. the lenient (last-number) accuracy of an ``nl`` run, or a base
    model's completions read as programs (both formats prompt the same way).

    The vote stage needs its completions, which reports keep (``completions`` of each record).
    """
    fmt = get_format(format or report.settings.format)
    rule = report.settings.strict if strict is None else strict
    spec = get_benchmark(report.settings.benchmark)
    extractor = extractor or AnswerExtractor(fmt, benchmark=spec, strict=rule)
    settings = EvaluationSettings(**{**asdict(report.settings), "format": fmt.name, "strict": rule})
    out = EvaluationReport(
        report.model,
        report.data,
        settings,
        greedy_seconds=report.greedy_seconds,
        vote_seconds=report.vote_seconds,
    )
    if report.greedy:
        extracted = extractor.extract_detailed([r["completion"] for r in report.greedy])
        for record, extraction in zip(report.greedy, extracted, strict=True):
            gold = parse_gold(record["gold"], spec)
            out.greedy.append(
                {
                    **record,
                    "answer": _answer_value(extraction.answer),
                    "status": extraction.status,
                    "error": extraction.error,
                    "correct": bool(
                        extraction.answer is not None and is_correct(extraction.answer, gold, spec)
                    ),
                }
            )
    if report.vote:
        k = report.settings.vote_k
        extracted = extractor.extract_detailed([c for r in report.vote for c in r["completions"]])
        for i, record in enumerate(report.vote):
            question = Question(record["index"], record["question"], record["gold"])
            completions = [Completion(record["index"], text, [], True) for text in record["completions"]]
            gold = parse_gold(record["gold"], spec)
            out.vote.append(_vote_record(question, completions, extracted[i * k : (i + 1) * k], gold, spec))
    return out


# ----------------------------------------------------------------------------------------- running


class _Cache:
    """The finished records of an evaluation (a :class:`~hf_reft.results.ResultsLog` keyed by model,
    data and settings), by stage and question, for resuming."""

    def __init__(
        self, path: str | os.PathLike[str] | None, settings: EvaluationSettings, model: str, data: str
    ) -> None:
        self.log = ResultsLog(
            path, kind="reinforced-evaluation", model=model, data=data, settings=asdict(settings)
        )
        self.records: dict[tuple[str, int], dict[str, Any]] = {}
        self.seconds: dict[str, float] = {"greedy": 0.0, "vote": 0.0}
        for entry in self.log.records:
            self.records[(entry["stage"], entry["record"]["index"])] = entry["record"]
            self.seconds[entry["stage"]] += entry.get("seconds", 0.0)

    def get(self, stage: str, index: int) -> dict[str, Any] | None:
        return self.records.get((stage, index))

    def add(self, stage: str, records: Sequence[dict[str, Any]], seconds: float) -> None:
        self.seconds[stage] += seconds
        for record in records:
            self.records[(stage, record["index"])] = record
        self.log.append(
            {"stage": stage, "record": record, "seconds": seconds if i == 0 else 0.0}
            for i, record in enumerate(records)
        )


def _batches(items: Sequence[Question], size: int) -> Iterator[tuple[int, list[Question]]]:
    for number, start in enumerate(range(0, len(items), size)):
        yield number, list(items[start : start + size])


def _answer_value(answer: Answer | None) -> Any:
    return None if answer is None else answer.value


def _progress(total: int, desc: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="q", disable=not enabled)


def evaluate_policy(
    generator: Generator,
    questions: Sequence[Question],
    *,
    format: str | PromptFormat = "nl",
    benchmark: str = "numeric",
    extractor: AnswerExtractor | None = None,
    greedy: bool = True,
    vote_k: int = 0,
    vote_limit: int | None = None,
    max_new_tokens: int = 256,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    seed: int = 0,
    batch_size: int = 16,
    strict: bool = True,
    render_prompt: Callable[[str], str] | None = None,
    use_chat_template: bool = False,
    dtype: str = "float32",
    cache_path: str | os.PathLike[str] | None = None,
    model_name: str = "policy",
    data_name: str = "questions",
    progress: bool = True,
    verifier: Any = None,
) -> EvaluationReport:
    """Evaluate any :class:`~hf_reft.reinforced.generation.Generator` on ``questions``.

    Args:
        generator: where completions come from (e.g. :class:`TransformersGenerator`).
        questions: from :func:`load_questions`.
        format: ``"nl"`` or ``"program"``; decides the prompt and how answers are extracted.
        benchmark: :mod:`hf_reft.answers` benchmark for extraction and comparison.
        extractor: scores completions (default: ``AnswerExtractor(format, benchmark, strict)``).
        greedy: run greedy decoding on every question.
        vote_k: samples per question for vote@k (0: no voting).
        vote_limit: vote on the first ``vote_limit`` questions only (default all).
        max_new_tokens: completion budget of both stages.
        temperature, top_k, top_p: sampling for vote@k.
        seed: sampling seed; batch ``i`` of the vote stage samples with ``seed + i``.
        batch_size: completions generated at once (vote@k: ``batch_size // vote_k`` questions).
        render_prompt: question → prompt text (default: the format's prompt).
        use_chat_template: recorded in the settings (``render_prompt`` applies it).
        dtype: the policy's dtype, recorded in the settings.
        cache_path: JSONL file to resume from and append to.
        model_name, data_name: recorded in the report.
        verifier: a :class:`~hf_reft.reinforced.verifier.Verifier` (or its folder / Hub id): adds
            rerank@k over the vote@k samples (:func:`~hf_reft.reinforced.verifier.rerank_report`).
    """
    import torch

    fmt = get_format(format)
    if vote_k < 0:
        raise ValueError(f"vote_k must be 0 (no voting) or the number of samples per question, got {vote_k}.")
    if not greedy and not vote_k:
        raise ValueError("Nothing to evaluate: enable greedy decoding or set vote_k > 0.")
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}.")
    spec = get_benchmark(benchmark)
    extractor = extractor or AnswerExtractor(fmt, benchmark=spec, strict=strict)
    render = render_prompt or fmt.prompt
    settings = EvaluationSettings(
        format=fmt.name,
        benchmark=spec.name,
        max_new_tokens=max_new_tokens,
        vote_k=vote_k,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        seed=seed,
        strict=strict,
        use_chat_template=use_chat_template,
        dtype=dtype,
        batch_size=batch_size,
    )
    cache = _Cache(cache_path, settings, model_name, data_name)
    report = EvaluationReport(model=model_name, data=data_name, settings=settings)
    golds = {q.index: parse_gold(q.gold, spec) for q in questions}

    if greedy:
        params = SamplingParams(max_new_tokens=max_new_tokens, do_sample=False)
        bar = _progress(len(questions), f"greedy ({fmt.name})", progress)
        for _, batch in _batches(questions, batch_size):
            todo = [q for q in batch if cache.get("greedy", q.index) is None]
            if todo:
                started = time.perf_counter()
                completions = generator.generate([render(q.question) for q in todo], params)
                firsts = [samples[0] for samples in completions]
                extracted = extractor.extract_detailed([c.text for c in firsts])
                records = [
                    _greedy_record(q, c, e, golds[q.index], spec)
                    for q, c, e in zip(todo, firsts, extracted, strict=True)
                ]
                cache.add("greedy", records, time.perf_counter() - started)
            bar.update(len(batch))
        bar.close()
        report.greedy = [cache.get("greedy", q.index) for q in questions]  # type: ignore[misc]
        report.greedy_seconds = cache.seconds["greedy"]

    if vote_k:
        voters = list(questions[: vote_limit or len(questions)])
        params = SamplingParams(
            max_new_tokens=max_new_tokens,
            do_sample=True,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            num_samples=vote_k,
        )
        per_batch = max(1, batch_size // vote_k)
        bar = _progress(len(voters), f"vote@{vote_k} ({fmt.name})", progress)
        for number, batch in _batches(voters, per_batch):
            if any(cache.get("vote", q.index) is None for q in batch):
                started = time.perf_counter()
                torch.manual_seed(seed + number)  # the same batch samples the same, resumed or not
                completions = generator.generate([render(q.question) for q in batch], params)
                texts = [c.text for samples in completions for c in samples]
                extracted = extractor.extract_detailed(texts)
                records = []
                for i, q in enumerate(batch):
                    mine = extracted[i * vote_k : (i + 1) * vote_k]
                    records.append(_vote_record(q, completions[i], mine, golds[q.index], spec))
                cache.add("vote", records, time.perf_counter() - started)
            bar.update(len(batch))
        bar.close()
        report.vote = [cache.get("vote", q.index) for q in voters]  # type: ignore[misc]
        report.vote_seconds = cache.seconds["vote"]
    if verifier is not None and report.vote:
        from .verifier import Verifier, rerank_report

        if isinstance(verifier, str | os.PathLike):
            verifier = Verifier.from_pretrained(verifier)
        rerank_report(report, verifier, render_prompt=render)
    return report


def _greedy_record(q: Question, completion: Completion, extraction: Any, gold: Answer, spec: Any) -> dict:
    return {
        "index": q.index,
        "question": q.question,
        "gold": gold.value,
        "completion": completion.text,
        "finished": completion.finished,
        "tokens": len(completion.token_ids),
        "answer": _answer_value(extraction.answer),
        "status": extraction.status,
        "error": extraction.error,
        "correct": bool(extraction.answer is not None and is_correct(extraction.answer, gold, spec)),
    }


def _vote_record(
    q: Question, completions: Sequence[Completion], extractions: Sequence[Any], gold: Answer, spec: Any
) -> dict:
    answers = [e.answer for e in extractions]
    winner = majority_vote(answers, benchmark=spec)
    votes = sum(1 for a in answers if a is not None and winner is not None and spec.compare(a, winner))
    return {
        "index": q.index,
        "question": q.question,
        "gold": gold.value,
        "answers": [_answer_value(a) for a in answers],
        "samples_correct": sum(a is not None and is_correct(a, gold, spec) for a in answers),
        "vote": _answer_value(winner),
        "votes": votes,
        "correct": bool(winner is not None and is_correct(winner, gold, spec)),
        "completions": [c.text for c in completions],
    }


def evaluate_model(
    model: str | os.PathLike[str] | None,
    data: str | os.PathLike[str],
    *,
    format: str | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    limit: int | None = None,
    sample_seed: int | None = None,
    question_column: str | None = None,
    answer_column: str | None = None,
    benchmark: str | None = None,
    use_chat_template: bool | None = None,
    batch_size: int = 16,
    dtype: str = "float32",
    policy: tuple[Any, Any] | None = None,
    **kwargs: Any,
) -> EvaluationReport:
    """Load a policy (full model, warm-up folder or adapter; ``None`` = the offline default) and
    evaluate it on a named test set or file with :func:`evaluate_policy`.

    ``format`` and ``use_chat_template`` default to what a warm-up folder recorded
    (:func:`~hf_reft.reinforced.sft.read_warmup_info`), else ``"nl"`` and ``False``. ``dtype``
    (``"float32"`` or ``"bfloat16"``, about twice as fast on CPUs with bf16 units) is the dtype the
    policy is loaded in; ``policy`` passes an already loaded ``(model, tokenizer)`` instead.
    """
    import torch

    from .sft import load_policy, policy_prompt_format

    fmt, recorded_chat = policy_prompt_format(model, format)
    chat = use_chat_template if use_chat_template is not None else recorded_chat
    questions, data_benchmark = load_questions(
        data,
        data_dir=data_dir,
        question_column=question_column,
        answer_column=answer_column,
        limit=limit,
        sample_seed=sample_seed,
    )
    if dtype not in ("float32", "bfloat16", "float16"):
        raise ValueError(f"dtype must be 'float32', 'bfloat16' or 'float16', got {dtype!r}.")
    loaded, tokenizer = policy if policy is not None else load_policy(model, dtype=getattr(torch, dtype))
    loaded.eval()
    generator = TransformersGenerator(loaded, tokenizer, batch_size=batch_size)
    return evaluate_policy(
        generator,
        questions,
        format=fmt,
        benchmark=benchmark or data_benchmark,
        batch_size=batch_size,
        render_prompt=lambda q: fmt.render(q, tokenizer, use_chat_template=chat),
        use_chat_template=chat,
        dtype=dtype,
        model_name=str(model) if model is not None else "default (SmolLM2-135M-Instruct)",
        data_name=str(data) if isinstance(data, str | os.PathLike) else "questions",
        **kwargs,
    )
