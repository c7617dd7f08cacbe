"""LoReFT vs peft LoRA (rank 4 on q_proj/v_proj) on SmolLM2-135M-Instruct, at a matched training budget.

Both methods see the same data (``svamp-nl``, the same shuffled order, batch 8, the same prompt
format), get the same training-time budget, and are evaluated by greedy decoding on the same fixed
held-out subset of ``svamp-test``. Reported side by side:

* trainable parameters;
* seconds per optimizer step (median over ``--timing-steps`` identical batches, the two methods
  interleaved round by round, each in its own process so that memory is its own);
* peak memory: the process's peak resident set during those steps, minus the resident set after
  loading the model (what training adds), and in total;
* held-out accuracy with 95 % Wilson intervals, and the paired difference LoReFT − LoRA with a 95 %
  paired-bootstrap interval.

Every stage is cached in ``--output``; rerun the same command to continue after an interruption.
``--reuse-loreft DIR`` takes the LoReFT adapter and its evaluation from a finished
``examples/representation_svamp.py`` run instead of training it again (its budget, clock, batch
size and evaluation subset must match).

    python benchmarks/representation_vs_lora.py --output runs/representation_vs_lora --threads 1 \\
        --budget-clock cpu --reuse-loreft runs/representation_svamp
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

PROMPT = "Question:\n{question}\nAnswer reasoning:\n"
METHODS = ("loreft", "lora")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", default="runs/representation_vs_lora")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budget-minutes", type=float, default=15.0)
    parser.add_argument("--budget-clock", choices=("wall", "cpu"), default="wall")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--loreft-lr", type=float, default=4e-3)
    parser.add_argument("--lora-lr", type=float, default=1e-3)
    parser.add_argument("--timing-steps", type=int, default=6, help="timed steps per method and round")
    parser.add_argument("--timing-rounds", type=int, default=2)
    parser.add_argument("--n-eval", type=int, default=300)
    parser.add_argument("--eval-batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=200)
    parser.add_argument(
        "--reuse-loreft", default=None, help="a finished examples/representation_svamp.py output"
    )
    parser.add_argument("--worker", choices=METHODS, default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def rss_mb() -> float:
    """Current resident set of this process in MiB (Linux)."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ------------------------------------------------------------------------------------------- models
def build(method: str, seed: int):
    """``(model, tokenizer)``: the default chat model wrapped for ``method`` (fresh weights each call)."""
    import hf_reft
    from hf_reft.models import load_chat_model

    base, tokenizer = load_chat_model()
    torch.manual_seed(seed)
    if method == "loreft":
        config = hf_reft.ReftConfig(layers=[6, 12, 18, 24], positions="f5+l5", rank=8, intervention="loreft")
        return hf_reft.get_reft_model(base, config), tokenizer
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"
    )
    return get_peft_model(base, config), tokenizer


def training_data(args: argparse.Namespace, tokenizer):
    from hf_reft.data import load_data, prepare_supervised_dataset

    rows, spec = load_data("svamp-nl", args.data_dir)
    data = prepare_supervised_dataset(
        rows, tokenizer, prompt_template=PROMPT, response_column=spec.target, max_length=args.max_length
    )
    return data.shuffle(seed=args.seed)


def collator(method: str, tokenizer):
    from hf_reft.data import SupervisedCollator

    return SupervisedCollator.for_tokenizer(tokenizer, return_prompt_lengths=method == "loreft")


def trainable(model) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# ------------------------------------------------------------------------------------ timing worker
def timing_worker(args: argparse.Namespace) -> None:
    """Time ``--timing-steps`` optimizer steps on fixed batches; print one JSON line."""
    model, tokenizer = build(args.worker, args.seed)
    data = training_data(args, tokenizer)
    collate = collator(args.worker, tokenizer)
    size = args.batch_size
    batches = [
        collate([data[i] for i in range(k * size, (k + 1) * size)]) for k in range(args.timing_steps + 1)
    ]
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    model.train()
    after_load = rss_mb()
    walls, cpus = [], []
    for k, batch in enumerate(batches):
        wall, cpu = time.perf_counter(), time.process_time()
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if k:  # the first step warms up allocations
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
    print(
        json.dumps(
            {
                "method": args.worker,
                "trainable_params": trainable(model),
                "wall_s_per_step": walls,
                "cpu_s_per_step": cpus,
                "rss_after_load_mb": after_load,
                "peak_rss_mb": peak_rss_mb(),
                "threads": torch.get_num_threads(),
            }
        )
    )


