"""Tools from transcribed worked solutions: the code's abstraction (the stage in ToolCreator is tested
with the other creation stages, in test_reftool_creation.py)."""

from __future__ import annotations

import pytest

from hf_reft.reftool.creation import ToolCreator
from hf_reft.reftool.prompts import transcription_messages
from hf_reft.reftool.scripted import ScriptedChatBackend
from hf_reft.reftool.section_problems import book_numbers
from hf_reft.reftool.transcription import tool_from_program

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
    # the inputs are read without eval: an exponent tower is a step (left to the sandbox), not a hang
    tower = MOLARITY.replace("liters_per_ml = 1 / 1000", "liters_per_ml = 9**9**9 * 0 + 1 / 1000")
    draft, _ = tool_from_program(tower, book_numbers(PROBLEM), title="t", example="3.14")
    assert "liters_per_ml=" not in draft.code and "    liters_per_ml = 9**9**9" in draft.code
    # an input nothing reads (a temperature, a constant of another law) is no argument of the tool
    idle = MOLARITY.replace(
        "liters_per_ml = 1 / 1000", "liters_per_ml = 1 / 1000\ntemperature_c = 25\nR = 8.314"
    )
    draft, _ = tool_from_program(idle, [0.133, 355, 25], title="t", example="3.14")
    assert draft.code.startswith(
        "def molarity_of_sucrose(mole_of_sucrose, volume_of_solution, liters_per_ml=1 / 1000):"
    )
    assert "temperature_c" not in draft.code + draft.program and "8.314" not in draft.code
    # a step the result does not need goes, and so do the data only it read
    percent = (
        "mass_compound = 12.04  # g\nmass_c = 7.34  # g\nmass_n = 4.70  # g\n"
        "# the carbon\npercent_c = mass_c / mass_compound * 100\n"
        "# the nitrogen\npercent_n = mass_n / mass_compound * 100\nanswer = 0\nanswer += percent_n\n"
        "print(f'{answer:.1f} % N')"
    )
    draft, _ = tool_from_program(percent, [12.04, 7.34, 4.70], title="Percent Composition", example="3.9")
    assert draft.code.startswith("def percent_composition(mass_compound, mass_n):")
    assert (
        "percent_c =" not in draft.code and "the carbon" not in draft.code and "# the nitrogen" in draft.code
    )
    # an input the steps overwrite starts a step, and an augmented assignment reads what it adds to
    assert "    answer = 0\n    answer += percent_n\n" in draft.code
    assert float(run(draft.code, draft.program)) == pytest.approx(4.70 / 12.04 * 100)
    # a name already taken (a kept tool) is not reused
    draft, _ = tool_from_program(
        MOLARITY, book_numbers(PROBLEM), title="t", example="3.14", taken={"molarity_of_sucrose"}
    )
    assert draft.name == "molarity_of_sucrose_tool"


def test_a_stated_value_written_in_another_unit_is_an_argument_not_a_default():
    """Example 5.2 states 6.64 kJ; its transcription wrote ``heat = 6640`` (J). As a default, the worked
    example's heat went into every later problem (the cross-check program left it out): it is data."""
    program = """mass = 348  # g
heat = 6640  # J
initial_temp = 22.4  # °C
final_temp = 43.6  # °C
percent_to_fraction = 1 / 100
joules_per_kilojoule = 1000
specific_heat = heat / (mass * (final_temp - initial_temp)) * joules_per_kilojoule / 1000
print(specific_heat)
"""
    problem = (
        "A 348-g piece of metal absorbs 6.64 kJ of heat, and its temperature rises from 22.4 °C to "
        "43.6 °C. What is its specific heat?"
    )
    draft, why = tool_from_program(program, book_numbers(problem), title="Specific Heat", example="5.2")
    assert why is None and draft is not None
    # the power of ten itself (a unit factor) keeps its default
    assert draft.code.startswith(
        "def specific_heat(mass, heat, initial_temp, final_temp, joules_per_kilojoule=1000):"
    )
    assert float(run(draft.code, draft.program)) == pytest.approx(6640 / (348 * 21.2))
    # percentages as fractions: the isotope abundances of Example 2.4 (91.84 %, 0.47 %, 7.69 %)
    neon = "fraction_20 = 0.9184\nfraction_22 = 0.0769\nmass_20 = 19.9924\nmass_22 = 21.9914\n"
    neon += "print(fraction_20 * mass_20 + fraction_22 * mass_22)\n"
    stated = book_numbers("Neon-20 (91.84 %, 19.9924 amu) and neon-22 (7.69 %, 21.9914 amu).")
    draft, _ = tool_from_program(neon, stated, title="Average Mass", example="2.4")
    assert draft.code.startswith("def average_mass(fraction_20, fraction_22, mass_20, mass_22):")


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


def test_transcription_is_on_by_default_and_needed_to_go_without_creation_replies():
    assert ToolCreator(ScriptedChatBackend([])).transcribe is True
    assert ToolCreator(ScriptedChatBackend([]), candidates=0).candidates == 0
    with pytest.raises(ValueError, match="transcribe=True"):
        ToolCreator(ScriptedChatBackend([]), candidates=0, transcribe=False)
    assert transcription_messages("P?", "S.")[-1]["content"].startswith("Transcribe the worked solution")
