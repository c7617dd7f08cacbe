"""LoReFT speed and memory against the plain base, the physical floor and peft LoRA, in one run.

Generation: tokens/s of a LoReFT adapter ÷ the plain base model on the same 8 prompts (chat
template, left-padded batch, exactly ``--new-tokens`` greedy tokens), rounds interleaved. The
adapters wrap a twin of the base that shares its weight tensors, so every method reads the same
memory (separately loaded copies differed by a few % on the CPU whatever ran on them).

Training: s/step of LoReFT (layers 6/12/18/24, f5+l5 separate, rank 4, fp32) vs the *physical
floor* — the frozen base with one trainable scalar added to layer 6's output, which needs the
same backward pass down to layer 6 — on the same batches (``--batch`` × ``--seq-len`` tokens of
SVAMP prompts and chain-of-thought answers, prompt masked with -100), steps interleaved; reported
as the median of the per-step ratios with a bootstrap 95 % interval. peft LoRA (rank 4 on
q_proj/v_proj) is interleaved every ``--lora-every`` steps for reference.

Every time is taken twice: wall clock and the process's CPU time. On a machine shared with other
jobs the wall clock includes waiting for a core; the CPU time (with ``--threads 1``) is the compute
the step really costs, and its ratios are the ones to read there.

Peak memory: each method trains ``--memory-steps`` steps in a fresh child process; on CPU the
child's peak resident set size, on CUDA ``torch.cuda.max_memory_allocated``. Also reported: the
bytes autograd saves for the backward pass per step (activation memory), measured in-process.

Usage::

    nice python benchmarks/representation_speed.py                  # SmolLM2-135M-Instruct, CPU
    nice python benchmarks/representation_speed.py --steps 50 --threads 1 --json results.json
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

import hf_reft
from hf_reft.models import load_chat_model

LAYERS = [6, 12, 18, 24]
FLOOR_LAYER = 6
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mwp-reft" / "svamp_nl.json"
PROMPTS = [
    "What is 12 times 7?",
    "Name three primary colors.",
    "Write a short sentence about the sea.",
    "Hi! How are you today?",
    "What is the capital of France?",
    "Explain why ice floats on water.",
    "Count from one to ten.",
    "Why is the sky blue?",
]


# ---------------------------------------------------------------------------- methods
class Floor(torch.nn.Module):
    """The physical floor: frozen base + one trainable scalar added to a layer's output."""

    def __init__(self, base: torch.nn.Module, layer: int) -> None:
        super().__init__()
        self.base = base.requires_grad_(False)
        self.scalar = torch.nn.Parameter(torch.zeros(()))
        _, layers = hf_reft.representation.find_layers(base)

        def add(module, args, output):
            hidden = output[0] if isinstance(output, tuple) else output
            hidden = hidden + self.scalar
            return (hidden, *output[1:]) if isinstance(output, tuple) else hidden

        layers[layer].register_forward_hook(add)

    def forward(self, **batch):
        return self.base(**batch)


def shared_weights_twin(model: torch.nn.Module) -> torch.nn.Module:
    """A second module tree over the *same* parameter and buffer tensors (no copy of the weights).

    Hooks or adapters attached to the twin's modules leave ``model`` untouched, while both read the
    very same memory: a speed comparison between them measures the method, not where each copy of
    the weights happened to land in memory (a few % on a CPU).
    """
    memo = {id(t): t for t in (*model.parameters(), *model.buffers())}
    return copy.deepcopy(model, memo)


def build(method: str, model_path: str | None, device: str) -> tuple[torch.nn.Module, Any]:
    """A fresh base (loaded once per method, so no hooks are shared) wrapped as ``method``."""
    base, tokenizer = load_chat_model(model_path, dtype=torch.float32)
    base.to(device)
    return wrap(method, base), tokenizer


def wrap(method: str, base: torch.nn.Module) -> torch.nn.Module:
    """``base`` as ``method``: itself, the floor, a LoReFT adapter or a peft LoRA model."""
    if method == "base":
        model = base
    elif method == "floor":
        model = Floor(base, FLOOR_LAYER)
    elif method == "loreft":
        torch.manual_seed(0)
        config = hf_reft.ReftConfig(layers=LAYERS, positions="f5+l5", rank=4, share_weights=False)
        model = hf_reft.get_reft_model(base, config)
    elif method == "lora":
        from peft import LoraConfig, get_peft_model

        torch.manual_seed(0)
        model = get_peft_model(
            base, LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["q_proj", "v_proj"])
        )
    else:
        raise ValueError(method)
    return model


def trainable(model: torch.nn.Module) -> list[torch.nn.Parameter]:
    return [p for p in model.parameters() if p.requires_grad]


