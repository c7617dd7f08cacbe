"""The real run of reinforced fine-tuning: base → warm-up SFT → hyper-parameter search on held-out
training questions → PPO (full model and LoReFT) → a compute-matched SFT control → verifier →
evaluation table, on SmolLM2-135M-Instruct and SVAMP, program chain of thought by default.
(One file on purpose: the experiment's stages in the order they run, each a short function over the
library's ``warmup_sft`` / ``prepare_ppo`` / ``evaluate_model``, then its report.)

Stages (each cached under ``--output``; rerun the same command after an interruption and it
continues where it stopped — finished folders are reused, SFT and PPO resume from their last
checkpoint, evaluations from their JSONL caches — and each stage says whether it resumed or
started over):

1. ``split`` — ``--validation-size`` (300) distinct questions of the training set, drawn with
   ``--split-seed``, are held out (``data/validation.jsonl``, one row per question); every other
   row is ``data/train.jsonl``, the only data SFT, PPO and the verifier see. ``--validation-size 0``
   trains on the whole named set and skips the search.
2. ``sft-full`` / ``sft-loreft`` — warm-up SFT of the full model, and of a LoReFT adapter over the
   frozen base (``warmup-full/``, ``warmup-loreft/``), for ``--sft-epochs`` (1) passes over the
   training rows as the paper warms up (``--sft-steps`` sets the steps instead).
3. ``search-full`` / ``search-loreft`` — short PPO runs (``--search-minutes`` CPU minutes each)
   from the warm-up policy, scored by greedy accuracy on the validation questions; a coordinate
   search over the learning rate, then the KL coefficient, then the PPO epochs (ties keep the
   value already chosen). The table and the choice go to ``search-*/search.json``.
4. ``ppo-full`` / ``ppo-loreft`` — PPO from each warm-up policy with the chosen values (the flags'
   values when no search ran), at most ``--ppo-minutes`` CPU minutes (this process's CPU time) or
   ``--ppo-steps``; the per-step diagnostics go to ``ppo-*/reward_curve.json``.
5. ``control-full`` / ``control-loreft`` — the compute-matched control: the warm-up SFT continued
   on the same training data, at the warm-up's learning rate held constant, for exactly the CPU
   time its PPO run spent (read from ``ppo-*/ppo_budget.json``).
6. ``verifier`` — ``--verifier-k`` solutions sampled by the full warm-up model on
   ``--verifier-questions`` training questions, labelled by correctness, a classifier initialised
   from the warm-up model (``verifier/``).
7. ``greedy-*`` — greedy accuracy on the first ``--n-greedy`` (all 1,000) SVAMP test questions,
   and ``vote-*`` — vote@k and rerank@k (same samples) on the first ``--n-vote`` (200) of them,
   with 95 % Wilson intervals. The test set is read only here.

Results: ``OUTPUT/results.md`` (the tables, the paired differences PPO − warm-up and PPO − control,
the search, the training diagnostics), ``OUTPUT/results.json``, ``OUTPUT/ppo_curves.png`` (reward
and KL per PPO step) and ``OUTPUT/search_curves.png`` (the same for every search trial); the plots
need ``matplotlib``.

Both cores: run two stage lists side by side, one torch thread each, e.g.

    nohup python examples/reinforced_full_run.py --threads 1 --stages split sft-full search-full ppo-full control-full > runs/full.log 2>&1 &
    nohup python examples/reinforced_full_run.py --threads 1 --stages split sft-loreft search-loreft ppo-loreft control-loreft > runs/loreft.log 2>&1 &

then the evaluation stages the same way, split in two lists. Every evaluation loads its policy in
``--eval-dtype``; on a CPU with bf16 units ``bfloat16`` about halves their time (measured here, one
batch of 16 greedy SVAMP questions on one thread: 8.1 CPU-s against 15.5 in float32).

``--tiny`` runs every stage on a tiny random model with a handful of questions (a smoke test of the
pipeline; its numbers mean nothing).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from hf_reft.data import hold_out_questions, load_data, normalize_question
from hf_reft.hub import atomic_write_text
from hf_reft.models import tiny_random_chat_model
from hf_reft.reinforced.configuration import DEFAULT_KL_COEF
from hf_reft.reinforced.evaluation import (
    EvaluationReport,
    compare_greedy,
    evaluate_model,
    format_table,
    load_questions,
)
from hf_reft.reinforced.ppo_stage import PPO_INFO_NAME, prepare_ppo, run_ppo
from hf_reft.reinforced.sft import WARMUP_INFO_NAME, load_policy, read_warmup_info, warmup_sft
from hf_reft.reinforced.verifier import Verifier, sample_policy_verifier_data, train_verifier
from hf_reft.training_budget import TrainingTimeBudget

KINDS = ("full", "loreft")
POLICIES = (
    "base",
    "warmup-full",
    "warmup-loreft",
    "control-full",
    "control-loreft",
    "ppo-full",
    "ppo-loreft",
)
STAGES = (
    "split",
    *(f"sft-{k}" for k in KINDS),
    *(f"search-{k}" for k in KINDS),
    *(f"ppo-{k}" for k in KINDS),
    *(f"control-{k}" for k in KINDS),
    "verifier",
    *(f"greedy-{p}" for p in POLICIES),
    *(f"vote-{p}" for p in POLICIES),
)
NAMES = {
    "base": "SmolLM2-135M-Instruct",
    "warmup-full": "warm-up SFT (full)",
    "warmup-loreft": "warm-up SFT (LoReFT)",
    "control-full": "SFT control (full)",
    "control-loreft": "SFT control (LoReFT)",
    "ppo-full": "PPO (full)",
    "ppo-loreft": "PPO (LoReFT)",
}
TRAIN_SETS = {"nl": "svamp-nl", "program": "svamp-program"}
TEST_SET = "svamp-test"
#: Per-step training diagnostics kept in ``reward_curve.json`` (those the trainer logged).
DIAGNOSTICS = (
    "reward",
    "accuracy",
    "kl",
    "entropy",
    "clip_fraction",
    "approx_kl",
    "value_loss",
    "policy_loss",
    "response_length",
    "truncated_fraction",
    "generation_share",
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--output", default="runs/reinforced-program", help="folder for every stage's results"
    )
    parser.add_argument("--model", default=None, help="base model (default: offline SmolLM2-135M-Instruct)")
    parser.add_argument("--data-dir", default=None, help="shared data folder (default ../shared/data)")
    parser.add_argument(
        "--format", default="program", choices=sorted(TRAIN_SETS), help="chain-of-thought format"
    )
    parser.add_argument("--stages", nargs="+", default=list(STAGES), choices=STAGES)
    parser.add_argument(
        "--validation-size", type=int, default=300, help="held-out training questions; 0: none"
    )
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument(
        "--sft-epochs", type=float, default=1.0, help="warm-up length in passes over the training rows"
    )
    parser.add_argument(
        "--sft-steps", type=int, default=None, help="warm-up length in steps (overrides epochs)"
    )
    parser.add_argument("--sft-batch-size", type=int, default=8)
    parser.add_argument("--sft-learning-rate", type=float, default=5e-5, help="full model")
    parser.add_argument("--loreft-learning-rate", type=float, default=2e-3, help="LoReFT warm-up")
    parser.add_argument("--loreft-positions", default="f7+l7")
    parser.add_argument("--loreft-rank", type=int, default=4)
    parser.add_argument("--max-length", type=int, default=224, help="SFT tokens per example")
    parser.add_argument("--train-limit", type=int, default=None, help="first N training rows (SFT and PPO)")
    parser.add_argument("--ppo-steps", type=int, default=1000, help="PPO rollouts at most")
    parser.add_argument("--ppo-minutes", type=float, default=120.0, help="PPO CPU-time budget per policy")
    parser.add_argument("--ppo-batch-size", type=int, default=2, help="questions per rollout")
    parser.add_argument("--ppo-samples", type=int, default=4, help="samples per question")
    parser.add_argument("--ppo-new-tokens", type=int, default=160)
    parser.add_argument("--ppo-full-lr", type=float, default=1e-6, help="without a search")
    parser.add_argument("--ppo-loreft-lr", type=float, default=1e-4, help="without a search")
    parser.add_argument(
        "--kl-coef", type=float, default=None, help="without a search (default: the format's)"
    )
    parser.add_argument("--ppo-epochs", type=int, default=2, help="without a search")
    parser.add_argument("--search-minutes", type=float, default=10.0, help="CPU minutes per search run")
    parser.add_argument("--search-full-lr", type=float, nargs="+", default=[3e-7, 1e-6, 3e-6])
    parser.add_argument("--search-loreft-lr", type=float, nargs="+", default=[3e-5, 1e-4, 3e-4])
    parser.add_argument("--search-kl", type=float, nargs="+", default=[0.01, 0.05, 0.1])
    parser.add_argument("--search-epochs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--save-steps", type=int, default=10, help="PPO and control checkpoint interval")
    parser.add_argument("--verifier-questions", type=int, default=100)
    parser.add_argument("--verifier-k", type=int, default=4)
    parser.add_argument("--verifier-epochs", type=float, default=2.0)
    parser.add_argument("--n-greedy", type=int, default=1000, help="first N svamp-test questions, greedy")
    parser.add_argument("--n-vote", type=int, default=200, help="first N of them for vote@k and rerank@k")
    parser.add_argument("--vote-k", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=160)
    parser.add_argument("--eval-batch-size", type=int, default=16)
    parser.add_argument(
        "--eval-dtype",
        default="float32",
        choices=("float32", "bfloat16"),
        help="dtype every evaluated policy is loaded in (the same for all); bfloat16 is about twice as "
        "fast on CPUs with bf16 units (AVX512-BF16/AMX), slower elsewhere",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tiny", action="store_true", help="smoke test: tiny random model, a few questions")
    args = parser.parse_args(argv)
    if args.tiny:
        args.sft_epochs, args.sft_batch_size, args.max_length, args.train_limit = 0.25, 2, 160, 16
        args.validation_size = 4
        args.ppo_steps, args.ppo_batch_size, args.ppo_samples, args.ppo_new_tokens = 2, 1, 2, 6
        args.save_steps, args.ppo_minutes = 1, 5.0
        args.search_minutes, args.search_full_lr, args.search_loreft_lr = 5.0, [1e-6, 3e-6], [1e-4]
        args.search_kl, args.search_epochs = [0.05], [1, 2]
        args.verifier_questions, args.verifier_k, args.verifier_epochs = 3, 2, 1.0
        args.n_greedy, args.n_vote, args.vote_k, args.max_new_tokens = 3, 2, 2, 6
        args.loreft_positions = "l1"
    if args.kl_coef is None:
        args.kl_coef = DEFAULT_KL_COEF[args.format]
    return args


# ----------------------------------------------------------------------------- data


def train_data(args: argparse.Namespace, out: Path) -> str:
    """What SFT, PPO and the verifier train on: the named set, or its rows minus the validation questions."""
    return TRAIN_SETS[args.format] if args.validation_size == 0 else str(out / "data" / "train.jsonl")


def validation_file(out: Path) -> Path:
    return out / "data" / "validation.jsonl"


def run_split(args: argparse.Namespace, out: Path) -> None:
    """Hold out the validation questions (one row each); the rest of the rows are the training data."""
    if args.validation_size == 0:
        print("[split] --validation-size 0: training on the whole named set, no search", flush=True)
        return
    train_file, held_file = Path(train_data(args, out)), validation_file(out)
    if train_file.is_file() and held_file.is_file():
        print(f"[split] cached: {held_file.parent}", flush=True)
        return
    dataset, spec = load_data(TRAIN_SETS[args.format], args.data_dir, limit=args.train_limit)
    question, answer = spec.question, spec.answer
    train, held = hold_out_questions(dataset, question, args.validation_size, seed=args.split_seed)
    validation, seen = [], set()
    for row in held:  # one row per question: the first that asks it
        if (key := normalize_question(row[question])) not in seen:
            seen.add(key)
            validation.append({"question": row[question], "answer_value": row[answer]})
    atomic_write_text(train_file, "".join(json.dumps(row) + "\n" for row in train))
    atomic_write_text(held_file, "".join(json.dumps(row) + "\n" for row in validation))
    print(
        f"[split] {len(validation)} validation questions held out ({len(held)} rows); {len(train)} training rows",
        flush=True,
    )


# ----------------------------------------------------------------------------- training


def _last_checkpoint(folder: Path, stage: str) -> str | None:
    """The newest ``checkpoint-N`` under ``folder``, announced; ``None`` (and said so) when there is none."""
    checkpoints = sorted(folder.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    if checkpoints:
        print(f"[{stage}] resuming from {checkpoints[-1]}", flush=True)
        return str(checkpoints[-1])
    print(f"[{stage}] no checkpoint under {folder}: starting from the beginning", flush=True)
    return None


def _missing(stage: str, folder: Path, needs: str) -> bool:
    if (folder / WARMUP_INFO_NAME).is_file():
        return False
    print(f"[{stage}] skipped: run {needs} first", flush=True)
    return True


def sft_steps(args: argparse.Namespace, out: Path) -> int:
    """The warm-up's optimizer steps: ``--sft-steps``, else ``--sft-epochs`` passes over the training rows.

    The paper warms up for one or two epochs; a much shorter warm-up would leave the compute-matched
    SFT control an easy win that says nothing about PPO.
    """
    if args.sft_steps is not None:
        return args.sft_steps
    if args.validation_size == 0:
        rows = len(load_data(TRAIN_SETS[args.format], args.data_dir, limit=args.train_limit)[0])
    else:
        rows = len(Path(train_data(args, out)).read_text().splitlines())
    return max(1, math.ceil(rows * args.sft_epochs / args.sft_batch_size))


def run_sft(args: argparse.Namespace, kind: str, out: Path) -> None:
    import hf_reft

    folder = out / f"warmup-{kind}"
    if (folder / WARMUP_INFO_NAME).is_file():
        print(f"[sft-{kind}] cached: {folder}", flush=True)
        return
    if args.validation_size and not Path(train_data(args, out)).is_file():
        print(f"[sft-{kind}] skipped: run split first", flush=True)
        return
    steps = sft_steps(args, out)
    adapter = None
    if kind == "loreft":
        adapter = hf_reft.ReftConfig(layers="all", positions=args.loreft_positions, rank=args.loreft_rank)
    result = warmup_sft(
        args.model,
        train_data(args, out),
        folder,
        format=args.format,
        adapter_config=adapter,
        data_dir=args.data_dir,
        limit=args.train_limit if args.validation_size == 0 else None,  # the split applied it
        test_sets=[TEST_SET],
        max_length=args.max_length,
        max_steps=steps,
        per_device_train_batch_size=args.sft_batch_size,
        learning_rate=args.loreft_learning_rate if adapter else args.sft_learning_rate,
        warmup_steps=max(1, steps // 10),
        logging_steps=5,
        save_strategy="steps",
        save_steps=max(1, min(args.save_steps * 5, steps // 2)),
        save_total_limit=1,
        resume_from_checkpoint=_last_checkpoint(folder / "checkpoints", f"sft-{kind}"),
    )
    print(
        f"[sft-{kind}] {steps} steps done in {result.info.train_seconds / 60:.1f} min, "
        f"final loss {result.info.final_loss}",
        flush=True,
    )


def train_ppo(
    args: argparse.Namespace, out: Path, warmup: Path, folder: Path, settings: dict[str, Any], minutes: float
) -> dict[str, Any]:
    """PPO from ``warmup`` into ``folder`` with ``settings`` (learning rate, KL, epochs) for at most
    ``minutes`` CPU minutes; writes ``reward_curve.json`` and ``ppo_budget.json``; returns its info."""
    stage = f"{folder.parent.name}/{folder.name}" if folder.parent != out else folder.name
    if (folder / PPO_INFO_NAME).is_file():
        print(f"[{stage}] cached: {folder}", flush=True)
        return json.loads((folder / PPO_INFO_NAME).read_text())
    folder.mkdir(parents=True, exist_ok=True)
    budget = TrainingTimeBudget(minutes * 60, clock="cpu")
    setup = prepare_ppo(
        str(warmup),
        folder,
        train_data=train_data(args, out),
        data_dir=args.data_dir,
        limit=args.train_limit if args.validation_size == 0 else None,
        test_sets=[TEST_SET],
        max_steps=args.ppo_steps,
        per_device_train_batch_size=args.ppo_batch_size,
        samples_per_question=args.ppo_samples,
        max_new_tokens=args.ppo_new_tokens,
        learning_rate=settings["learning_rate"],
        kl_coef=settings["kl_coef"],
        ppo_epochs=settings["ppo_epochs"],
        logging_steps=1,
        save_strategy="steps",
        save_steps=args.save_steps,
        save_total_limit=1,
        report_to="none",
        disable_tqdm=True,
        seed=0,
        restore_callback_states_from_checkpoint=True,  # a resumed run continues the same budget
        callbacks=[budget],
    )
    result = run_ppo(setup, folder, resume_from_checkpoint=_last_checkpoint(folder / "checkpoints", stage))
    curve = [
        {"step": h["step"], **{k: h[k] for k in DIAGNOSTICS if k in h}}
        for h in result.log_history
        if "reward" in h
    ]
    atomic_write_text(folder / "reward_curve.json", json.dumps(curve, indent=1) + "\n")
    spent = _record_spent(budget, folder / "ppo_budget.json")
    print(
        f"[{stage}] {result.info['steps']} steps in {spent['cpu_minutes']} CPU min, "
        f"reward {result.info['first_reward']} → {result.info['last_reward']}",
        flush=True,
    )
    return result.info


def _record_spent(budget: TrainingTimeBudget, path: Path) -> dict[str, float]:
    """Write (and return) the CPU and wall time a stage's training steps spent."""
    spent = {
        "cpu_seconds": round(budget.cpu_elapsed, 2),
        "wall_seconds": round(budget.wall_elapsed, 2),
        "cpu_minutes": round(budget.cpu_elapsed / 60, 2),
        "wall_minutes": round(budget.wall_elapsed / 60, 2),
    }
    atomic_write_text(path, json.dumps(spent) + "\n")
    return spent


