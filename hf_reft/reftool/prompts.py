"""Every prompt RefTool sends to a chat model, in one place.

Each function returns a chat (``[{"role": ..., "content": ...}]``). The first line of each user
message names the task ("Write tools", "Transcribe the worked solution", "Repair the tool", "Choose
the chapters", "Choose the tools", "Write a program", "Solve step by step"), so scripted backends can
answer by rule.

Formats the parsers (:mod:`~hf_reft.reftool.creation`, :mod:`~hf_reft.reftool.solver`) expect:

* tool creation / repair — one block per tool::

      TOOL: density_from_mass_volume
      DESCRIPTION: Density in g/cm^3 from a mass in g and a volume in cm^3.
      EXAMPLE: 1.1
      ```python
      def density_from_mass_volume(mass_g, volume_cm3):
          return mass_g / volume_cm3
      ```
      ```python
      print(density_from_mass_volume(9.26, 1.04))
      ```

  (the first code block defines the tool, the second is the validation program that solves the
  named worked example's exercise with the tool and prints the answer);
* transcription — one fenced ```python block: the problem's data in variables, the worked
  solution's steps, ``print()`` of the result (:mod:`~hf_reft.reftool.transcription` makes it a tool);
* chapter choice — chapter numbers, e.g. ``5, 9``; ``NONE`` when no chapter fits;
* tool choice — tool names, one per line; ``NONE`` when no tool fits;
* programs — one fenced ```python block that prints the final answer with its unit;
* chain of thought — reasoning ending in ``The answer is <number> <unit>.``
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "CREATION_FORMAT_EXAMPLE",
    "PROGRAM_REPLY",
    "SYSTEM",
    "chapter_choice_messages",
    "cot_messages",
    "creation_messages",
    "pot_messages",
    "repair_messages",
    "tool_choice_messages",
    "tool_program_messages",
    "transcription_messages",
]

SYSTEM = "You are an expert chemist and a careful Python programmer."

CREATION_FORMAT_EXAMPLE = """TOOL: density_from_mass_volume
DESCRIPTION: Density (g/cm^3) of a sample from its mass (g) and volume (cm^3).
EXAMPLE: 1.1
```python
def density_from_mass_volume(mass_g, volume_cm3):
    \"\"\"Density in g/cm^3 = mass (g) / volume (cm^3).\"\"\"
    return mass_g / volume_cm3
```
```python
print(density_from_mass_volume(9.26, 1.04))
```"""


#: How a program reply must look. "Only the block" matters for small models: measured on the Space's
#: five latency examples with Qwen2.5-Coder-1.5B, three replies spent the 256-token budget on prose and
#: were cut before the code; and no example unit, since an example's "kJ/mol" was copied into answers.
PROGRAM_REPLY = (
    "Reply with only one ```python block, no explanation: code that computes the answer and ends with "
    "print() of the number followed by the unit the problem asks for."
)


def _chat(user: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


# --------------------------------------------------------------------------- tool creation
def creation_messages(
    section_label: str, section_text: str, examples: Sequence[tuple[str, str]], max_tools: int
) -> list[dict[str, str]]:
    """Ask for up to ``max_tools`` tools from a section.

    Args:
        section_label: ``"1.4 Measurements"``.
        section_text: the section's text with its worked examples and their solution steps (without
            the answers of the exercises).
        examples: ``(number, exercise)`` of the worked examples a tool can be validated on;
            the exercise's answer is withheld and checked against the book's.
        max_tools: the most tools to write.
    """
    listed = "\n".join(f"Example {number}: {exercise}" for number, exercise in examples)
    return _chat(
        f"Write tools: reusable Python functions for the chemistry in section {section_label} below.\n\n"
        f"--- SECTION {section_label} ---\n{section_text}\n--- END OF SECTION ---\n\n"
        f"Write at most {max_tools} tools. Each tool is a self-contained Python function that codes the "
        "computation one of the worked examples' solutions above carries out: the same formula, steps and "
        "constants as the book, with the given quantities as arguments (units in the argument names and "
        "the docstring), returning the result as a number. Import what it needs inside the function; only "
        "math, numpy, sympy, fractions and the standard library are available. For each tool, pick one of "
        "these exercises and write a short program that solves it by calling the tool with the exercise's "
        "data and prints the number the tool returns (never a number worked out by hand):\n"
        f"{listed}\n\n"
        "Use exactly this format for each tool (TOOL, DESCRIPTION, EXAMPLE number, the function in one "
        "```python block, the exercise's program in a second ```python block):\n\n"
        f"{CREATION_FORMAT_EXAMPLE}"
    )


def transcription_messages(problem: str, solution: str) -> list[dict[str, str]]:
    """Ask for a program that carries out one worked example's ``solution`` to its ``problem``.

    The data go into variables at the top, so that the code can turn the program into a tool
    (:func:`~hf_reft.reftool.transcription.tool_from_program`).
    """
    return _chat(
        "Transcribe the worked solution below into a Python program, step by step: the same formulas, "
        f"constants and numbers as the book.\n\nProblem: {problem}\n\nSolution:\n{solution}\n\n"
        "Reply with only one ```python block: first one variable per quantity the problem gives (with a "
        "comment stating its unit), then the solution's steps as Python (compute every intermediate "
        "result, never copy one), and last print() of the final result, in the unit of the solution's "
        "final answer."
    )


def repair_messages(
    section_label: str,
    exercise: str,
    tool_block: str,
    error: str,
) -> list[dict[str, str]]:
    """Ask once for a corrected tool after its validation failed with ``error``."""
    return _chat(
        f"Repair the tool. This tool from section {section_label} failed its check on this exercise:\n"
        f"{exercise}\n\n{tool_block}\n\nWhat went wrong: {error}\n\n"
        "Write the corrected tool and program in the same format (TOOL, DESCRIPTION, EXAMPLE, the function "
        "in one ```python block, the program that prints the answer in a second ```python block)."
    )


# --------------------------------------------------------------------------- solving
def chapter_choice_messages(
    problem: str, chapters: Sequence[tuple[int, str, Sequence[str]]], max_chapters: int
) -> list[dict[str, str]]:
    """Ask which chapters (``(number, title, section titles)``) could help with ``problem``."""
    listed = "\n".join(
        f"{number}. {title}" + (f" (sections: {'; '.join(sections)})" if sections else "")
        for number, title, sections in chapters
    )
    return _chat(
        f"Choose the chapters of a chemistry reference book whose tools could help solve this problem.\n\n"
        f"Problem: {problem}\n\nChapters:\n{listed}\n\n"
        f"Answer with the numbers of at most {max_chapters} chapters, separated by commas (for example: "
        f"{chapters[0][0] if chapters else 1}), or NONE if no chapter fits. Answer:"
    )


def tool_choice_messages(
    problem: str, tools: Sequence[tuple[str, str, str]], max_tools: int
) -> list[dict[str, str]]:
    """Ask which tools (``(name, signature, description)``) to use for ``problem``."""
    listed = "\n".join(f"- {signature}: {description}" for _, signature, description in tools)
    return _chat(
        f"Choose the tools that help solve this problem.\n\nProblem: {problem}\n\nTools:\n{listed}\n\n"
        f"Answer with the names of at most {max_tools} tools, one per line, or NONE if no tool fits. Answer:"
    )


def tool_program_messages(
    problem: str,
    tool_code: str,
    must_call: Sequence[str] = (),
    demonstrations: Sequence[tuple[str, str]] = (),
) -> list[dict[str, str]]:
    """Ask for a program that solves ``problem`` by calling the (already defined) tools.

    Args:
        problem: the problem to solve.
        tool_code: the tools' source, shown and already defined when the program runs.
        must_call: functions the program has to call (a tool's cross-check).
        demonstrations: ``(problem, program)`` pairs showing the tools in use on other problems (each
            tool's validated example), so the model sees which data go into which argument.
    """
    calls = " and ".join(f"{name}(...)" for name in must_call)
    shown = "".join(
        f"Example of use, on another problem:\nProblem: {other}\n```python\n{program.strip()}\n```\n\n"
        for other, program in demonstrations
    )
    return _chat(
        "Write a program that solves the problem by calling these Python functions, which are already "
        f"defined (do not redefine them):\n```python\n{tool_code.strip()}\n```\n\n"
        f"{shown}Problem: {problem}\n\n"
        + (f"The program must compute the answer by calling {calls}. " if calls else "")
        + "Pass the problem's data in the units the arguments ask for. "
        + PROGRAM_REPLY
    )


def pot_messages(problem: str) -> list[dict[str, str]]:
    """Program of thought: a plain program that prints the answer."""
    return _chat(
        f"Write a program that solves this chemistry problem.\n\nProblem: {problem}\n\n" + PROGRAM_REPLY
    )


def cot_messages(problem: str) -> list[dict[str, str]]:
    """Chain of thought: reasoning in words ending in the answer."""
    return _chat(
        f"Solve step by step.\n\nProblem: {problem}\n\n"
        "Reason step by step, then end with: The answer is <number> <unit>."
    )