def timing(args: argparse.Namespace, out: Path) -> dict:
    path = out / "timing.json"
    if path.is_file():
        return json.loads(path.read_text())
    runs: dict[str, list[dict]] = {m: [] for m in METHODS}
    for round_index in range(args.timing_rounds):
        for method in METHODS if round_index % 2 == 0 else METHODS[::-1]:
            command = [sys.executable, __file__, "--worker", method, "--timing-steps", str(args.timing_steps)]
            command += ["--batch-size", str(args.batch_size), "--max-length", str(args.max_length)]
            command += ["--seed", str(args.seed)] + (["--data-dir", args.data_dir] if args.data_dir else [])
            command += ["--threads", str(args.threads)] if args.threads else []
            log(f"timing {method}, round {round_index + 1}")
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            runs[method].append(json.loads(done.stdout.strip().splitlines()[-1]))
    summary = {}
    for method, results in runs.items():
        walls = [w for r in results for w in r["wall_s_per_step"]]
        cpus = [c for r in results for c in r["cpu_s_per_step"]]
        summary[method] = {
            "trainable_params": results[0]["trainable_params"],
            "median_wall_s_per_step": statistics.median(walls),
            "median_cpu_s_per_step": statistics.median(cpus),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in results),
            "training_adds_mb": max(r["peak_rss_mb"] - r["rss_after_load_mb"] for r in results),
            "steps_timed": len(walls),
            "threads": results[0]["threads"],
        }
    from hf_reft import hub

    hub.atomic_write_text(path, json.dumps(summary, indent=2))
    return summary


