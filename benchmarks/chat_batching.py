"""RefTool requests per minute on the local chat model: one at a time vs batched.

    python benchmarks/chat_batching.py [--prompts creation|pot] [--requests 8] [--batch 8] [--new-tokens 256]

The requests are real RefTool prompts, greedy, answered by the offline default model (or
``--model``): ``creation`` sends the tool-creation prompts of the first Chemistry 2e sections
that have a worked example (what ``hf-reft reftool build`` sends: long prompts, ~2,000 tokens),
``pot`` the program-of-thought prompts of the first SciBench chemistry problems (what
``hf-reft reftool evaluate`` and the Space send: short prompts, long replies). Row "alone" sends them one after another (``max_batch_size=1``, the build's old
behaviour); row "batched" sends them from one thread each, so that the backend's queue turns
them into left-padded batches of up to ``--batch``. Both rows run over the same loaded weights,
alternating ``--rounds`` times; the ratio is per round, of wall time and of this process's CPU
time (which other load on a shared machine does not inflate). The script also checks that every
batched reply equals the reply the request got alone, and prints how many do.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from hf_reft.reftool import prompts
from hf_reft.reftool.books import Reference
from hf_reft.reftool.chat import TransformersChatBackend
from hf_reft.reftool.creation import ToolCreator, section_exercises
from hf_reft.reftool.evaluation import load_scibench


def creation_requests(count: int) -> list[list[dict[str, str]]]:
    """The creation messages of the first ``count`` Chemistry 2e sections with a worked example."""
    reference = Reference.load("chemistry-2e")
    creator = ToolCreator(backend=None)  # type: ignore[arg-type]  # only builds prompts
    sections = [s for s in reference.sections if section_exercises(s)][:count]
    return [creator.creation_messages(section) for section in sections]


def pot_requests(count: int) -> list[list[dict[str, str]]]:
    """The program-of-thought messages of the first ``count`` SciBench ``atkins`` problems."""
    return [prompts.pot_messages(p.text) for p in load_scibench(["atkins"])[:count]]


def run_alone(
    backend: TransformersChatBackend, chats: list, new_tokens: int
) -> tuple[list[str], float, float]:
    backend.max_batch_size = 1
    wall, cpu = time.perf_counter(), time.process_time()
    replies = [backend.chat(chat, max_new_tokens=new_tokens) for chat in chats]
    return replies, time.perf_counter() - wall, time.process_time() - cpu


def run_batched(
    backend: TransformersChatBackend, chats: list, new_tokens: int, batch: int
) -> tuple[list[str], float, float]:
    backend.max_batch_size = batch
    replies = [""] * len(chats)

    def ask(i: int) -> None:
        replies[i] = backend.chat(chats[i], max_new_tokens=new_tokens)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(chats))]
    wall, cpu = time.perf_counter(), time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return replies, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model", default=None, help="chat model (default: the offline SmolLM2-135M-Instruct)"
    )
    parser.add_argument("--prompts", choices=("creation", "pot"), default="creation")
    parser.add_argument("--requests", type=int, default=8)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--new-tokens", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    backend = TransformersChatBackend(args.model)
    chats = creation_requests(args.requests) if args.prompts == "creation" else pot_requests(args.requests)
    lengths = [len(backend._tokenize(chat, 1)) for chat in chats]
    print(
        f"{len(chats)} {args.prompts} prompts, {min(lengths)}–{max(lengths)} tokens; {args.new_tokens} new tokens each"
    )
    rows: dict[str, list[tuple[float, float]]] = {"alone": [], "batched": []}
    same = total = 0
    for round_ in range(args.rounds):
        order = ("alone", "batched") if round_ % 2 == 0 else ("batched", "alone")
        got = {}
        for row in order:
            if row == "alone":
                got[row], wall, cpu = run_alone(backend, chats, args.new_tokens)
            else:
                before = len(backend.batch_sizes)
                got[row], wall, cpu = run_batched(backend, chats, args.new_tokens, args.batch)
                print(f"  round {round_}: batch sizes {list(backend.batch_sizes)[before:]}")
            rows[row].append((wall, cpu))
            print(f"  round {round_} {row:8s} wall {wall:7.1f} s  CPU {cpu:7.1f} s")
        same += sum(a == b for a, b in zip(got["alone"], got["batched"], strict=True))
        total += len(chats)
    print("\n| row | requests/min (wall) | requests/min (CPU) |")
    print("|---|---:|---:|")
    for row, values in rows.items():
        wall = statistics.median(w for w, _ in values)
        cpu = statistics.median(c for _, c in values)
        print(f"| {row} | {60 * len(chats) / wall:.2f} | {60 * len(chats) / cpu:.2f} |")
    wall_ratio = statistics.median(a[0] / b[0] for a, b in zip(rows["alone"], rows["batched"], strict=True))
    cpu_ratio = statistics.median(a[1] / b[1] for a, b in zip(rows["alone"], rows["batched"], strict=True))
    print(
        f"\nbatched ÷ alone throughput: {wall_ratio:.2f}× wall, {cpu_ratio:.2f}× CPU time (median of rounds)"
    )
    print(f"batched replies equal to the reply alone: {same}/{total}")


if __name__ == "__main__":
    main()
