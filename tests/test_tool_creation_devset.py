"""The tool-creation development set stays the one drawn before any tool was built from it
(``benchmarks/tool_creation_devset.py``), whatever later validation rules leave out."""

from __future__ import annotations

import json
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


def test_stages_count_the_sections_whose_first_transcription_alone_kept_a_tool(tmp_path: Path):
    def validate(example: str, sample: int, passed: bool) -> dict:
        return {"event": "validate", "transcription": example, "sample": sample, "passed": passed}

    def check(passed: bool) -> dict:
        return {"event": "cross_check", "passed": passed}

    stats = {"proposed": 2, "first_pass": 1, "repaired": 0, "dropped": 1}
    records = [
        # the greedy transcription's tool fails its cross-check, the second (sampled) one is kept
        {
            "log": [validate("1.1", 0, True), check(False), validate("1.1", 1, True), check(True)],
            "tools": ["a"],
        },
        # the greedy transcription's tool is kept
        {"log": [validate("2.1", 0, True), check(True)], "tools": ["b"]},
        # nothing passes
        {"log": [{"event": "transcribe"}, validate("3.1", 0, False), validate("3.1", 1, False)], "tools": []},
    ]
    log = tmp_path / "build-log.jsonl"
    log.write_text("".join(json.dumps({**r, "stats": stats, "seconds": 60.0}) + "\n" for r in records))
    row = _benchmark().stages(log)
    assert row["with_tool"] == 2 and row["transcribed_passed"] == 2
    assert row["transcribed_kept"] == 2 and row["first_transcription_kept"] == 1
