"""RefTool tool creation, validation, repair and resumable building, with a scripted backend."""

from __future__ import annotations

import dataclasses
import functools
import json
import re

import pytest

from hf_reft.reftool.books import Chapter, Reference, Section, WorkedExample
from hf_reft.reftool.building import LOG_FILE, build_toolbox, select_sections
from hf_reft.reftool.creation import ToolCreator
from hf_reft.reftool.parsing import (
    ignores_its_arguments,
    parse_chapter_choice,
    parse_tool_choice,
    parse_tool_drafts,
)
from hf_reft.reftool.scripted import ScriptedChatBackend
from hf_reft.reftool.section_problems import (
    book_numbers,
    not_a_numeric_answer,
    section_exercises,
    section_problems,
    section_prompt_text,
    worked_problem,
)
from hf_reft.reftool.toolbox import Toolbox
from hf_reft.sandbox import Sandbox, SandboxPolicy

# These tests script the creation, cross-check and repair replies; transcription (on by default) has its
# own tests below and in test_reftool_transcription.py.
creation_only = functools.partial(ToolCreator, transcribe=False)


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(SandboxPolicy(wall_time=5, cpu_time=5), workers=1) as box:
        yield box


DENSITY = WorkedExample(
    id="ex-density",
    number="1.1",
    title="Calculation of Density",
    problem="A piece of gold has a mass of 38.6 g and a volume of 2.00 cm^3. What is its density?",
    solution="density = mass / volume = 38.6 g / 2.00 cm^3 = 19.3 g/cm^3",
    answer="19.3 g/cm^3",
    check_problem="A piece of copper has a mass of 8.91 g and a volume of 1.00 cm^3. What is its density?",
    check_answer="8.91 g/cm^3",
    section_id="s14",
)
ROUNDING = WorkedExample(
    id="ex-round",
    number="1.2",
    title="Rounding",
    problem="Round 0.424 to two significant figures.",
    solution="0.42",
    answer=None,
    check_problem="Explain rounding.",
    check_answer="It drops digits.",
    section_id="s14",
)
SECTION = Section(
    id="s14",
    number="1.4",
    title="Measurements",
    chapter_number=1,
    chapter_title="Essential Ideas",
    blocks=("Density is mass divided by volume.", DENSITY, "Significant figures matter.", ROUNDING),
)
CONCEPTS = Section(
    id="s11",
    number="1.1",
    title="Chemistry in Context",
    chapter_number=1,
    chapter_title="Essential Ideas",
    blocks=("Chemistry is the study of matter.",),
)

GOOD = """TOOL: density
DESCRIPTION: Density (g/cm^3) from mass (g) and volume (cm^3).
EXAMPLE: 1.1
```python
def density(mass_g, volume_cm3):
    return mass_g / volume_cm3
```
```python
print(density(8.91, 1.00))
```
"""
WRONG = """TOOL: density_of_sample
DESCRIPTION: Density (g/cm^3) from a mass (g) and a volume (cm^3).
EXAMPLE: 1.1
```python
def density_of_sample(mass, volume):
    return mass + volume
```
```python
print(density_of_sample(8.91, 1.00), "g/cm^3")
```
"""
FIXED = WRONG.replace("mass + volume", "mass / volume")
CHEATS = """TOOL: volume_of_cube
DESCRIPTION: Volume of a cube from its edge.
```python
def volume_of_cube(edge):
    return edge ** 3
```
```python
print(8.91)
```
"""


def _obvious_program(messages):
    """The program a model writes for a cross-check: the named tool called with the problem's decimals."""
    text = messages[-1]["content"]
    name = re.search(r"by calling (\w+)\(", text).group(1)
    numbers = re.findall(r"\d+\.\d+", text.rsplit("Problem:", 1)[1].split("\n", 1)[0])
    return f"```python\nprint({name}({', '.join(numbers)}))\n```"


#: A rule for scripted backends: cross-check prompts get :func:`_obvious_program`.
CROSS_CHECKS = ("already defined", _obvious_program)


def scripted(replies=(), rules=(), **kwargs) -> ScriptedChatBackend:
    """A scripted backend answering creation/repair prompts from ``replies``/``rules`` and cross-checks obviously."""
    return ScriptedChatBackend(list(replies), rules=[*rules, CROSS_CHECKS], **kwargs)


def _reference(*sections: Section) -> Reference:
    """A book holding ``sections`` (grouped into their chapters, in the order given)."""
    chapters: dict[int, list[Section]] = {}
    for section in sections:
        chapters.setdefault(section.chapter_number, []).append(section)
    return Reference(
        title="Tiny book",
        chapters=tuple(Chapter(n, group[0].chapter_title, tuple(group)) for n, group in chapters.items()),
    )


def test_exercises_come_from_the_book_and_answers_are_withheld():
    exercises = section_exercises(SECTION)
    assert [(e.number, e.expected, e.hidden) for e in exercises] == [("1.1", "8.91 g/cm^3", True)]
    assert exercises[0].expected_values == [8.91]
    assert "Check Your Learning" in exercises[0].source
    text = section_prompt_text(SECTION, exercises, 6000)
    assert "copper" in text and "Density is mass" in text
    assert "8.91 g/cm^3" not in text  # the check answer is not shown to the model
    # a worked example without a check answer is validated on its own stated answer
    no_check = WorkedExample(
        "e", "2.1", "t", "How many moles are in 90 g of water?", "s = 5 mol", answer="5 mol", section_id="x"
    )
    section = Section("x", "2.1", "T", 2, "C", ("Text.", no_check))
    assert [(e.expected, e.hidden) for e in section_exercises(section)] == [("5 mol", False)]
    # the worked example's own problem (cross-checks a tool); none without a numeric stated answer
    gold = worked_problem(DENSITY, SECTION)
    assert gold and (gold.problem, gold.expected, gold.hidden) == (DENSITY.problem, "19.3 g/cm^3", False)
    assert worked_problem(ROUNDING, SECTION) is None
    assert section_problems(SECTION) == [exercises[0], gold]  # the check exercise, then the worked problem
    # a tight budget keeps the exercises and drops paragraphs
    assert "copper" in section_prompt_text(SECTION, exercises, 500)


