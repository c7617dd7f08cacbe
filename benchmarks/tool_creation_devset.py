"""Tool creation on a fixed development set of Chemistry 2e sections: how many get a validated tool.

    python benchmarks/tool_creation_devset.py --output runs/devset/default             # build (resumable)
    python benchmarks/tool_creation_devset.py --output runs/devset/k1 --candidates 1   # one setting changed
    python benchmarks/tool_creation_devset.py --report runs/devset/default runs/devset/k1

The development set is :data:`DEV_SECTIONS`: 15 of the 81 sections that have a worked example with
a numeric answer, drawn with ``random.Random(22).sample`` before any tool was built from them. It
is for choosing how tools are created; it holds no SciBench problem and no end-of-chapter exercise.
A build is ``hf-reft reftool build`` on these sections with the default model (or ``--model``) and
the :class:`~hf_reft.reftool.creation.ToolCreator` settings given (the class's defaults otherwise).

``--report`` reads each toolbox's build log and prints one row per toolbox: sections with at least
one kept tool, tools kept, the build counts, and minutes. For builds that log candidates, it also
splits the result by stage, from the same replies: sections where the first (greedy) creation reply
alone gave a tool that passed its exercise; where any candidate did; where one of those also passed
its cross-check; with transcription (``ToolCreator``'s default since the whole-book build; rows
measured before it pass ``--no-transcribe``), where a tool made from a transcribed worked solution passed
its worked problem, where one also passed its cross-check, and where the first (greedy) transcription
of an example alone did (``--transcriptions`` > 1 samples more after it); and, after repairs, the
final count.
"""

from __future__ import annotations

import argparse
import inspect
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hf_reft.answers import find_numbers
from hf_reft.reftool.books import Reference, Section
from hf_reft.reftool.building import LOG_FILE, build_toolbox, select_sections
from hf_reft.reftool.chat import get_chat_backend
from hf_reft.reftool.creation import ToolCreator

#: The development set (``random.Random(22).sample`` of the sections with a numeric worked example).
DEV_SECTIONS = [
    "2.1",
    "2.6",
    "3.3",
    "4.4",
    "5.1",
    "6.3",
    "6.4",
    "7.6",
    "8.4",
    "9.3",
    "10.3",
    "11.4",
    "14.3",
    "14.5",
    "17.7",
]
SEED = 22
#: The integer ToolCreator settings a build can change.
INT_SETTINGS = (
    "candidates",
    "cross_checks",
    "cross_check_tries",
    "transcriptions",
    "max_examples",
    "max_tools",
    "max_new_tokens",
    "budget",
)


def _eligible_at_the_draw(section: Section) -> bool:
    """The rule of the draw: a worked example whose check answer or own answer holds a number (81
    sections; validation has since left out answers that are equations, ratios … — the set stays fixed)."""
    return any(
        (e.check_problem and e.check_answer and find_numbers(e.check_answer))
        or (e.problem and e.answer and find_numbers(e.answer))
        for e in section.examples
    )


def draw_dev_sections(reference: Reference) -> list[str]:
    """How :data:`DEV_SECTIONS` was drawn (kept so that the draw can be checked)."""
    eligible = [s for s in reference.sections if _eligible_at_the_draw(s)]
    picked = sorted(random.Random(SEED).sample(range(len(eligible)), len(DEV_SECTIONS)))
    return [eligible[i].number for i in picked]


