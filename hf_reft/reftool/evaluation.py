"""SciBench chemistry evaluation: RefTool vs program of thought vs chain of thought.

Problems come from ``scibench-chemistry/`` in the shared data folder (``atkins`` and ``chemmc`` test
sets by default; the ``*_sol`` files can be added). As SciBench does, a unit such as
``10^{-19} J`` is split: the model is told the unit without its power of ten ("The unit of the
answer is J.") and its number is compared with ``answer_number × 10^-19`` at 5 % relative tolerance
(:func:`hf_reft.answers.is_correct` with ``benchmark="scibench"``).

Every method gets the same problems in the same order, with the same backend; each
(problem, method) solve is appended to ``traces.jsonl`` as it finishes, so an interrupted run
continues where it stopped when given the same ``output`` folder. Accuracy comes with n and a
Wilson 95 % interval (:func:`hf_reft.stats.wilson_interval`).
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..answers import is_correct, parse_scibench_gold, split_unit_scale
from ..hub import atomic_write_text
from ..results import ResultsLog
from ..stats import Interval, PairedComparison, paired_comparison, wilson_interval
from .parsing import calls
from .solver import BaseSolver

__all__ = [
    "METHODS",
    "MethodResult",
    "SciBenchProblem",
    "evaluate_scibench",
    "format_table",
    "load_scibench",
    "scibench_dir",
]

METHODS = ("reftool", "pot", "cot")
DEFAULT_SUBSETS = ("atkins", "chemmc")
SCIBENCH_FOLDER = "scibench-chemistry"


@dataclass(frozen=True)
class SciBenchProblem:
    """One SciBench problem.

    Attributes:
        id: ``"<subset>/<problemid>"``.
        text: what the solver gets: the problem and "The unit of the answer is …".
        answer_number, unit: the gold fields as the data writes them.
    """

    id: str
    text: str
    answer_number: str
    unit: str

    @property
    def gold(self) -> dict[str, str]:
        """The gold row for :func:`hf_reft.answers.is_correct`."""
        return {"answer_number": self.answer_number, "unit": self.unit}


def scibench_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """``<data_dir>/scibench-chemistry`` (default data dir: ``$HF_REFT_DATA_DIR`` or ``../shared/data``)."""
    base = Path(data_dir or os.environ.get("HF_REFT_DATA_DIR") or "../shared/data")
    folder = base / SCIBENCH_FOLDER
    if not folder.is_dir():
        raise FileNotFoundError(
            f"SciBench chemistry is not at {folder}; pass --data-dir (the folder holding {SCIBENCH_FOLDER}/) "
            "or set HF_REFT_DATA_DIR."
        )
    return folder


def load_scibench(
    subsets: Sequence[str] = DEFAULT_SUBSETS,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    limit: int | None = None,
    seed: int = 0,
) -> list[SciBenchProblem]:
    """The problems of ``subsets`` (file names without ``.json``); with ``limit``, a fixed sample of
    that many, drawn with ``seed`` across all subsets (the same sample every time)."""
    folder = scibench_dir(data_dir)
    problems: list[SciBenchProblem] = []
    for subset in subsets:
        subset = subset.strip().removesuffix(".json")
        path = folder / f"{subset}.json"
        if not path.is_file():
            available = sorted(p.stem for p in folder.glob("*.json"))
            raise FileNotFoundError(f"No SciBench subset {subset!r} in {folder} (available: {available}).")
        try:
            rows = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise ValueError(f"{path} is not valid JSON: {err}") from err
        for k, row in enumerate(rows):
            try:
                problem_text, number, unit = row["problem_text"], row["answer_number"], row.get("unit") or ""
                parse_scibench_gold(number, unit)
            except (KeyError, ValueError, TypeError) as err:
                raise ValueError(f"{path} row {k} is not a SciBench problem: {err}") from err
            _, readable = split_unit_scale(unit)
            text = problem_text.strip() + (f"\nThe unit of the answer is {readable}." if readable else "")
            pid = (row.get("problemid") or str(k)).strip()
            problems.append(SciBenchProblem(f"{subset}/{pid}#{k}", text, str(number).strip(), unit))
    if limit is not None and limit < len(problems):
        problems = random.Random(seed).sample(problems, limit)
    return problems


@dataclass
class MethodResult:
    """Accuracy of one method.

    Attributes:
        method: ``"reftool"``, ``"pot"`` or ``"cot"``.
        n: problems solved; correct: right within 5 %; answered: gave any number;
        fallback: RefTool solves that fell back to plain program of thought;
        tools_used: RefTool solves whose final program calls a chosen tool; right_with_tools: those
        among the right answers; seconds: total solve time; outcomes: problem id → right or not (in
        ``results.json`` too, so that two methods or two runs can be compared problem by problem).
    """

    method: str
    n: int = 0
    correct: int = 0
    answered: int = 0
    fallback: int = 0
    tools_used: int = 0
    right_with_tools: int = 0
    seconds: float = 0.0
    model: str = ""
    outcomes: dict[str, bool] = field(default_factory=dict, repr=False)

    @property
    def accuracy(self) -> Interval:
        return wilson_interval(self.correct, self.n)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "model": self.model,
            "n": self.n,
            "correct": self.correct,
            "answered": self.answered,
            "fallback": self.fallback,
            "tools_used": self.tools_used,
            "right_with_tools": self.right_with_tools,
            "seconds": round(self.seconds, 2),
            "accuracy": self.accuracy.to_dict() if self.n else None,
            "outcomes": dict(sorted(self.outcomes.items())),
        }


@dataclass
class EvaluationResult:
    """Per-method results on the same problems."""

    methods: dict[str, MethodResult] = field(default_factory=dict)
    problems: int = 0
    interrupted: bool = False
    workers: int = 1

    def paired(self, method: str, baseline: str, *, seed: int = 0) -> PairedComparison | None:
        """``method`` − ``baseline`` accuracy on the problems both solved, with a paired bootstrap
        95 % interval (``None`` when they share no problem)."""
        a, b = self.methods[baseline].outcomes, self.methods[method].outcomes
        shared = sorted(set(a) & set(b))
        if not shared:
            return None
        return paired_comparison([a[i] for i in shared], [b[i] for i in shared], seed=seed)

    def comparisons(self) -> dict[str, PairedComparison]:
        """RefTool − PoT and RefTool − CoT (those whose methods ran), keyed ``"reftool-pot"``…"""
        if "reftool" not in self.methods:
            return {}
        pairs = {f"reftool-{b}": self.paired("reftool", b) for b in ("pot", "cot") if b in self.methods}
        return {key: comparison for key, comparison in pairs.items() if comparison is not None}

    def to_dict(self) -> dict[str, Any]:
        return {
            "problems": self.problems,
            "interrupted": self.interrupted,
            "workers": self.workers,
            "methods": {m: r.to_dict() for m, r in self.methods.items()},
            "paired": {k: c.to_dict() for k, c in self.comparisons().items()},
        }


def _tools_called(row: dict[str, Any]) -> list[str]:
    """The chosen tools a solve's final program calls (none when it fell back to program of thought)."""
    program = (row.get("trace") or {}).get("program")
    if row.get("fallback") or not program:
        return []
    return [name for name in row.get("tools") or [] if calls(program, name)]