def test_first_pass_repair_and_drop(sandbox):
    def cheats_again(messages):
        return (
            "Repair the tool" in messages[-1]["content"] and "TOOL: volume_of_cube" in messages[-1]["content"]
        )

    backend = scripted([GOOD + "\n" + WRONG + "\n" + CHEATS, FIXED], rules=[(cheats_again, CHEATS)])
    creator = creation_only(backend, sandbox=sandbox, max_tools=3, candidates=1)
    build = creator.build_section(SECTION)
    assert build.stats.__dict__ == {"proposed": 3, "first_pass": 1, "repaired": 1, "dropped": 1}
    by_name = {t.name: t for t in build.tools}
    assert set(by_name) == {"density", "density_of_sample"}
    density = by_name["density"]
    assert density.record.status == "passed" and density.record.attempts == 1
    assert (
        density.validation.expected_answer == "8.91 g/cm^3" and density.validation.example_id == "ex-density"
    )
    assert density.validation.solution == "print(density(8.91, 1.00))"
    repaired = by_name["density_of_sample"]
    assert repaired.record.status == "repaired" and repaired.record.attempts == 2
    assert "mass / volume" in repaired.code
    # the repair request carried the error but not the book's answer
    repair_prompts = [
        c["messages"][-1]["content"]
        for c in backend.calls
        if "Repair the tool" in c["messages"][-1]["content"]
    ]
    assert len(repair_prompts) == 2
    assert "printed 9.91" in repair_prompts[0] and "8.91 g/cm^3" not in repair_prompts[0]
    # the tool that printed the answer without calling itself was refused
    assert "does not call volume_of_cube" in repair_prompts[1]
    events = [e["event"] for e in build.log]
    assert events == [
        "create",
        "validate",  # density: copper's check exercise
        "cross_check",  # density: gold, the worked problem of the same example
        "validate",
        "validate",
        "repair",
        "validate",
        "cross_check",
        "repair",
        "validate",
    ]
    # the creation prompt had the section, the format example and the exercise, not the answer
    creation = backend.calls[0]["messages"][-1]["content"]
    assert "Density is mass" in creation and "TOOL: density_from_mass_volume" in creation
    assert "Example 1.1: A piece of copper" in creation and "8.91 g/cm^3" not in creation


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (GOOD.replace("return mass_g / volume_cm3", "return mass_g / 0"), "ZeroDivisionError"),
        (GOOD.replace("print(density(8.91, 1.00))", "density(8.91, 1.00)"), "printed no number"),
        (GOOD.replace("```python\nprint(density(8.91, 1.00))\n```", ""), "no program"),
        (GOOD.replace("return mass_g / volume_cm3", "return mass_g /"), "not usable"),
        (GOOD.replace("return mass_g / volume_cm3", "while True: pass"), "timeout"),
    ],
)
def test_failures_without_repair_are_dropped(sandbox, reply, error):
    creator = creation_only(scripted([reply]), sandbox=sandbox, repair=False, candidates=1)
    build = creator.build_section(SECTION)
    assert build.tools == [] and build.stats.__dict__ == {
        "proposed": 1,
        "first_pass": 0,
        "repaired": 0,
        "dropped": 1,
    }
    assert error in build.log[1]["error"]


def test_section_without_exercises_costs_no_model_call(sandbox):
    backend = scripted([])
    build = creation_only(backend, sandbox=sandbox).build_section(CONCEPTS)
    assert build.skipped and build.tools == [] and backend.calls == []


def test_at_most_m_tools_and_unusable_replies(sandbox):
    three = (
        GOOD
        + GOOD.replace("TOOL: density", "TOOL: density2")
        .replace("def density(", "def density2(")
        .replace("print(density(", "print(density2(")
        + GOOD
    )
    build = creation_only(scripted([three]), sandbox=sandbox, candidates=1).build_section(SECTION)
    assert build.stats.proposed == 2 and [t.name for t in build.tools] == ["density", "density2"]
    build = creation_only(scripted(["I cannot write code."]), sandbox=sandbox, candidates=1).build_section(
        SECTION
    )
    assert build.stats.__dict__ == {"proposed": 0, "first_pass": 0, "repaired": 0, "dropped": 0}


def test_build_is_resumable_and_saves_every_section(tmp_path, sandbox, monkeypatch):
    gas = WorkedExample(
        "ex-gas",
        "9.1",
        "Gas",
        "p?",
        "s",
        answer=None,
        check_problem="Pressure of 1 mol at 273.15 K in 22.414 L?",
        check_answer="1.00 atm",
        section_id="s92",
    )
    gas_section = Section("s92", "9.2", "Gas Laws", 9, "Gases", ("PV = nRT.", gas))
    gas_tool = """TOOL: ideal_gas_pressure
DESCRIPTION: Pressure (atm) of n mol at T (K) in V (L).
EXAMPLE: 9.1
```python
def ideal_gas_pressure(n, T, V):
    return n * 0.082057 * T / V
```
```python
print(ideal_gas_pressure(1, 273.15, 22.414))
```"""
    sections = [CONCEPTS, SECTION, gas_section]
    backend = scripted(rules=[("section 1.4", GOOD), ("section 9.2", gas_tool)], name="scripted-model")
    creator = creation_only(backend, sandbox=sandbox, candidates=1)
    calls = {"n": 0}

    def stop_after_two(section, build, toolbox):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt

    out = tmp_path / "toolbox"
    reference = _reference(*sections)
    first = build_toolbox(reference, backend, out, creator=creator, progress=False, on_section=stop_after_two)
    assert first.interrupted and first.built == 2
    saved = Toolbox.from_pretrained(out)
    assert [s.number for s in saved.sections] == ["1.1", "1.4"] and [t.name for t in saved.tools] == [
        "density"
    ]
    assert saved.model == "scripted-model" and saved.settings["max_tools"] == 2
    # rerun: only the missing section is built
    n_calls = len(backend.calls)
    second = build_toolbox(reference, backend, out, creator=creator, progress=False)
    assert not second.interrupted and second.resumed == 2 and second.built == 1 and second.planned == 1
    assert len(backend.calls) == n_calls + 1
    final = Toolbox.from_pretrained(out)
    assert [t.name for t in final.tools] == ["density", "ideal_gas_pressure"]
    assert final.stats.__dict__ == {"proposed": 2, "first_pass": 2, "repaired": 0, "dropped": 0}
    assert final.section("1.1").stats.proposed == 0
    card = (out / "README.md").read_text()
    assert "| passed validation first time | 2 |" in card
    log = [json.loads(line) for line in (out / LOG_FILE).read_text().splitlines()]
    assert [r["section"] for r in log] == ["1.1 Chemistry in Context", "1.4 Measurements", "9.2 Gas Laws"]
    # a third run has nothing to do; a different model is refused
    assert build_toolbox(reference, backend, out, creator=creator, progress=False).planned == 0
    other = scripted([], name="another-model")
    with pytest.raises(ValueError, match="another-model"):
        build_toolbox(reference, other, out, creator=creation_only(other), progress=False)
    with pytest.raises(FileExistsError):
        build_toolbox(reference, backend, out, creator=creator, progress=False, resume=False)


