"""Warm-up SFT in both chain-of-thought formats on SmolLM2-135M-Instruct, and its evaluation.

Reproduces the closing-note run of reinforced fine-tuning part 1:

1. warm-up SFT of the full model on SVAMP chains of thought, natural language (``svamp-nl``) and
   programs (``svamp-program``), prompt ``"Question:\\n{q}\\nAnswer reasoning:\\n"``;
2. greedy accuracy of the base model and of each warm-up model on the first ``--n-greedy`` (300)
   questions of the SVAMP test set (``svamp-test``, which the training data does not overlap:
   checked), with 95 % Wilson intervals and the paired-bootstrap interval of the difference;
3. vote@8 on the first ``--n-vote`` (100) of those questions.

Every stage is cached under ``--output``: a finished warm-up folder is reused, SFT resumes from
its last checkpoint, and each evaluation resumes from its JSONL cache — rerun the same command
after an interruption and it continues. ``--stages`` picks what to run (in priority order by
default, so the headline numbers come first). Results: ``OUTPUT/results.md`` and ``results.json``.

    nohup nice -n 10 python examples/reinforced_warmup.py --output runs/reinforced-warmup > runs/reinforced-warmup.log 2>&1 &
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from hf_reft.hub import atomic_write_text
from hf_reft.reinforced.evaluation import (
    EvaluationReport,
    compare_greedy,
    evaluate_model,
    format_table,
    rescore,
)
from hf_reft.reinforced.prompts import get_format
from hf_reft.reinforced.sft import WARMUP_INFO_NAME, default_test_sets, load_policy, warmup_sft

FORMATS = ("nl", "program")
DEFAULT_STAGES = (
    "sft-nl",
    "greedy-warmup-nl",
    "greedy-base-nl",
    "greedy-base-program",
    "sft-program",
    "greedy-warmup-program",
    "vote-warmup-nl",
    "vote-warmup-program",
    "vote-base-nl",
    "vote-base-program",
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--output", default="runs/reinforced-warmup", help="folder for every stage's results")
    parser.add_argument("--model", default=None, help="base model (default: offline SmolLM2-135M-Instruct)")
    parser.add_argument("--data-dir", default=None, help="shared data folder (default ../shared/data)")
    parser.add_argument("--stages", nargs="+", default=list(DEFAULT_STAGES), choices=DEFAULT_STAGES)
    parser.add_argument("--max-steps", type=int, default=40, help="SFT steps per format")
    parser.add_argument("--batch-size", type=int, default=8, help="SFT batch size")
    parser.add_argument("--learning-rate", type=float, default=5e-5)
    parser.add_argument(
        "--max-length", type=int, default=224, help="SFT tokens per example (longer ones are dropped: ~4 %%)"
    )
    parser.add_argument("--n-greedy", type=int, default=300, help="first N svamp-test questions, greedy")
    parser.add_argument("--n-vote", type=int, default=100, help="first N of them for vote@k")
    parser.add_argument("--vote-k", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=160)
    parser.add_argument("--eval-batch-size", type=int, default=16, help="completions generated at once")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (default 1: on a shared, oversubscribed CPU one thread generated ~10x faster than two)",
    )
    parser.add_argument(
        "--dtype",
        choices=("float32", "bfloat16"),
        default="bfloat16",
        help="bf16 autocast for SFT (fp32 master weights) and bf16 weights for evaluation: ~2x faster on "
        "CPUs with bf16 units (default); float32 for full precision",
    )
    return parser.parse_args()


def run_sft(args: argparse.Namespace, fmt: str, folder: Path) -> None:
    if (folder / WARMUP_INFO_NAME).is_file():
        print(f"[sft-{fmt}] cached: {folder}", flush=True)
        return
    checkpoints = sorted(
        (folder / "checkpoints").glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1])
    )
    train_set = f"svamp-{fmt}"
    result = warmup_sft(
        args.model,
        train_set,
        folder,
        format=fmt,
        data_dir=args.data_dir,
        test_sets=default_test_sets(train_set),
        max_length=args.max_length,
        max_steps=args.max_steps,
        per_device_train_batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        warmup_steps=max(1, args.max_steps // 10),
        logging_steps=5,
        save_strategy="steps",
        save_steps=20,
        save_total_limit=1,
        resume_from_checkpoint=str(checkpoints[-1]) if checkpoints else None,
        bf16=args.dtype == "bfloat16",
    )
    print(
        f"[sft-{fmt}] done in {result.info.train_seconds / 60:.1f} min, final loss {result.info.final_loss}"
    )


def run_eval(
    args: argparse.Namespace, stage: str, fmt: str, who: str, out: Path, policies: dict
) -> EvaluationReport:
    same_prompt = get_format("nl").prompt("q") == get_format("program").prompt("q")
    nl_report = out / f"{stage}-base-nl.json"
    if who == "base" and fmt == "program" and same_prompt and nl_report.is_file():
        # The base model is prompted identically in both formats: read its completions as programs.
        report = rescore(EvaluationReport.load(nl_report), format="program")
        report.model = "base (program)"
        report.save(out / f"{stage}-{who}-{fmt}.json")
        return report
    model = None if who == "base" else str(out / f"warmup-{fmt}")
    if who == "base" and args.model:
        model = args.model
    vote = stage == "vote"
    key = model or "base"
    if key not in policies:  # one loaded copy per model across stages
        policies.clear()
        policies[key] = load_policy(model, dtype=getattr(torch, args.dtype))
    report = evaluate_model(
        model,
        "svamp-test",
        format=fmt,
        data_dir=args.data_dir,
        limit=args.n_vote if vote else args.n_greedy,
        greedy=not vote,
        vote_k=args.vote_k if vote else 0,
        max_new_tokens=args.max_new_tokens,
        batch_size=args.eval_batch_size * (2 if vote else 1),
        cache_path=out / "cache" / f"{stage}-{who}-{fmt}.jsonl",
        dtype=args.dtype,
        policy=policies[key],
    )
    report.model = f"{who} ({fmt})"
    report.save(out / f"{stage}-{who}-{fmt}.json")
    return report


def summarize(out: Path) -> None:
    reports: dict[str, EvaluationReport] = {}
    for path in sorted(out.glob("*-*-*.json")):
        if path.name.startswith(("greedy-", "vote-")):
            reports[path.stem] = EvaluationReport.load(path)
    rows, names, extra = [], [], {}
    for fmt in FORMATS:
        for who in ("base", "warmup"):
            greedy = reports.get(f"greedy-{who}-{fmt}")
            vote = reports.get(f"vote-{who}-{fmt}")
            if greedy is None and vote is None:
                continue
            merged = greedy or vote
            if greedy is not None and vote is not None:
                merged = EvaluationReport(
                    merged.model,
                    merged.data,
                    vote.settings,
                    greedy.greedy,
                    vote.vote,
                    greedy.greedy_seconds,
                    vote.vote_seconds,
                )
            rows.append(merged)
            names.append(f"{'SmolLM2-135M-Instruct' if who == 'base' else 'warm-up SFT'}")
        base, warm = reports.get(f"greedy-base-{fmt}"), reports.get(f"greedy-warmup-{fmt}")
        if base is not None and warm is not None:
            diff = compare_greedy(base, warm)
            extra[fmt] = diff.to_dict()
    sft = {}
    for fmt in FORMATS:
        info_path = out / f"warmup-{fmt}" / WARMUP_INFO_NAME
        if info_path.is_file():
            sft[fmt] = json.loads(info_path.read_text())
    lines = ["# Reinforced fine-tuning, part 1: warm-up SFT on SmolLM2-135M-Instruct", ""]
    if rows:
        lines += [format_table(rows, names=names), ""]
    for fmt, diff in extra.items():
        lines.append(
            f"- {fmt}: warm-up − base greedy accuracy = {diff['estimate'] * 100:+.1f} points, "
            f"95 % paired-bootstrap interval [{diff['low'] * 100:+.1f}, {diff['high'] * 100:+.1f}]"
        )
    for who in ("base", "warmup"):
        path = out / f"greedy-{who}-nl.json"
        if path.is_file():
            lenient = rescore(EvaluationReport.load(path), strict=False).greedy_accuracy
            lines.append(
                f"- {who} nl, lenient rule (last number when no answer sentence): {lenient.format()} %"
            )
    for fmt, info in sft.items():
        lines.append(
            f"- SFT {fmt}: {info['steps']} steps × batch {info['batch_size']}, lr {info['learning_rate']}, "
            f"max length {info['max_length']}, final loss {info['final_loss']:.3f}, "
            f"{info['train_seconds'] / 60:.1f} min"
        )
    atomic_write_text(out / "results.md", "\n".join(lines) + "\n")
    atomic_write_text(
        out / "results.json",
        json.dumps(
            {"reports": {k: r.summary() for k, r in reports.items()}, "differences": extra, "sft": sft},
            indent=1,
        )
        + "\n",
    )
    print("\n".join(lines), flush=True)


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    policies: dict = {}
    for stage in args.stages:
        started = time.perf_counter()
        kind, rest = stage.split("-", 1)
        if kind == "sft":
            policies.clear()
            run_sft(args, rest, out / f"warmup-{rest}")
        else:
            who, fmt = rest.split("-")
            if who == "warmup" and not (out / f"warmup-{fmt}" / WARMUP_INFO_NAME).is_file():
                print(f"[{stage}] skipped: run sft-{fmt} first", flush=True)
                continue
            report = run_eval(args, kind, fmt, who, out, policies)
            print(report.table(), flush=True)
        print(f"[{stage}] {(time.perf_counter() - started) / 60:.1f} min", flush=True)
        summarize(out)


if __name__ == "__main__":
    main()
