"""Reading RefTool's model replies: code blocks, chapter and tool choices, tool blocks.

Small models answer loosely, so every parser is lenient and never raises on a bad reply: it
returns what it could read (possibly nothing) and the caller decides what that means.
"""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "ToolDraft",
    "add_missing_imports",
    "calls",
    "code_blocks",
    "first_program",
    "ignores_its_arguments",
    "parse_chapter_choice",
    "parse_tool_choice",
    "parse_tool_drafts",
    "print_last_expression",
    "tool_choice_settled",
]

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
_NONE = re.compile(r"^\s*(?:none|no\b|n/a)", re.IGNORECASE)


def code_blocks(text: str) -> list[str]:
    """The contents of the fenced code blocks in ``text`` (an unclosed last block counts), in order.

    Blocks tagged with a language other than Python (``bash``, ``text`` ...) are skipped.
    """
    blocks = []
    for match in _FENCE.finditer(text):
        language = match.group(1).lower()
        if language and language not in ("python", "py", "python3"):
            continue
        code = match.group(2).strip("\n")
        if code.strip():
            blocks.append(code)
    return blocks


def first_program(text: str) -> str | None:
    """The program in a reply: its first Python code block, or the whole reply if it looks like code
    (a last line that only states a value is printed, :func:`print_last_expression`)."""
    blocks = code_blocks(text)
    if blocks:
        return print_last_expression(blocks[0])
    stripped = text.strip()
    if re.search(r"^\s*(?:print\(|def |import |from \w+ import |[A-Za-z_]\w*\s*=)", stripped, re.MULTILINE):
        return print_last_expression(stripped)
    return None


def print_last_expression(program: str) -> str:
    """``program`` with its last statement printed when that statement only states a value, as in a
    notebook cell (measured: asked for only a code block, Qwen2.5-Coder-1.5B answered
    ``36.0 / 18.02``). Calls are left alone (``main()`` may print and return ``None``)."""
    try:
        tree = ast.parse(program)
    except SyntaxError:
        return program
    last = tree.body[-1] if tree.body else None
    if not isinstance(last, ast.Expr) or isinstance(last.value, (ast.Call, ast.Constant, ast.Await)):
        return program
    lines = program.splitlines()
    segment = ast.get_source_segment(program, last.value)
    if segment is None or last.col_offset != 0:
        return program
    return "\n".join([*lines[: last.lineno - 1], f"print({segment})", *lines[last.end_lineno :]])


#: Modules a program may use without importing them, as in a notebook with the usual imports: the
#: name a program uses → the import that binds it.
IMPLIED_IMPORTS = {
    "math": "import math",
    "cmath": "import cmath",
    "np": "import numpy as np",
    "numpy": "import numpy",
}