def test_concurrent_build_renames_clashing_tools(tmp_path, sandbox):
    twin = Section("s15", "1.5", "More Density", 1, "Essential Ideas", ("Density again.", DENSITY))
    backend = scripted(rules=[("Write tools", GOOD)], name="remote")
    creator = creation_only(backend, sandbox=sandbox, candidates=1)
    reference = _reference(SECTION, twin)
    report = build_toolbox(reference, backend, tmp_path / "tb", creator=creator, workers=2, progress=False)
    assert report.built == 2 and not report.failed
    toolbox = Toolbox.from_pretrained(tmp_path / "tb")
    assert sorted(t.name for t in toolbox.tools) == ["density", "density_2"]
    renamed = toolbox.tool("density_2")
    assert "def density_2(" in renamed.code and renamed.validation.solution == "print(density_2(8.91, 1.00))"


def test_failed_section_is_not_saved_and_build_continues(tmp_path, sandbox):
    backend = scripted([])  # no reply for the one section that needs the model
    reference = _reference(SECTION, CONCEPTS)
    report = build_toolbox(
        reference,
        backend,
        tmp_path / "tb",
        creator=creation_only(backend, sandbox=sandbox, candidates=1),
        progress=False,
    )
    assert len(report.failed) == 1 and "1.4" in report.failed[0] and report.built == 1
    assert [s.number for s in Toolbox.from_pretrained(tmp_path / "tb").sections] == ["1.1"]


def test_parsers_are_lenient():
    drafts = parse_tool_drafts(
        "Here:\n```python\ndef f(x):\n    return 2 * x\n```\n```python\nprint(f(2))\n```"
    )
    assert [(d.name, d.program) for d in drafts] == [("f", "print(f(2))")]
    drafts = parse_tool_drafts(
        "**TOOL:** `g`\n**DESCRIPTION:** doubles\nEXAMPLE: Example 3.2\n```python\ndef g(x):\n    return 2*x\n```"
    )
    assert [(d.name, d.description, d.example, d.program) for d in drafts] == [("g", "doubles", "3.2", None)]
    assert parse_tool_drafts("no code here") == []
    chapters = [(3, "Composition of Substances"), (9, "Gases"), (10, "Liquids and Solids")]
    assert parse_chapter_choice("9, 3", chapters, 2) == [9, 3]
    assert parse_chapter_choice("Chapter 9. Gases and 10", chapters, 1) == [9]
    assert parse_chapter_choice("The Gases chapter", chapters, 2) == [9]
    assert parse_chapter_choice("NONE", chapters, 2) == [] and parse_chapter_choice("42", chapters, 2) == []
    assert parse_chapter_choice("9.5 is not a chapter", chapters, 2) == []
    assert parse_tool_choice(
        "use ideal_gas_pressure then molar_mass", ["molar_mass", "ideal_gas_pressure", "ideal_gas"], 3
    ) == [
        "ideal_gas_pressure",
        "molar_mass",
    ]


def test_select_sections():
    reference = Reference.load("chemistry-2e")
    assert len(select_sections(reference)) == len(reference.sections) == 135
    chosen = select_sections(reference, chapters=[9, 5], sections=["1.4"])
    assert chosen[0].chapter_number == 9 and chosen[-1].number == "1.4"
    with pytest.raises(ValueError, match="Chapter 99"):
        select_sections(reference, chapters=[99])
    with pytest.raises(ValueError, match=r"42\.42"):
        select_sections(reference, sections=["42.42"])


# --------------------------------------------------------------------------- candidates and checks
GOLD = WorkedExample(
    id="ex-gold",
    number="1.3",
    title="Mass of Gold",
    problem="Gold has a density of 19.3 g/cm^3. What is the mass of 2.00 cm^3 of gold?",
    solution="mass = density × volume = 19.3 g/cm^3 × 2.00 cm^3 = 38.6 g",
    answer="38.6 g",
    check_problem="Silver has a density of 10.5 g/cm^3. What is the mass of 3.00 cm^3 of silver?",
    check_answer="31.5 g",
    section_id="s16",
)
IRON = WorkedExample(
    id="ex-iron",
    number="1.4",
    title="Mass of Iron",
    problem="Iron has a density of 7.87 g/cm^3. What is the mass of 5.00 cm^3 of iron?",
    solution="mass = 7.87 g/cm^3 × 5.00 cm^3 = 39.4 g",
    answer="39.4 g",
    check_problem="Lead has a density of 11.3 g/cm^3. What is the mass of 2.00 cm^3 of lead?",
    check_answer="22.6 g",
    section_id="s16",
)
TWO_EXERCISES = Section("s16", "1.6", "Mass from Density", 1, "Essential Ideas", ("m = d V.", GOLD, IRON))
MASS_TOOL = """TOOL: mass_from_density
DESCRIPTION: Mass (g) from a density (g/cm^3) and a volume (cm^3).
EXAMPLE: 1.3
```python
def mass_from_density(density_g_cm3, volume_cm3):
    return density_g_cm3 * volume_cm3
```
```python
print(mass_from_density(10.5, 3.00))
```
"""
# passes Example 1.3 by returning its answer (written so that no literal is that answer), whatever the data
RESTATES = MASS_TOOL.replace("return density_g_cm3 * volume_cm3", "return (63 + 0 * density_g_cm3) / 2")


def test_sampled_candidates_are_kept_when_the_greedy_one_fails(sandbox):
    backend = scripted([WRONG, GOOD])
    creator = creation_only(backend, sandbox=sandbox, candidates=2, sample_temperature=0.8, repair=False)
    build = creator.build_section(SECTION)
    assert [t.name for t in build.tools] == ["density"]
    assert [c["temperature"] for c in backend.calls[:2]] == [0.0, 0.8]  # then the cross-check
    assert build.stats.__dict__ == {"proposed": 2, "first_pass": 1, "repaired": 0, "dropped": 1}
    assert [e.get("candidate") for e in build.log if e["event"] == "create"] == [0, 1]


