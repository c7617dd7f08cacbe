"""Reading a Markdown book into the chapters of a :class:`~hf_reft.reftool.books.reference.Reference`.

* ``# Title`` starts a chapter, ``## Title`` a section; text under a chapter heading before its
  first section becomes a section titled "Introduction" (numbered ``<chapter>.0``).
* Text before the first chapter (a title page, a licence) is not part of any section.
* Headings inside fenced code blocks are text.
* ``### Example: <title>`` (or ``### Example 1.2 <title>``) starts a worked example that runs to
  the next heading of level 1-3: the problem, then a line ``Solution`` (``**Solution**``,
  ``Solution:``), the solution, optionally ``Answer: <stated answer>``, then optionally a line
  ``Check Your Learning``, an exercise and its ``Answer: ...``. Without an ``Answer:`` line the
  stated answer is taken from the end of the solution
  (:func:`~hf_reft.reftool.books.solutions.stated_answer`).
* A section with no text is an error naming its line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from .cnxml import clean_text
from .solutions import stated_answer
from .structure import Block, Chapter, ReferenceFormatError, Section, WorkedExample

__all__ = ["read_markdown"]

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_EXAMPLE_HEADING = re.compile(r"^example\b\s*[\d.]*\s*[:.\-–—]?\s*(?P<title>.*)$", re.IGNORECASE)
_LABEL = re.compile(
    r"^[*_#>\s]*(?P<label>solution|answer|check your learning)\b(?P<after>.*)$", re.IGNORECASE
)


def _label(line: str) -> tuple[str, str] | None:
    """``("answer", "11.3 g/cm^3")`` for ``**Answer:** 11.3 g/cm^3``; ``None`` for ordinary text."""
    match = _LABEL.match(line.strip())
    if not match:
        return None
    after = match.group("after").strip(" *_")
    if after.startswith(":"):
        return match.group("label").lower(), after[1:].strip(" *_")
    return (match.group("label").lower(), "") if not after else None


def read_markdown(text: str, source: str) -> tuple[Chapter, ...]:
    """The chapters of the Markdown book ``text`` (``source`` names it in error messages)."""
    chapters: list[
        tuple[str, list[tuple[str, list[str], int]]]
    ] = []  # title, [(section title, lines, line no)]
    in_fence = False
    for lineno, line in enumerate(text.splitlines(), start=1):
        if _FENCE.match(line):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        level = len(match.group(1)) if match else 0
        if level == 1:
            chapters.append((match.group(2), [("Introduction", [], lineno)]))
        elif level == 2:
            if not chapters:
                raise ReferenceFormatError(
                    f"{source}, line {lineno}: section {match.group(2)!r} comes before any chapter. "
                    "Start the book with a '# Chapter title' heading."
                )
            chapters[-1][1].append((match.group(2), [], lineno))
        elif chapters:
            chapters[-1][1][-1][1].append(line)
        elif line.strip():
            continue  # front matter before the first chapter (title page, licence) is not a section
    if not chapters:
        raise ReferenceFormatError(
            f"{source} has no chapters: a Markdown book needs '# Chapter' headings with '## Section' headings below."
        )
    out: list[Chapter] = []
    for c, (chapter_title, raw_sections) in enumerate(chapters, start=1):
        sections: list[Section] = []
        k = 0
        for s, (section_title, lines, lineno) in enumerate(raw_sections):
            if s == 0 and not "".join(lines).strip():
                continue  # no introduction text under the chapter heading
            number = f"{c}.{s}"
            blocks: list[Block] = []
            for block in _markdown_blocks(lines):
                if isinstance(block, list):
                    k += 1
                    blocks.append(_markdown_example(block, f"{c}.{k}", number))
                else:
                    blocks.append(block)
            sections.append(
                Section(
                    id=number,
                    number=number,
                    title=section_title,
                    chapter_number=c,
                    chapter_title=chapter_title,
                    blocks=tuple(blocks),
                    source=f"{source}, line {lineno}",
                )
            )
        if not sections:
            raise ReferenceFormatError(
                f"{source}: chapter {c} {chapter_title!r} has no text and no sections. "
                "Add '## Section' headings with text below it, or remove the chapter."
            )
        out.append(Chapter(number=c, title=chapter_title, sections=tuple(sections)))
    return tuple(out)


def _paragraph(lines: list[str]) -> str:
    """A paragraph's text; fenced code keeps its indentation."""
    if any(_FENCE.match(line) for line in lines):
        return "\n".join(line.rstrip() for line in lines).strip("\n")
    return clean_text("\n".join(lines))


def _markdown_blocks(lines: list[str]) -> Iterator[str | list[str]]:
    """Paragraphs (strings) and example blocks (lists of lines, heading first)."""
    paragraph: list[str] = []
    example: list[str] | None = None
    in_fence = False
    for line in lines:
        if _FENCE.match(line):
            in_fence = not in_fence
        heading = None if in_fence else _HEADING.match(line)
        if heading and len(heading.group(1)) >= 3:
            if example is not None:
                yield example
                example = None
            if paragraph:
                yield _paragraph(paragraph)
                paragraph = []
            if _EXAMPLE_HEADING.match(heading.group(2)):
                example = [heading.group(2)]
                continue
        if example is not None:
            example.append(line)
        elif not line.strip() and not in_fence:
            if paragraph:
                yield _paragraph(paragraph)
                paragraph = []
        else:
            paragraph.append(line)
    if example is not None:
        yield example
    if paragraph and (text := _paragraph(paragraph)):
        yield text


def _markdown_example(lines: list[str], number: str, section_id: str) -> WorkedExample:
    match = _EXAMPLE_HEADING.match(lines[0])
    title = match.group("title").strip() if match else lines[0]
    parts: dict[str, list[str]] = {
        "problem": [],
        "solution": [],
        "answer": [],
        "check": [],
        "check_answer": [],
    }
    phase = "problem"
    for line in lines[1:]:
        label = _label(line)
        if label:
            name, line = label
            if name == "solution":
                phase = "solution"
            elif name == "check your learning":
                phase = "check"
            else:
                phase = "check_answer" if phase in ("check", "check_answer") else "answer"
            if not line:
                continue
        parts[phase].append(line)

    def join(key: str) -> str:
        return clean_text("\n".join(parts[key]))

    solution = join("solution")
    return WorkedExample(
        id=f"{section_id}-ex{number.split('.')[-1]}",
        number=number,
        title=title,
        problem=join("problem"),
        solution=solution,
        answer=join("answer") or stated_answer(solution),
        check_problem=join("check") or None,
        check_answer=join("check_answer") or None,
        section_id=section_id,
    )