# --------------------------------------------------------------------------------- train + evaluate
def train(args: argparse.Namespace, out: Path, method: str) -> dict:
    """Train ``method`` for the budget; the adapter goes to ``out/<method>/adapter``."""
    from transformers import Trainer, TrainingArguments
    from transformers.trainer_utils import get_last_checkpoint

    from hf_reft import hub
    from hf_reft.representation.trainer import ReftTrainer
    from hf_reft.training_budget import TrainingTimeBudget, steps_for_budget

    folder = out / method
    summary_path = folder / "train_summary.json"
    if summary_path.is_file():
        return json.loads(summary_path.read_text())
    model, tokenizer = build(method, args.seed)
    data = training_data(args, tokenizer)
    collate = collator(method, tokenizer)
    budget_s = args.budget_minutes * 60
    plan_path = folder / "train_plan.json"
    if plan_path.is_file():
        plan = json.loads(plan_path.read_text())
    else:
        size = args.batch_size
        batches = [collate([data[i] for i in range(k * size, (k + 1) * size)]) for k in range(2)]
        steps, per_step = steps_for_budget(model, batches, budget_s, clock=args.budget_clock)
        plan = {"max_steps": steps, "probe_seconds_per_step": per_step}
        hub.atomic_write_text(plan_path, json.dumps(plan))
    lr = args.loreft_lr if method == "loreft" else args.lora_lr
    training_args = TrainingArguments(
        str(folder / "checkpoints"),
        per_device_train_batch_size=args.batch_size,
        learning_rate=lr,
        lr_scheduler_type="linear",
        warmup_steps=max(1, plan["max_steps"] // 20),
        max_steps=plan["max_steps"],
        logging_steps=5,
        save_strategy="steps",
        save_steps=10,
        save_total_limit=1,
        report_to="none",
        use_cpu=True,
        seed=args.seed,
        disable_tqdm=True,
        restore_callback_states_from_checkpoint=True,
    )
    trainer_class = ReftTrainer if method == "loreft" else Trainer
    trainer = trainer_class(
        model=model,
        args=training_args,
        train_dataset=data,
        processing_class=tokenizer,
        data_collator=collate,
        callbacks=[TrainingTimeBudget(budget_s, clock=args.budget_clock)],
    )
    checkpoints = folder / "checkpoints"
    last = get_last_checkpoint(str(checkpoints)) if checkpoints.is_dir() else None
    trainer.train(resume_from_checkpoint=last)
    budget = next(cb for cb in trainer.callback_handler.callbacks if isinstance(cb, TrainingTimeBudget))
    model.save_pretrained(folder / "adapter")
    tokenizer.save_pretrained(folder / "adapter")
    losses = [(e["step"], e["loss"]) for e in trainer.state.log_history if "loss" in e]
    summary = {
        "method": method,
        "learning_rate": lr,
        "steps": trainer.state.global_step,
        "train_wall_minutes": budget.wall_elapsed / 60,
        "train_cpu_minutes": budget.cpu_elapsed / 60,
        "first_loss": losses[0][1] if losses else None,
        "last_loss": losses[-1][1] if losses else None,
        "losses": losses,
        "trainable_params": trainable(model),
    }
    hub.atomic_write_text(summary_path, json.dumps(summary, indent=2))
    shutil.rmtree(checkpoints, ignore_errors=True)
    return summary


def load_trained(out: Path, method: str):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = out / method / "adapter"
    tokenizer = AutoTokenizer.from_pretrained(folder)
    if method == "loreft":
        return AutoModelForCausalLM.from_pretrained(folder), tokenizer
    from peft import PeftModel

    from hf_reft.models import load_chat_model

    base, _ = load_chat_model()
    return PeftModel.from_pretrained(base, folder), tokenizer


def eval_subset(args: argparse.Namespace, out: Path):
    import random

    from hf_reft import hub
    from hf_reft.data import load_data

    test, _ = load_data("svamp-test", args.data_dir)
    path = out / "eval_subset.json"
    if args.reuse_loreft and not path.is_file():
        shutil.copy(Path(args.reuse_loreft) / "eval_subset.json", path)
    if path.is_file():
        indices = json.loads(path.read_text())["indices"]
    else:
        indices = sorted(random.Random(args.seed).sample(range(len(test)), args.n_eval))
        hub.atomic_write_text(
            path, json.dumps({"dataset": "svamp-test", "seed": args.seed, "indices": indices})
        )
    return test.select(indices)


def evaluate(args: argparse.Namespace, out: Path, method: str, test):
    from hf_reft.representation.evaluation import GenerationEvaluation, evaluate_generation

    path = out / method / "eval.json"
    if path.is_file():
        return GenerationEvaluation.load(path)
    model, tokenizer = load_trained(out, method)
    result = evaluate_generation(
        model,
        tokenizer,
        test,
        benchmark="svamp",
        prompt_template=PROMPT,
        batch_size=args.eval_batch_size,
        max_new_tokens=args.max_new_tokens,
        cache_file=out / method / "eval.cache.jsonl",
        dataset_name="svamp-test",
    )
    result.save(path)
    log(f"{method}: {result.summary()}")
    return result


def import_loreft(args: argparse.Namespace, out: Path) -> None:
    """Take LoReFT's adapter, training summary and evaluation from an example run with the same settings."""
    source = Path(args.reuse_loreft)
    target = out / "loreft"
    if (target / "eval.json").is_file():
        return
    summary = json.loads((source / "train_summary.json").read_text())
    expected = {"budget_minutes": args.budget_minutes, "budget_clock": args.budget_clock}
    got = {k: summary[k] for k in expected}
    if got != expected or summary["config"]["batch_size"] != args.batch_size:
        raise SystemExit(
            f"--reuse-loreft {source} was trained with {got}, batch {summary['config']['batch_size']}; need {expected}."
        )
    if summary["config"]["lr"] != args.loreft_lr:
        raise SystemExit(
            f"--reuse-loreft {source} used lr {summary['config']['lr']}, not --loreft-lr {args.loreft_lr}."
        )
    evaluation = json.loads((source / "eval_adapter.json").read_text())
    if evaluation["settings"]["max_new_tokens"] != args.max_new_tokens:
        raise SystemExit(f"--reuse-loreft {source} evaluated with another --max-new-tokens.")
    target.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source / "adapter", target / "adapter", dirs_exist_ok=True)
    from hf_reft import hub

    summary = {
        "method": "loreft",
        "learning_rate": summary["config"]["lr"],
        "reused_from": str(source),
        **{
            k: summary[k]
            for k in (
                "steps",
                "train_wall_minutes",
                "train_cpu_minutes",
                "first_loss",
                "last_loss",
                "losses",
                "trainable_params",
            )
        },
    }
    hub.atomic_write_text(target / "train_summary.json", json.dumps(summary, indent=2))
    shutil.copy(source / "eval_adapter.json", target / "eval.json")


