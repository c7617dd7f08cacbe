"""The parts of a reference book: chapters → sections → text blocks and worked examples.

:class:`Chapter`, :class:`Section` (its blocks: paragraphs as strings and :class:`WorkedExample` s)
and :class:`SectionPart` (a section split under a budget of characters or tokens along block
boundaries: paragraphs with their equations, whole worked examples; :meth:`Section.split`). The
whole book is :class:`~hf_reft.reftool.books.reference.Reference`; the readers
(:mod:`~hf_reft.reftool.books.openstax`, :mod:`~hf_reft.reftool.books.markdown`) build these parts.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Block", "Chapter", "ReferenceFormatError", "Section", "SectionPart", "WorkedExample"]


class ReferenceFormatError(ValueError):
    """A reference book that cannot be read; the message names the file and the fix."""


# --------------------------------------------------------------------------- data model


@dataclass(frozen=True)
class WorkedExample:
    """A worked example of the book, with the answer the book states.

    Attributes:
        id: the example's id in the source (CNXML ``id``; ``"<section>-ex<k>"`` for Markdown).
        number: ``"<chapter>.<k>"``, numbered through the chapter as the book prints them.
        title: e.g. ``"Calculation of Density"``.
        problem: the problem statement.
        solution: the worked solution.
        answer: the answer the solution arrives at, as the book states it (the final result
            of its last equation or its last sentence); ``None`` when the solution states none.
        check_problem: the "Check Your Learning" exercise that follows, if any.
        check_answer: the book's answer to that exercise (its "Answer:" note), if any.
        section_id: id of the :class:`Section` holding the example.
    """

    id: str
    number: str
    title: str
    problem: str
    solution: str
    answer: str | None = None
    check_problem: str | None = None
    check_answer: str | None = None
    section_id: str = ""

    @property
    def text(self) -> str:
        """The example as it appears in its section's text."""
        lines = [f"Example {self.number}: {self.title}".rstrip(": "), self.problem]
        if self.solution:
            lines.append(f"Solution:\n{self.solution}")
        if self.check_problem:
            lines.append(f"Check Your Learning:\n{self.check_problem}")
            if self.check_answer:
                lines.append(f"Answer: {self.check_answer}")
        return "\n".join(lines)


Block = str | WorkedExample


@dataclass(frozen=True)
class Section:
    """A section of a book: its text as blocks (paragraphs and worked examples).

    Attributes:
        id: stable id (OpenStax module id such as ``"m68674"``; ``"<c>.<s>"`` for Markdown).
        number: ``"<chapter>.<section>"``; a chapter's introduction is ``"<chapter>.0"``.
        title: the section title.
        chapter_number: 1-based chapter number (0 for front and back matter).
        chapter_title: the chapter's title.
        blocks: paragraphs (each with the equations that follow it) and
            :class:`WorkedExample` s, in reading order; the unit of splitting.
    """

    id: str
    number: str
    title: str
    chapter_number: int
    chapter_title: str
    blocks: tuple[Block, ...]
    source: str = ""

    def __post_init__(self) -> None:
        if not any((b.text if isinstance(b, WorkedExample) else b).strip() for b in self.blocks):
            where = f" ({self.source})" if self.source else ""
            raise ReferenceFormatError(
                f"Section {self.number} {self.title!r} of chapter {self.chapter_title!r}{where} has no text. "
                "Add the section's text under its heading, or remove the empty section."
            )

    @property
    def text(self) -> str:
        """The whole section as plain text, blocks separated by blank lines."""
        return "\n\n".join(_block_text(b) for b in self.blocks)

    @property
    def examples(self) -> tuple[WorkedExample, ...]:
        """The section's worked examples, in order."""
        return tuple(b for b in self.blocks if isinstance(b, WorkedExample))

    @property
    def digest(self) -> str:
        """A short SHA-256 of :attr:`text`, to notice that a section changed between builds."""
        return hashlib.sha256(self.text.encode()).hexdigest()[:16]

    @property
    def label(self) -> str:
        """``"1.4 Measurements"``."""
        return f"{self.number} {self.title}"

    def split(self, budget: int, *, tokenizer: Any = None) -> list[SectionPart]:
        """Split the section into parts of at most ``budget`` characters (or tokens).

        Blocks (a paragraph with its equations, a whole worked example) are packed greedily in
        order; a block that alone exceeds the budget is cut at sentence, then word boundaries.
        A worked example belongs to the part where it starts.

        Args:
            budget: the largest part, in characters, or in tokens when ``tokenizer`` is given.
            tokenizer: a Hugging Face tokenizer (tokens counted without special tokens) or a
                callable ``str -> int``. ``None`` counts characters.

        Returns:
            One :class:`SectionPart` per part (a single part when the section fits).
        """
        if not isinstance(budget, int) or budget < 16:
            raise ValueError(f"budget must be an integer of at least 16 (got {budget!r}).")
        size, unit = _size_function(tokenizer)
        # Pieces no larger than the budget, with their sizes: (text, size, example starting here).
        chunks: list[tuple[str, int, WorkedExample | None]] = []
        for block in self.blocks:
            text = _block_text(block)
            example = block if isinstance(block, WorkedExample) else None
            n = size(text)
            if n <= budget:
                chunks.append((text, n, example))
            else:
                pieces = _hard_split(text, budget, size)
                chunks.extend((p, size(p), example if i == 0 else None) for i, p in enumerate(pieces))
        # Greedy packing on summed sizes; a part whose exact size exceeds the budget (tokens
        # can merge across a boundary) is re-packed piece by piece with exact sizes.
        sep = size("\n\n")
        groups: list[list[int]] = []
        total = 0
        for i, (_, n, _) in enumerate(chunks):
            if groups and total + sep + n <= budget:
                groups[-1].append(i)
                total += sep + n
            else:
                groups.append([i])
                total = n
        parts: list[tuple[str, int, list[WorkedExample]]] = []
        for group in groups:
            joined = "\n\n".join(chunks[i][0] for i in group)
            n = chunks[group[0]][1] if len(group) == 1 else size(joined)
            if n <= budget:
                parts.append((joined, n, [ex for i in group if (ex := chunks[i][2]) is not None]))
                continue
            current, current_size, examples = "", 0, []
            for i in group:
                text, n, example = chunks[i]
                candidate = f"{current}\n\n{text}" if current else text
                candidate_size = size(candidate) if current else n
                if current and candidate_size > budget:
                    parts.append((current, current_size, examples))
                    current, current_size, examples = text, n, []
                else:
                    current, current_size = candidate, candidate_size
                if example is not None:
                    examples.append(example)
            parts.append((current, current_size, examples))
        return [
            SectionPart(
                section=self,
                index=i,
                count=len(parts),
                text=text,
                examples=tuple(exs),
                size=n,
                budget=budget,
                unit=unit,
            )
            for i, (text, n, exs) in enumerate(parts)
        ]