def test_identical_candidates_are_validated_once(sandbox):
    backend = scripted(rules=[("Write tools", GOOD)])
    build = creation_only(backend, sandbox=sandbox, candidates=3).build_section(SECTION)
    assert build.stats.proposed == 1 and [t.name for t in build.tools] == ["density"]
    assert len(backend.calls) == 3 + 1  # three candidates, one cross-check


def _program_prompt_for(words: str):
    """A rule pattern: the program-writing prompt (tool already defined) for the problem holding ``words``."""

    def matches(messages):
        text = messages[-1]["content"]
        return "already defined" in text and words in text

    return matches


def test_a_tool_must_also_solve_another_problem_of_the_section(sandbox):
    # Silver (Example 1.3's check, 31.5 g) validates the tool; its cross-check is the worked example's
    # own problem first (gold, 38.6 g: the computation the tool was written for, on other data), then
    # the section's other exercise (lead, 22.6 g). The model writes those programs with the tool defined.
    gold = (_program_prompt_for("Gold has a density"), "```python\nprint(mass_from_density(19.3, 2.00))\n```")
    lead = (_program_prompt_for("Lead has a density"), "```python\nprint(mass_from_density(11.3, 2.00))\n```")
    backend = scripted([MASS_TOOL], rules=[gold, lead])
    build = creation_only(backend, sandbox=sandbox, candidates=1).build_section(TWO_EXERCISES)
    assert [t.name for t in build.tools] == ["mass_from_density"]
    checks = [(c["example"], c["part"], c["passed"]) for c in build.log if c["event"] == "cross_check"]
    assert checks == [("1.3", "worked example", True)]
    prompt = backend.calls[1]["messages"][-1]["content"]
    assert "by calling mass_from_density(...)" in prompt
    # the validated program is shown as an example of use, before the problem to solve
    shown = prompt.index("Example of use, on another problem:\nProblem: Silver has a density")
    assert shown < prompt.index("print(mass_from_density(10.5, 3.00))") < prompt.rindex("Problem: Gold")

    # a wrong program for the worked problem, twice (greedy, then sampled): the next problem (lead)
    # is tried and keeps the tool
    backend = scripted([MASS_TOOL], rules=[(gold[0], "```python\nprint(mass_from_density(1, 2))\n```"), lead])
    creator = creation_only(backend, sandbox=sandbox, candidates=1, cross_check_tries=2)
    build = creator.build_section(TWO_EXERCISES)
    assert [t.name for t in build.tools] == ["mass_from_density"]
    checks = [(c["example"], c["attempt"], c["passed"]) for c in build.log if c["event"] == "cross_check"]
    assert checks == [("1.3", 0, False), ("1.3", 1, False), ("1.4", 0, True)]
    assert [c["temperature"] for c in backend.calls[1:3]] == [0.0, 0.7]

    # the second, sampled program for the same problem can keep it
    replies = iter(["```python\nprint(mass_from_density(1, 2))\n```", gold[1]])
    backend = scripted([MASS_TOOL], rules=[(gold[0], lambda _: next(replies))])
    build = creation_only(backend, sandbox=sandbox, candidates=1, cross_check_tries=2).build_section(
        TWO_EXERCISES
    )
    checks = [(c["example"], c["attempt"], c["passed"]) for c in build.log if c["event"] == "cross_check"]
    assert [t.name for t in build.tools] == ["mass_from_density"]
    assert checks == [("1.3", 0, False), ("1.3", 1, True)]
    # with one try per problem (the default) the first wrong program moves on to the next problem
    backend = scripted([MASS_TOOL], rules=[(gold[0], "```python\nprint(mass_from_density(1, 2))\n```")])
    creator = creation_only(backend, sandbox=sandbox, candidates=1, cross_checks=1, repair=False)
    build = creator.build_section(TWO_EXERCISES)
    checks = [(c["example"], c["attempt"]) for c in build.log if c["event"] == "cross_check"]
    assert checks == [("1.3", 0)] and build.tools == []
    with pytest.raises(ValueError, match="cross_check_tries"):
        creation_only(backend, cross_check_tries=0)

    # a tool that restates Example 1.3's answer passes it, but neither other problem: dropped
    backend = scripted([RESTATES], rules=[gold, lead])
    build = creation_only(backend, sandbox=sandbox, candidates=1, repair=False).build_section(TWO_EXERCISES)
    assert build.tools == [] and build.stats.dropped == 1
    validations = [(e["event"], e["passed"]) for e in build.log if e["event"] in ("validate", "cross_check")]
    assert validations == [("validate", True), ("cross_check", False), ("cross_check", False)]
    assert all("printed 31.5" in e["error"] for e in build.log if e["event"] == "cross_check")

    # with the check turned off the restating tool is kept (what the check protects against)
    backend = scripted([RESTATES])
    build = creation_only(backend, sandbox=sandbox, candidates=1, cross_checks=0).build_section(TWO_EXERCISES)
    assert [t.name for t in build.tools] == ["mass_from_density"] and len(backend.calls) == 1


def test_the_worked_problem_cross_checks_a_tool_that_passed_its_check_exercise(sandbox):
    # SECTION's one example: copper (its check exercise, answer withheld) validates, gold (the worked
    # problem, same computation on other data) cross-checks
    backend = scripted([GOOD])
    build = creation_only(backend, sandbox=sandbox, candidates=1).build_section(SECTION)
    assert [t.name for t in build.tools] == ["density"]
    checks = [(e["event"], e["example"], e["part"], e["passed"]) for e in build.log if "part" in e]
    assert checks == [
        ("validate", "1.1", "Check Your Learning", True),
        ("cross_check", "1.1", "worked example", True),
    ]
    # and the reverse: a program for the worked problem validates, the check exercise cross-checks
    on_gold = GOOD.replace("print(density(8.91, 1.00))", "print(density(38.6, 2.00))")
    build = creation_only(scripted([on_gold]), sandbox=sandbox, candidates=1).build_section(SECTION)
    checks = [(e["event"], e["part"], e["passed"]) for e in build.log if "part" in e]
    assert checks == [("validate", "worked example", True), ("cross_check", "Check Your Learning", True)]
    assert build.tools[0].validation.expected_answer == "19.3 g/cm^3"
    # a wrong tool that happens to give copper's answer (its volume is 1.00) fails gold: dropped
    times = GOOD.replace("mass_g / volume_cm3", "mass_g * volume_cm3")
    build = creation_only(scripted([times]), sandbox=sandbox, candidates=1, repair=False).build_section(
        SECTION
    )
    assert build.tools == [] and "printed 77.2" in build.log[-1]["error"]