def report(args: argparse.Namespace, out: Path, timing_summary: dict, trained: dict, results: dict) -> None:
    from hf_reft import hub
    from hf_reft.representation.evaluation import paired_comparison

    comparison = paired_comparison(results["lora"], results["loreft"])
    header = "| | LoReFT (rank 8, layers 6/12/18/24, f5+l5) | LoRA (rank 4, q_proj/v_proj) |"
    rows = [header, "|---|---|---|"]

    def row(label: str, fn) -> None:
        rows.append(f"| {label} | {fn('loreft')} | {fn('lora')} |")

    row("trainable parameters", lambda m: f"{timing_summary[m]['trainable_params']:,}")
    row("s/step, wall (median)", lambda m: f"{timing_summary[m]['median_wall_s_per_step']:.2f}")
    row("s/step, CPU (median)", lambda m: f"{timing_summary[m]['median_cpu_s_per_step']:.2f}")
    row(
        "peak RSS MiB (added by training)",
        lambda m: f"{timing_summary[m]['peak_rss_mb']:.0f} ({timing_summary[m]['training_adds_mb']:+.0f})",
    )
    row("learning rate", lambda m: f"{trained[m]['learning_rate']:g}")
    row(
        "training (budget)",
        lambda m: (
            f"{trained[m]['steps']} steps, {trained[m]['train_cpu_minutes']:.1f} CPU / {trained[m]['train_wall_minutes']:.1f} wall min"
        ),
    )

    def loss(value: float | None) -> str:
        return "–" if value is None else f"{value:.3f}"

    row(
        "training loss, first → last log",
        lambda m: f"{loss(trained[m]['first_loss'])} → {loss(trained[m]['last_loss'])}",
    )
    row(
        f"held-out accuracy % (n={results['loreft'].n}, 95 % Wilson)",
        lambda m: (
            f"{100 * results[m].accuracy:.1f} [{100 * results[m].interval[0]:.1f}, {100 * results[m].interval[1]:.1f}]"
        ),
    )
    d = comparison["difference"]
    lines = [
        *rows,
        "",
        f"LoReFT − LoRA: {100 * d['estimate']:+.1f} points, 95 % paired bootstrap [{100 * d['low']:+.1f}, "
        f"{100 * d['high']:+.1f}] (won {comparison['wins']}, lost {comparison['losses']}).",
        f"Budget {args.budget_minutes:g} {args.budget_clock} minutes each on svamp-nl (batch {args.batch_size}); "
        f"timing over {timing_summary['loreft']['steps_timed']} steps per method, {timing_summary['loreft']['threads']} thread(s).",
    ]
    text = "\n".join(lines)
    hub.atomic_write_text(out / "results.md", text + "\n")
    payload = {
        "timing": timing_summary,
        "training": trained,
        "results": {m: r.to_dict(with_records=False) for m, r in results.items()},
        "comparison": comparison,
    }
    hub.atomic_write_text(out / "results.json", json.dumps(payload, indent=2))
    print(text)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.worker:
        timing_worker(args)
        return 0
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    test = eval_subset(args, out)
    timing_summary = timing(args, out)
    log(f"timing: {json.dumps(timing_summary)}")
    if args.reuse_loreft:
        import_loreft(args, out)
    trained = {method: train(args, out, method) for method in METHODS}
    results = {method: evaluate(args, out, method, test) for method in METHODS}
    report(args, out, timing_summary, trained, results)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
