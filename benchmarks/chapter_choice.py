"""How often RefTool's chapter-choice step names the problem's own chapter, for two prompts, on
validation exercises that no evaluation and no Space example uses.

    python benchmarks/chapter_choice.py                   # 40 problems, the shipped toolbox
    python benchmarks/chapter_choice.py --n 60 --model path/to/model.gguf

Why: in the evaluation on the book's 100 exercises with the rebuilt toolbox, the chapters the model
chose included chapter 1 in 84 of 100 solves, and :func:`~hf_reft.reftool.prompts.chapter_choice_messages`
ends its instructions with "(for example: 1)" — the first offered chapter's number as the format
example, which a small model may copy. This script measures that, away from the test sets:

* **problems**: Chemistry 2e end-of-chapter exercises with one numeric answer
  (:func:`~hf_reft.reftool.exercises.load_book_exercises`), minus the evaluation subset
  (``limit=100, seed=0``) and the Space's bundled examples, whose chapter has a tool in the
  toolbox; ``random.Random(--seed).sample`` of ``--n`` of them;
* **prompts**: ``library`` (the prompt the solver sends) and ``no-example`` (the same text without
  the parenthesised format example);
* both are asked for every problem, greedy, alternating which goes first; a problem counts as a hit
  when the chosen chapters include its own.

It prints each prompt's hit rate and its rate of choosing the first offered chapter with Wilson
95 % intervals, and the paired difference (no-example − library) with a bootstrap interval.

Measured (40 problems, Qwen2.5-Coder-1.5B on llama.cpp, 4.3 min; docs/results.md): the example is
not the cause — without it the own chapter was chosen less often (57.5 % against 72.5 %, paired
−15.0 points [−27.5, −2.5]) and the first chapter still in 67.5 % of the replies (82.5 % with it),
so the library prompt stays as it is.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hf_reft.reftool import prompts
from hf_reft.reftool.chat import get_chat_backend
from hf_reft.reftool.exercises import DEFAULT_BOOK_LIMIT, load_book_exercises, screen_book_exercises
from hf_reft.reftool.parsing import parse_chapter_choice
from hf_reft.reftool.toolbox import Toolbox
from hf_reft.stats import paired_comparison, wilson_interval

ROOT = Path(__file__).resolve().parents[1]
SPACE_EXAMPLES = ROOT / "spaces" / "reftool-chemistry" / "examples" / "chemistry2e_exercises.json"
_EXAMPLE = re.compile(r" \(for example: [^)]*\)")


def without_example(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """``messages`` with the format example "(for example: …)" taken out of the last message."""
    text = messages[-1]["content"]
    if not _EXAMPLE.search(text):
        raise ValueError("The chapter-choice prompt has no '(for example: …)' to take out.")
    return [*messages[:-1], {**messages[-1], "content": _EXAMPLE.sub("", text, count=1)}]


PROMPTS = {
    "library": lambda problem, offered, k: prompts.chapter_choice_messages(problem, offered, k),
    "no-example": lambda problem, offered, k: without_example(
        prompts.chapter_choice_messages(problem, offered, k)
    ),
}


def validation_problems(
    toolbox: Toolbox, n: int, seed: int, data_dir: str | None = None
) -> list[tuple[str, int]]:
    """``(problem text, its chapter)`` for ``n`` exercises outside every test set, from chapters with tools."""
    test = load_book_exercises(data_dir, limit=DEFAULT_BOOK_LIMIT, seed=0)
    rows = json.loads(SPACE_EXAMPLES.read_text())["problems"]
    left_out = {p.id for p in test} | {p.text.strip() for p in test}  # ids and texts (a text may recur)
    left_out |= {row["id"] for row in rows} | {row["problem_text"].strip() for row in rows}
    chapter_of = {
        f"chemistry-2e-exercises/{s.exercise.id}": int(s.exercise.section_number.split(".")[0])
        for s in screen_book_exercises(data_dir)
    }
    with_tools = {ch.number for ch in toolbox.chapters if ch.tools}
    pool = [
        (p.text, chapter_of[p.id])
        for p in load_book_exercises(data_dir)
        if p.id not in left_out and p.text.strip() not in left_out and chapter_of[p.id] in with_tools
    ]
    if n > len(pool):
        raise SystemExit(f"--n {n} is more than the {len(pool)} validation exercises available.")
    return random.Random(seed).sample(pool, n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--toolbox", default=str(ROOT / "spaces" / "reftool-chemistry" / "toolbox"))
    parser.add_argument("--model", default=None, help="chat model (default: RefTool's offline default)")
    parser.add_argument("--n", type=int, default=40, help="validation problems (default 40)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-chapters", type=int, default=2, help="as RefToolSolver's default")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()

    toolbox = Toolbox.from_pretrained(args.toolbox)
    chapters = [ch for ch in toolbox.chapters if ch.tools]
    offered = [(ch.number, ch.title, [s.title for s in ch.sections if s.tools]) for ch in chapters]
    first = chapters[0].number
    problems = validation_problems(toolbox, args.n, args.seed, args.data_dir)
    backend = get_chat_backend(args.model)
    hits: dict[str, list[bool]] = {name: [] for name in PROMPTS}
    firsts: dict[str, list[bool]] = {name: [] for name in PROMPTS}
    started = time.perf_counter()
    for i, (text, chapter) in enumerate(problems):
        order = list(PROMPTS) if i % 2 == 0 else list(reversed(PROMPTS))
        for name in order:
            reply = backend.chat(
                PROMPTS[name](text, offered, args.max_chapters), max_new_tokens=48, temperature=0.0
            )
            chosen = parse_chapter_choice(reply, [(n, t) for n, t, _ in offered], args.max_chapters)
            hits[name].append(chapter in chosen)
            firsts[name].append(first in chosen)
        print(f"{i + 1}/{len(problems)} ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)

    print(f"{len(problems)} validation exercises from chapters with tools; {len(offered)} chapters offered.")
    print("| prompt | own chapter chosen % [95 % Wilson] | first chapter chosen % [95 % Wilson] |")
    print("|---|---|---|")
    for name in PROMPTS:
        own, one = hits[name], firsts[name]
        print(
            f"| {name} | {wilson_interval(sum(own), len(own)).format()} "
            f"| {wilson_interval(sum(one), len(one)).format()} |"
        )
    diff = paired_comparison(hits["library"], hits["no-example"])
    d = diff.difference
    print(
        f"\nno-example − library, own chapter chosen: {d.estimate * 100:+.1f} points, paired bootstrap 95 % "
        f"[{d.low * 100:+.1f}, {d.high * 100:+.1f}] (no-example alone on {diff.wins}, library alone on {diff.losses})."
    )


if __name__ == "__main__":
    main()
