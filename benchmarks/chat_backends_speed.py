"""Tokens/s of RefTool's default model on llama.cpp vs the same GGUF dequantised into transformers.

    python benchmarks/chat_backends_speed.py [--rounds 3] [--new-tokens 48] [--threads 2]

Both rows run the same file (Qwen2.5-Coder-1.5B-Instruct Q4_K_M by default, ``--gguf`` for another):
``LlamaCppChatBackend`` (llama.cpp, one slot) and ``TransformersChatBackend`` over the model that
``transformers`` loads from that GGUF (weights dequantised to float32). Each round asks each backend,
alternately, twice with a fresh prompt of about 300 tokens (a nonce at its start, so that llama.cpp's
prompt cache cannot help): once for one token (prefill) and once for ``--new-tokens`` greedy tokens of a
reply that does not stop early. Prompt tokens/s = prompt tokens / prefill time; generation tokens/s =
(new tokens - 1) / (full time - prefill time). The ratio llama.cpp / transformers is per round, with
the min-max range over rounds. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hf_reft.models import gguf_model_path, load_chat_model
from hf_reft.reftool.chat import LlamaCppChatBackend, TransformersChatBackend

TEXT = (
    "Chemistry is the study of the composition, properties, and interactions of matter. Chemists study "
    "substances in the world around us, from the atoms of a single element to the molecules of life. "
) * 6


def prompt(nonce: str) -> list[dict[str, str]]:
    return [
        {"role": "user", "content": f"[{nonce}] {TEXT}\nWrite a very long essay about the paragraph above."}
    ]


def timed(backend, messages, new_tokens: int) -> float:
    started = time.perf_counter()
    backend.chat(messages, max_new_tokens=new_tokens, temperature=0.0)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gguf", help="GGUF file (default: RefTool's default model)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--new-tokens", type=int, default=48)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    path = Path(args.gguf) if args.gguf else gguf_model_path()
    model, tokenizer = load_chat_model(str(path.parent), gguf_file=path.name)
    rows = {
        "llama.cpp": LlamaCppChatBackend(path, parallel=1, threads=args.threads),
        "transformers": TransformersChatBackend(model, tokenizer, max_batch_size=1),
    }
    ids = tokenizer.apply_chat_template(
        prompt(uuid.uuid4().hex[:8]), add_generation_prompt=True, return_dict=True
    )
    n_prompt = len(ids["input_ids"])
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in rows}
    for r in range(args.rounds):
        for name, backend in rows.items() if r % 2 == 0 else reversed(rows.items()):
            prefill = timed(backend, prompt(uuid.uuid4().hex[:8]), 1)
            full = timed(backend, prompt(uuid.uuid4().hex[:8]), args.new_tokens)
            results[name].append((n_prompt / prefill, (args.new_tokens - 1) / max(full - prefill, 1e-9)))
            print(f"round {r + 1} {name:>12}: prompt {results[name][-1][0]:6.1f} tok/s, "
                  f"generation {results[name][-1][1]:6.1f} tok/s", flush=True)  # fmt: skip
    print(f"\nprompt {n_prompt} tokens, {args.new_tokens} new tokens, {args.threads} threads, {path.name}")
    for k, what in enumerate(("prompt", "generation")):
        medians = {name: statistics.median(v[k] for v in values) for name, values in results.items()}
        ratios = [a[k] / b[k] for a, b in zip(results["llama.cpp"], results["transformers"], strict=True)]
        print(
            f"{what:>10}: llama.cpp {medians['llama.cpp']:.1f} tok/s, transformers {medians['transformers']:.1f} "
            f"tok/s, ratio {statistics.median(ratios):.1f}x (rounds: {min(ratios):.1f}-{max(ratios):.1f}x)"
        )
    rows["llama.cpp"].close()


if __name__ == "__main__":
    main()