@dataclass(frozen=True)
class SectionPart:
    """A piece of a :class:`Section` no larger than ``budget`` ``unit`` s.

    Attributes:
        section: the section it comes from.
        index: 0-based position among the section's parts; ``count`` parts in all.
        text: the part's text.
        examples: worked examples that start in this part.
        size: the part's size in ``unit`` s (≤ ``budget``).
        unit: ``"chars"`` or ``"tokens"``.
    """

    section: Section
    index: int
    count: int
    text: str
    examples: tuple[WorkedExample, ...]
    size: int
    budget: int
    unit: Literal["chars", "tokens"]

    @property
    def label(self) -> str:
        """``"1.4 Measurements"`` or ``"1.4 Measurements (part 2/3)"``."""
        suffix = f" (part {self.index + 1}/{self.count})" if self.count > 1 else ""
        return f"{self.section.label}{suffix}"


@dataclass(frozen=True)
class Chapter:
    """A chapter: number, title and sections (the first is often its introduction)."""

    number: int
    title: str
    sections: tuple[Section, ...]

    @property
    def examples(self) -> tuple[WorkedExample, ...]:
        """All worked examples of the chapter."""
        return tuple(ex for s in self.sections for ex in s.examples)


def _block_text(block: Block) -> str:
    return block.text if isinstance(block, WorkedExample) else block


def _size_function(tokenizer: Any) -> tuple[Callable[[str], int], Literal["chars", "tokens"]]:
    if tokenizer is None:
        return len, "chars"
    if hasattr(tokenizer, "encode"):
        return (lambda text: len(tokenizer.encode(text, add_special_tokens=False))), "tokens"
    if callable(tokenizer):
        return (lambda text: int(tokenizer(text))), "tokens"
    raise TypeError(
        f"tokenizer must be a Hugging Face tokenizer or a callable str -> int, not {type(tokenizer)}."
    )


_SENTENCE_END = re.compile(r"(?<=[.!?:;])\s+|\n+")


def _hard_split(text: str, budget: int, size: Callable[[str], int]) -> list[str]:
    """Cut ``text`` into pieces of at most ``budget``: at sentences, then words, then characters."""
    pieces: list[str] = []
    units = [u for u in _SENTENCE_END.split(text) if u]
    if not all(size(u) <= budget for u in units):
        units = text.split()
    sep, current = " ", ""
    for u in units:
        while size(u) > budget:  # a single word longer than the budget: cut by characters
            lo, hi = 1, len(u)
            while lo < hi:
                mid = (lo + hi + 1) // 2
                lo, hi = (mid, hi) if size(u[:mid]) <= budget else (lo, mid - 1)
            if current:
                pieces.append(current)
                current = ""
            pieces.append(u[:lo])
            u = u[lo:]
        candidate = f"{current}{sep}{u}" if current else u
        if current and size(candidate) > budget:
            pieces.append(current)
            current = u
        else:
            current = candidate
    if current:
        pieces.append(current)
    return pieces


# --------------------------------------------------------------------------- stated answers