# ---------------------------------------------------------------------------- data
def training_batches(tokenizer, n_batches: int, batch: int, seq_len: int, device: str) -> list[dict]:
    """``n_batches`` batches of ``batch`` × ``seq_len`` tokens: a SVAMP question (prompt, -100) then answers."""
    records = json.loads(DATA.read_text()) if DATA.is_file() else None
    rng = random.Random(0)
    out = []
    for _ in range(n_batches):
        ids, labels = [], []
        for _ in range(batch):
            if records:
                first = rng.choice(records)
                prompt = tokenizer(f"Question:\n{first['question']}\nAnswer reasoning:\n").input_ids
                answer: list[int] = []
                while len(prompt) + len(answer) < seq_len:
                    item = rng.choice(records)
                    answer += tokenizer(item["answer_cot"] + "\n" + item["question"] + "\n").input_ids
            else:  # no data folder: random tokens, prompt of 32-96 tokens
                prompt = [rng.randrange(10, tokenizer.vocab_size) for _ in range(rng.randrange(32, 96))]
                answer = [rng.randrange(10, tokenizer.vocab_size) for _ in range(seq_len)]
            seq = (prompt + answer)[:seq_len]
            ids.append(seq)
            labels.append(([-100] * len(prompt) + seq[len(prompt) :])[:seq_len])
        input_ids = torch.tensor(ids, device=device)
        out.append(
            {
                "input_ids": input_ids,
                "attention_mask": torch.ones_like(input_ids),
                "labels": torch.tensor(labels, device=device),
            }
        )
    return out


def generation_inputs(tokenizer, device: str) -> dict:
    texts = [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True
        )
        for p in PROMPTS
    ]
    tokenizer.padding_side = "left"
    return {k: v.to(device) for k, v in tokenizer(texts, return_tensors="pt", padding=True).items()}


# ---------------------------------------------------------------------------- measurements
def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


class Clock:
    """Wall-clock and process CPU time of a block (CPU time is what a shared, loaded machine can't inflate)."""

    def __init__(self, device: str) -> None:
        self.device = device

    def __enter__(self) -> Clock:
        sync(self.device)
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        sync(self.device)
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def train_step(model, optimizer, batch, device: str) -> Clock:
    with Clock(device) as clock:
        optimizer.zero_grad(set_to_none=True)
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
    return clock


def generate_time(model, inputs, new_tokens: int, device: str) -> Clock:
    with Clock(device) as clock, torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False)
    assert out.shape[1] == inputs["input_ids"].shape[1] + new_tokens
    return clock


def saved_activation_bytes(model, batch) -> int:
    """Bytes autograd keeps for the backward pass of one training forward."""
    total = 0
    seen = {p.untyped_storage().data_ptr() for p in model.parameters()}  # weights are not activations

    def pack(tensor):
        nonlocal total
        key = tensor.untyped_storage().data_ptr()
        if key not in seen:
            seen.add(key)
            total += tensor.untyped_storage().nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = model(**batch).loss
    loss.backward()
    return total


def median_ratio_ci(num: list[float], den: list[float], n_boot: int = 10_000, seed: int = 0) -> tuple:
    """Median of the paired ratios ``num[i] / den[i]`` and its bootstrap 95 % interval."""
    ratios = [a / b for a, b in zip(num, den, strict=True)]
    rng = random.Random(seed)
    boots = sorted(statistics.median(rng.choice(ratios) for _ in range(len(ratios))) for _ in range(n_boot))
    return statistics.median(ratios), boots[int(0.025 * n_boot)], boots[int(0.975 * n_boot) - 1]


def _vm_hwm_bytes() -> int | None:
    """Peak resident set size of this process since the last reset (Linux ``VmHWM``)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _reset_vm_hwm() -> bool:
    """Reset ``VmHWM`` to the current RSS (Linux: write 5 to ``/proc/self/clear_refs``)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def memory_child(method: str, args: argparse.Namespace) -> None:
    """Run in a fresh process: train ``method`` a few steps and print its peak memory during training."""
    import gc

    torch.set_num_threads(args.threads or torch.get_num_threads())
    model, tokenizer = build(method, args.model, args.device)
    model.train()
    batches = training_batches(tokenizer, args.memory_steps, args.batch, args.seq_len, args.device)
    optimizer = torch.optim.AdamW(trainable(model), lr=1e-4)
    gc.collect()
    if args.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
    else:
        # the loader's own peak would hide training's: start the high-water mark here
        reset = _reset_vm_hwm()
        before = _vm_hwm_bytes() if reset else 0
    for batch in batches:
        train_step(model, optimizer, batch, args.device)
    if args.device.startswith("cuda"):
        peak = torch.cuda.max_memory_allocated()
    else:
        peak = _vm_hwm_bytes() if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"method": method, "peak_bytes": peak, "before_bytes": before}))