def default_settings(args: argparse.Namespace, kind: str) -> dict[str, Any]:
    """The PPO settings without a search: the flags'."""
    lr = args.ppo_full_lr if kind == "full" else args.ppo_loreft_lr
    return {"learning_rate": lr, "kl_coef": args.kl_coef, "ppo_epochs": args.ppo_epochs}


def ppo_settings(args: argparse.Namespace, kind: str, out: Path) -> dict[str, Any]:
    """The search's choice when it ran, else the flags' values (said which)."""
    search = out / f"search-{kind}" / "search.json"
    if search.is_file():
        chosen = json.loads(search.read_text())["chosen"]
        print(f"[ppo-{kind}] the search chose {chosen}", flush=True)
        return chosen
    settings = default_settings(args, kind)
    print(f"[ppo-{kind}] no search result ({search}): the flags' values {settings}", flush=True)
    return settings


def run_ppo_stage(args: argparse.Namespace, kind: str, out: Path) -> None:
    warmup = out / f"warmup-{kind}"
    if _missing(f"ppo-{kind}", warmup, f"sft-{kind}"):
        return
    train_ppo(args, out, warmup, out / f"ppo-{kind}", ppo_settings(args, kind, out), args.ppo_minutes)


def _trial_name(settings: dict[str, Any]) -> str:
    return f"lr{settings['learning_rate']:g}-kl{settings['kl_coef']:g}-ep{settings['ppo_epochs']}"


