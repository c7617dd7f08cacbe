"""How often RefTool's selection steps (chapter choice, then tool choice) find the problem's own
chapter and its section's tool, and how long they take, for several prompts, on validation exercises
that no evaluation and no Space example uses.

    python benchmarks/chapter_choice.py                   # 40 problems, the shipped toolbox
    python benchmarks/chapter_choice.py --n 60 --model path/to/model.gguf
    python benchmarks/chapter_choice.py --prompts library,no-example

* **problems**: Chemistry 2e end-of-chapter exercises with one numeric answer
  (:func:`~hf_reft.reftool.exercises.load_book_exercises`), minus the evaluation subset
  (``limit=100, seed=0``) and the Space's bundled examples, whose chapter has a tool in the
  toolbox; ``random.Random(--seed).sample`` of ``--n`` of them;
* **prompts** (``--prompts``, the first is the baseline of the paired differences):

  - ``library``: the prompts the solver sends (:func:`~hf_reft.reftool.prompts.chapter_choice_messages`,
    :func:`~hf_reft.reftool.prompts.tool_choice_messages`): task, problem, then the list;
  - ``no-example``: ``library`` without the chapter prompt's format example "(for example: …)";
  - ``list-first``, ``list-first-no-example``, ``list-first-question``: task, list, then the problem
    and an ending (:data:`LIST_FIRST_ENDINGS`), so that a backend that caches prompt prefixes
    (llama.cpp) would read the chapter list once for all problems;
* for every problem each prompt chooses chapters, then tools among the chosen chapters' tools, greedy,
  rotating which prompt goes first; a problem counts for "own chapter" when the chosen chapters
  include its own, for "own section's tool" (only problems whose section has a tool) when a chosen
  tool is one of its section's.

It prints each prompt's rates with Wilson 95 % intervals, the seconds and (llama.cpp) prompt tokens
read per problem for both steps, and each prompt's paired differences from the first with bootstrap
intervals.

Measured (40 problems, Qwen2.5-Coder-1.5B on llama.cpp at two threads; docs/results.md):

* the format example is not why chapter 1 is chosen so often: without it the own chapter was chosen
  less often (57.5 % against 72.5 %, paired −15.0 points [−27.5, −2.5]), so it stays;
* the list before the problem reads a third of the prompt tokens (148–216 against 700 per problem)
  and takes 6.5 s less per problem, but the own chapter is chosen 42.5–47.5 points less often with
  each of the three endings (25–30 % against 72.5 %), so the problem stays first.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hf_reft.reftool import prompts
from hf_reft.reftool.chat import get_chat_backend
from hf_reft.reftool.exercises import DEFAULT_BOOK_LIMIT, load_book_exercises, screen_book_exercises
from hf_reft.reftool.parsing import parse_chapter_choice, parse_tool_choice
from hf_reft.reftool.toolbox import Toolbox
from hf_reft.stats import paired_bootstrap_difference, paired_comparison, wilson_interval

ROOT = Path(__file__).resolve().parents[1]
SPACE_EXAMPLES = ROOT / "spaces" / "reftool-chemistry" / "examples" / "chemistry2e_exercises.json"
_EXAMPLE = re.compile(r" \(for example: [^)]*\)")
_LIST_HEADER = re.compile(r"\n\n(?=(?:Chapters|Tools):\n)")  # where the problem paragraph ends

Messages = list[dict[str, str]]


def without_example(messages: Messages) -> Messages:
    """``messages`` with the format example "(for example: …)" taken out of the last message."""
    text = messages[-1]["content"]
    if not _EXAMPLE.search(text):
        raise ValueError("The chapter-choice prompt has no '(for example: …)' to take out.")
    return [*messages[:-1], {**messages[-1], "content": _EXAMPLE.sub("", text, count=1)}]


def list_first(messages: Messages, ending: Callable[[str], str] = lambda answer: answer) -> Messages:
    """The library prompt ``messages`` with its problem paragraph moved from right after the task to
    right after the list ("this problem" becoming "the problem below"), and its answer paragraph
    passed through ``ending``."""
    text = messages[-1]["content"]
    task, rest = text.split("\n\nProblem: ", 1)
    problem, rest = _LIST_HEADER.split(rest, maxsplit=1)
    listed, answer = rest.rsplit("\n\n", 1)
    moved = f"{task.replace('this problem', 'the problem below')}\n\n{listed}\n\nProblem: {problem}\n\n{ending(answer)}"
    return [*messages[:-1], {**messages[-1], "content": moved}]


#: The endings tried after the problem in a list-first chapter prompt: the library's answer
#: paragraph as it is, without its format example, or without it and after the question restated.
LIST_FIRST_ENDINGS: dict[str, Callable[[str], str]] = {
    "list-first": lambda answer: answer,
    "list-first-no-example": lambda answer: _EXAMPLE.sub("", answer, count=1),
    "list-first-question": lambda answer: (
        "Which chapters' tools could help solve this problem? " + _EXAMPLE.sub("", answer, count=1)
    ),
}


def _list_first_tools(*args: object) -> Messages:
    return list_first(prompts.tool_choice_messages(*args))


#: name -> (chapter-choice messages, tool-choice messages)
PROMPTS: dict[str, tuple[Callable[..., Messages], Callable[..., Messages]]] = {
    "library": (prompts.chapter_choice_messages, prompts.tool_choice_messages),
    "no-example": (
        lambda *a: without_example(prompts.chapter_choice_messages(*a)),
        prompts.tool_choice_messages,
    ),
    **{
        name: (
            lambda *a, ending=ending: list_first(prompts.chapter_choice_messages(*a), ending),
            _list_first_tools,
        )
        for name, ending in LIST_FIRST_ENDINGS.items()
    },
}


def validation_problems(
    toolbox: Toolbox, n: int, seed: int, data_dir: str | None = None
) -> list[tuple[str, str]]:
    """``(problem text, its section number)`` for ``n`` exercises outside every test set, from chapters with tools."""
    test = load_book_exercises(data_dir, limit=DEFAULT_BOOK_LIMIT, seed=0)
    rows = json.loads(SPACE_EXAMPLES.read_text())["problems"]
    left_out = {p.id for p in test} | {p.text.strip() for p in test}  # ids and texts (a text may recur)
    left_out |= {row["id"] for row in rows} | {row["problem_text"].strip() for row in rows}
    section_of = {
        f"chemistry-2e-exercises/{s.exercise.id}": s.exercise.section_number
        for s in screen_book_exercises(data_dir)
    }
    with_tools = {ch.number for ch in toolbox.chapters if ch.tools}
    pool = [
        (p.text, section_of[p.id])
        for p in load_book_exercises(data_dir)
        if p.id not in left_out
        and p.text.strip() not in left_out
        and _chapter(section_of[p.id]) in with_tools
    ]
    if n > len(pool):
        raise SystemExit(f"--n {n} is more than the {len(pool)} validation exercises available.")
    return random.Random(seed).sample(pool, n)


def _chapter(section_number: str) -> int:
    return int(section_number.split(".")[0])


def _prompt_tokens_read(backend: object) -> float:
    """llama.cpp's count of prompt tokens it has read (cached prefixes are not read); NaN elsewhere."""
    metrics = getattr(backend, "metrics", None)
    return metrics().get("prompt_tokens_total", float("nan")) if metrics else float("nan")