def add_missing_imports(source: str) -> str:
    """``source`` with ``import math`` / ``import numpy as np`` (:data:`IMPLIED_IMPORTS`) put first when it
    uses that name as a module (``math.sqrt``, ``np.log``) but never imports or binds it. Measured: on a
    15-section development set, 3 of 81 tool validations failed with ``NameError: name 'math' (or 'np')
    is not defined`` in otherwise complete programs written by Qwen2.5-Coder-1.5B."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    if tree.body and isinstance(tree.body[0], ast.ImportFrom) and tree.body[0].module == "__future__":
        return source
    used, bound = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            used.add(node.value.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            bound.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
    missing = [line for name, line in IMPLIED_IMPORTS.items() if name in used - bound]
    return "\n".join([*missing, source]) if missing else source


def calls(program: str, name: str) -> bool:
    """Whether ``program`` calls the function ``name`` (a plain ``name(...)`` call; text search when
    the program is not valid Python)."""
    try:
        tree = ast.parse(program)
    except SyntaxError:
        return bool(re.search(rf"(?<![\w.]){re.escape(name)}\s*\(", program))
    return any(
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name
        for node in ast.walk(tree)
    )


def ignores_its_arguments(code: str, name: str) -> bool:
    """Whether the function ``name`` in ``code`` returns values that depend on none of its arguments.

    Read from the code, conservatively: the names its ``return`` values read, then every name read by
    an assignment to one of those (to a fixed point), and every name a condition or loop reads (the
    result may depend on them through the branch taken). ``False`` when ``code`` does not parse,
    defines no such function or returns no value from it: the run decides then. A tool that ignores
    its arguments prints the same number for every problem — the book's answer, if it holds the
    worked solution's constants.
    """
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return False
    function = next(
        (n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == name),
        None,
    )
    if function is None:
        return False
    arguments = function.args
    parameters = {
        a.arg
        for a in [
            *arguments.posonlyargs,
            *arguments.args,
            *arguments.kwonlyargs,
            arguments.vararg,
            arguments.kwarg,
        ]
        if a is not None
    }
    nodes = [n for statement in function.body for n in ast.walk(statement)]
    returned = [n.value for n in nodes if isinstance(n, ast.Return) and n.value is not None]
    if not returned:
        return False  # it returns nothing (or never returns): the run says what is wrong
    needed = set().union(*(read_names(value) for value in returned))
    needed |= set().union(
        *(read_names(n.test) for n in nodes if isinstance(n, (ast.If, ast.While, ast.IfExp)))
    )
    needed |= set().union(*(read_names(n.iter) for n in nodes if isinstance(n, (ast.For, ast.comprehension))))
    assignments = [n for n in nodes if isinstance(n, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.For))]
    while True:
        more = set().union(
            *(
                read_names(n)
                for n in assignments
                if {t.id for t in _stored(n)} & needed and not read_names(n) <= needed
            )
        )
        if not more - needed:
            break
        needed |= more
    return not needed & parameters


def read_names(node: ast.AST) -> set[str]:
    """The names ``node`` reads (an augmented assignment's target too: ``t += x`` reads ``t``)."""
    names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
        names.add(node.target.id)
    return names


def _stored(node: ast.AST) -> list[ast.Name]:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return [n for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]


def parse_chapter_choice(text: str, chapters: Sequence[tuple[int, str]], limit: int) -> list[int]:
    """Chapter numbers chosen in ``text``, among ``chapters`` (``(number, title)``), at most ``limit``.

    Numbers and titles written in the reply both count, in the order they appear; ``NONE`` or a
    reply naming no offered chapter gives ``[]``.
    """
    if _NONE.match(text):
        return []
    offered = {number: title for number, title in chapters}
    found: list[tuple[int, int]] = []  # (position, number)
    for match in re.finditer(r"(?<![\d.])(\d{1,3})(?![\d.]\d)", text):
        number = int(match.group(1))
        if number in offered:
            found.append((match.start(), number))
    lower = text.lower()
    for number, title in offered.items():
        position = lower.find(title.lower()) if title else -1
        if position >= 0:
            found.append((position, number))
    chosen: list[int] = []
    for _, number in sorted(found):
        if number not in chosen:
            chosen.append(number)
    return chosen[:limit]


def parse_tool_choice(text: str, names: Sequence[str], limit: int) -> list[str]:
    """Tool names chosen in ``text`` (whole words, in order of appearance), at most ``limit``."""
    if _NONE.match(text):
        return []
    found = []
    for name in names:
        match = re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", text)
        if match:
            found.append((match.start(), name))
    return [name for _, name in sorted(found)][:limit]


def tool_choice_settled(text: str, names: Sequence[str], limit: int) -> bool:
    """Whether no continuation of ``text`` can change what :func:`parse_tool_choice` reads from it.

    True once ``limit`` of the ``names`` appear as whole words each followed by a character that ends
    a name (so ``moles`` is not the start of ``moles_k``): a name written later would come after them.
    The solver stops the model's reply there; small models tend to list every tool offered.
    """
    complete = sum(
        re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?=[^A-Za-z0-9_])", text) is not None for name in names
    )
    return complete >= limit


@dataclass
class ToolDraft:
    """A tool as the model wrote it, before validation.

    Attributes:
        name: the TOOL line (or the function's name when the line is missing).
        description: the DESCRIPTION line.
        example: the EXAMPLE line (a worked example's number), if any.
        code: the function's source (first code block).
        program: the validation program (second code block), if any.
        raw: the reply text of this tool.
    """

    name: str
    description: str
    example: str | None
    code: str
    program: str | None
    raw: str


_FIELD_LINE = re.compile(
    r"^[ \t>*#-]*(?:TOOL|DESCRIPTION|EXAMPLE)\b[ \t*]*[:\-].*$\n?", re.IGNORECASE | re.MULTILINE
)


def _field(text: str, name: str) -> str | None:
    match = re.search(rf"^[ \t>*#-]*{name}\b[ \t*]*[:\-][ \t*]*(.+)$", text, re.IGNORECASE | re.MULTILINE)
    return match.group(1).strip().strip("*`").strip() if match else None


@dataclass
class _Block:
    """A fenced Python block of a reply: where it stands, its field lines, and its code split in two."""

    start: int
    end: int
    fields: str  # TOOL / DESCRIPTION / EXAMPLE lines written inside the block
    definitions: str  # imports, constants, functions and classes
    statements: str  # the top-level code that uses them (a program), if any
    defined: list[str]


def _python_blocks(text: str) -> list[_Block]:
    spans = [(m.start(), m.end(), m.group(1).lower(), m.group(2)) for m in _FENCE.finditer(text)]
    if not spans and re.search(r"^def \w+\s*\(", text, re.MULTILINE):  # code without fences
        spans = [(0, len(text), "", text)]
    blocks = []
    for start, end, language, code in spans:
        if language and language not in ("python", "py", "python3"):
            continue
        fields = "".join(m.group(0) for m in _FIELD_LINE.finditer(code))
        code = _FIELD_LINE.sub("", code).strip("\n")
        if not code.strip():
            continue
        definitions, statements, defined = _split_code(code)
        blocks.append(_Block(start, end, fields, definitions, statements, defined))
    return blocks


