"""``benchmarks/chapter_choice.py`` measures the chapter-choice prompt on validation exercises only:
none from the evaluation subset or the Space's examples, all from chapters that have tools."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from script_loading import load_script

from hf_reft.reftool.exercises import DEFAULT_BOOK_LIMIT, load_book_exercises
from hf_reft.reftool.toolbox import Toolbox

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT.parent / "shared" / "data"


def _benchmark():
    return load_script("benchmarks/chapter_choice.py")


def test_the_candidate_prompt_is_the_library_prompt_without_its_format_example():
    benchmark = _benchmark()
    offered = [(3, "Composition of Substances", ["Molarity"]), (9, "Gases", ["The Ideal Gas Law"])]
    library = benchmark.PROMPTS["library"]("How many moles?", offered, 2)
    candidate = benchmark.PROMPTS["no-example"]("How many moles?", offered, 2)
    assert "(for example: 3)" in library[-1]["content"]
    assert candidate[-1]["content"] == library[-1]["content"].replace(" (for example: 3)", "")
    assert candidate[:-1] == library[:-1]
    with pytest.raises(ValueError, match="for example"):
        benchmark.without_example(candidate)


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
    assert {chapter for _, chapter in problems} <= with_tools
