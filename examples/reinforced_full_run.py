"""The real run of reinforced fine-tuning (issue 8): base → warm-up SFT → PPO (full model and LoReFT)
→ verifier → evaluation table, on SmolLM2-135M-Instruct and SVAMP, natural-language CoT.

Stages (each cached under ``--output``; rerun the same command after an interruption and it
continues where it stopped — finished folders are reused, SFT and PPO resume from their last
checkpoint, evaluations from their JSONL caches):

1. ``sft-full`` / ``sft-loreft`` — warm-up SFT on ``svamp-nl`` of the full model, and of a LoReFT
   adapter over the frozen base (``warmup-full/``, ``warmup-loreft/``);
2. ``ppo-full`` / ``ppo-loreft`` — PPO from each warm-up model on the SVAMP training questions
   (reference = the warm-up policy: a frozen copy for the full model, the frozen warm-up
   interventions on the shared base for LoReFT), at most ``--ppo-minutes`` (30) CPU minutes (this
   process's CPU time, so other jobs on a shared machine do not eat the budget) or
   ``--ppo-steps`` each; the reward curve goes to ``ppo-*/reward_curve.json``;
3. ``verifier`` — ``--verifier-k`` solutions sampled by the full warm-up model on
   ``--verifier-questions`` training questions, labelled by correctness, a classifier initialised
   from the warm-up model (``verifier/``);
4. ``greedy-*`` — greedy accuracy on the first ``--n-greedy`` (300) SVAMP test questions (a fixed
   subset; the training data does not overlap it — checked by SFT and PPO), and ``vote-*`` —
   vote@8 and rerank@8 (same samples) on the first ``--n-vote`` (100) of them, for base, both
   warm-up models and both PPO models, with 95 % Wilson intervals.

Nothing is tuned on the test subset: the settings below are fixed before any evaluation.
Results: ``OUTPUT/results.md`` (the table, paired differences, reward curves, minutes) and
``OUTPUT/results.json``.

    nohup nice -n 10 python examples/reinforced_full_run.py --output runs/reinforced-full > runs/reinforced-full.log 2>&1 &

``--tiny`` runs every stage on a tiny random model with a handful of questions (a smoke test of
the pipeline in about a minute; its numbers mean nothing).
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
    load_questions,
)
from hf_reft.reinforced.ppo_stage import PPO_INFO_NAME, prepare_ppo, run_ppo
from hf_reft.reinforced.sft import WARMUP_INFO_NAME, default_test_sets, load_policy, warmup_sft
from hf_reft.reinforced.verifier import Verifier, sample_policy_verifier_data, train_verifier
from hf_reft.representation.trainer import TrainingTimeBudget

POLICIES = ("base", "warmup-full", "warmup-loreft", "ppo-full", "ppo-loreft")
STAGES = (
    "sft-full",
    "sft-loreft",
    "ppo-full",
    "ppo-loreft",
    "verifier",
    *(f"greedy-{p}" for p in POLICIES),
    *(f"vote-{p}" for p in POLICIES),
)
NAMES = {
    "base": "SmolLM2-135M-Instruct",
    "warmup-full": "warm-up SFT (full)",
    "warmup-loreft": "warm-up SFT (LoReFT)",
    "ppo-full": "PPO (full)",
    "ppo-loreft": "PPO (LoReFT)",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--output", default="runs/reinforced-full", help="folder for every stage's results")
    parser.add_argument("--model", default=None, help="base model (default: offline SmolLM2-135M-Instruct)")
    parser.add_argument("--data-dir", default=None, help="shared data folder (default ../shared/data)")
    parser.add_argument("--stages", nargs="+", default=list(STAGES), choices=STAGES)
    parser.add_argument("--sft-steps", type=int, default=40)
    parser.add_argument("--sft-batch-size", type=int, default=8)
    parser.add_argument("--sft-learning-rate", type=float, default=5e-5, help="full model")
    parser.add_argument("--loreft-learning-rate", type=float, default=2e-3, help="LoReFT warm-up")
    parser.add_argument("--loreft-positions", default="f7+l7")
    parser.add_argument("--loreft-rank", type=int, default=4)
    parser.add_argument("--max-length", type=int, default=224, help="SFT tokens per example")
    parser.add_argument("--train-limit", type=int, default=None, help="first N training rows (SFT and PPO)")
    parser.add_argument("--ppo-steps", type=int, default=200, help="PPO rollouts at most")
    parser.add_argument("--ppo-minutes", type=float, default=30.0, help="PPO CPU-time budget per policy")
    parser.add_argument("--ppo-batch-size", type=int, default=2, help="questions per rollout")
    parser.add_argument("--ppo-samples", type=int, default=4, help="samples per question")
    parser.add_argument("--ppo-new-tokens", type=int, default=160)
    parser.add_argument("--ppo-full-lr", type=float, default=1e-6)
    parser.add_argument("--ppo-loreft-lr", type=float, default=1e-4)
    parser.add_argument("--kl-coef", type=float, default=0.05)
    parser.add_argument("--save-steps", type=int, default=10, help="PPO checkpoint interval (resume)")
    parser.add_argument("--verifier-questions", type=int, default=100)
    parser.add_argument("--verifier-k", type=int, default=4)
    parser.add_argument("--verifier-epochs", type=float, default=2.0)
    parser.add_argument("--n-greedy", type=int, default=300, help="first N svamp-test questions, greedy")
    parser.add_argument("--n-vote", type=int, default=100, help="first N of them for vote@k and rerank@k")
    parser.add_argument("--vote-k", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=160)
    parser.add_argument("--eval-batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tiny", action="store_true", help="smoke test: tiny random model, a few questions")
    args = parser.parse_args(argv)
    if args.tiny:
        args.sft_steps, args.sft_batch_size, args.max_length, args.train_limit = 2, 2, 160, 16
        args.ppo_steps, args.ppo_batch_size, args.ppo_samples, args.ppo_new_tokens = 2, 1, 2, 6
        args.save_steps, args.ppo_minutes = 1, 5.0
        args.verifier_questions, args.verifier_k, args.verifier_epochs = 3, 2, 1.0
        args.n_greedy, args.n_vote, args.vote_k, args.max_new_tokens = 3, 2, 2, 6
        args.loreft_positions = "l1"
    return args


def tiny_base(out: Path) -> str:
    """A 2-layer random Llama with SmolLM2's tokenizer (for ``--tiny``)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig

    from hf_reft.models import default_chat_model_path

    folder = (out / "tiny-base").resolve()
    if not (folder / "config.json").is_file():
        tokenizer = AutoTokenizer.from_pretrained(str(default_chat_model_path()))
        torch.manual_seed(0)
        config = LlamaConfig(
            hidden_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            intermediate_size=128,
            vocab_size=len(tokenizer),
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
        AutoModelForCausalLM.from_config(config).save_pretrained(folder)
        tokenizer.save_pretrained(folder)
    return str(folder)


def _last_checkpoint(folder: Path) -> str | None:
    checkpoints = sorted(folder.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    return str(checkpoints[-1]) if checkpoints else None


def run_sft(args: argparse.Namespace, kind: str, out: Path) -> None:
    import hf_reft

    folder = out / f"warmup-{kind}"
    if (folder / WARMUP_INFO_NAME).is_file():
        print(f"[sft-{kind}] cached: {folder}", flush=True)
        return
    adapter = None
    if kind == "loreft":
        adapter = hf_reft.ReftConfig(layers="all", positions=args.loreft_positions, rank=args.loreft_rank)
    result = warmup_sft(
        args.model,
        "svamp-nl",
        folder,
        format="nl",
        adapter_config=adapter,
        data_dir=args.data_dir,
        limit=args.train_limit,
        test_sets=default_test_sets("svamp-nl"),
        max_length=args.max_length,
        max_steps=args.sft_steps,
        per_device_train_batch_size=args.sft_batch_size,
        learning_rate=args.loreft_learning_rate if adapter else args.sft_learning_rate,
        warmup_steps=max(1, args.sft_steps // 10),
        logging_steps=5,
        save_strategy="steps",
        save_steps=max(1, args.sft_steps // 2),
        save_total_limit=1,
        resume_from_checkpoint=_last_checkpoint(folder / "checkpoints"),
    )
    print(
        f"[sft-{kind}] done in {result.info.train_seconds / 60:.1f} min, final loss {result.info.final_loss}"
    )


def run_ppo_stage(args: argparse.Namespace, kind: str, out: Path) -> None:
    folder, warmup = out / f"ppo-{kind}", out / f"warmup-{kind}"
    if (folder / PPO_INFO_NAME).is_file():
        print(f"[ppo-{kind}] cached: {folder}", flush=True)
        return
    if not (warmup / WARMUP_INFO_NAME).is_file():
        print(f"[ppo-{kind}] skipped: run sft-{kind} first", flush=True)
        return
    folder.mkdir(parents=True, exist_ok=True)
    budget = TrainingTimeBudget(args.ppo_minutes * 60, clock="cpu")
    setup = prepare_ppo(
        str(warmup),
        folder,
        data_dir=args.data_dir,
        limit=args.train_limit,
        max_steps=args.ppo_steps,
        per_device_train_batch_size=args.ppo_batch_size,
        samples_per_question=args.ppo_samples,
        max_new_tokens=args.ppo_new_tokens,
        learning_rate=args.ppo_full_lr if kind == "full" else args.ppo_loreft_lr,
        kl_coef=args.kl_coef,
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
    result = run_ppo(setup, folder, resume_from_checkpoint=_last_checkpoint(folder / "checkpoints"))
    curve = [
        {k: h[k] for k in ("step", "reward", "accuracy", "kl", "response_length") if k in h}
        for h in result.log_history
        if "reward" in h
    ]
    atomic_write_text(folder / "reward_curve.json", json.dumps(curve, indent=1) + "\n")
    spent = {
        "cpu_minutes": round(budget.cpu_elapsed / 60, 2),
        "wall_minutes": round(budget.wall_elapsed / 60, 2),
    }
    atomic_write_text(folder / "ppo_budget.json", json.dumps(spent) + "\n")
    print(
        f"[ppo-{kind}] {result.info['steps']} steps, reward {result.info['first_reward']} → {result.info['last_reward']}"
    )


def run_verifier_stage(args: argparse.Namespace, out: Path) -> None:
    folder, warmup = out / "verifier", out / "warmup-full"
    if (folder / "config.json").is_file() or (out / "verifier-skipped.txt").is_file():
        print("[verifier] cached", flush=True)
        return
    if not (warmup / WARMUP_INFO_NAME).is_file():
        print("[verifier] skipped: run sft-full first", flush=True)
        return
    data_file = out / "verifier-data.jsonl"
    if data_file.is_file():
        from datasets import Dataset

        data = Dataset.from_list([json.loads(line) for line in data_file.read_text().splitlines()])
    else:
        questions, benchmark = load_questions(
            "svamp-nl", data_dir=args.data_dir, limit=args.verifier_questions
        )
        data = sample_policy_verifier_data(  # prompted as the warm-up folder records
            str(warmup),
            questions,
            batch_size=args.eval_batch_size,
            benchmark=benchmark,
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
        loaded.update(key=key, policy=load_policy(model))
    report = evaluate_model(
        model,
        "svamp-test",
        format="nl",
        data_dir=args.data_dir,
        limit=args.n_vote if vote else args.n_greedy,
        greedy=not vote,
        vote_k=args.vote_k if vote else 0,
        max_new_tokens=args.max_new_tokens,
        batch_size=args.eval_batch_size,
        cache_path=out / "cache" / f"{kind}-{who}.jsonl",
        policy=loaded["policy"],
        verifier=verifier,
        progress=False,
    )
    report.model = NAMES[who]
    report.save(path)
    return report


def _ppo_minutes(folder: Path, info: dict) -> str:
    """PPO time as "12.3 CPU min (15.0 wall min …)" from ``ppo_budget.json``, else the stage's wall minutes."""
    spent = folder / "ppo_budget.json"
    if spent.is_file():
        record = json.loads(spent.read_text())
        return (
            f"{record['cpu_minutes']:.1f} CPU min ({record['wall_minutes']:.1f} wall min of training steps)"
        )
    return f"{info['train_seconds'] / 60:.1f} min"


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
    for ppo, warm in (("ppo-full", "warmup-full"), ("ppo-loreft", "warmup-loreft"), ("warmup-full", "base")):
        a, b = out / f"greedy-{warm}.json", out / f"greedy-{ppo}.json"
        if a.is_file() and b.is_file():
            diff = compare_greedy(EvaluationReport.load(a), EvaluationReport.load(b))
            notes.append(
                f"- {NAMES[ppo]} − {NAMES[warm]} greedy accuracy: {diff.estimate * 100:+.1f} points, "
                f"95 % paired-bootstrap interval [{diff.low * 100:+.1f}, {diff.high * 100:+.1f}]"
            )
    curves = {}
    for kind in ("full", "loreft"):
        info_file, curve_file = out / f"ppo-{kind}" / PPO_INFO_NAME, out / f"ppo-{kind}" / "reward_curve.json"
        if info_file.is_file() and curve_file.is_file():
            info, curve = json.loads(info_file.read_text()), json.loads(curve_file.read_text())
            rewards = [c["reward"] for c in curve]
            window = max(1, len(rewards) // 5)
            first, last = sum(rewards[:window]) / window, sum(rewards[-window:]) / window
            curves[kind] = rewards
            notes.append(
                f"- {NAMES[f'ppo-{kind}']}: {info['steps']} steps in {_ppo_minutes(out / f'ppo-{kind}', info)}, lr {info['learning_rate']}, "
                f"β {info['kl_coef']}; mean training reward first {window} steps {first:.3f} → last {window} "
                f"{last:.3f}; curve: {' '.join(f'{r:.2f}' for r in rewards)}"
            )
    data_file, skipped = out / "verifier-data.jsonl", out / "verifier-skipped.txt"
    if data_file.is_file() and (out / "verifier" / "config.json").is_file():
        labels = [json.loads(line)["label"] for line in data_file.read_text().splitlines()]
        notes.append(
            f"- verifier: trained on {len(labels)} solutions sampled by {NAMES['warmup-full']} on "
            f"SVAMP training questions, {sum(labels)} of them right"
        )
    if skipped.is_file():
        notes.append(f"- verifier: {skipped.read_text().strip()}")
    lines = ["# Reinforced fine-tuning, part 3: PPO (full and LoReFT) and verifier reranking", ""]
    if rows:
        lines += [format_table(rows, names=names), ""]
    lines += notes
    atomic_write_text(out / "results.md", "\n".join(lines) + "\n")
    summary = {"reports": {n: r.summary() for n, r in zip(names, rows, strict=True)}, "reward_curves": curves}
    atomic_write_text(out / "results.json", json.dumps(summary, indent=1) + "\n")
    print("\n".join(lines), flush=True)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    if args.tiny:
        args.model = tiny_base(out)
    loaded: dict = {}
    for stage in args.stages:
        started = time.perf_counter()
        kind, _, rest = stage.partition("-")
        if kind == "sft":
            run_sft(args, rest, out)
        elif kind == "ppo":
            loaded.clear()
            run_ppo_stage(args, rest, out)
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
