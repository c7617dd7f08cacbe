"""ReinforcedTrainer (PPO) vs TRL's GRPOTrainer: CPU seconds per step, share of generation, peak memory.

Same work per step for every row: the same question at step ``i`` (the data in order, no
shuffling), 4 samples x 128 new tokens (EOS is suppressed until token 128, so every step generates
exactly 512 tokens), a frozen reference model for the KL term, fp32, no activation checkpointing,
the same cheap reward, seed 0. The parent checks that every row saw the same prompt and generated
the same number of tokens in every round.

Interleaved rows: each row is one long-lived child process (its model stays loaded and its peak
RSS is its own), driven by the parent over a pipe. A round asks every row for one step, one
child computing at a time, the order rotated each round, so that drift in the machine's load
hits all rows alike. The first ``--warmup`` rounds are not timed; then ``--steps`` rounds are.

Measured per step, in the child: CPU time of the process (``time.process_time``, all its threads;
the headline, since it depends little on other load), wall time, and the CPU time inside the
policy's ``generate`` (generation share = that / the step's CPU time). Reported per row: median
CPU s/step with a 95 % percentile-bootstrap interval, median wall s/step, median generation share,
peak RSS; and ours / grpo of the median CPU s/step, with an interval from resampling rounds (a
round's steps stay paired: same prompt, same moment of the machine's load).

Rows:
  ours         ReinforcedTrainer, the paper's PPO defaults (2 PPO epochs, value head, GAE, beta 0.05)
  ours-1epoch  the same with 1 PPO epoch (GRPO's num_iterations=1 does one pass)
  grpo         GRPOTrainer, beta 0.04 (loads a reference model), fp32, no gradient checkpointing
  grpo-trl-defaults  GRPOTrainer with TRL's own bf16 and gradient-checkpointing defaults (not run
               unless named in --rows)

All rows' models stay loaded together: about 4.5 GB of RAM per row with SmolLM2-135M-Instruct.
TRL is an optional benchmark dependency: ``pip install -e .[bench]``.

Usage::

    python benchmarks/reinforced_vs_grpo.py [--steps 10] [--rows ours,ours-1epoch,grpo]
        [--threads 1] [--model FOLDER] [--output results.json]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from hf_reft.stats import Interval

SAMPLES = 4
NEW_TOKENS = 128
ROWS = ("ours", "ours-1epoch", "grpo", "grpo-trl-defaults")
DEFAULT_ROWS = ("ours", "ours-1epoch", "grpo")
BASELINE = "grpo"
RESAMPLES = 10_000


@dataclass(frozen=True)
class Settings:
    """What every child needs to know: the model folder (``None``: the offline default), how
    many steps it will be asked for, and its torch threads."""

    model: str | None
    total_steps: int
    threads: int


# ----------------------------------------------------------------------------- child side


def _reward(prompts: list[str], completions: list[str], **kwargs: Any) -> list[float]:
    """Cheap and identical for both: did the sample state an answer?"""
    return [1.0 if "answer is" in c else 0.0 for c in completions]


class _GenerateTimer:
    """Wraps ``model.generate``: CPU and wall seconds inside it, new tokens, prompts seen."""

    def __init__(self, model: Any) -> None:
        self.inner = model.generate
        model.generate = self
        self.reset()

    def reset(self) -> None:
        self.cpu, self.wall, self.tokens = 0.0, 0.0, 0
        self.prompts: set[tuple[int, ...]] = set()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        cpu, wall = time.process_time(), time.perf_counter()
        out = self.inner(*args, **kwargs)
        self.cpu += time.process_time() - cpu
        self.wall += time.perf_counter() - wall
        ids = kwargs.get("input_ids", args[0] if args else None)
        mask = kwargs.get("attention_mask")
        sequences = getattr(out, "sequences", out)
        self.tokens += int(sequences.shape[0] * (sequences.shape[1] - ids.shape[1]))
        for i, row in enumerate(ids):
            self.prompts.add(tuple((row if mask is None else row[mask[i].bool()]).tolist()))
        return out

    def prompt_fingerprint(self) -> int:
        """The same number in every process for the same prompts (left padding removed)."""
        return zlib.crc32(repr(sorted(self.prompts)).encode())


def _step_clock(conn: Connection, timer: _GenerateTimer) -> Any:
    """A callback that waits for the parent's go before each step and sends back its timings."""
    from transformers import TrainerCallback

    class StepClock(TrainerCallback):
        def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            conn.recv()
            timer.reset()
            self.cpu, self.wall = time.process_time(), time.perf_counter()

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            cpu, wall = time.process_time() - self.cpu, time.perf_counter() - self.wall
            conn.send(
                {
                    "cpu_s": cpu,
                    "wall_s": wall,
                    "generation_cpu_s": timer.cpu,
                    "generation_wall_s": timer.wall,
                    "tokens": timer.tokens,
                    "prompt": timer.prompt_fingerprint(),
                }
            )

    return StepClock()