def stages(log_path: Path) -> dict[str, float]:
    """Per-stage counts of one build log (see the module docstring)."""
    records = [json.loads(line) for line in log_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    records = [r for r in records if "log" in r and not r.get("skipped")]
    row = {
        "sections": len(records),
        "with_tool": sum(bool(r["tools"]) for r in records),
        "tools": sum(len(r["tools"]) for r in records),
        "minutes": sum(r["seconds"] for r in records) / 60,
    }
    for key in ("proposed", "first_pass", "repaired", "dropped"):
        row[key] = sum(r["stats"][key] for r in records)
    if any("candidate" in e for r in records for e in r["log"]):
        row["greedy_passed"] = sum(_passed(r["log"], lambda e: e.get("candidate") == 0) for r in records)
        row["any_passed"] = sum(_passed(r["log"], lambda e: "candidate" in e) for r in records)
        row["cross_checked"] = sum(
            _kept_without_repair(r["log"], lambda e: "candidate" in e) for r in records
        )
    if any(e["event"] == "transcribe" for r in records for e in r["log"]):
        row["transcribed_passed"] = sum(_passed(r["log"], _transcribed) for r in records)
        row["transcribed_kept"] = sum(_kept_without_repair(r["log"], _transcribed) for r in records)
        row["first_transcription_kept"] = sum(
            _kept_without_repair(r["log"], lambda e: _transcribed(e) and not e.get("sample")) for r in records
        )
    return row


def _passed(log: list[dict], which) -> bool:
    return any(e["event"] == "validate" and e["passed"] and which(e) for e in log)


def _transcribed(event: dict) -> bool:
    return "transcription" in event


def _kept_without_repair(log: list[dict], which) -> bool:
    """Whether a draft whose validation event satisfies ``which`` (e.g. from a creation reply, or a
    transcription), not a repair, passed its exercise and its cross-check (or had none to try)."""
    for i, event in enumerate(log):
        if event["event"] != "validate" or not event["passed"] or not which(event):
            continue
        following = []
        for later in log[i + 1 :]:
            if later["event"] != "cross_check":
                break
            following.append(later["passed"])
        if not following or any(following):
            return True
    return False


_FAILURES = {
    "printed no number": "no number",
    "which does not match": "wrong number",
    "not usable": "unusable code",
    "no program": "no program",
    "does not call": "no call",
    "running the program failed": "crashed",
    "holds the number": "answer as literal",
}


def failure_classes(folders: list[str]) -> None:
    """How the failed validations (first tries and repairs) and cross-checks of each build failed."""
    for folder in folders:
        counts: dict[str, int] = {}
        for line in (Path(folder) / LOG_FILE).read_text(encoding="utf-8").splitlines():
            for event in json.loads(line).get("log", []) if line.strip() else []:
                if event["event"] in ("validate", "cross_check") and not event["passed"]:
                    error = event.get("error") or ""
                    kind = next((v for k, v in _FAILURES.items() if k in error), "other")
                    if event["event"] == "cross_check":
                        kind = f"cross-check: {kind}"
                    counts[kind] = counts.get(kind, 0) + 1
        print(f"{folder}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])))


def report(folders: list[str]) -> None:
    columns = ["sections", "with_tool", "tools", "proposed", "first_pass", "repaired", "dropped", "minutes"]
    extra = [
        "greedy_passed",
        "any_passed",
        "cross_checked",
        "transcribed_passed",
        "transcribed_kept",
        "first_transcription_kept",
    ]
    print("| build | " + " | ".join(columns + extra) + " |")
    print("|---" * (len(columns) + len(extra) + 1) + "|")
    for folder in folders:
        row = stages(Path(folder) / LOG_FILE)
        cells = [f"{row[c]:.1f}" if c == "minutes" else str(row.get(c, "")) for c in columns + extra]
        print(f"| {folder} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", help="toolbox folder of this build (resumable)")
    parser.add_argument("--model", help="chat model (default: the offline RefTool default)")
    parser.add_argument("--report", nargs="+", metavar="FOLDER", help="print the table of these builds")
    for name in INT_SETTINGS:
        parser.add_argument("--" + name.replace("_", "-"), type=int)
    parser.add_argument("--sample-temperature", type=float)
    parser.add_argument("--no-repair", action="store_true")
    parser.add_argument(
        "--transcribe",
        action=argparse.BooleanOptionalAction,
        default=inspect.signature(ToolCreator).parameters["transcribe"].default,
        help="also make tools from transcribed worked solutions (default: ToolCreator's, on)",
    )
    args = parser.parse_args()
    if args.report:
        report(args.report)
        failure_classes(args.report)
        return
    if not args.output:
        parser.error("--output (a build) or --report (a table) is needed")
    reference = Reference.load("chemistry-2e")
    assert draw_dev_sections(reference) == list(DEV_SECTIONS), "the development set's draw changed"
    backend = get_chat_backend(args.model)
    settings = {
        n: getattr(args, n) for n in (*INT_SETTINGS, "sample_temperature") if getattr(args, n) is not None
    }
    creator = ToolCreator(backend, repair=not args.no_repair, transcribe=args.transcribe, **settings)
    sections = select_sections(reference, sections=DEV_SECTIONS)
    result = build_toolbox(reference, backend, args.output, creator=creator, sections=sections)
    print(json.dumps(result.summary(), indent=2))
    report([args.output])


if __name__ == "__main__":
    main()