def test_a_section_with_one_problem_has_no_cross_check(sandbox):
    only = WorkedExample(
        "ex-only", "1.5", "Density", "A block has a mass of 8.91 g and a volume of 1.00 cm^3. Its density?",
        "8.91 g / 1.00 cm^3 = 8.91 g/cm^3", answer="8.91 g/cm^3", section_id="s15",
    )  # fmt: skip
    section = Section("s15", "1.5", "Density", 1, "Essential Ideas", ("Density.", only))
    backend = scripted([GOOD.replace("EXAMPLE: 1.1", "EXAMPLE: 1.5")])
    build = creation_only(backend, sandbox=sandbox, candidates=1).build_section(section)
    assert [t.name for t in build.tools] == ["density"] and len(backend.calls) == 1
    assert [e["event"] for e in build.log] == ["create", "validate"]


def test_a_lone_problem_with_a_guessable_answer_gets_no_tool_and_no_model_call(sandbox):
    """A small whole number (a bond order, a count) is printed as easily by a wrong tool; with no second
    problem to confirm one, the section is skipped like a section without problems."""
    bond = WorkedExample(
        "ex-bond", "8.6", "Bond order", "What is the bond order of N2?", "(8 - 2)/2 = 3", answer="3",
        section_id="s86",
    )  # fmt: skip
    section = Section("s86", "8.4", "Molecular Orbital Theory", 8, "Bonding", ("Bond order.", bond))
    (problem,) = section_problems(section)
    assert problem.guessable and not section_exercises(SECTION)[0].guessable  # 3, against 8.91
    for measured in ("1.00 atm", "2 × 10^-24 J"):  # a measured value, not a count
        assert not dataclasses.replace(problem, expected=measured).guessable
    backend = scripted([])
    build = creation_only(backend, sandbox=sandbox, candidates=1).build_section(section)
    assert build.tools == [] and backend.calls == [] and "small whole number" in build.skipped
    # with a second problem to confirm it, the same answer is an ordinary problem
    two = Section("s86", "8.4", "Molecular Orbital Theory", 8, "Bonding", ("Bond order.", bond, DENSITY))
    assert (
        creation_only(scripted(default="No tools."), sandbox=sandbox, candidates=1).build_section(two).skipped
        is None
    )


def test_a_guessable_answer_confirms_a_tool_only_where_no_other_problem_can(sandbox):
    """A wrong tool prints a small whole number by chance: the cross-check goes to a problem with a
    measured-looking answer first, and to the guessable one only when the section has no other."""
    n2 = WorkedExample(
        "ex-n2", "8.6", "Bond order", "A molecule has 10 bonding and 4 antibonding electrons. Bond order?",
        "(10 - 4)/2 = 3", answer="3",
        check_problem="An ion has 9.0 bonding and 4.0 antibonding electrons. Bond order?", check_answer="2.5",
        section_id="s84",
    )  # fmt: skip
    ion = WorkedExample(
        "ex-ion", "8.7", "Bond order of an ion", "An ion has 8.0 bonding and 3.0 antibonding electrons. Bond order?",
        "(8 - 3)/2 = 2.5", answer="2.5", section_id="s84",
    )  # fmt: skip
    reply = """TOOL: bond_order
DESCRIPTION: Bond order from bonding and antibonding electron counts.
EXAMPLE: 8.6
```python
def bond_order(bonding, antibonding):
    return (bonding - antibonding) / 2
```
```python
print(bond_order(9.0, 4.0))
```
"""
    ignores_antibonding = reply.replace("(bonding - antibonding) / 2", "(bonding - 4) / 2 + 0 * antibonding")
    whole = (_program_prompt_for("A molecule has 10"), "```python\nprint(bond_order(10, 4))\n```")
    both = Section("s84", "8.4", "Molecular Orbital Theory", 8, "Bonding", ("Bond order.", n2, ion))
    only_n2 = Section("s84", "8.4", "Molecular Orbital Theory", 8, "Bonding", ("Bond order.", n2))
    assert [p.guessable for p in section_problems(both)] == [False, True, False]

    def checked(tool_reply, section):
        backend = scripted([tool_reply], rules=[whole])
        build = creation_only(backend, sandbox=sandbox, candidates=1, repair=False).build_section(section)
        return [t.name for t in build.tools], [
            (e["example"], e["part"], e["passed"]) for e in build.log if e["event"] == "cross_check"
        ]

    # the right tool: confirmed by Example 8.7 (2.5), not by its own worked problem's 3
    assert checked(reply, both) == (["bond_order"], [("8.7", "worked example", True)])
    # a wrong tool that gives 2.5 for the ion and 3 for N2, but 2.0 for Example 8.7: dropped (it
    # would have been kept on N2's 3, the same example's problem that used to come first)
    assert checked(ignores_antibonding, both) == ([], [("8.7", "worked example", False)])
    # with no other problem the guessable one still refutes or confirms
    assert checked(reply, only_n2) == (["bond_order"], [("8.6", "worked example", True)])
    wrong = reply.replace("(bonding - antibonding) / 2", "(bonding - antibonding) / 2 + (bonding > 9.5)")
    assert checked(wrong, only_n2) == ([], [("8.6", "worked example", False)])


