"""Peak memory of PPO with a LoReFT-adapter policy vs a full-model policy, on the same model.

Both rows run one :class:`~hf_reft.reinforced.ReinforcedTrainer` step (one rollout of 1 question x
4 samples x ``--new-tokens`` tokens, EOS suppressed so both generate the same number of tokens,
then the PPO updates) on SmolLM2-135M-Instruct in fp32, each in its own process, one after the
other. Measured per process:

* **peak RSS** — ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` at the end (the process's high-water
  mark), and the same minus the peak reached before the model was loaded (Python + torch +
  transformers), i.e. what the training itself added;
* **persistent tensors** — bytes of every distinct tensor storage the run keeps between steps:
  policy and value head, the reference (a deep copy of the model for the full policy; a frozen copy
  of the interventions on the shared base for LoReFT), gradients and AdamW state.

Rows:
  full     full-model policy, reference = frozen copy of the model
  loreft   LoReFT adapter (all layers, positions f7+l7, rank 4) over the frozen base, reference =
           frozen copy of the interventions on the same base

Goal (issue 8): loreft / full <= 0.6 in peak memory.

Usage::

    nice python benchmarks/reinforced_memory.py [--new-tokens 64] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
from pathlib import Path

from child_rows import report, run_row

ROWS = ("full", "loreft")
SAMPLES = 4


def _maxrss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def _reward(prompts, completions, **kwargs):
    return [1.0 if "answer is" in c else 0.0 for c in completions]


def _persistent_bytes(trainer) -> dict[str, int]:
    """Bytes of the distinct storages held by the model, the reference, gradients and the optimizer."""
    import torch

    seen: set[int] = set()

    def add(tensors) -> int:
        total = 0
        for t in tensors:
            if not isinstance(t, torch.Tensor):
                continue
            storage = t.untyped_storage()
            if storage.data_ptr() in seen or storage.nbytes() == 0:
                continue
            seen.add(storage.data_ptr())
            total += storage.nbytes()
        return total

    model = trainer.model
    reference = trainer.reference
    ref_module = getattr(reference, "model", None) or getattr(reference, "interventions", None)
    parts = {"model": add(model.parameters()) + add(model.buffers())}
    parts["reference"] = add(ref_module.parameters()) + add(ref_module.buffers()) if ref_module else 0
    parts["gradients"] = add(p.grad for p in model.parameters() if p.grad is not None)
    optimizer = trainer.optimizer
    parts["optimizer"] = (
        add(v for state in optimizer.state.values() for v in state.values()) if optimizer else 0
    )
    parts["total"] = sum(parts.values())
    return parts


def _worker(row: str, new_tokens: int, model_path: str | None) -> dict:
    import torch
    from datasets import Dataset

    from hf_reft.data import load_data
    from hf_reft.models import default_chat_model_path, load_chat_model
    from hf_reft.reinforced import ReinforcedConfig, ReinforcedTrainer
    from hf_reft.reinforced.prompts import build_prompt

    before_model = _maxrss_gb()
    torch.manual_seed(0)
    model, tokenizer = load_chat_model(str(model_path or default_chat_model_path()))
    model.generation_config.min_new_tokens = new_tokens
    if row == "loreft":
        import hf_reft

        model = hf_reft.get_reft_model(model, hf_reft.ReftConfig(layers="all", positions="f7+l7", rank=4))
    questions, _ = load_data("svamp-nl", limit=8)
    dataset = Dataset.from_dict(
        {
            "prompt": [build_prompt(q, "nl") for q in questions["question"]],
            "answer_value": questions["answer_value"],
        }
    )
    config = ReinforcedConfig(
        output_dir=tempfile.mkdtemp(prefix=f"bench-memory-{row}-"),
        per_device_train_batch_size=1,
        samples_per_question=SAMPLES,
        max_new_tokens=new_tokens,
        ppo_epochs=2,
        num_mini_batches=1,
        forward_batch_size=SAMPLES,
        max_steps=1,
        learning_rate=1e-6,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        disable_tqdm=True,
        seed=0,
    )
    trainer = ReinforcedTrainer(
        model, config, train_dataset=dataset, processing_class=tokenizer, reward_funcs=_reward
    )
    trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    trainer.train()
    peak = _maxrss_gb()
    return {
        "row": row,
        "peak_rss_gb": peak,
        "rss_before_model_gb": before_model,
        "training_rss_gb": peak - before_model,
        "persistent_gb": {k: v / 2**30 for k, v in _persistent_bytes(trainer).items()},
        "trainable_parameters": trainable,
        "new_tokens": new_tokens,
        "torch_threads": torch.get_num_threads(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--new-tokens", type=int, default=64, help="tokens sampled per completion")
    parser.add_argument("--model", help="model folder (default: the offline SmolLM2-135M-Instruct)")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        report(_worker(args.worker, args.new_tokens, args.model))
        return

    results = []
    for row in ROWS:
        extra = ["--new-tokens", str(args.new_tokens)] + (["--model", args.model] if args.model else [])
        results.append(run_row(__file__, row, extra))

    print(f"\none PPO step: 1 question x {SAMPLES} samples x {args.new_tokens} tokens, fp32, 2 PPO epochs")
    header = f"{'row':<8}{'trainable':>12}{'peak RSS GB':>13}{'training GB':>13}{'tensors GB':>12}"
    print(header + "  (model / reference / grads / optimizer)")
    for r in results:
        p = r["persistent_gb"]
        print(
            f"{r['row']:<8}{r['trainable_parameters']:>12,}{r['peak_rss_gb']:>13.2f}{r['training_rss_gb']:>13.2f}"
            f"{p['total']:>12.2f}  ({p['model']:.2f} / {p['reference']:.3f} / {p['gradients']:.3f} / "
            f"{p['optimizer']:.3f})"
        )
    full, loreft = results
    print(
        f"loreft / full: {loreft['peak_rss_gb'] / full['peak_rss_gb']:.2f}x peak RSS, "
        f"{loreft['training_rss_gb'] / full['training_rss_gb']:.2f}x RSS added by training, "
        f"{loreft['persistent_gb']['total'] / full['persistent_gb']['total']:.2f}x persistent tensors (goal <= 0.6x)"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