def _split_code(code: str) -> tuple[str, str, list[str]]:
    """``code`` as (its definitions, the statements that use them, the functions it defines).

    Statements from the first one that calls a function defined in ``code`` (or prints) on are the
    program; an ``if __name__ == "__main__":`` block counts as program too, and so does an assignment
    of a name no function reads as a global (an exercise's data, such as ``mass_kg = 9.1e-31``
    written after the function: a tool holds only what its functions need). Code that does not
    parse is split only by regular expression (``def`` lines start the definitions).
    """
    try:
        tree = ast.parse(code)
    except SyntaxError:
        defined = re.findall(r"^def (\w+)\s*\(", code, re.MULTILINE)
        return (code, "", defined) if defined else ("", code, [])
    defined = [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    if not defined:
        return "", code, []
    lines = code.splitlines()
    globals_read = _globals_read(tree)
    definitions: list[str] = []
    statements: list[str] = []
    in_program = False
    for node in tree.body:
        start = (node.decorator_list[0].lineno if getattr(node, "decorator_list", None) else node.lineno) - 1
        source = "\n".join(lines[start : node.end_lineno])
        if not isinstance(
            node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)
        ):
            if _is_main_guard(node):
                statements.append(
                    textwrap.dedent("\n".join(lines[node.body[0].lineno - 1 : node.end_lineno]))
                )
                in_program = True
                continue
            in_program = in_program or _uses(node, {*defined, "print"})
            if not in_program and _is_unused_assignment(node, globals_read):
                statements.append(source)  # data for the program, not part of the tool
                continue
        (statements if in_program else definitions).append(source)
    if not statements:
        return code, "", defined
    return "\n\n".join(definitions), "\n".join(statements), defined


def _globals_read(tree: ast.Module) -> set[str]:
    """The names the module's functions and classes read without binding them (their globals)."""
    read: set[str] = set()
    for node in tree.body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        bound = {a.arg for a in ast.walk(node) if isinstance(a, ast.arg)}
        bound |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        read |= read_names(node) - bound
    return read


def _is_unused_assignment(node: ast.stmt, globals_read: set[str]) -> bool:
    """An assignment at module level whose names no function or class reads."""
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
        targets = [node.target]
    else:
        return False
    names = {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return bool(names) and not names & globals_read


def _is_main_guard(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.If)
        and "__name__" in ast.unparse(node.test)
        and "__main__" in ast.unparse(node.test)
    )


def _uses(node: ast.AST, names: set[str]) -> bool:
    return any(
        isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in names
        for n in ast.walk(node)
    )


def parse_tool_drafts(text: str) -> list[ToolDraft]:
    """The tools in a creation (or repair) reply, read leniently.

    The expected format is :mod:`~hf_reft.reftool.prompts`' (TOOL / DESCRIPTION / EXAMPLE lines, the
    function in one fenced block, the program in a second), but replies of small models vary, so:
    every fenced Python block that defines a function starts a tool; its fields are the TOOL /
    DESCRIPTION / EXAMPLE lines written before it (or inside it); its program is the next block that
    defines no function or, failing that, the statements after the functions in its own block; prose
    anywhere is ignored. The tool's name is the TOOL line when it names a function the block defines,
    else the defined function the program calls, else the first one defined.
    """
    blocks = _python_blocks(text)
    drafts = []
    header_start = 0
    i = 0
    while i < len(blocks):
        block = blocks[i]
        if not block.defined:
            i += 1
            continue
        header = text[header_start : block.start] + "\n" + block.fields
        program = print_last_expression(block.statements) if block.statements else None
        end = block.end
        if i + 1 < len(blocks) and not blocks[i + 1].defined:
            program, end = print_last_expression(blocks[i + 1].statements), blocks[i + 1].end
            i += 1
        i += 1
        name = _field(header, "TOOL")
        name = re.sub(r"\W", "", name.split("(")[0].strip()) if name else ""
        if name not in block.defined:
            called = [n for n in block.defined if program and re.search(rf"(?<![\w.]){n}\s*\(", program)]
            name = called[0] if called else block.defined[0]
        example = _field(header, "EXAMPLE")
        if example:
            number = re.search(r"\d+(?:\.\d+)*", example)
            example = number.group(0) if number else example
        drafts.append(
            ToolDraft(
                name=name,
                description=(_field(header, "DESCRIPTION") or "").strip(),
                example=example,
                code=block.definitions,
                program=program,
                raw=text[header_start:end].strip(),
            )
        )
        header_start = end
    return drafts
