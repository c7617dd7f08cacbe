"""The tool-creation development set stays the one drawn before any tool was built from it
(``benchmarks/tool_creation_devset.py``), whatever later validation rules leave out."""

from __future__ import annotations

from pathlib import Path

import pytest
from script_loading import load_script

from hf_reft.reftool.books import Reference
from hf_reft.reftool.section_problems import section_problems

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT.parent / "shared" / "data"


def _benchmark():
    return load_script("benchmarks/tool_creation_devset.py")


@pytest.mark.skipif(not (DATA_DIR / "openstax-chemistry-2e").is_dir(), reason="needs ../shared/data")
def test_the_development_set_is_the_recorded_draw_and_its_sections_keep_their_problems():
    benchmark = _benchmark()
    book = Reference.load("chemistry-2e", data_dir=DATA_DIR)
    assert benchmark.draw_dev_sections(book) == benchmark.DEV_SECTIONS
    sections = {s.number: s for s in book.sections}
    # 6.4's only problem ("the four quantum numbers of phosphorus's last electron", answer +1/2) states
    # no data, so it no longer validates tools; every other section keeps its problems
    assert [n for n in benchmark.DEV_SECTIONS if not section_problems(sections[n])] == ["6.4"]
