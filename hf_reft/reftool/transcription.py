"""A tool from a worked solution: the model transcribes the solution into a program, the code abstracts it.

A small model writes a section's formula wrongly far more often than it copies a worked solution's
arithmetic wrongly (docs/results.md: 259 of the build's failed validations printed a wrong number).
So besides asking for tools outright, :class:`~hf_reft.reftool.creation.ToolCreator` can ask for a
*transcription*: a program that carries out one worked example's solution step by step, with the
problem's data in variables (:func:`~hf_reft.reftool.prompts.transcription_messages`).
:func:`tool_from_program` then turns that program into a tool without the model:

* the top-level assignments of a constant expression (``mass_g = 8.0 * 10**2``) are the inputs; those
  whose value the problem states — as written, or in another unit by a power of ten (6.64 kJ as
  ``heat = 6640``, 91.84 % as ``0.9184``) — become the tool's arguments, the others (a constant the
  solution brings in, such as 4.184 J/g °C) arguments with that default; an input that the result
  does not depend on is left out;
* the statements between them and the last ``print`` that the result needs are the tool's body; what
  that ``print`` shows first (a name, an expression, the value in an f-string) is what the tool
  returns;
* the validation program calls the tool with the problem's data as the transcription wrote them.

The tool is then validated and cross-checked like any other candidate: the worked problem proves
only the transcription (its answer is in the solution), the other problem of the example, whose
answer the model never sees, proves the tool.
"""

from __future__ import annotations

import ast
import keyword
import math
import re
import textwrap
from collections.abc import Collection, Sequence

from ..answers import evaluate_arithmetic
from .parsing import ToolDraft, read_names
from .section_problems import among_numbers

__all__ = ["tool_from_program"]

_GENERIC = {
    "result",
    "answer",
    "value",
    "output",
    "final",
    "final_answer",
    "final_result",
    "res",
    "ans",
    "x",
    "y",
}


#: The powers of ten a transcription converts a stated value by: percent, centi, and the SI prefixes.
_UNIT_POWERS = (-9, -6, -3, -2, 2, 3, 6, 9)


def _states(value: float, given: Sequence[float]) -> bool:
    """Whether the problem states ``value``: one of ``given`` as written or converted by a power of ten.

    Measured in the whole-book build: transcriptions wrote Example 5.2's 6.64 kJ as ``heat = 6640``,
    which became a default holding that example's heat, left out by the program for the next problem.
    A power of ten itself (``ml_per_l = 1000``) is a unit factor, never data.
    """
    if among_numbers(value, given):
        return True
    if value == 0 or math.log10(value).is_integer():
        return False
    return among_numbers(value, [g * 10.0**k for g in given for k in _UNIT_POWERS])


def tool_from_program(
    program: str, given: Sequence[float], *, title: str, example: str, taken: Collection[str] = ()
) -> tuple[ToolDraft | None, str | None]:
    """The tool that ``program`` (a transcribed worked solution) computes, as a :class:`ToolDraft`.

    Args:
        program: the transcription: inputs assigned at the top, the solution's steps, a final ``print``.
        given: the absolute values of the numbers the worked problem states; inputs with one of these
            values (sign ignored) become the tool's required arguments.
        title: the worked example's title (``"Calculation of Molarity"``), for the description and,
            when the printed result has no telling name, the tool's name.
        example: the worked example's number (the draft's EXAMPLE).
        taken: names the tool must not have (the tools already kept); ``_tool`` is appended.

    Returns:
        ``(draft, None)``, or ``(None, why)`` when the program cannot be abstracted: it does not
        parse, prints nothing, takes none of the problem's data as an input, or prints a result
        that does not depend on them.
    """
    try:
        tree = ast.parse(program)
    except SyntaxError as err:
        return None, f"the program does not parse ({err.msg})"
    body = tree.body
    last_print = max((i for i, node in enumerate(body) if _is_print(node)), default=None)
    if last_print is None:
        return None, "the program prints nothing at its top level"
    result = _printed_value(body[last_print])
    if result is None:
        return None, "the program's last print shows no computed value"
    lines = program.splitlines()
    # each statement before the print with its lines (the comments above, the code), and its input
    statements: list[tuple[ast.stmt, list[str], tuple[str, str, float, str] | None]] = []
    previous_end = 0
    for node in body[:last_print]:
        end = node.end_lineno or node.lineno
        above = [line for line in lines[previous_end : node.lineno - 1] if line.strip().startswith("#")]
        text = [*above, *lines[node.lineno - 1 : end]]
        constant = _constant_input(node)
        if constant is not None and constant[0] not in {i[0] for _, _, i in statements if i}:
            assert isinstance(node, ast.Assign)
            name, value = constant
            source = ast.get_source_segment(program, node.value) or ast.unparse(node.value)
            statements.append((node, text, (name, source, value, lines[end - 1].partition("#")[2].strip())))
        elif not _is_print(node):
            statements.append((node, text, None))
        previous_end = end
    reassigned = {t.id for node, _, i in statements if i is None for t in _assigned_names(node)}
    # a name the steps overwrite is no input: its first value (total = 0) is a step too
    inputs = [i for _, _, i in statements if i is not None and i[0] not in reassigned]
    steps = [(node, text) for node, text, i in statements if i is None or i[0] in reassigned]
    required = [i for i in inputs if _states(abs(i[2]), given)]
    if not required:
        return None, "none of the program's inputs is a number the problem gives"
    # the steps the result needs, and the names they and the result read: a step whose value is never
    # used (percent C beside percent N) and an input nothing needed reads (a temperature Raoult's law
    # does not use, R in a ratio) would make arguments that change nothing, set in vain by a solver
    steps, read = _needed_steps(steps, result)
    if not read & {i[0] for i in required}:
        return None, "the printed result does not depend on the problem's data"
    inputs = [i for i in inputs if i[0] in read]
    required = [i for i in required if i[0] in read]
    defaults = [i for i in inputs if i not in required]
    name = _tool_name(result, title, {*taken, *(i[0] for i in inputs)})
    parameters = [i[0] for i in required] + [f"{n}={source}" for n, source, _, _ in defaults]
    description = f"{title}: {_words(result)} from {', '.join(_argument_words(i) for i in required)}"
    args = [
        f"        {n}: {comment or 'as in the worked example'}" for n, _, _, comment in [*required, *defaults]
    ]
    code = "\n".join(
        [
            f"def {name}({', '.join(parameters)}):",
            f'    """{description}.',
            "",
            "    Args:",
            *args,
            '    """',
            textwrap.indent("\n".join(line for _, step_lines in steps for line in step_lines), "    "),
            f"    return {ast.unparse(result)}",
        ]
    )
    call_program = f"print({name}({', '.join(f'{n}={source}' for n, source, _, _ in required)}))"
    raw = (
        f"TOOL: {name}\nDESCRIPTION: {description}\nEXAMPLE: {example}\n"
        f"```python\n{code}\n```\n```python\n{call_program}\n```"
    )
    return ToolDraft(name, description, example, code, call_program, raw), None