def _validation_accuracy(args: argparse.Namespace, out: Path, model: Path, cache: Path) -> float:
    """Greedy accuracy of ``model`` on the held-out training questions (cached beside ``cache``)."""
    path = cache.with_suffix(".json")
    if path.is_file():
        report = EvaluationReport.load(path)
    else:
        report = evaluate_model(
            str(model),
            str(validation_file(out)),
            data_dir=args.data_dir,
            benchmark="svamp",
            greedy=True,
            max_new_tokens=args.max_new_tokens,
            batch_size=args.eval_batch_size,
            dtype=args.eval_dtype,
            cache_path=cache,
            progress=False,
        )
        report.save(path)
    return report.greedy_accuracy.estimate


def search_axes(args: argparse.Namespace, kind: str) -> list[tuple[str, list[Any]]]:
    lrs = args.search_full_lr if kind == "full" else args.search_loreft_lr
    return [("learning_rate", lrs), ("kl_coef", args.search_kl), ("ppo_epochs", args.search_epochs)]


def coordinate_search(
    start: dict[str, Any], axes: list[tuple[str, list[Any]]], score: Any
) -> Iterator[tuple[dict[str, Any], float]]:
    """Vary one setting at a time over its values, the others at the best so far; yields every
    trial ``(settings, score)`` once (a repeated setting is not re-scored). After an axis, the best
    value is kept; a tie keeps the value already there. The last yielded element is the choice."""
    current, seen = dict(start), {}
    for name, values in axes:
        best, best_score = current[name], None
        for value in [current[name], *(v for v in values if v != current[name])]:
            trial = {**current, name: value}
            key = tuple(sorted(trial.items()))
            if key not in seen:
                seen[key] = score(trial)
                yield trial, seen[key]
            if best_score is None or seen[key] > best_score:
                best, best_score = value, seen[key]
        current[name] = best
    yield current, seen[tuple(sorted(current.items()))]


