"""ReinforcedTrainer (PPO) vs TRL's GRPOTrainer: seconds per step, share of generation, peak memory.

Both trainers sample the same tokens per step: 1 question x 4 samples x 128 new tokens (EOS is
suppressed until token 128 in both, so every step generates exactly 512 tokens) on
SmolLM2-135M-Instruct, with a frozen reference model for the KL term, fp32, no activation
checkpointing, the same cheap reward. Each configuration runs in its own process (peak RSS is the
process's), sequentially; the first step is a warm-up and is not timed. Generation time is
measured the same way for both: the time spent inside the policy's ``generate``.

Rows:
  ours         ReinforcedTrainer, the paper's PPO defaults (2 PPO epochs, value head, GAE, beta 0.05)
  ours-1epoch  the same with 1 PPO epoch (GRPO's num_iterations=1 does one pass)
  grpo         GRPOTrainer, beta 0.04 (loads a reference model), fp32, no gradient checkpointing
  grpo-trl-defaults  GRPOTrainer with TRL's own defaults for bf16 and gradient checkpointing (on)

TRL is an optional benchmark dependency: ``pip install -e .[bench]``.

Usage::

    nice python benchmarks/reinforced_vs_grpo.py [--steps 4] [--rows ours,grpo]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import tempfile
import time
from pathlib import Path

from child_rows import report, run_row

SAMPLES = 4
NEW_TOKENS = 128
ROWS = ("ours", "ours-1epoch", "grpo", "grpo-trl-defaults")


def _reward(prompts, completions, **kwargs):
    """Cheap and identical for both: did the sample state an answer?"""
    return [1.0 if "answer is" in c else 0.0 for c in completions]


class _GenerateTimer:
    """Wraps ``model.generate``: wall time and new tokens since the last reset."""

    def __init__(self, model) -> None:
        self.inner, self.seconds, self.tokens = model.generate, 0.0, 0
        model.generate = self

    def __call__(self, *args, **kwargs):
        start = time.perf_counter()
        out = self.inner(*args, **kwargs)
        self.seconds += time.perf_counter() - start
        ids = kwargs.get("input_ids", args[0] if args else None)
        sequences = out.sequences if hasattr(out, "sequences") else out
        self.tokens += int(sequences.shape[0] * (sequences.shape[1] - ids.shape[1]))
        return out


def _worker(row: str, steps: int, model_path: str | None) -> dict:
    import torch
    from datasets import Dataset
    from transformers import TrainerCallback

    from hf_reft.data import load_data
    from hf_reft.models import default_chat_model_path, load_chat_model
    from hf_reft.reinforced.prompts import build_prompt

    torch.manual_seed(0)
    path = str(model_path or default_chat_model_path())
    model, tokenizer = load_chat_model(path)
    timer = _GenerateTimer(model)
    questions, _ = load_data("svamp-nl", limit=32)
    dataset = Dataset.from_dict(
        {
            "prompt": [build_prompt(q, "nl") for q in questions["question"]],
            "answer_value": questions["answer_value"],
        }
    )
    records: list[dict] = []

    class StepTimer(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            timer.seconds, timer.tokens = 0.0, 0
            self.start = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            records.append(
                {
                    "seconds": time.perf_counter() - self.start,
                    "generation": timer.seconds,
                    "tokens": timer.tokens,
                }
            )

    out = tempfile.mkdtemp(prefix=f"bench-{row}-")
    common = dict(
        output_dir=out,
        max_steps=steps + 1,
        learning_rate=1e-6,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        disable_tqdm=True,
        seed=0,
    )
    if row.startswith("ours"):
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
            **common,
        )
        trainer = ReinforcedTrainer(
            model,
            config,
            train_dataset=dataset,
            processing_class=tokenizer,
            reward_funcs=_reward,
            callbacks=[StepTimer()],
        )
    else:
        from trl import GRPOConfig, GRPOTrainer

        precision = {} if row == "grpo-trl-defaults" else {"bf16": False, "gradient_checkpointing": False}
        config = GRPOConfig(
            per_device_train_batch_size=SAMPLES,
            num_generations=SAMPLES,
            max_completion_length=NEW_TOKENS,
            generation_kwargs={"min_new_tokens": NEW_TOKENS},
            beta=0.04,
            **precision,
            **common,
        )
        trainer = GRPOTrainer(
            model=model,
            reward_funcs=_reward,
            args=config,
            train_dataset=dataset,
            processing_class=tokenizer,
            callbacks=[StepTimer()],
        )
    trainer.train()
    shutil.rmtree(out, ignore_errors=True)
    timed = records[1:]
    per_step = sum(r["seconds"] for r in timed) / len(timed)
    generation = sum(r["generation"] for r in timed) / len(timed)
    return {
        "row": row,
        "steps_timed": len(timed),
        "s_per_step": per_step,
        "generation_s": generation,
        "generation_share": generation / per_step,
        "tokens_per_step": sorted({r["tokens"] for r in timed}),
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "torch_threads": torch.get_num_threads(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=4, help="timed steps per row (after one warm-up step)")
    parser.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated subset of {ROWS}")
    parser.add_argument("--model", help="model folder (default: the offline SmolLM2-135M-Instruct)")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        report(_worker(args.worker, args.steps, args.model))
        return

    rows = [r for r in args.rows.split(",") if r]
    unknown = set(rows) - set(ROWS)
    if unknown:
        parser.error(f"unknown rows {sorted(unknown)}; choose from {ROWS}")
    results = []
    for row in rows:
        extra = ["--steps", str(args.steps)] + (["--model", args.model] if args.model else [])
        results.append(run_row(__file__, row, extra))

    print(
        f"\n1 question x {SAMPLES} samples x {NEW_TOKENS} tokens per step; {args.steps} timed steps per row"
    )
    print(f"{'row':<20}{'s/step':>9}{'gen s':>9}{'gen share':>11}{'peak RSS GB':>13}{'tokens/step':>13}")
    for r in results:
        tokens = "/".join(str(t) for t in r["tokens_per_step"])
        print(
            f"{r['row']:<20}{r['s_per_step']:>9.2f}{r['generation_s']:>9.2f}{r['generation_share']:>10.0%}"
            f"{r['peak_rss_gb']:>13.2f}{tokens:>13}"
        )
    by_row = {r["row"]: r for r in results}
    for ours in ("ours", "ours-1epoch"):
        if ours in by_row and "grpo" in by_row:
            a, b = by_row[ours], by_row["grpo"]
            print(
                f"{ours} / grpo: {a['s_per_step'] / b['s_per_step']:.2f}x time per step, "
                f"{a['peak_rss_gb'] / b['peak_rss_gb']:.2f}x peak memory"
            )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
