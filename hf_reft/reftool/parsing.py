"""Reading RefTool's model replies: code blocks, chapter and tool choices, tool blocks.

Small models answer loosely, so every parser is lenient and never raises on a bad reply: it
returns what it could read (possibly nothing) and the caller decides what that means.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "ToolDraft",
    "code_blocks",
    "first_program",
    "parse_chapter_choice",
    "parse_tool_choice",
    "parse_tool_drafts",
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
    """The program in a reply: its first Python code block, or the whole reply if it looks like code."""
    blocks = code_blocks(text)
    if blocks:
        return blocks[0]
    stripped = text.strip()
    if re.search(r"^\s*(?:print\(|def |import |from \w+ import |[A-Za-z_]\w*\s*=)", stripped, re.MULTILINE):
        return stripped
    return None


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


_TOOL_START = re.compile(r"^[ \t>*#-]*TOOL[ \t]*[:\-][ \t]*", re.IGNORECASE | re.MULTILINE)


def _field(text: str, name: str) -> str | None:
    match = re.search(rf"^[ \t>*#-]*{name}[ \t*]*[:\-][ \t*]*(.+)$", text, re.IGNORECASE | re.MULTILINE)
    return match.group(1).strip().strip("*`").strip() if match else None


def parse_tool_drafts(text: str) -> list[ToolDraft]:
    """The tools in a creation (or repair) reply, in the format of :mod:`~hf_reft.reftool.prompts`.

    A chunk without a function definition is skipped. When there are no ``TOOL:`` lines, the reply
    is read as one tool whose name is the first function it defines.
    """
    starts = [m.start() for m in _TOOL_START.finditer(text)]
    chunks = [text[a:b] for a, b in zip(starts, [*starts[1:], len(text)], strict=True)] if starts else [text]
    drafts = []
    for chunk in chunks:
        blocks = code_blocks(chunk)
        code = next((b for b in blocks if re.search(r"^def \w+\s*\(", b, re.MULTILINE)), None)
        if code is None:
            continue
        defined = re.findall(r"^def (\w+)\s*\(", code, re.MULTILINE)
        name = _field(chunk, "TOOL")
        name = re.sub(r"\W", "", name.split("(")[0].strip()) if name else ""
        if name not in defined:
            name = defined[0]
        others = [b for b in blocks if b is not code]
        example = _field(chunk, "EXAMPLE")
        if example:
            number = re.search(r"\d+(?:\.\d+)*", example)
            example = number.group(0) if number else example
        drafts.append(
            ToolDraft(
                name=name,
                description=(_field(chunk, "DESCRIPTION") or "").strip(),
                example=example,
                code=code,
                program=others[0] if others else None,
                raw=chunk.strip(),
            )
        )
    return drafts