def run_search(args: argparse.Namespace, kind: str, out: Path) -> None:
    folder, warmup = out / f"search-{kind}", out / f"warmup-{kind}"
    result = folder / "search.json"
    if result.is_file():
        print(f"[search-{kind}] cached: {result}", flush=True)
        return
    if args.validation_size == 0:
        print(f"[search-{kind}] skipped: no validation questions (--validation-size 0)", flush=True)
        return
    if _missing(f"search-{kind}", warmup, f"sft-{kind}"):
        return
    folder.mkdir(parents=True, exist_ok=True)
    warmup_accuracy = _validation_accuracy(args, out, warmup, folder / "validation-warmup.jsonl")
    print(f"[search-{kind}] warm-up: validation accuracy {warmup_accuracy:.3f}", flush=True)

    def score(settings: dict[str, Any]) -> float:
        trial = folder / _trial_name(settings)
        train_ppo(args, out, warmup, trial, settings, args.search_minutes)
        return _validation_accuracy(args, out, trial, folder / f"validation-{trial.name}.jsonl")

    trials = list(coordinate_search(default_settings(args, kind), search_axes(args, kind), score))
    (chosen, chosen_score), rows = trials[-1], []
    for settings, accuracy in trials[:-1]:
        trial = folder / _trial_name(settings)
        spent = json.loads((trial / "ppo_budget.json").read_text())
        info = json.loads((trial / PPO_INFO_NAME).read_text())
        rewards = [step["reward"] for step in json.loads((trial / "reward_curve.json").read_text())]
        rows.append(
            {
                **settings,
                "steps": info["steps"],
                "cpu_minutes": spent["cpu_minutes"],
                "validation_accuracy": accuracy,
                "mean_reward": _mean(rewards) if rewards else None,
            }
        )
    record = {
        "kind": kind,
        "validation_questions": args.validation_size,
        "search_minutes": args.search_minutes,
        "warmup_validation_accuracy": warmup_accuracy,
        "trials": rows,
        "chosen": chosen,
        "chosen_validation_accuracy": chosen_score,
    }
    atomic_write_text(result, json.dumps(record, indent=1) + "\n")
    print(f"[search-{kind}] chose {chosen} (validation accuracy {chosen_score:.3f})", flush=True)


