"""A small Space for tests: a fixture toolbox with validated tools, a scripted chat model, a launcher.

The toolbox holds three real tools written from Chemistry 2e sections (1.4, 9.2, 9.6). Each is
validated the way a build validates: its validation program runs in the sandbox and its printed
answer must match the book's worked-example answer within 5 %; the record says what happened.

The scripted backend answers the solver's prompts by rule (reusable, so any number of concurrent
solves work): it picks chapter 9 (or 1 for density problems), the tool the problem needs (none
when the problem says "no tool"), and writes a program calling it (or a plain one). A problem saying "slowly" gets a reply that never ends
(to test the Stop button). ``"infinite loop"`` and ``"silent program"`` in a problem make it write
a program that never ends or prints no number.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from hf_reft.answers import compare_answers, extract_program_result, parse_number
from hf_reft.reftool.scripted import ScriptedChatBackend
from hf_reft.reftool.toolbox import (
    BuildStats,
    Tool,
    Toolbox,
    ToolboxSection,
    ValidationExample,
    ValidationRecord,
)
from hf_reft.sandbox import SandboxPolicy, run_program

SPACE_DIR = Path(__file__).resolve().parents[1] / "spaces" / "reftool-chemistry"

#: atkins 1.4 of the Space's examples: the van der Waals molar volume of CO2 (SciBench: 0.366 dm^3/mol).
VDW_EXAMPLE_ID = "1.4"

_TOOLS: list[dict] = [
    {
        "chapter": (1, "Essential Ideas"),
        "section": ("m68674", "1.4", "Measurements"),
        "name": "density_from_mass_volume",
        "description": "Density (g/cm^3) of a sample from its mass (g) and volume (cm^3).",
        "code": (
            "def density_from_mass_volume(mass_g, volume_cm3):\n"
            '    """Density in g/cm^3 = mass (g) / volume (cm^3)."""\n'
            "    return mass_g / volume_cm3\n"
        ),
        "example": ValidationExample(
            problem="What is the density of lead if a cube of lead has an edge length of 2.00 cm and a mass of 90.7 g?",
            solution='print(f"{density_from_mass_volume(90.7, 2.00 ** 3):.3g} g/cm^3")',
            expected_answer="11.3 g/cm^3",
            source="Example 1.1 (section 1.4)",
            example_id="Example_01_04_01",
        ),
    },
    {
        "chapter": (9, "Gases"),
        "section": (
            "m68751",
            "9.2",
            "Relating Pressure, Volume, Amount, and Temperature: The Ideal Gas Law",
        ),
        "name": "pressure_after_heating",
        "description": "Pressure of a gas at constant volume after a temperature change (Amontons's law); "
        "pressure in any unit, temperatures in degrees Celsius.",
        "code": (
            "def pressure_after_heating(p1, t1_celsius, t2_celsius):\n"
            '    """P2 = P1 * T2 / T1 with temperatures converted to kelvin."""\n'
            "    return p1 * (t2_celsius + 273.15) / (t1_celsius + 273.15)\n"
        ),
        "example": ValidationExample(
            problem="The gas in the can is initially at 24 °C and 360 kPa. If the can reaches 50 °C, what is "
            "the new pressure in the can?",
            solution='print(f"{pressure_after_heating(360, 24, 50):.0f} kPa")',
            expected_answer="390 kPa",
            source="Example 9.5 (section 9.2)",
            example_id="fs-idm66260928",
        ),
    },
    {
        "chapter": (9, "Gases"),
        "section": ("m68759", "9.6", "Non-Ideal Gas Behavior"),
        "name": "van_der_waals_pressure",
        "description": "Pressure (atm) of n mol of a real gas in V litres at t degrees Celsius from the van "
        "der Waals equation with constants a (L^2 atm/mol^2) and b (L/mol).",
        "code": (
            "def van_der_waals_pressure(n_mol, temperature_celsius, volume_l, a, b):\n"
            '    """P = nRT/(V - nb) - a n^2 / V^2 in atm (R = 0.08206 L atm / (mol K))."""\n'
            "    R = 0.08206\n"
            "    T = temperature_celsius + 273.15\n"
            "    return n_mol * R * T / (volume_l - n_mol * b) - a * n_mol ** 2 / volume_l ** 2\n"
        ),
        "example": ValidationExample(
            problem="A 4.25-L flask contains 3.46 mol CO2 at 229 °C. Calculate the pressure of this sample of "
            "CO2 from the van der Waals equation (a = 3.59 L^2 atm/mol^2, b = 0.0427 L/mol).",
            solution='print(f"{van_der_waals_pressure(3.46, 229, 4.25, 3.59, 0.0427):.1f} atm")',
            expected_answer="32.4 atm",
            source="Example 9.24 (section 9.6)",
            example_id="fs-idp133812128",
        ),
    },
]

_REFERENCE = {
    "title": "Chemistry 2e",
    "kind": "openstax",
    "source": "openstax-chemistry-2e",
    "license": "CC BY 4.0",
    "license_url": "https://creativecommons.org/licenses/by/4.0/",
    "attribution": "Chemistry 2e by Paul Flowers, Klaus Theopold, Richard Langley and William R. Robinson, "
    "OpenStax, licensed under CC BY 4.0 (https://openstax.org/details/books/chemistry-2e).",
}


def validated_tool(spec: dict, policy: SandboxPolicy) -> Tool:
    """Run the tool's validation program in the sandbox and record the result, as a build does."""
    example: ValidationExample = spec["example"]
    result = run_program(f"{spec['code']}\n{example.solution}\n", policy)
    answer = extract_program_result(result.stdout) if result.ok else None
    expected = parse_number(example.expected_answer)
    passed = answer is not None and expected is not None and compare_answers(answer, expected, rel_tol=0.05)
    record = ValidationRecord(
        status="passed" if passed else "failed",
        attempts=1,
        answer=str(answer) if answer is not None else None,
        output=result.stdout.strip(),
        error=None if result.ok else f"{result.exception_type}: {result.exception_message}",
        seconds=round(result.wall_time, 3),
    )
    if not passed:
        raise AssertionError(f"fixture tool {spec['name']} failed its validation: {record}")
    return Tool(spec["name"], spec["description"], spec["code"], example, record)