def _record(problem: SciBenchProblem, method: str, trace: Any) -> dict[str, Any]:
    answer = trace.answer
    return {
        "id": problem.id,
        "method": method,
        "correct": is_correct(answer, problem.gold, "scibench"),
        "answer": None if answer is None else {"value": answer.value, "unit": answer.unit},
        "gold": problem.gold,
        "fallback": trace.fallback,
        "tools": [t["name"] for t in trace.tools_chosen],
        "seconds": trace.seconds,
        "error": trace.error,
        "model": trace.model,
        "trace": trace.to_dict(),
    }


def evaluate_scibench(
    solvers: Mapping[str, BaseSolver],
    problems: Sequence[SciBenchProblem],
    *,
    output: Path | None = None,
    progress: bool = True,
    workers: int = 1,
    desc: str = "SciBench chemistry",
) -> EvaluationResult:
    """Solve every problem with every solver and score them.

    With ``output``, each solve is appended to ``output/traces.jsonl`` (a
    :class:`~hf_reft.results.ResultsLog` naming the chat model and the problems) as it finishes,
    solves already there are reused (resume; another model's traces are refused), and
    ``output/results.json`` is written at the end.
    ``workers`` solves run at once (threads): a remote backend answers them concurrently, and a
    local :class:`~hf_reft.reftool.chat.TransformersChatBackend` batches their requests. The
    counts do not depend on ``workers``: every (problem, method) pair is scored once. ``desc``
    names the problems on the progress bar. Any problems with SciBench's gold fields are scored the
    same way, e.g. the book's own exercises (:func:`hf_reft.reftool.exercises.load_book_exercises`).
    """
    if workers < 1:
        raise ValueError(f"workers must be ≥ 1, got {workers}.")
    traces = ResultsLog(
        output / "traces.jsonl" if output is not None else None,
        kind="reftool-evaluation",
        model=sorted({getattr(getattr(s, "backend", None), "name", "") or "" for s in solvers.values()}),
        data=desc,
    )
    done = {(row["id"], row["method"]): row for row in traces.records}
    result = EvaluationResult({m: MethodResult(m) for m in solvers}, problems=len(problems), workers=workers)
    jobs = [(problem, method) for problem in problems for method in solvers]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(jobs), desc=desc, unit="solve")
    lock = threading.Lock()

    def count(row: dict[str, Any]) -> None:
        stats = result.methods[row["method"]]
        stats.n += 1
        stats.correct += bool(row["correct"])
        stats.answered += row["answer"] is not None
        stats.fallback += bool(row["fallback"])
        used = bool(_tools_called(row))
        stats.tools_used += used
        stats.right_with_tools += used and bool(row["correct"])
        stats.outcomes[row["id"]] = bool(row["correct"])
        stats.seconds += float(row["seconds"] or 0.0)
        stats.model = row.get("model") or stats.model
        if bar is not None:
            bar.set_postfix({m: f"{r.correct}/{r.n}" for m, r in result.methods.items()})
            bar.update(1)

    def solve(problem: SciBenchProblem, method: str) -> dict[str, Any]:
        started = time.monotonic()
        trace = solvers[method].solve(problem.text)
        trace.seconds = trace.seconds or time.monotonic() - started
        row = _record(problem, method, trace)
        with lock:
            traces.append([row])
            count(row)
        return row

    todo = []
    for problem, method in jobs:
        row = done.get((problem.id, method))
        if row is None:
            todo.append((problem, method))
        else:
            count(row)
    pool = None
    try:
        if workers == 1:  # in the calling thread, so that Ctrl-C stops the current solve at once
            for problem, method in todo:
                solve(problem, method)
        else:
            pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hf-reft-scibench")
            for future in [pool.submit(solve, problem, method) for problem, method in todo]:
                future.result()
    except KeyboardInterrupt:
        result.interrupted = True
    finally:
        if pool is not None:
            pool.shutdown(wait=not result.interrupted, cancel_futures=True)
        if bar is not None:
            bar.close()
    if output is not None:
        atomic_write_text(output / "results.json", json.dumps(result.to_dict(), indent=2) + "\n")
    return result