def test_a_program_that_prints_the_books_answer_is_refused(sandbox):
    by_hand = MASS_TOOL.replace(
        "print(mass_from_density(10.5, 3.00))", "mass_from_density(10.5, 3.00)\nprint(31.5)"
    )
    build = creation_only(
        scripted([by_hand]), sandbox=sandbox, candidates=1, repair=False, cross_checks=0
    ).build_section(TWO_EXERCISES)
    assert build.tools == []
    assert "holds the number 31.5" in build.log[1]["error"]
    # a literal is the answer when it rounds to the book's 31.5 (31.52), not when it is only within the
    # 2 % tolerance of a printed result (31.8: a constant that happens to lie near the answer)
    creator = creation_only(scripted([]), sandbox=sandbox, cross_checks=0)
    gold = section_exercises(TWO_EXERCISES)[0]
    for literal, refused in (("31.52", True), ("31.8", False)):
        program = f"print(mass_from_density(10.5, 3.00) * {literal} / {literal})"
        (draft,) = parse_tool_drafts(MASS_TOOL.replace("print(mass_from_density(10.5, 3.00))", program))
        outcome = creator.validate(draft, gold)
        assert outcome.passed is not refused and ("holds the number" in (outcome.error or "")) is refused
    # numbers given in the exercise, and small whole numbers, are not answers
    creator = creation_only(scripted([]), sandbox=sandbox)
    exercise = section_exercises(SECTION)[0]  # copper: 8.91 g and 1.00 cm^3 given, 8.91 g/cm^3 expected
    (draft,) = parse_tool_drafts(GOOD)
    assert creator.validate(draft, exercise).passed


def test_parsers_read_the_shapes_small_models_write():
    # tool and program in one block, prose around it (a typical repair reply)
    one_block = (
        "Here is the corrected tool:\n\n```python\nimport math\n\ndef moles(mass_g, molar_mass):\n"
        '    """Moles from mass."""\n    return mass_g / molar_mass\n\n# Example\nprint(moles(36.0, 18.02))\n```\n'
        "This divides the mass by the molar mass."
    )
    (draft,) = parse_tool_drafts(one_block)
    assert draft.name == "moles" and draft.program == "print(moles(36.0, 18.02))"
    assert "print" not in draft.code and "import math" in draft.code
    # the field lines inside the code block, and a __main__ guard
    inside = (
        "```python\nTOOL: conc\nDESCRIPTION: molarity\nEXAMPLE: Example 3.3\ndef conc(n, v):\n    return n / v\n\n"
        "if __name__ == '__main__':\n    print(conc(1, 2))\n```"
    )
    (draft,) = parse_tool_drafts(inside)
    assert (draft.name, draft.description, draft.example, draft.program) == (
        "conc",
        "molarity",
        "3.3",
        "print(conc(1, 2))",
    )
    assert "TOOL" not in draft.code
    # helpers: the tool is the function the program calls
    helpers = "```python\ndef _helper(x):\n    return x\n\ndef main_tool(x):\n    return _helper(x) * 2\n```\n```python\nprint(main_tool(2))\n```"
    assert parse_tool_drafts(helpers)[0].name == "main_tool"
    # two tools, the second with bold field names
    two = (
        GOOD
        + "\n**TOOL:** twice\n**DESCRIPTION:** doubles\n```python\ndef twice(x):\n    return 2 * x\n```\n```python\nprint(twice(4))\n```"
    )
    assert [(d.name, d.description, d.program) for d in parse_tool_drafts(two)] == [
        ("density", "Density (g/cm^3) from mass (g) and volume (cm^3).", "print(density(8.91, 1.00))"),
        ("twice", "doubles", "print(twice(4))"),
    ]


def test_a_program_for_an_unnamed_exercise_is_checked_against_each_offered_one(sandbox):
    # EXAMPLE names no exercise of the section; the program solves Example 1.4's (lead, 22.6 g)
    unnamed = MASS_TOOL.replace("EXAMPLE: 1.3", "EXAMPLE: 0.133").replace("(10.5, 3.00)", "(11.3, 2.00)")
    backend = scripted([unnamed])
    build = creation_only(backend, sandbox=sandbox, candidates=1, cross_checks=0).build_section(TWO_EXERCISES)
    (tool,) = build.tools
    assert tool.validation.example_id == "ex-iron" and tool.validation.expected_answer == "22.6 g"
    assert [e["example"] for e in build.log if e["event"] == "validate"] == ["1.4"]


def test_a_repair_reply_that_restates_the_failing_tool_first_is_read_to_its_end(sandbox):
    backend = scripted([WRONG, WRONG + "\nThe corrected version:\n\n" + FIXED])
    build = creation_only(backend, sandbox=sandbox, candidates=1).build_section(SECTION)
    assert [(t.name, t.record.status) for t in build.tools] == [("density_of_sample", "repaired")]


def test_repairs_are_bounded_one_per_tool_name(sandbox):
    # three candidates of the same failing tool: one repair, not three
    backend = scripted(
        [WRONG, WRONG.replace("mass + volume", "mass - volume"), WRONG.replace("+", "+ 1 +"), WRONG]
    )
    build = creation_only(backend, sandbox=sandbox, candidates=3, max_tools=2).build_section(SECTION)
    assert [e["event"] for e in build.log].count("repair") == 1 and build.tools == []


def test_numbers_the_exercise_gives_are_not_answers():
    ratio = WorkedExample(
        "ex-ratio", "2.2", "Ratios", "p", "s",
        check_problem="Compound X has 14.13 g carbon and 2.96 g hydrogen. What is its mass ratio of C to H?",
        check_answer="The mass ratio is (14.13 g C)/(2.96 g H) = 4.77 g C/g H.",
        section_id="s",
    )  # fmt: skip
    (exercise,) = section_exercises(Section("s", "2.1", "T", 2, "C", (ratio,)))
    assert exercise.expected_values == [4.77]


def test_answers_that_are_not_numbers_do_not_validate_tools():
    """Measured: a tool counting letters printed 1 and passed glucose's "ratio 1:2:1, so CH2O" (2.4's
    only problem). A ratio, equation, inequality or orbital answer is no numeric problem — the same rule
    that screens the end-of-chapter exercises."""
    glucose = WorkedExample(
        "ex-glucose", "2.6", "Empirical formulas",
        "Molecules of glucose contain 6 carbon atoms, 12 hydrogen atoms, and 6 oxygen atoms. What are "
        "the molecular and empirical formulas of glucose?",
        "s",
        answer="The simplest whole-number ratio of C to H to O atoms in glucose is 1:2:1, so the empirical "
        "formula is CH2O.",
        check_problem="Acetic acid molecules contain 2 C, 4 H and 2 O atoms. What is its empirical formula?",
        check_answer="CH2O, a ratio of 1:2:1",
        section_id="s",
    )  # fmt: skip
    section = Section("s", "2.4", "Chemical Formulas", 2, "C", (glucose,))
    assert section_problems(section) == [] and section_exercises(section) == []
    assert not_a_numeric_answer("must be 1:1") == "ratio" and not_a_numeric_answer("4.77 g C/g H") is None
    assert not_a_numeric_answer("2 H2 + O2 → 2 H2O") == "equation"