def run_control(args: argparse.Namespace, kind: str, out: Path) -> None:
    """Continue the warm-up SFT for the CPU time PPO got: the control PPO must beat."""
    folder, warmup, spent_file = (
        out / f"control-{kind}",
        out / f"warmup-{kind}",
        out / f"ppo-{kind}" / "ppo_budget.json",
    )
    if (folder / WARMUP_INFO_NAME).is_file():
        print(f"[control-{kind}] cached: {folder}", flush=True)
        return
    if _missing(f"control-{kind}", warmup, f"sft-{kind}"):
        return
    if not spent_file.is_file():
        print(
            f"[control-{kind}] skipped: run ppo-{kind} first (the control gets the CPU time PPO got)",
            flush=True,
        )
        return
    ppo_spent = json.loads(spent_file.read_text())
    budget = TrainingTimeBudget(ppo_spent["cpu_seconds"], clock="cpu")
    result = warmup_sft(
        str(warmup),
        train_data(args, out),
        folder,
        format=args.format,
        data_dir=args.data_dir,
        limit=args.train_limit if args.validation_size == 0 else None,
        test_sets=[TEST_SET],
        max_length=args.max_length,
        max_steps=1_000_000,  # the budget ends it
        per_device_train_batch_size=args.sft_batch_size,
        learning_rate=read_warmup_info(warmup).learning_rate,
        lr_scheduler_type="constant",
        logging_steps=5,
        save_strategy="steps",
        save_steps=args.save_steps,
        save_total_limit=1,
        restore_callback_states_from_checkpoint=True,
        callbacks=[budget],
        resume_from_checkpoint=_last_checkpoint(folder / "checkpoints", f"control-{kind}"),
    )
    spent = _record_spent(budget, folder / "control_budget.json")
    print(
        f"[control-{kind}] {result.info.steps} more SFT steps in {spent['cpu_minutes']} CPU min "
        f"(PPO: {ppo_spent['cpu_minutes']}), final loss {result.info.final_loss}",
        flush=True,
    )


