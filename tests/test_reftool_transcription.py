"""Tools from transcribed worked solutions: the code's abstraction, and the stage in ToolCreator."""

from __future__ import annotations

import pytest

from hf_reft.reftool.books import Section, WorkedExample
from hf_reft.reftool.creation import ToolCreator
from hf_reft.reftool.prompts import transcription_messages
from hf_reft.reftool.scripted import ScriptedChatBackend
from hf_reft.reftool.section_problems import book_numbers
from hf_reft.reftool.transcription import tool_from_program
from hf_reft.sandbox import Sandbox, SandboxPolicy

MOLARITY = """# Given values
mole_of_sucrose = 0.133  # mol
volume_of_solution = 355  # mL
liters_per_ml = 1 / 1000

# Convert volume to liters
volume_l = volume_of_solution * liters_per_ml
molarity_of_sucrose = mole_of_sucrose / volume_l  # M
print(f"The molarity is {molarity_of_sucrose:.3f} M")
"""
PROBLEM = "A sample of 0.133 mol sucrose is dissolved in 355 mL of water. What is the molar concentration?"


def run(code: str, program: str) -> str:
    """What the tool's validation program prints (the code is this file's own fixture)."""
    printed: list[str] = []
    namespace = {"print": lambda *args: printed.append(" ".join(map(str, args)))}
    exec(f"{code}\n{program}", namespace)
    return printed[-1]


def test_a_transcription_becomes_a_tool_with_the_problems_data_as_arguments():
    draft, why = tool_from_program(
        MOLARITY, book_numbers(PROBLEM), title="Calculating Molar Concentrations", example="3.14"
    )
    assert why is None and draft is not None
    assert draft.name == "molarity_of_sucrose" and draft.example == "3.14"
    # the given data are required arguments, a factor of the solution's own is one with its default
    assert draft.code.startswith(
        "def molarity_of_sucrose(mole_of_sucrose, volume_of_solution, liters_per_ml=1 / 1000):"
    )
    assert "volume_of_solution: mL" in draft.code  # the transcription's unit comment, in the docstring
    assert "# Convert volume to liters" in draft.code  # the steps as written
    assert draft.description == (
        "Calculating Molar Concentrations: molarity of sucrose from mole of sucrose (mol), volume of solution (mL)"
    )
    assert draft.program == "print(molarity_of_sucrose(mole_of_sucrose=0.133, volume_of_solution=355))"
    assert float(run(draft.code, draft.program)) == pytest.approx(0.133 / 0.355)
    assert float(run(draft.code, "print(molarity_of_sucrose(0.5, 250))")) == pytest.approx(2.0)
    # the result printed bare, and a generic name: the example's title names the tool
    bare = MOLARITY.replace("molarity_of_sucrose", "result").replace(
        'print(f"The molarity is {result:.3f} M")', "print(result, 'M')"
    )
    draft, _ = tool_from_program(
        bare, book_numbers(PROBLEM), title="Calculating Molar Concentrations", example="3.14"
    )
    assert draft.name == "calculating_molar_concentrations"
    assert draft.code.rstrip().endswith("return result")
    # a name already taken (a kept tool) is not reused
    draft, _ = tool_from_program(
        MOLARITY, book_numbers(PROBLEM), title="t", example="3.14", taken={"molarity_of_sucrose"}
    )
    assert draft.name == "molarity_of_sucrose_tool"


@pytest.mark.parametrize(
    ("program", "why"),
    [
        ("mole = 0.133\nvolume = 0.355\nprint(mole / volume", "does not parse"),
        ("mole = 0.133\nvolume = 0.355\nresult = mole / volume", "prints nothing"),
        ("mole = 0.133\nprint('the molarity')", "shows no computed value"),
        ("mole = 2.5\nvolume = 0.5\nprint(mole / volume)", "none of the program's inputs"),
        ("mole = 0.133\nanswer = 0.375\nprint(answer)", "does not depend on the problem's data"),
        (
            "mole = 0.133\nmole = 0.2\nprint(mole * 2)",
            "none of the program's inputs",
        ),  # overwritten: no input
    ],
)
def test_what_cannot_be_a_tool_is_refused_with_the_reason(program, why):
    draft, reason = tool_from_program(program, book_numbers(PROBLEM), title="Molarity", example="3.14")
    assert draft is None and why in reason


TRANSCRIPTION = """```python
mass_g = 38.6  # g
volume_cm3 = 2.00  # cm^3
density = mass_g / volume_cm3
print(density)
```"""
GOLD = WorkedExample(
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
SECTION = Section("s14", "1.4", "Measurements", 1, "Essential Ideas", ("Density is mass per volume.", GOLD))


def test_the_creator_keeps_a_transcribed_tool_only_after_the_hidden_check(tmp_path):
    def cross_check(messages):
        """A program for the copper check that calls the tool (as a model would, by keyword)."""
        assert "mass_g=38.6" in messages[-1]["content"]  # the validation call shown as an example of use
        return "```python\nprint(density(mass_g=8.91, volume_cm3=1.00))\n```"

    backend = ScriptedChatBackend(
        rules=[("Transcribe the worked solution", TRANSCRIPTION), ("already defined", cross_check)]
    )
    with Sandbox(SandboxPolicy(wall_time=5, cpu_time=5), workers=1) as sandbox:
        creator = ToolCreator(backend, sandbox=sandbox, candidates=0, transcribe=True, repair=False)
        build = creator.build_section(SECTION)
        assert [t.name for t in build.tools] == ["density"]
        assert build.stats.__dict__ == {"proposed": 1, "first_pass": 1, "repaired": 0, "dropped": 0}
        events = [(e["event"], e.get("passed"), e.get("transcription")) for e in build.log]
        assert events == [("transcribe", None, None), ("validate", True, "1.1"), ("cross_check", True, "1.1")]
        # the prompt carried the worked solution, not the check exercise's answer
        prompt = backend.calls[0]["messages"][-1]["content"]
        assert GOLD.solution in prompt and "8.91 g/cm^3" not in prompt
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
        build = ToolCreator(
            wrong, sandbox=sandbox, candidates=0, transcribe=True, repair=False
        ).build_section(SECTION)
        assert build.tools == [] and build.stats.dropped == 1
        assert [e["event"] for e in build.log] == ["transcribe", "validate", "cross_check"]


def test_transcription_needs_its_switch_to_go_without_creation_replies():
    with pytest.raises(ValueError, match="transcribe=True"):
        ToolCreator(ScriptedChatBackend([]), candidates=0)
    assert transcription_messages("P?", "S.")[-1]["content"].startswith("Transcribe the worked solution")