def _dataset(size: int) -> Any:
    """The first ``size`` SVAMP questions with the paper's NL prompt, in order."""
    from datasets import Dataset

    from hf_reft.data import load_data
    from hf_reft.reinforced.prompts import build_prompt

    questions, _ = load_data("svamp-nl", limit=size)
    if len(questions) < size:
        raise ValueError(f"svamp-nl has {len(questions)} questions; {size} steps need one each.")
    prompts = [build_prompt(q, "nl") for q in questions["question"]]
    return Dataset.from_dict({"prompt": prompts, "answer_value": questions["answer_value"]})


def _ours(row: str, model: Any, tokenizer: Any, dataset: Any, common: dict[str, Any], callback: Any) -> Any:
    from hf_reft.reinforced import ReinforcedConfig, ReinforcedTrainer

    model.generation_config.min_new_tokens = NEW_TOKENS
    config = ReinforcedConfig(
        per_device_train_batch_size=1,
        samples_per_question=SAMPLES,
        max_new_tokens=NEW_TOKENS,
        ppo_epochs=1 if row == "ours-1epoch" else 2,
        num_mini_batches=1,
        kl_coef=0.05,
        forward_batch_size=SAMPLES,
        train_sampling_strategy="sequential",
        **common,
    )
    return ReinforcedTrainer(
        model,
        config,
        train_dataset=dataset,
        processing_class=tokenizer,
        reward_funcs=_reward,
        callbacks=[callback],
    )


def _grpo(row: str, model: Any, tokenizer: Any, dataset: Any, common: dict[str, Any], callback: Any) -> Any:
    from trl import GRPOConfig, GRPOTrainer

    precision = {} if row == "grpo-trl-defaults" else {"bf16": False, "gradient_checkpointing": False}
    config = GRPOConfig(
        per_device_train_batch_size=SAMPLES,
        num_generations=SAMPLES,
        max_completion_length=NEW_TOKENS,
        generation_kwargs={"min_new_tokens": NEW_TOKENS},
        beta=0.04,
        shuffle_dataset=False,
        **precision,
        **common,
    )
    return GRPOTrainer(
        model=model,
        reward_funcs=_reward,
        args=config,
        train_dataset=dataset,
        processing_class=tokenizer,
        callbacks=[callback],
    )