def run_verifier_stage(args: argparse.Namespace, out: Path) -> None:
    folder, warmup = out / "verifier", out / "warmup-full"
    if (folder / "config.json").is_file() or (out / "verifier-skipped.txt").is_file():
        print("[verifier] cached", flush=True)
        return
    if _missing("verifier", warmup, "sft-full"):
        return
    data_file = out / "verifier-data.jsonl"
    if data_file.is_file():
        from datasets import Dataset

        data = Dataset.from_list([json.loads(line) for line in data_file.read_text().splitlines()])
    else:
        questions, _ = load_questions(
            train_data(args, out), data_dir=args.data_dir, limit=args.verifier_questions
        )
        data = sample_policy_verifier_data(  # prompted as the warm-up folder records
            str(warmup),
            questions,
            batch_size=args.eval_batch_size,
            benchmark="svamp",
            k=args.verifier_k,
            max_new_tokens=args.max_new_tokens,
        )
        atomic_write_text(data_file, "".join(json.dumps(row) + "\n" for row in data))
    right = sum(data["label"])
    print(f"[verifier] {len(data)} sampled solutions, {right} right", flush=True)
    if right in (0, len(data)):
        atomic_write_text(
            out / "verifier-skipped.txt",
            f"{len(data)} sampled solutions, {right} right: one label only, no verifier (rerank@k not reported).\n",
        )
        print("[verifier] one label only: no verifier, rerank@k is not reported", flush=True)
        return
    train_verifier(
        str(warmup),
        data,
        folder,
        max_length=args.max_length + args.max_new_tokens,
        num_train_epochs=args.verifier_epochs,
        learning_rate=1e-5,
        per_device_train_batch_size=8,
        seed=0,
        disable_tqdm=True,
    )


# ----------------------------------------------------------------------------- evaluation


def policy_path(args: argparse.Namespace, who: str, out: Path) -> str | None:
    return args.model if who == "base" else str(out / who)


def run_eval(
    args: argparse.Namespace, kind: str, who: str, out: Path, loaded: dict
) -> EvaluationReport | None:
    path = out / f"{kind}-{who}.json"
    if path.is_file():
        print(f"[{kind}-{who}] cached", flush=True)
        return EvaluationReport.load(path)
    model = policy_path(args, who, out)
    if who != "base" and not (Path(model) / WARMUP_INFO_NAME).is_file():
        print(f"[{kind}-{who}] skipped: {who} is not trained yet", flush=True)
        return None
    vote = kind == "vote"
    verifier = None
    if vote and (out / "verifier" / "config.json").is_file():
        if "verifier" not in loaded:
            loaded["verifier"] = Verifier.from_pretrained(out / "verifier")
        verifier = loaded["verifier"]
    key = model or "base"
    if loaded.get("key") != key:  # one policy in memory at a time
        loaded.update(key=key, policy=load_policy(model, dtype=getattr(torch, args.eval_dtype)))
    report = evaluate_model(
        model,
        TEST_SET,
        format=args.format,
        data_dir=args.data_dir,
        limit=args.n_vote if vote else args.n_greedy,
        greedy=not vote,
        vote_k=args.vote_k if vote else 0,
        max_new_tokens=args.max_new_tokens,
        batch_size=args.eval_batch_size,
        dtype=args.eval_dtype,
        cache_path=out / "cache" / f"{kind}-{who}.jsonl",
        policy=loaded["policy"],
        verifier=verifier,
        progress=False,
    )
    report.model = NAMES[who]
    report.save(path)
    return report