def _is_print(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Name)
        and node.value.func.id == "print"
    )


def _printed_value(node: ast.stmt) -> ast.expr | None:
    """The first value a ``print(...)`` shows: an argument that is no plain string, or the first
    ``{value}`` of an f-string."""
    assert isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
    for arg in node.value.args:
        if isinstance(arg, ast.JoinedStr):
            values = [v.value for v in arg.values if isinstance(v, ast.FormattedValue)]
            if values:
                return values[0]
        elif not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
            return arg
    return None


def _constant_input(node: ast.stmt) -> tuple[str, float] | None:
    """``(name, value)`` of ``name = <arithmetic on number literals>``, else ``None``."""
    if not (
        isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
    ):
        return None
    if any(isinstance(n, (ast.Name, ast.Call)) for n in ast.walk(node.value)):
        return None  # another variable or a function: a step, not an input
    value = evaluate_arithmetic(ast.unparse(node.value))
    return (node.targets[0].id, value) if value is not None else None


def _needed_steps(
    steps: list[tuple[ast.stmt, list[str]]], result: ast.expr
) -> tuple[list[tuple[ast.stmt, list[str]]], set[str]]:
    """The steps ``result`` depends on, in order, and every name they and ``result`` read.

    Walks the steps backwards from the names the result reads; an assignment that sets none of the
    names still needed is left out, any other statement (a loop, an import) is kept.
    """
    needed = read_names(result)
    kept: list[tuple[ast.stmt, list[str]]] = []
    for step in reversed(steps):
        node = step[0]
        assignment = isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign))
        if assignment and not {n.id for n in _assigned_names(node)} & needed:
            continue
        kept.append(step)
        needed |= read_names(node)
    return kept[::-1], needed


def _assigned_names(node: ast.stmt) -> list[ast.Name]:
    return [n for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)]


def _tool_name(result: ast.expr, title: str, taken: set[str]) -> str:
    """The printed variable's name when it says what it is, else the example's title in snake case."""
    if isinstance(result, ast.Name) and result.id.lower() not in _GENERIC and len(result.id) > 2:
        name = result.id
    else:
        name = re.sub(r"\W+", "_", title.lower()).strip("_") or "worked_example"
        name = name if name[0].isalpha() else f"tool_{name}"
    while name in taken or keyword.iskeyword(name):
        name += "_tool"
    return name


def _argument_words(argument: tuple[str, str, float, str]) -> str:
    """An argument for the description: its name in words, with its comment (its unit) if short."""
    name, _, _, comment = argument
    return f"{_words(name)} ({comment})" if comment and len(comment) <= 20 else _words(name)


def _words(name_or_expression: str | ast.expr) -> str:
    text = name_or_expression if isinstance(name_or_expression, str) else ast.unparse(name_or_expression)
    return text.replace("_", " ")
