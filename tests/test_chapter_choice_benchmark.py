"""``benchmarks/chapter_choice.py`` measures RefTool's selection prompts on validation exercises only:
none from the evaluation subset or the Space's examples, all from chapters that have tools; its
baseline prompts are the solver's with the problem moved before the lists."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from script_loading import load_script

from hf_reft.reftool import prompts
from hf_reft.reftool.exercises import DEFAULT_BOOK_LIMIT, load_book_exercises
from hf_reft.reftool.toolbox import Toolbox

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT.parent / "shared" / "data"


def _benchmark():
    return load_script("benchmarks/chapter_choice.py")


def test_the_prompts_differ_only_where_they_say():
    benchmark = _benchmark()
    offered = [(3, "Composition of Substances", ["Molarity"]), (9, "Gases", ["The Ideal Gas Law"])]
    tools = [("molarity", "molarity(mol, L)", "Molarity in M.")]

    def asked(name: str) -> list[list[dict[str, str]]]:
        chapters, tool_choice = benchmark.PROMPTS[name]
        return [chapters("How many moles?", offered, 2), tool_choice("How many moles?", tools, 2)]

    library = asked("library")
    assert library == [
        prompts.chapter_choice_messages("How many moles?", offered, 2),
        prompts.tool_choice_messages("How many moles?", tools, 2),
    ]
    for ours, moved in zip(library, asked("list-first"), strict=True):
        assert ours[:-1] == moved[:-1]  # the system message
        text, moved_text = ours[-1]["content"], moved[-1]["content"]
        # the same paragraphs, the problem moved from right after the task to right after the list
        assert sorted(moved_text.replace("the problem below", "this problem").split("\n\n")) == sorted(
            text.split("\n\n")
        )
        assert text.index("Problem:") < text.index("s:\n") and moved_text.index(
            "Problem:"
        ) > moved_text.index("s:\n")
    for name in benchmark.LIST_FIRST_ENDINGS:
        chapters = asked(name)[0][-1]["content"]
        assert (
            chapters.index("9. Gases")
            < chapters.index("Problem: How many moles?")
            < chapters.index("Answer:")
        )
    without = asked("no-example")[0]
    assert "(for example: 3)" in library[0][-1]["content"]
    assert without[-1]["content"] == library[0][-1]["content"].replace(" (for example: 3)", "")
    with pytest.raises(ValueError, match="for example"):
        benchmark.without_example(without)


@pytest.mark.skipif(not (DATA_DIR / "openstax-chemistry-2e").is_dir(), reason="needs ../shared/data")
def test_validation_problems_leave_out_every_test_problem():
    benchmark = _benchmark()
    toolbox = Toolbox.from_pretrained(ROOT / "spaces" / "reftool-chemistry" / "toolbox")
    problems = benchmark.validation_problems(toolbox, 40, 0, str(DATA_DIR))
    assert problems == benchmark.validation_problems(toolbox, 40, 0, str(DATA_DIR))  # a fixed draw
    texts = {text for text, _ in problems}
    assert len(texts) == 40
    held_out = {p.text for p in load_book_exercises(str(DATA_DIR), limit=DEFAULT_BOOK_LIMIT, seed=0)}
    shown = {row["problem_text"] for row in json.loads(benchmark.SPACE_EXAMPLES.read_text())["problems"]}
    assert not texts & held_out and not texts & shown
    with_tools = {ch.number for ch in toolbox.chapters if ch.tools}
    assert {int(section.split(".")[0]) for _, section in problems} <= with_tools