def _child(row: str, settings: Settings, conn: Connection) -> None:
    """One row: load, say ready, train ``total_steps`` steps at the parent's pace, send peak RSS."""
    import warnings

    import torch
    from transformers import PrinterCallback
    from transformers.utils.logging import disable_progress_bar

    from hf_reft.models import load_chat_model

    warnings.filterwarnings("ignore", category=FutureWarning)  # TRL's use of renamed transformers options
    disable_progress_bar()
    torch.set_num_threads(settings.threads)
    torch.manual_seed(0)
    model, tokenizer = load_chat_model(settings.model)
    timer = _GenerateTimer(model)
    dataset = _dataset(settings.total_steps)
    output_dir = tempfile.mkdtemp(prefix=f"bench-{row}-")
    common = {
        "output_dir": output_dir,
        "max_steps": settings.total_steps,
        "learning_rate": 1e-6,
        "logging_strategy": "no",
        "save_strategy": "no",
        "report_to": "none",
        "use_cpu": True,
        "disable_tqdm": True,
        "seed": 0,
    }
    build = _ours if row.startswith("ours") else _grpo
    trainer = build(row, model, tokenizer, dataset, common, _step_clock(conn, timer))
    trainer.remove_callback(PrinterCallback)  # its end-of-training metrics would cut into the report
    conn.send("ready")
    trainer.train()
    shutil.rmtree(output_dir, ignore_errors=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
    conn.send({"peak_rss_gb": peak, "torch_threads": torch.get_num_threads()})


# ----------------------------------------------------------------------------- parent side


class _Row:
    """The parent's handle on one row's child process."""

    def __init__(self, row: str, settings: Settings) -> None:
        self.row = row
        context = get_context("spawn")
        self.conn, child_end = context.Pipe()
        self.process = context.Process(
            target=_child, args=(row, settings, child_end), daemon=True, name=f"bench-{row}"
        )
        self.process.start()
        child_end.close()
        self._receive()  # "ready": the next row loads only after this one has

    def _receive(self) -> Any:
        try:
            return self.conn.recv()
        except EOFError:
            self.process.join()
            sys.exit(f"row {self.row} died (exit code {self.process.exitcode}); its traceback is above.")

    def step(self) -> dict[str, Any]:
        self.conn.send("step")
        return self._receive()

    def finish(self) -> dict[str, Any]:
        final = self._receive()
        self.process.join()
        return final


def _run_rounds(rows: list[_Row], rounds: int, warmup: int) -> dict[str, list[dict[str, Any]]]:
    """``rounds`` rounds of one step per row, the order rotated by one row each round."""
    records: dict[str, list[dict[str, Any]]] = {r.row: [] for r in rows}
    for i in range(rounds):
        order = rows[i % len(rows) :] + rows[: i % len(rows)]
        for r in order:
            records[r.row].append(r.step())
        line = "  ".join(f"{r.row} {records[r.row][-1]['cpu_s']:.1f}" for r in rows)
        kind = "warm-up" if i < warmup else "timed"
        print(f"round {i + 1}/{rounds} ({kind}), CPU s: {line}", flush=True)
    return records


def _check_same_work(records: dict[str, list[dict[str, Any]]]) -> None:
    """Every row must have seen the same prompt and generated the same tokens in every round."""
    for i, steps in enumerate(zip(*records.values(), strict=True)):
        if len({(s["prompt"], s["tokens"]) for s in steps}) > 1:
            detail = {row: (s["prompt"], s["tokens"]) for row, s in zip(records, steps, strict=True)}
            sys.exit(f"round {i + 1}: the rows did different work (prompt fingerprint, tokens): {detail}")


def _bootstrap(statistic: Callable[[np.ndarray], np.ndarray], columns: np.ndarray) -> Interval:
    """Percentile-bootstrap 95 % interval of ``statistic`` over ``columns`` (``[rounds, k]``):
    rounds are drawn with replacement, a round's ``k`` values together."""
    rng = np.random.default_rng(0)
    n = columns.shape[0]
    values = statistic(columns[rng.integers(0, n, size=(RESAMPLES, n))])
    low, high = np.quantile(values, [0.025, 0.975])
    return Interval(float(statistic(columns[None])[0]), float(low), float(high))


def _median(draws: np.ndarray) -> np.ndarray:
    return np.median(draws[..., 0], axis=-1)


def _median_ratio(draws: np.ndarray) -> np.ndarray:
    return np.median(draws[..., 0], axis=-1) / np.median(draws[..., 1], axis=-1)


def _summary(row: str, steps: list[dict[str, Any]], final: dict[str, Any]) -> dict[str, Any]:
    cpu = np.array([s["cpu_s"] for s in steps])
    return {
        "row": row,
        "steps_timed": len(steps),
        "cpu_s_per_step": _bootstrap(_median, cpu[:, None]).to_dict(),
        "wall_s_per_step": float(np.median([s["wall_s"] for s in steps])),
        "generation_share": float(np.median([s["generation_cpu_s"] / s["cpu_s"] for s in steps])),
        "tokens_per_step": sorted({s["tokens"] for s in steps}),
        **final,
        "steps": steps,
    }


def _ratios(timed: dict[str, list[dict[str, Any]]], summaries: dict[str, dict[str, Any]]) -> list[dict]:
    """Each of our rows / the GRPO row: median CPU s/step (rounds resampled) and peak RSS."""
    if BASELINE not in timed:
        return []
    ratios = []
    for row in (r for r in timed if r.startswith("ours")):
        cpu = np.array([[a["cpu_s"], b["cpu_s"]] for a, b in zip(timed[row], timed[BASELINE], strict=True)])
        rss = summaries[row]["peak_rss_gb"] / summaries[BASELINE]["peak_rss_gb"]
        ratios.append(
            {
                "rows": f"{row} / {BASELINE}",
                "cpu_s_per_step": _bootstrap(_median_ratio, cpu).to_dict(),
                "peak_rss": rss,
            }
        )
    return ratios


def _interval(d: dict[str, float], digits: int = 2) -> str:
    return Interval(d["estimate"], d["low"], d["high"]).format(scale=1.0, digits=digits)


def _print_report(summaries: list[dict[str, Any]], ratios: list[dict[str, Any]], settings: Settings) -> None:
    print(
        f"\n1 question x {SAMPLES} samples x {NEW_TOKENS} tokens per step, {summaries[0]['steps_timed']} "
        f"timed steps per row (interleaved), {settings.threads} torch thread(s), "
        f"model {settings.model or 'SmolLM2-135M-Instruct (offline default)'}\n"
    )
    print(
        "| row | CPU s/step, median [95 % CI] | wall s/step, median | generation share | peak RSS GB | tokens/step |"
    )
    print("|---|---|---|---|---|---|")
    for s in summaries:
        tokens = "/".join(str(t) for t in s["tokens_per_step"])
        print(
            f"| {s['row']} | {_interval(s['cpu_s_per_step'])} | {s['wall_s_per_step']:.2f} "
            f"| {s['generation_share']:.0%} | {s['peak_rss_gb']:.2f} | {tokens} |"
        )
    for r in ratios:
        print(
            f"\n{r['rows']}: {_interval(r['cpu_s_per_step'])}x median CPU s/step "
            f"(95 % CI, rounds resampled), {r['peak_rss']:.2f}x peak RSS"
        )


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=10, help="timed steps per row (default 10)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps per row first (default 1)")
    parser.add_argument(
        "--rows",
        default=",".join(DEFAULT_ROWS),
        help=f"comma-separated subset of {ROWS} (default: {DEFAULT_ROWS})",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads per row (default 1)")
    parser.add_argument("--model", help="model folder (default: the offline SmolLM2-135M-Instruct)")
    parser.add_argument("--output", help="also write the results, every step included, to this JSON file")
    args = parser.parse_args()
    args.rows = [r for r in args.rows.split(",") if r]
    if unknown := set(args.rows) - set(ROWS):
        parser.error(f"unknown rows {sorted(unknown)}; choose from {ROWS}")
    if args.steps < 2 or args.warmup < 1 or args.threads < 1:
        parser.error("--steps must be >= 2, --warmup >= 1 and --threads >= 1")
    return args


def main() -> None:
    args = _parse_args()
    settings = Settings(args.model, args.warmup + args.steps, args.threads)
    rows = []
    for row in args.rows:
        print(f"loading {row} ...", flush=True)
        rows.append(_Row(row, settings))
    records = _run_rounds(rows, settings.total_steps, args.warmup)
    finals = {r.row: r.finish() for r in rows}
    _check_same_work(records)
    timed = {row: steps[args.warmup :] for row, steps in records.items()}
    summaries = {row: _summary(row, steps, finals[row]) for row, steps in timed.items()}
    ratios = _ratios(timed, summaries)
    _print_report(list(summaries.values()), ratios, settings)
    if args.output:
        result = {"settings": asdict(settings), "warmup": args.warmup, "rows": list(summaries.values())}
        Path(args.output).write_text(json.dumps({**result, "ratios": ratios}, indent=2))


if __name__ == "__main__":
    main()
