"""The book's own end-of-chapter exercises as a second RefTool evaluation set (real Chemistry 2e data)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from hf_reft.answers import Answer, is_correct, parse_scibench_gold
from hf_reft.reftool.books import Reference
from hf_reft.reftool.exercises import (
    book_exercise_counts,
    load_book_exercises,
    screen_book_exercises,
    solution_answer,
)
from hf_reft.reftool.section_problems import section_exercises, section_prompt_text

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"
needs_book = pytest.mark.skipif(
    not (DATA_DIR / "openstax-chemistry-2e").is_dir(),
    reason=f"needs OpenStax Chemistry 2e in the shared data folder ({DATA_DIR / 'openstax-chemistry-2e'})",
)
SOURCE = "chemistry-2e-exercises/"


def _screened() -> dict[str, object]:
    return {s.exercise.id: s for s in screen_book_exercises(DATA_DIR)}


def _plain(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


# --------------------------------------------------------------------------- the gold rule, no data
@pytest.mark.parametrize(
    ("solution", "problem", "expected"),
    [
        ("355 mL", "How many milliliters are in a 12.0-oz can?", Answer(355.0, "mL")),
        ("–802 kJ mol^-1", "", Answer(-802.0, "kJ mol^-1")),  # an en dash as the minus sign
        ("15.5 kJ/ºC", "", Answer(15.5, "kJ/°C")),  # a masculine ordinal as the degree sign
        ("K_P = 3.06", "", Answer(3.06)),
        ("x = 3.051 × 10^-7 M = [H3O^+] = [OH^-]", "", Answer(3.051e-7, "M")),
        ("Yes, the acid’s volume is 123 mL.", "a 150-mL flask, density 1.83 g/mL", Answer(123.0, "mL")),
        ("3.113 × 10^25 C atoms", "", Answer(3.113e25, "atoms")),
        (
            "The plot is nicely linear, so the reaction is second order. k = 50.1 L mol^-1 h^-1",
            "",
            Answer(50.1, "L mol^-1 h^-1"),
        ),
        ("0.809 atm; 82.0 kPa", "", "several values"),
        ("5371 °F, 3239 K", "", "several values"),
        ("37 g (0.27 mol)", "", "several values"),
        ("Cl in Cl2: 0; Cl in BeCl2: 0", "", "several values"),
        ("rate = + 1/2 (Δ[ClF_3])/Δt = -1/3 (Δ[F_2])/Δt", "", "expression"),
        ("about a yard", "", "no result"),
        ("It freezes below 0 °C.", "Does water freeze at 0 °C?", "no result"),  # a number the problem gives
        (
            "The symbol O represents both the element and one atom; the subscript 2 in the formula "
            "must be used to distinguish the diatomic molecule from two single oxygen atoms.",
            "",
            "prose",
        ),
    ],
)
def test_solution_answer(solution, problem, expected):
    got = solution_answer(solution, problem)
    if isinstance(expected, str):
        assert got == expected
    else:
        assert isinstance(got, Answer) and got.value == pytest.approx(expected.value)
        assert expected.unit is None or got.unit == expected.unit


# --------------------------------------------------------------------------- the real book
@needs_book
def test_counts_are_stable():
    counts = book_exercise_counts(DATA_DIR)
    assert (counts["all"], counts["with_solution"], counts["numeric"], counts["kept"]) == (
        1736,
        873,
        523,
        193,
    )
    assert counts["left_out"] == {
        "no solution": 863,
        "no number": 350,
        "lettered parts": 204,
        "several values": 48,
        "equation": 21,
        "prose": 18,
        "no result": 17,
        "orbitals": 8,
        "refers to another exercise": 6,
        "inequality": 5,
        "expression": 2,
        "ratio": 1,
    }
    assert sum(counts["left_out"].values()) + counts["kept"] == counts["all"]


@needs_book
def test_known_exercises_parse_to_the_books_answer():
    problems = {p.id: p for p in load_book_exercises(DATA_DIR)}
    # Exercise 5.49 (m68727): "When 2.50 g of methane burns in oxygen, 125 kJ of heat is produced. What is
    # the enthalpy of combustion per mole of methane ...?" Solution: <para>–802 kJ mol<sup>−1</sup></para>
    methane = problems[SOURCE + "fs-idp155902352"]
    assert methane.text == (
        "When 2.50 g of methane burns in oxygen, 125 kJ of heat is produced. What is the enthalpy of "
        "combustion per mole of methane under these conditions?\nThe unit of the answer is kJ mol^-1."
    )
    assert (methane.answer_number, methane.unit) == ("-802", "kJ mol^-1")
    assert parse_scibench_gold(methane.answer_number, methane.unit).value == -802.0
    assert is_correct("The answer is -802 kJ/mol.", methane.gold, "scibench")
    assert not is_correct("The answer is 802 kJ/mol.", methane.gold, "scibench")
    # Exercise 6.21 (m68732), "lowest possible energy for the electron in the He+ ion":
    # <para>−8.716 × 10<sup>−18</sup> J</para> → SciBench's split: the power of ten goes with the unit
    helium = problems[SOURCE + "fs-idp171106816"]
    assert (helium.answer_number, helium.unit) == ("-8.716", "10^-18 J")
    assert helium.text.endswith("in the He^+ ion.\nThe unit of the answer is J.")
    assert parse_scibench_gold(helium.answer_number, helium.unit).value == pytest.approx(-8.716e-18)
    assert is_correct("-8.9e-18", helium.gold, "scibench") and not is_correct(
        "-9.2e-18", helium.gold, "scibench"
    )
    # Exercise 1.63 (m68683): "How many milliliters of a soft drink are contained in a 12.0-oz can?" → 355 mL
    can = problems[SOURCE + "fs-idm203954352"]
    assert (can.answer_number, can.unit) == ("355", "mL") and can.text.endswith(
        "The unit of the answer is mL."
    )


@needs_book
def test_multi_part_and_text_exercises_are_left_out():
    screened = _screened()
    kept = {p.id.removeprefix(SOURCE) for p in load_book_exercises(DATA_DIR)}
    cases = {
        "fs-idm98103760": "lettered parts",  # 3.47 molarities of (a) ... (f)
        "fs-idm61658912": "lettered parts",  # 11.33 mole fractions of (a) ... (d)
        "fs-idm32613120": "several values",  # "0.809 atm; 82.0 kPa"
        "fs-idm208263472": "several values",  # "5371 °F, 3239 K"
        "fs-idp801808": "no number",  # a text answer
        "fs-idm323373040": "no number",  # "about a yard"
        "fs-idp48794032": "equation",  # nuclear equations
        "fs-idm311640624": "refers to another exercise",  # "(see Exercise 78)"
    }
    for exercise_id, reason in cases.items():
        assert screened[exercise_id].reason == reason, exercise_id
        assert exercise_id not in kept
    lettered = re.compile(r"(?<![\w)])\((?:a|b)\)")
    for s in screened.values():
        if s.kept:
            assert not lettered.search(s.exercise.problem) and not lettered.search(s.exercise.solution)


@needs_book
def test_fixed_seeded_subset():
    everything = load_book_exercises(DATA_DIR)
    assert len(everything) == 193 and len({p.id for p in everything}) == 193
    assert all(p.id.startswith(SOURCE) for p in everything)
    sample = load_book_exercises(DATA_DIR, limit=100, seed=0)  # the evaluation CLI's default
    ids = [p.id for p in sample]
    assert ids[:5] == [
        SOURCE + "fs-idp178999856",
        SOURCE + "fs-idp140038656",
        SOURCE + "fs-idp41325184",
        SOURCE + "fs-idp124901952",
        SOURCE + "fs-idp70745776",
    ]
    assert hashlib.sha256("\n".join(ids).encode()).hexdigest() == (
        "68573e8cbae91d882f7e75b4bda075d87675fc978a021f1891afd2485e35d84e"
    )
    assert sample == load_book_exercises(DATA_DIR, limit=100, seed=0) and len(set(ids)) == 100
    assert set(ids) <= {p.id for p in everything}
    assert ids != [p.id for p in load_book_exercises(DATA_DIR, limit=100, seed=1)]
    assert load_book_exercises(DATA_DIR, limit=500) == everything  # a limit ≥ the set: all, in book order
    with pytest.raises(FileNotFoundError, match="--data-dir"):
        load_book_exercises("/nonexistent")


@needs_book
def test_table_inside_a_paragraph_reads_row_by_row():
    ozone = _screened()["fs-idp27819360"]  # 12.34: the data table sits inside the problem's <para>
    assert ozone.kept and ozone.answer.value == 50.1
    assert "Time (h) | 0 | 2.0 × 10^3 | 7.6 × 10^3 | 1.00 × 10^4" in ozone.exercise.problem


@needs_book
def test_no_exercise_leaks_into_the_text_tool_creation_sees():
    reference = Reference.load("chemistry-2e", data_dir=DATA_DIR)
    sections = [*reference.sections, *reference.front_matter, *reference.back_matter]
    book_text = "\n".join(_plain(s.text) for s in sections)
    blocks = "\n".join(_plain(b if isinstance(b, str) else b.text) for s in sections for b in s.blocks)
    prompts = "\n".join(
        _plain(section_prompt_text(s, section_exercises(s), 10**7)) for s in reference.sections
    )
    screened = screen_book_exercises(DATA_DIR)
    kept = [_plain(s.exercise.problem) for s in screened if s.kept]
    assert len(kept) == 193
    for problem in kept:
        assert problem not in blocks and problem not in prompts
    # no exercise's problem or (longer) solution is anywhere in the sections' text
    for s in screened:
        for text in (s.exercise.problem, s.exercise.solution or ""):
            if len(_plain(text)) >= 40:
                assert _plain(text) not in book_text, s.exercise.number