def format_table(result: EvaluationResult, *, benchmark: str = "SciBench chemistry") -> str:
    """A Markdown table: method, n, correct, accuracy with its Wilson 95 % interval, and more.

    ``benchmark`` names the problems in the line under the table.
    """
    lines = [
        "| method | n | correct | accuracy % [95% CI] | answered | fell back to PoT | used tools | s/problem |",
        "|---|---:|---:|---|---:|---:|---:|---:|",
    ]
    names = {"reftool": "RefTool", "pot": "PoT", "cot": "CoT"}
    for method, r in result.methods.items():
        accuracy = r.accuracy.format() if r.n else "–"
        fallback = str(r.fallback) if method == "reftool" else "–"
        tools = str(r.tools_used) if method == "reftool" else "–"
        per = f"{r.seconds / r.n:.1f}" if r.n else "–"
        lines.append(
            f"| {names.get(method, method)} | {r.n} | {r.correct} | {accuracy} | {r.answered} | {fallback} | {tools} | {per} |"
        )
    for key, comparison in result.comparisons().items():
        d = comparison.difference
        other = names[key.split("-")[1]]
        lines.append(
            f"\nRefTool − {other}: {d.estimate * 100:+.1f} points, paired bootstrap 95 % [{d.low * 100:+.1f}, "
            f"{d.high * 100:+.1f}] on {comparison.n} problems (RefTool alone right on {comparison.wins}, "
            f"{other} alone on {comparison.losses})."
        )
    if (reftool := result.methods.get("reftool")) is not None and reftool.correct:
        lines.append(
            f"RefTool's program used a chosen tool on {reftool.right_with_tools} of its {reftool.correct} right answers."
        )
    model = next((r.model for r in result.methods.values() if r.model), "")
    if model:
        lines.append(f"\nModel: {model}. {benchmark}, 5 % relative tolerance.")
    if result.workers > 1:
        lines.append(
            f"Solves ran {result.workers} at a time; s/problem is each solve's own time, so overlapping "
            "solves make it longer than the evaluation's time per problem."
        )
    if result.interrupted:
        lines.append("Interrupted: counts cover the problems solved so far.")
    return "\n".join(lines)