def make_fixture_toolbox(folder: Path) -> Toolbox:
    """Build, validate and save the fixture toolbox into ``folder``."""
    policy = SandboxPolicy(wall_time=10.0)
    toolbox = Toolbox(_REFERENCE, model="fixture (hand-written tools)", settings={"tools_per_section": 2})
    for spec in _TOOLS:
        tool = validated_tool(spec, policy)
        section_id, number, title = spec["section"]
        toolbox.add_section(
            ToolboxSection(section_id, number, title),
            [tool],
            BuildStats(proposed=2, first_pass=1, repaired=0, dropped=1),
            chapter=spec["chapter"],
        )
    toolbox.save_pretrained(folder)
    return toolbox


def make_space_dir(root: Path) -> Path:
    """A Space folder for tests: the real example problems and the fixture toolbox."""
    space = root / "space"
    shutil.copytree(SPACE_DIR / "examples", space / "examples")
    make_fixture_toolbox(space / "toolbox")
    return space


# --------------------------------------------------------------------------- the scripted model
_VDW_PROGRAM = """```python
# Solve van der Waals for the molar volume at 100 atm and 500 K by bisection.
lo, hi = 0.1, 1.0
for _ in range(60):
    mid = (lo + hi) / 2
    if van_der_waals_pressure(1.0, 500 - 273.15, mid, 3.610, 0.0429) > 100:
        lo = mid
    else:
        hi = mid
print(f"{mid:.3f} dm^3/mol")
```"""

_DENSITY_PROGRAM = """```python
print(f"{density_from_mass_volume(5.34, 0.843 ** 3):.2f} g/cm^3")
```"""

_POT_PROGRAM = """```python
n, R, T, V = 1.0, 0.08206, 300.0, 24.6
print(f"{n * R * T / V:.3f} atm")
```"""


def _problem(messages: Sequence[dict[str, str]]) -> str:
    text = messages[-1]["content"]
    found = re.findall(r"Problem: (.*?)\n\n", text, re.DOTALL)  # the last: examples of use come first
    return (found[-1] if found else text).lower()


def _chapters(messages: Sequence[dict[str, str]]) -> str:
    problem = _problem(messages)
    if "no chapter" in problem:
        return "NONE"
    return "1" if "density" in problem else "9"


def _tools(messages: Sequence[dict[str, str]]) -> str:
    problem = _problem(messages)
    if "no tool" in problem:
        return "NONE"
    if "density" in problem:
        return "density_from_mass_volume"
    if "heated" in problem or "temperature rises" in problem:
        return "pressure_after_heating"
    return "van_der_waals_pressure"


def _program(messages: Sequence[dict[str, str]]) -> str:
    problem = _problem(messages)
    if "infinite loop" in problem:
        return "```python\nwhile True:\n    pass\n```"
    if "silent program" in problem:
        return '```python\nprint("I am not sure.")\n```'
    if "density" in problem:
        return _DENSITY_PROGRAM
    if "calling these python functions" in messages[-1]["content"].lower():
        return _VDW_PROGRAM
    return _POT_PROGRAM


class _ScriptedChemist(ScriptedChatBackend):
    """The scripted rules, plus: a problem saying "slowly" gets an endless reply, 20 ms a piece."""

    slow_pieces: int = 0

    def stream(self, messages, **kwargs):
        if "slowly" not in _problem(messages):
            yield from super().stream(messages, **kwargs)
            return
        for i in range(5000):
            time.sleep(0.02)
            self.slow_pieces += 1
            yield f"{i} "


def scripted_backend(name: str = "scripted-chemist") -> ScriptedChatBackend:
    """A chat model that answers the solver's prompts by rule (see the module docstring)."""
    return _ScriptedChemist(
        rules=[
            ("Choose the chapters", _chapters),
            ("Choose the tools", _tools),
            ("Write a program", _program),
        ],
        name=name,
    )


# --------------------------------------------------------------------------- serving
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_app(service) -> Iterator[str]:
    """Serve the Space for ``service`` on a free local port; yields its URL."""
    from hf_reft.space.app import build_app, launch

    demo = build_app(service=service)
    url = launch(demo, service.settings, port=free_port(), block=False, quiet=True)
    try:
        yield url
    finally:
        demo.close()