def test_a_formula_is_no_numeric_answer():
    """Measured in the whole-book build: baking powder's formula "Ca(H2PO4)2" (Example 2.11) was read as
    the number 2, and a tool printing the formula passed it. A formula's digits are no number, in the
    answer or in the problem's data; a number next to a formula still counts."""
    baking_powder = WorkedExample(
        "ex-formula", "2.11", "Formulas of ionic compounds",
        "Baking powder holds the ions Ca^2+ and H2PO4^-. What is its formula?",
        "s",
        answer="The formula is Ca(H2PO4)2.",
        check_problem="Write the formula of the hydrate of FeCl3 with 2 waters.",
        check_answer="FeCl3·2H2O",
        section_id="s26",
    )  # fmt: skip
    assert section_problems(Section("s26", "2.6", "Ionic Compounds", 2, "C", (baking_powder,))) == []
    hydrate = WorkedExample(
        "ex-hydrate", "2.12", "Water of a hydrate",
        "A 5.00 g sample of CuSO4·5H2O is heated dry. What mass of calcium phosphate has the same number of moles?",
        "s",
        answer="6.21 g Ca3(PO4)2",
        section_id="s26",
    )  # fmt: skip
    (problem,) = section_problems(Section("s26", "2.6", "Ionic Compounds", 2, "C", (hydrate,)))
    assert problem.expected_values == [6.21] and book_numbers(problem.problem) == [5.0]


def test_a_problem_that_states_no_data_does_not_validate_tools():
    """Measured in the whole-book build: 1.4's simulator exercise states no number, and the model's
    program passed it with invented inputs, ``density_from_displacement(1.95, 3.0)`` for the book's
    0.65 g/mL. A problem without data (a simulation, a figure) is not a validation problem."""
    simulator = WorkedExample(
        "ex-sim", "1.2", "Density by displacement",
        "This exercise uses a simulation to measure the object's volume via displacement of water. "
        "Use the simulator to determine the density of wood.",
        "s",
        answer="0.65 g/mL",
        check_problem="Following the water displacement approach, use the simulator to measure the density "
        "of the foam sample.",
        check_answer="0.230 g/mL",
        section_id="s14",
    )  # fmt: skip
    section = Section("s14", "1.4", "Measurements", 1, "Essential Ideas", (DENSITY, simulator))
    assert [p.example_id for p in section_problems(section)] == ["ex-density", "ex-density"]
    assert worked_problem(simulator, section) is None
    assert [p.example_id for p in section_exercises(section)] == ["ex-density"]


def test_a_tool_whose_result_ignores_its_arguments_is_refused(sandbox):
    # the whole-book build kept cell_potential(Fe2_plus, Cu2_plus), which returned 0.7996 - 0.34, the
    # worked solution's own numbers, whatever it was given: the book's answer for every problem
    constant = GOOD.replace(
        "    return mass_g / volume_cm3", "    mass, volume = 8.91, 1.00\n    return mass / volume"
    )
    build = creation_only(
        scripted([constant]), sandbox=sandbox, candidates=1, repair=False, cross_checks=0
    ).build_section(SECTION)
    assert build.tools == []
    assert "density returns the same value whatever its arguments are" in build.log[1]["error"]
    assert "stdout" not in build.log[1] or not build.log[1]["stdout"]  # refused before it ran


def test_which_tools_ignore_their_arguments():
    assert not ignores_its_arguments("def f(x):\n    y = 2 * x\n    z = y + 1\n    return z\n", "f")
    assert not ignores_its_arguments("def f(x):\n    if x > 0:\n        return 1\n    return 2\n", "f")
    assert not ignores_its_arguments(
        "def f(xs):\n    t = 0\n    for x in xs:\n        t += x\n    return t\n", "f"
    )
    assert ignores_its_arguments(
        "def f(x):\n    t = 0\n    for i in range(3):\n        t += i\n    return t\n", "f"
    )
    assert ignores_its_arguments(
        "def f(a, b):\n    e = 0.7996 - 0.34\n    unused = a * b\n    return e\n", "f"
    )
    assert ignores_its_arguments("def f():\n    return 6.022e23\n", "f")
    # not read as a tool: left to the run
    assert not ignores_its_arguments("def f(x):\n    return 1\n", "g")
    assert not ignores_its_arguments("def f(x) return 1", "f")
    assert not ignores_its_arguments("def f(x):\n    while True:\n        pass\n", "f")


def test_a_tool_holding_the_exercises_data_is_refused(sandbox):
    # silver's density (10.5, given in the exercise) inside the tool: right for silver only
    silver_only = MASS_TOOL.replace(
        "def mass_from_density(density_g_cm3, volume_cm3):", "def mass_from_density(volume_cm3):"
    )
    silver_only = silver_only.replace("return density_g_cm3 * volume_cm3", "return 10.5 * volume_cm3")
    silver_only = silver_only.replace("mass_from_density(10.5, 3.00)", "mass_from_density(3.00)")
    build = creation_only(
        scripted([silver_only]), sandbox=sandbox, candidates=1, repair=False, cross_checks=0
    ).build_section(TWO_EXERCISES)
    assert build.tools == []
    error = build.log[1]["error"]
    assert "holds 10.5, a value the exercise gives" in error and "argument of mass_from_density" in error
    # physical constants, unit factors and small whole numbers may be restated by an exercise
    creator = creation_only(scripted([]), sandbox=sandbox)
    problem = "With R = 8.314 J/(mol K), 60 s, 1000 g, 2 mol and 3.5 L: find p."
    gas = dataclasses.replace(section_exercises(SECTION)[0], problem=problem)
    code = "def p(n, t, v):\n    return 2 * n * 8.314 * t / v / 1000 * 60 + 3.5"
    draft = parse_tool_drafts(f"TOOL: p\nDESCRIPTION: d\n```python\n{code}\n```")[0]
    assert creator._given_in_tool(draft, gas) == "3.5"  # only the exercise's own datum