def peak_memory(method: str, args: argparse.Namespace) -> dict[str, int]:
    cmd = [
        sys.executable,
        __file__,
        "--memory-child",
        method,
        "--batch",
        str(args.batch),
        "--seq-len",
        str(args.seq_len),
        "--memory-steps",
        str(args.memory_steps),
        "--device",
        args.device,
        "--threads",
        str(args.threads or 0),
    ]
    if args.model:
        cmd += ["--model", args.model]
    result = subprocess.run(cmd, capture_output=True, text=True, check=True)
    line = [line for line in result.stdout.splitlines() if line.startswith("{")][-1]
    return json.loads(line)


# ---------------------------------------------------------------------------- main
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model", default=None, help="base model (default: the offline SmolLM2-135M-Instruct)"
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--steps", type=int, default=50, help="timed training steps of floor and LoReFT each")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--lora-every", type=int, default=5, help="time a LoRA step every N steps (0: never)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq-len", type=int, default=256)
    parser.add_argument("--gen-rounds", type=int, default=5, help="interleaved generation rounds")
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--memory-steps", type=int, default=3)
    parser.add_argument("--skip", nargs="*", default=[], choices=["generation", "training", "memory", "lora"])
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--memory-child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child, args)
        return 0
    if args.threads:
        torch.set_num_threads(args.threads)
    methods = ["base", "floor", "loreft"] + ([] if "lora" in args.skip else ["lora"])
    models = {m: build(m, args.model, args.device) for m in methods}
    tokenizer = models["base"][1]
    models = {m: mt[0] for m, mt in models.items()}
    results: dict[str, Any] = {
        "model": str(args.model or "SmolLM2-135M-Instruct (hf_reft.models.default_chat_model_path())"),
        "device": args.device,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "trainable_parameters": {
            m: sum(p.numel() for p in trainable(models[m])) for m in methods if m != "base"
        },
    }
    print(
        json.dumps({k: results[k] for k in ("model", "device", "threads", "trainable_parameters")}, indent=1)
    )

    if "generation" not in args.skip:
        gen_methods = [m for m in ("base", "loreft", "lora") if m in models]
        inputs = generation_inputs(tokenizer, args.device)
        # every method over the base's own weight tensors (see shared_weights_twin)
        plain = models["base"]
        gen_models = {m: plain if m == "base" else wrap(m, shared_weights_twin(plain)) for m in gen_methods}
        for m in gen_methods:
            gen_models[m].eval()
            generate_time(gen_models[m], inputs, 4, args.device)  # warm-up
        times: dict[str, list[float]] = {m: [] for m in gen_methods}
        cpu: dict[str, list[float]] = {m: [] for m in gen_methods}
        for r in range(args.gen_rounds):
            order = gen_methods[r % len(gen_methods) :] + gen_methods[: r % len(gen_methods)]
            for m in order:
                clock = generate_time(gen_models[m], inputs, args.new_tokens, args.device)
                times[m].append(clock.wall)
                cpu[m].append(clock.cpu)
            print(
                f"generation round {r + 1}: "
                + ", ".join(f"{m} {times[m][-1]:.2f}s wall {cpu[m][-1]:.2f}s cpu" for m in gen_methods),
                flush=True,
            )
        tokens = len(PROMPTS) * args.new_tokens
        gen: dict[str, Any] = {"tokens_per_round": tokens, "seconds": times, "cpu_seconds": cpu}
        for m in gen_methods:
            gen[f"{m}_tokens_per_s"] = tokens / statistics.median(times[m])
            gen[f"{m}_tokens_per_cpu_s"] = tokens / statistics.median(cpu[m])
            if m != "base":
                # ratio of tokens/s = inverse ratio of times
                gen[f"{m}_over_base"] = median_ratio_ci(times["base"], times[m])
                gen[f"{m}_over_base_cpu"] = median_ratio_ci(cpu["base"], cpu[m])
        results["generation"] = gen

    if "training" not in args.skip:
        train_methods = [m for m in ("floor", "loreft", "lora") if m in models]
        batches = training_batches(tokenizer, 10, args.batch, args.seq_len, args.device)
        optimizers = {m: torch.optim.AdamW(trainable(models[m]), lr=1e-4) for m in train_methods}
        for m in train_methods:
            models[m].train()
            for i in range(args.warmup):
                train_step(models[m], optimizers[m], batches[i % len(batches)], args.device)
        times = {m: [] for m in train_methods}
        cpu = {m: [] for m in train_methods}
        for step in range(args.steps):
            batch = batches[step % len(batches)]
            order = ["floor", "loreft"] if step % 2 == 0 else ["loreft", "floor"]
            if "lora" in models and args.lora_every and step % args.lora_every == 0:
                order.append("lora")
            for m in order:
                clock = train_step(models[m], optimizers[m], batch, args.device)
                times[m].append(clock.wall)
                cpu[m].append(clock.cpu)
            running = statistics.median(a / b for a, b in zip(cpu["loreft"], cpu["floor"], strict=True))
            print(
                f"step {step + 1}/{args.steps}: "
                + ", ".join(f"{m} {times[m][-1]:.2f}s wall {cpu[m][-1]:.2f}s cpu" for m in order)
                + f" | running median cpu ratio {running:.4f}",
                flush=True,
            )
        train: dict[str, Any] = {"seconds": times, "cpu_seconds": cpu}
        for m in train_methods:
            train[f"{m}_median_s_per_step"] = statistics.median(times[m])
            train[f"{m}_median_cpu_s_per_step"] = statistics.median(cpu[m])
        train["loreft_over_floor"] = median_ratio_ci(times["loreft"], times["floor"])
        train["loreft_over_floor_cpu"] = median_ratio_ci(cpu["loreft"], cpu["floor"])
        if times.get("lora"):
            lora_steps = list(range(0, args.steps, args.lora_every))
            train["lora_over_floor"] = median_ratio_ci(times["lora"], [times["floor"][i] for i in lora_steps])
            train["lora_over_floor_cpu"] = median_ratio_ci(cpu["lora"], [cpu["floor"][i] for i in lora_steps])
        train["saved_activation_mb"] = {
            m: saved_activation_bytes(models[m], batches[0]) / 2**20 for m in train_methods
        }
        results["training"] = train

    del models
    if "memory" not in args.skip:
        mem_methods = ["floor", "loreft"] + ([] if "lora" in args.skip else ["lora"])
        peaks = {m: peak_memory(m, args) for m in mem_methods}
        results["peak_memory_mb"] = {m: p["peak_bytes"] / 2**20 for m, p in peaks.items()}
        results["peak_memory_over_loaded_model_mb"] = {
            m: (p["peak_bytes"] - p["before_bytes"]) / 2**20 for m, p in peaks.items()
        }

    print_report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