# ----------------------------------------------------------------------------- summary


def _budget_minutes(folder: Path, info: dict) -> str:
    """Training time as "12.3 CPU min (15.0 wall min …)" from the stage's budget file, else its wall minutes."""
    for name in ("ppo_budget.json", "control_budget.json"):
        if (folder / name).is_file():
            record = json.loads((folder / name).read_text())
            return f"{record['cpu_minutes']:.1f} CPU min ({record['wall_minutes']:.1f} wall min of training steps)"
    return f"{info['train_seconds'] / 60:.1f} min"


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def diagnostics_table(curves: dict[str, list[dict[str, float]]]) -> list[str]:
    """Per PPO policy, each logged diagnostic's mean over the first fifth of the steps → the last fifth."""
    keys = [k for k in DIAGNOSTICS if any(k in step for curve in curves.values() for step in curve)]
    lines = ["| policy | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]
    for kind, curve in curves.items():
        window, cells = max(1, len(curve) // 5), []
        for key in keys:
            values = [step[key] for step in curve if key in step]
            cells.append(f"{_mean(values[:window]):.3g} → {_mean(values[-window:]):.3g}" if values else "—")
        lines.append(f"| {NAMES[f'ppo-{kind}']} | " + " | ".join(cells) + " |")
    return lines


def search_table(out: Path) -> list[str]:
    lines = []
    for kind in KINDS:
        path = out / f"search-{kind}" / "search.json"
        if not path.is_file():
            continue
        record = json.loads(path.read_text())
        lines += [
            f"Search, {NAMES[f'ppo-{kind}']}: {record['validation_questions']} held-out training questions, "
            f"{record['search_minutes']:g} CPU min per run; warm-up validation accuracy "
            f"{record['warmup_validation_accuracy'] * 100:.1f} %.",
            "",
            "| learning rate | KL coef. | PPO epochs | steps | CPU min | mean training reward | validation acc. % |",
            "|---|---|---|---|---|---|---|",
        ]
        for row in record["trials"]:
            lines.append(
                f"| {row['learning_rate']:g} | {row['kl_coef']:g} | {row['ppo_epochs']} | {row['steps']} | "
                f"{row['cpu_minutes']:.1f} | {row['mean_reward']:.3f} | {row['validation_accuracy'] * 100:.1f} |"
            )
        lines += ["", f"Chosen: {record['chosen']}.", ""]
    return lines


def plot_curves(panels: dict[str, dict[str, list[dict[str, float]]]], path: Path) -> str:
    """Reward and KL per PPO step: one row of two plots per panel, one line per curve in it.

    ``panels`` maps a row title to ``{label: curve}``, a curve being ``reward_curve.json``'s steps.
    Returns a note for the results."""
    try:
        import matplotlib
    except ImportError:
        return f"- no plot: `pip install matplotlib` for {path.name}"
    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(len(panels), 2, figsize=(10, 3.5 * len(panels)), squeeze=False)
    for row, (title, curves) in zip(axes, panels.items(), strict=True):
        for label, curve in curves.items():
            steps = [step["step"] for step in curve]
            for axis, key in zip(row, ("reward", "kl"), strict=True):
                axis.plot(steps, [step.get(key, float("nan")) for step in curve], label=label)
        for axis, what in zip(
            row, ("training reward (mean per step)", "KL to the warm-up policy"), strict=True
        ):
            axis.set_title(f"{title}: {what}" if title else what)
            axis.set_xlabel("PPO step")
            axis.legend(fontsize="small")
    figure.tight_layout()
    tmp = path.with_name(path.name + ".tmp.png")
    figure.savefig(tmp, dpi=100)
    pyplot.close(figure)
    tmp.replace(path)
    return f"- reward and KL per step: {path.name}"


def search_curves(out: Path) -> dict[str, dict[str, list[dict[str, float]]]]:
    """Per policy kind with a finished search, each trial's per-step curve, labelled by its settings."""
    panels = {}
    for kind in KINDS:
        folder = out / f"search-{kind}"
        if not (folder / "search.json").is_file():
            continue
        record = json.loads((folder / "search.json").read_text())
        panels[f"search, {NAMES[f'ppo-{kind}']}"] = {
            _trial_name(row): json.loads((folder / _trial_name(row) / "reward_curve.json").read_text())
            for row in record["trials"]
        }
    return panels


PAIRS = (
    ("ppo-full", "warmup-full"),
    ("ppo-full", "control-full"),
    ("ppo-loreft", "warmup-loreft"),
    ("ppo-loreft", "control-loreft"),
    ("control-full", "warmup-full"),
    ("control-loreft", "warmup-loreft"),
    ("warmup-full", "base"),
)


def summarize(args: argparse.Namespace, out: Path) -> None:
    rows, names, notes = [], [], []
    for who in POLICIES:
        greedy = out / f"greedy-{who}.json"
        vote = out / f"vote-{who}.json"
        g = EvaluationReport.load(greedy) if greedy.is_file() else None
        v = EvaluationReport.load(vote) if vote.is_file() else None
        if g is None and v is None:
            continue
        merged = g or v
        if g is not None and v is not None:
            merged = EvaluationReport(
                g.model, g.data, v.settings, g.greedy, v.vote, g.greedy_seconds, v.vote_seconds
            )
        rows.append(merged)
        names.append(NAMES[who])
    dtypes = sorted({r.settings.dtype for r in rows})
    if len(dtypes) == 1:
        notes.append(f"- policies loaded in {dtypes[0]} for evaluation")
    elif dtypes:
        notes.append(
            f"- policies loaded in {' and '.join(dtypes)} for evaluation: MIXED — delete one dtype's "
            "greedy-*/vote-* results and caches and rerun them"
        )
    for new, old in PAIRS:
        a, b = out / f"greedy-{old}.json", out / f"greedy-{new}.json"
        if a.is_file() and b.is_file():
            diff = compare_greedy(EvaluationReport.load(a), EvaluationReport.load(b))
            notes.append(
                f"- {NAMES[new]} − {NAMES[old]} greedy accuracy: {diff.estimate * 100:+.1f} points, "
                f"95 % paired-bootstrap interval [{diff.low * 100:+.1f}, {diff.high * 100:+.1f}]"
            )
    curves = {}
    for kind in KINDS:
        for stage in ("control", "ppo"):
            folder = out / f"{stage}-{kind}"
            info_file = folder / (PPO_INFO_NAME if stage == "ppo" else WARMUP_INFO_NAME)
            if not (folder / f"{stage}_budget.json").is_file() or not info_file.is_file():
                continue
            info = json.loads(info_file.read_text())
            what = f"{info['steps']} steps in {_budget_minutes(folder, info)}, lr {info['learning_rate']}"
            if stage == "ppo":
                curves[kind] = json.loads((folder / "reward_curve.json").read_text())
                what += f", β {info['kl_coef']}, PPO epochs {info['ppo_epochs']}"
            notes.append(f"- {NAMES[f'{stage}-{kind}']}: {what}")
    data_file, skipped = out / "verifier-data.jsonl", out / "verifier-skipped.txt"
    if data_file.is_file() and (out / "verifier" / "config.json").is_file():
        labels = [json.loads(line)["label"] for line in data_file.read_text().splitlines()]
        notes.append(
            f"- verifier: trained on {len(labels)} solutions sampled by {NAMES['warmup-full']} on "
            f"SVAMP training questions, {sum(labels)} of them right"
        )
    if skipped.is_file():
        notes.append(f"- verifier: {skipped.read_text().strip()}")
    if curves:
        named = {NAMES[f"ppo-{kind}"]: curve for kind, curve in curves.items()}
        notes.append(plot_curves({"": named}, out / "ppo_curves.png"))
    if searched := search_curves(out):
        notes.append(plot_curves(searched, out / "search_curves.png"))
    lines = [
        f"# Reinforced fine-tuning on SVAMP ({args.format} CoT): PPO, its SFT control, verifier reranking",
        "",
    ]
    if rows:
        lines += [format_table(rows, names=names), ""]
    lines += notes
    if curves:
        lines += ["", "Training diagnostics per step, first fifth → last fifth of the steps:", ""]
        lines += diagnostics_table(curves)
    if search := search_table(out):
        lines += ["", *search]
    atomic_write_text(out / "results.md", "\n".join(lines).rstrip() + "\n")
    summary = {"reports": {n: r.summary() for n, r in zip(names, rows, strict=True)}, "ppo_curves": curves}
    atomic_write_text(out / "results.json", json.dumps(summary, indent=1) + "\n")
    print("\n".join(lines), flush=True)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    if args.tiny:
        args.model = tiny_random_chat_model(out / "tiny-base")
    loaded: dict = {}
    runners = {"sft": run_sft, "search": run_search, "ppo": run_ppo_stage, "control": run_control}
    for stage in args.stages:
        started = time.perf_counter()
        kind, _, rest = stage.partition("-")
        if kind == "split":
            run_split(args, out)
        elif kind in runners:
            loaded.clear()
            runners[kind](args, rest, out)
        elif kind == "verifier":
            loaded.pop("key", None), loaded.pop("policy", None)
            run_verifier_stage(args, out)
        else:
            report = run_eval(args, kind, rest, out, loaded)
            if report is not None:
                print(report.table(), flush=True)
        print(f"[{stage}] {(time.perf_counter() - started) / 60:.1f} min", flush=True)
    summarize(args, out)


if __name__ == "__main__":
    main()