def test_data_left_in_the_tool_block_goes_to_the_program_not_the_tool():
    reply = (
        "TOOL: wavelength\nDESCRIPTION: de Broglie wavelength.\nEXAMPLE: 6.6\n"
        "```python\nimport math\nH = 6.626e-34\n\ndef wavelength(v_mps, m_kg):\n    return H / (m_kg * v_mps)\n\n"
        "mass_kg = 9.109e-31\n```\n```python\nprint(wavelength(1.0e6, 9.109e-31))\n```"
    )
    (draft,) = parse_tool_drafts(reply)
    assert "H = 6.626e-34" in draft.code and "mass_kg" not in draft.code  # the constant the tool reads stays
    assert draft.program == "print(wavelength(1.0e6, 9.109e-31))"
    # in one block, the data goes before the program that uses it
    (draft,) = parse_tool_drafts(reply.replace("```\n```python\n", ""))
    assert "mass_kg" not in draft.code and draft.program.startswith("mass_kg = 9.109e-31\nprint(")


def test_a_program_ending_in_a_bare_value_prints_it():
    from hf_reft.reftool.parsing import first_program, print_last_expression

    assert first_program("```python\n36.0 / 18.02\n```") == "print(36.0 / 18.02)"
    assert print_last_expression("m = 36.0\nM = 18.02\nm / M") == "m = 36.0\nM = 18.02\nprint(m / M)"
    for unchanged in ("print(2)", "main()", "x = 1", "'a note'", "if True:\n    x", "def f(:"):
        assert print_last_expression(unchanged) == unchanged


def test_a_program_using_math_or_numpy_without_importing_it_gets_the_import():
    from hf_reft.reftool.parsing import add_missing_imports

    assert add_missing_imports("print(math.sqrt(4))") == "import math\nprint(math.sqrt(4))"
    assert (
        add_missing_imports("x = np.log(2) + math.pi")
        == "import math\nimport numpy as np\nx = np.log(2) + math.pi"
    )
    for unchanged in (
        "import math\nprint(math.pi)",
        "from numpy import log as np\nprint(np.e)",  # bound, however oddly
        "def f(math):\n    return math.pi",  # an argument named like the module
        "math = object()\nprint(math.x)",
        "print(mass.value)",  # not a module it knows
        "from __future__ import annotations\nprint(math.pi)",  # nothing may precede a future import
        "print(math.sqrt(4)",  # not Python: left to fail as it is
    ):
        assert add_missing_imports(unchanged) == unchanged


#: A transcription of gold's worked solution (Example 1.1): data in variables, the steps, a print.
TRANSCRIPTION = """```python
mass_g = 38.6  # g
volume_cm3 = 2.00  # cm^3
density = mass_g / volume_cm3
print(density)
```"""


def test_the_creator_keeps_a_transcribed_tool_only_after_the_hidden_check(sandbox):
    def cross_check(messages):
        """A program for the copper check that calls the tool (as a model would, by keyword)."""
        assert "mass_g=38.6" in messages[-1]["content"]  # the validation call shown as an example of use
        return "```python\nprint(density(mass_g=8.91, volume_cm3=1.00))\n```"

    backend = ScriptedChatBackend(
        rules=[("Transcribe the worked solution", TRANSCRIPTION), ("already defined", cross_check)]
    )
    creator = ToolCreator(backend, sandbox=sandbox, candidates=0, transcribe=True, repair=False)
    build = creator.build_section(SECTION)
    assert [t.name for t in build.tools] == ["density"]
    assert build.stats.__dict__ == {"proposed": 1, "first_pass": 1, "repaired": 0, "dropped": 0}
    events = [(e["event"], e.get("passed"), e.get("transcription")) for e in build.log]
    assert events == [("transcribe", None, None), ("validate", True, "1.1"), ("cross_check", True, "1.1")]
    # the prompt carried the worked solution, not the check exercise's answer
    prompt = backend.calls[0]["messages"][-1]["content"]
    assert DENSITY.solution in prompt and "8.91 g/cm^3" not in prompt
    # a transcription that gives the worked answer with the volume written in (gold's 2.00 cm^3):
    # its tool fails the hidden copper check and is dropped
    wrong = ScriptedChatBackend(
        rules=[
            (
                "Transcribe the worked solution",
                TRANSCRIPTION.replace("mass_g / volume_cm3", "mass_g / 2.00"),
            ),
            ("already defined", "```python\nprint(density(mass_g=8.91, volume_cm3=1.00))\n```"),
        ]
    )
    creator = ToolCreator(wrong, sandbox=sandbox, candidates=0, transcriptions=1, repair=False)
    build = creator.build_section(SECTION)
    assert build.tools == [] and build.stats.dropped == 1
    assert [e["event"] for e in build.log] == ["transcribe", "validate", "cross_check"]


def test_sampled_transcriptions_follow_one_whose_tool_was_not_kept(sandbox):
    """``transcriptions=3``: the greedy transcription's tool fails the hidden check, a sampled one that
    repeats it is not checked again, and the next different one is kept; then sampling stops."""
    replies = iter(
        [
            TRANSCRIPTION.replace("mass_g / volume_cm3", "mass_g / 2.00"),  # greedy: fails the copper check
            TRANSCRIPTION.replace("mass_g / volume_cm3", "mass_g / 2.00"),  # the same again: skipped
            TRANSCRIPTION,  # right: kept
        ]
    )
    backend = ScriptedChatBackend(
        rules=[
            ("Transcribe the worked solution", lambda messages: next(replies)),
            ("already defined", "```python\nprint(density(mass_g=8.91, volume_cm3=1.00))\n```"),
        ]
    )
    creator = ToolCreator(backend, sandbox=sandbox, candidates=0, transcriptions=3, repair=False)
    assert creator.settings["transcriptions"] == 3
    build = creator.build_section(SECTION)
    assert [t.name for t in build.tools] == ["density"] and "volume_cm3" in build.tools[0].signature
    assert build.stats.proposed == 2 and build.stats.first_pass == 1 and build.stats.dropped == 1
    events = [(e["event"], e.get("sample"), e.get("passed")) for e in build.log]
    assert events == [
        ("transcribe", 0, None),
        ("validate", 0, True),
        ("cross_check", 0, False),
        ("transcribe", 1, None),
        ("transcribe", 2, None),
        ("validate", 2, True),
        ("cross_check", 2, True),
    ]
    temperatures = [
        call["temperature"] for call in backend.calls if "Transcribe" in call["messages"][-1]["content"]
    ]
    assert temperatures == [0.0, creator.sample_temperature, creator.sample_temperature]
    with pytest.raises(ValueError, match="transcriptions must be ≥ 1"):
        ToolCreator(backend, transcriptions=0)
