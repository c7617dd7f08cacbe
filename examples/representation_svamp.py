"""LoReFT on SmolLM2-135M-Instruct, trained on SVAMP chains of thought, evaluated against the base model.

Reproduces the closing-note run of hf-reft's LoReFT training issue:

1. train a LoReFT adapter on ``svamp-nl`` (``mwp-reft/svamp_nl.json``: 3,076 SVAMP training
   questions with natural-language chains of thought ending in ``Therefore, the answer is <X>.``)
   for at most ``--budget-minutes`` of training time (CPU time by default; see ``--budget-clock``);
2. evaluate, on one fixed random subset of ``--n-eval`` questions of ``svamp-test``
   (``mwp-reft/svamp_test_set.json``, no overlap with the training questions — checked), with greedy
   decoding: the adapter, the untouched base model on the same prompt, and the base model with its
   chat template;
3. report accuracies with 95 % Wilson intervals and the paired differences (adapter − base) with
   95 % paired-bootstrap intervals, in ``results.json`` / ``results.md`` and in the adapter's card.

Every stage is cached in ``--output``: the subset, the training checkpoints (resumed, with the
remaining time budget), the finished adapter, each evaluation's completions (JSONL, batch by
batch). Run the same command again after an interruption and it continues where it stopped.

    python examples/representation_svamp.py --output runs/representation_svamp --threads 1

On a machine shared with other jobs use ``--threads 1``: PyTorch's thread pool slows down many
times over when its threads are descheduled.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import time
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

import hf_reft
from hf_reft import hub
from hf_reft.data import check_no_overlap, load_data
from hf_reft.models import load_chat_model
from hf_reft.representation.evaluation import (
    GenerationEvaluation,
    add_evaluation_to_card,
    evaluate_generation,
    paired_comparison,
)
from hf_reft.representation.training import CHECKPOINTS_DIR, train_adapter

PROMPT = "Question:\n{question}\nAnswer reasoning:\n"  # the reinforced-fine-tuning paper's NL format


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--output", default="runs/representation_svamp", help="folder for every stage's results"
    )
    parser.add_argument("--data-dir", default=None, help="shared data folder (default: ../shared/data)")
    parser.add_argument(
        "--model", default=None, help="base model (default: the offline SmolLM2-135M-Instruct)"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch threads (1 on a busy machine)")
    parser.add_argument("--seed", type=int, default=0)
    # training
    parser.add_argument("--budget-minutes", type=float, default=15.0, help="training time budget")
    parser.add_argument("--budget-clock", choices=("cpu", "wall"), default="cpu")
    parser.add_argument("--layers", default="6,12,18,24")
    parser.add_argument("--positions", default="f5+l5")
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--save-steps", type=int, default=10)
    # evaluation
    parser.add_argument("--n-eval", type=int, default=300, help="size of the fixed svamp-test subset")
    parser.add_argument("--eval-batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=200)
    parser.add_argument(
        "--stages",
        default="train,adapter,base,base-chat,report",
        help="comma-separated stages to run (each is skipped when its result is cached)",
    )
    return parser.parse_args(argv)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def eval_subset(args: argparse.Namespace, out: Path):
    """The fixed evaluation subset: ``n_eval`` questions of svamp-test drawn with ``seed``."""
    test, _ = load_data("svamp-test", args.data_dir)
    path = out / "eval_subset.json"
    if path.is_file():
        indices = json.loads(path.read_text())["indices"]
    else:
        indices = sorted(random.Random(args.seed).sample(range(len(test)), args.n_eval))
        hub.atomic_write_text(
            path, json.dumps({"dataset": "svamp-test", "seed": args.seed, "indices": indices})
        )
    if len(indices) != args.n_eval:
        raise SystemExit(
            f"{path} holds {len(indices)} questions but --n-eval is {args.n_eval}; use another --output."
        )
    return test.select(indices)


def train(args: argparse.Namespace, out: Path, test) -> None:
    """Train the adapter with :func:`hf_reft.representation.train_adapter`, its schedule sized to the budget."""
    adapter_dir = out / "adapter"
    if (out / "train_summary.json").is_file():
        log(f"adapter already trained: {adapter_dir}")
        return
    train_rows, spec = load_data("svamp-nl", args.data_dir)
    check_no_overlap(train_rows["question"], test["question"], train_name="svamp-nl", test_name="svamp-test")
    config = hf_reft.ReftConfig(
        layers=[int(x) for x in args.layers.split(",")] if args.layers != "all" else "all",
        positions=args.positions,
        rank=args.rank,
        intervention="loreft",
    )
    resume = (adapter_dir / CHECKPOINTS_DIR).is_dir() and any(
        (adapter_dir / CHECKPOINTS_DIR).glob("checkpoint-*")
    )
    log("resuming from the last checkpoint" if resume else "no checkpoint: training from the start")
    trained = train_adapter(
        args.model,
        train_rows,
        config,
        adapter_dir,
        response_column=spec.target,
        prompt_template=PROMPT,
        max_length=args.max_length,
        learning_rate=args.lr,
        batch_size=args.batch_size,
        warmup=0.05,
        save_steps=args.save_steps,
        logging_steps=5,
        seed=args.seed,
        max_train_seconds=args.budget_minutes * 60,
        budget_clock=args.budget_clock,
        fit_schedule_to_budget=True,
        resume=resume,
        keep_checkpoints=True,  # until the summary below is written: an interruption resumes, never retrains
    )
    trainable, total = trained.model.get_nb_trainable_parameters()
    losses = trained.summary["losses"]
    summary = {
        "steps": trained.summary["steps"],
        "examples_seen": trained.summary["steps"] * args.batch_size,
        "train_wall_minutes": trained.summary["train_wall_s"] / 60,
        "train_cpu_minutes": trained.summary["train_cpu_s"] / 60,
        "budget_minutes": args.budget_minutes,
        "budget_clock": args.budget_clock,
        "budget_plan": trained.summary["budget_plan"],
        "threads": torch.get_num_threads(),
        "losses": losses,
        "first_loss": losses[0][1] if losses else None,
        "last_loss": losses[-1][1] if losses else None,
        "train_loss": trained.summary["train_loss"],
        "trainable_params": trainable,
        "all_params": total,
        "config": {
            "layers": args.layers,
            "positions": args.positions,
            "rank": args.rank,
            "lr": args.lr,
            "batch_size": args.batch_size,
            "max_length": args.max_length,
            "prompt_template": PROMPT,
        },
    }
    hub.atomic_write_text(out / "train_summary.json", json.dumps(summary, indent=2))
    shutil.rmtree(adapter_dir / CHECKPOINTS_DIR, ignore_errors=True)
    log(
        f"trained {summary['steps']} steps in {summary['train_wall_minutes']:.1f} wall / "
        f"{summary['train_cpu_minutes']:.1f} CPU minutes; loss {summary['first_loss']} -> {summary['last_loss']}"
    )


def evaluate(args: argparse.Namespace, out: Path, test, name: str) -> GenerationEvaluation:
    path = out / f"eval_{name}.json"
    if path.is_file():
        result = GenerationEvaluation.load(path)
        log(f"{name}: cached, {result.summary()}")
        return result
    if name == "adapter":
        model = AutoModelForCausalLM.from_pretrained(
            out / "adapter"
        )  # base + interventions, from the card's config
        tokenizer = AutoTokenizer.from_pretrained(out / "adapter")  # saved beside the adapter by ReftTrainer
    else:
        model, tokenizer = load_chat_model(args.model)
    result = evaluate_generation(
        model,
        tokenizer,
        test,
        question_column="question",
        answer_column="answer_value",
        benchmark="svamp",
        prompt_template=PROMPT,
        use_chat_template=name == "base-chat",
        batch_size=args.eval_batch_size,
        max_new_tokens=args.max_new_tokens,
        cache_file=out / f"eval_{name}.cache.jsonl",
        dataset_name="svamp-test",
    )
    result.settings["cpu_threads"] = torch.get_num_threads()
    result.save(path)
    log(f"{name}: {result.summary()} in {result.seconds / 60:.1f} min")
    return result


def report(args: argparse.Namespace, out: Path, results: dict[str, GenerationEvaluation]) -> None:
    summary = json.loads((out / "train_summary.json").read_text())
    adapter = results["adapter"]
    comparisons = {
        f"LoReFT − base ({label})": paired_comparison(results[key], adapter)
        for key, label in (("base", "same prompt"), ("base-chat", "chat template"))
        if key in results
    }
    labels = {
        "adapter": "LoReFT adapter",
        "base": "base model, same prompt",
        "base-chat": "base model, chat template",
    }
    table = {labels[k]: v for k, v in results.items()}
    notes = (
        f"Trained on `svamp-nl` for {summary['steps']} steps of batch {summary['config']['batch_size']} "
        f"({summary['train_cpu_minutes']:.1f} CPU minutes, {summary['train_wall_minutes']:.1f} wall minutes, "
        f"{summary['threads']} thread(s)); trainable parameters {summary['trainable_params']:,}. "
        f"Evaluated on a fixed random subset (seed {args.seed}) of `svamp-test`."
    )
    add_evaluation_to_card(out / "adapter", table, comparisons=comparisons, notes=notes)
    payload = {
        "train": summary,
        "results": {k: v.to_dict(with_records=False) for k, v in results.items()},
        "comparisons": comparisons,
    }
    hub.atomic_write_text(out / "results.json", json.dumps(payload, indent=2))
    lines = [
        "| model | n | accuracy % | 95 % Wilson | extracted % | eval minutes |",
        "|---|---|---|---|---|---|",
    ]
    for key, result in results.items():
        low, high = result.interval
        lines.append(
            f"| {labels[key]} | {result.n} | {100 * result.accuracy:.1f} | [{100 * low:.1f}, {100 * high:.1f}] | "
            f"{100 * result.extracted:.0f} | {result.seconds / 60:.1f} |"
        )
    for label, comparison in comparisons.items():
        d = comparison["difference"]
        lines.append(
            f"\n{label}: {100 * d['estimate']:+.1f} points, 95 % paired bootstrap [{100 * d['low']:+.1f}, "
            f"{100 * d['high']:+.1f}] (n={comparison['n']}, won {comparison['wins']}, lost {comparison['losses']})"
        )
    lines.append("\n" + notes)
    hub.atomic_write_text(out / "results.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    stages = set(args.stages.split(","))
    test = eval_subset(args, out)
    log(f"evaluation subset: {len(test)} questions of svamp-test; output {out.resolve()}")
    if "train" in stages:
        train(args, out, test)
    results: dict[str, GenerationEvaluation] = {}
    for name in ("adapter", "base", "base-chat"):
        if name in stages:
            results[name] = evaluate(args, out, test, name)
    if "report" in stages and "adapter" in results:
        report(args, out, results)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