def _rate(outcomes: list[bool]) -> str:
    return wilson_interval(sum(outcomes), len(outcomes)).format() if outcomes else "–"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--toolbox", default=str(ROOT / "spaces" / "reftool-chemistry" / "toolbox"))
    parser.add_argument("--model", default=None, help="chat model (default: RefTool's offline default)")
    parser.add_argument("--n", type=int, default=40, help="validation problems (default 40)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--prompts",
        default="library,list-first",
        help=f"comma-separated, the first is the baseline (of {', '.join(PROMPTS)}; default library,list-first)",
    )
    parser.add_argument("--max-chapters", type=int, default=2, help="as RefToolSolver's default")
    parser.add_argument("--max-tools", type=int, default=3, help="as RefToolSolver's default")
    parser.add_argument("--choice-tokens", type=int, default=48, help="as RefToolSolver's default")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    names = [name.strip() for name in args.prompts.split(",") if name.strip()]
    unknown = [name for name in names if name not in PROMPTS]
    if unknown or len(names) < 2:
        raise SystemExit(f"--prompts needs two or more of {', '.join(PROMPTS)}; got {args.prompts!r}.")

    toolbox = Toolbox.from_pretrained(args.toolbox)
    chapters = [ch for ch in toolbox.chapters if ch.tools]
    offered = [(ch.number, ch.title, [s.title for s in ch.sections if s.tools]) for ch in chapters]
    section_tools = {s.number: {t.name for t in s.tools} for s in toolbox.sections}
    problems = validation_problems(toolbox, args.n, args.seed, args.data_dir)
    backend = get_chat_backend(args.model)
    own_chapter: dict[str, list[bool]] = {name: [] for name in names}
    first_chapter: dict[str, list[bool]] = {name: [] for name in names}
    own_tool: dict[str, list[bool]] = {name: [] for name in names}
    seconds: dict[str, list[float]] = {name: [] for name in names}
    tokens_read: dict[str, list[float]] = {name: [] for name in names}
    started = time.perf_counter()
    for i, (text, section) in enumerate(problems):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            chapter_messages, tool_messages = PROMPTS[name]
            clock, read = time.perf_counter(), _prompt_tokens_read(backend)
            reply = backend.chat(
                chapter_messages(text, offered, args.max_chapters),
                max_new_tokens=args.choice_tokens,
                temperature=0.0,
            )
            chosen = parse_chapter_choice(reply, [(n, t) for n, t, _ in offered], args.max_chapters)
            tools = [t for number in chosen for ch in chapters if ch.number == number for t in ch.tools]
            picked: list[str] = []
            if tools:
                reply = backend.chat(
                    tool_messages(
                        text, [(t.name, t.signature, t.description) for t in tools], args.max_tools
                    ),
                    max_new_tokens=args.choice_tokens,
                    temperature=0.0,
                )
                picked = parse_tool_choice(reply, [t.name for t in tools], args.max_tools)
            seconds[name].append(time.perf_counter() - clock)
            tokens_read[name].append(_prompt_tokens_read(backend) - read)
            own_chapter[name].append(_chapter(section) in chosen)
            first_chapter[name].append(chapters[0].number in chosen)
            if section_tools.get(section):
                own_tool[name].append(bool(section_tools[section] & set(picked)))
        print(f"{i + 1}/{len(problems)} ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)

    with_tool = len(own_tool[names[0]])
    print(
        f"{len(problems)} validation exercises from chapters with tools ({with_tool} from a section with a "
        f"tool); {len(offered)} chapters offered; {backend!r}."
    )
    print(
        "| prompt | own chapter chosen % [95 % Wilson] | first chapter chosen % | own section's tool chosen % "
        "| s per problem (both steps), median | prompt tokens read per problem, median |"
    )
    print("|---|---|---|---|---:|---:|")
    for name in names:
        print(
            f"| {name} | {_rate(own_chapter[name])} | {_rate(first_chapter[name])} | {_rate(own_tool[name])} "
            f"| {statistics.median(seconds[name]):.2f} | {statistics.median(tokens_read[name]):.0f} |"
        )
    base = names[0]
    for name in names[1:]:
        print(f"\n{name} − {base}, paired bootstrap 95 %:")
        for label, outcomes in (("own chapter chosen", own_chapter), ("own section's tool chosen", own_tool)):
            if not outcomes[base]:
                continue
            diff = paired_comparison(outcomes[base], outcomes[name])
            d = diff.difference
            print(
                f"  {label}: {d.estimate * 100:+.1f} points [{d.low * 100:+.1f}, {d.high * 100:+.1f}] "
                f"({name} alone on {diff.wins}, {base} alone on {diff.losses})"
            )
        d = paired_bootstrap_difference(seconds[base], seconds[name])
        print(f"  seconds per problem: {d.estimate:+.2f} [{d.low:+.2f}, {d.high:+.2f}]")


if __name__ == "__main__":
    main()