def _ratio(value: tuple[float, float, float]) -> str:
    med, lo, hi = value
    return f"{med:.4f} [{lo:.4f}, {hi:.4f}]"


def print_report(results: dict[str, Any]) -> None:
    print("\n=== hf-reft representation speed ===")
    print(f"model: {results['model']} | device: {results['device']} | threads: {results['threads']}")
    print(f"trainable parameters: {results['trainable_parameters']}")
    if gen := results.get("generation"):
        print(f"\ngeneration ({gen['tokens_per_round']} greedy tokens per round, left-padded batch of 8):")
        for m in ("base", "loreft", "lora"):
            if f"{m}_tokens_per_s" in gen:
                line = f"  {m:7s} {gen[f'{m}_tokens_per_s']:7.2f} tokens/s, {gen[f'{m}_tokens_per_cpu_s']:7.2f} tokens/cpu-s"
                if f"{m}_over_base" in gen:
                    line += "   ÷ base: " + _ratio(gen[f"{m}_over_base"]) + " wall, "
                    line += _ratio(gen[f"{m}_over_base_cpu"]) + " cpu"
                print(line)
    if train := results.get("training"):
        print(
            "\ntraining (median s/step over interleaved steps; ratios: median of per-step ratios, bootstrap 95% CI):"
        )
        for m in ("floor", "loreft", "lora"):
            if f"{m}_median_s_per_step" in train:
                n = len(train["seconds"][m])
                line = (
                    f"  {m:7s} {train[f'{m}_median_s_per_step']:7.3f} s/step wall, "
                    f"{train[f'{m}_median_cpu_s_per_step']:7.3f} cpu-s/step (n={n})"
                )
                if f"{m}_over_floor" in train:
                    line += "   ÷ floor: " + _ratio(train[f"{m}_over_floor"]) + " wall, "
                    line += _ratio(train[f"{m}_over_floor_cpu"]) + " cpu"
                print(line)
        print(
            "  saved activations per step (MB): "
            + ", ".join(f"{m} {v:.0f}" for m, v in train["saved_activation_mb"].items())
        )
    if mem := results.get("peak_memory_mb"):
        what = "GPU memory allocated" if results["device"].startswith("cuda") else "resident set size"
        print(f"\npeak {what} while training (MB, fresh process each, model loaded):")
        extra = results["peak_memory_over_loaded_model_mb"]
        for m, v in mem.items():
            print(f"  {m:7s} {v:7.0f} MB   (+{extra[m]:.0f} MB over the loaded model before the first step)")


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
