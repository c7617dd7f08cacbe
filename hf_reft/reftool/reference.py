"""Reference books for RefTool: chapters → sections → text and worked examples.

A :class:`Reference` is read from

* an **OpenStax book** (:meth:`Reference.from_openstax`): a CollXML collection
  (``collections/<slug>.collection.xml``; chapters are ``<col:subcollection>``, sections are
  ``<col:module document="mNNNNN"/>``) and its CNXML modules (``modules/mNNNNN/index.cnxml``).
  Text and MathML are rendered readably (:mod:`hf_reft.reftool.cnxml`); every ``<example>``
  becomes a :class:`WorkedExample` with its problem, solution, stated answer and the
  "Check Your Learning" exercise with its answer. End-of-chapter exercises and glossaries are
  left out; summaries and key equations stay. Modules outside any chapter (preface,
  appendices) are kept apart as :attr:`Reference.front_matter` / :attr:`Reference.back_matter`.
* a **Markdown book** (:meth:`Reference.from_markdown`): ``#`` headings are chapters, ``##``
  headings sections; text under a ``#`` before its first ``##`` becomes an "Introduction"
  section. A ``### Example: <title>`` block is a worked example: the problem, then a line
  ``Solution``, the solution, optionally a line ``Answer: <stated answer>``, optionally a line
  ``Check Your Learning`` with an exercise and its ``Answer: ...``.

Sections longer than a model's context are split into :class:`SectionPart` s along block
boundaries (paragraphs with their equations, whole worked examples) under a stated budget in
characters or tokens (:meth:`Section.split`).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .cnxml import (
    CNXML_NS,
)

__all__ = [
    "NAMED_REFERENCES",
    "Chapter",
    "Reference",
    "ReferenceFormatError",
    "Section",
    "SectionPart",
    "WorkedExample",
    "stated_answer",
]

_C = f"{{{CNXML_NS}}}"
_COL_NS = {"col": "http://cnx.rice.edu/collxml", "md": "http://cnx.rice.edu/mdml"}


#: Books of the shared data folder known by name: name → folder.
NAMED_REFERENCES: dict[str, str] = {"chemistry-2e": "openstax-chemistry-2e"}


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


@dataclass(frozen=True)
class Reference:
    """A reference book: chapters → sections → text and worked examples.

    Attributes:
        title: the book's title, e.g. ``"Chemistry 2e"``.
        chapters: the numbered chapters.
        kind: ``"openstax"`` or ``"markdown"``.
        source: the path it was read from.
        license: e.g. ``"CC BY 4.0"`` (``None`` when unknown).
        license_url: the licence's URL, if known.
        attribution: the credit every derived artefact must carry (OpenStax: ``"OpenStax
            Chemistry 2e ..."``), or ``None``.
        front_matter / back_matter: sections outside any chapter (preface, appendices).
    """

    title: str
    chapters: tuple[Chapter, ...]
    kind: str = "markdown"
    source: str = ""
    license: str | None = None
    license_url: str | None = None
    attribution: str | None = None
    front_matter: tuple[Section, ...] = ()
    back_matter: tuple[Section, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict, compare=False)

    # ------------------------------------------------------------------ readers
    @classmethod
    def load(
        cls, path: str | os.PathLike[str], *, data_dir: str | os.PathLike[str] | None = None, **kwargs: Any
    ) -> Reference:
        """Read a book, choosing the reader from what ``path`` is.

        An OpenStax book folder (with ``collections/``) or ``*.collection.xml`` file →
        :meth:`from_openstax`; a ``.md`` / ``.markdown`` / ``.txt`` file → :meth:`from_markdown`
        (``kwargs`` go to it); a name from :data:`NAMED_REFERENCES` (``"chemistry-2e"``) → that
        book in the shared data folder (``data_dir``, else ``$HF_REFT_DATA_DIR``, else
        ``../shared/data``).
        """
        p = Path(path).expanduser()
        if not p.exists() and str(path) in NAMED_REFERENCES:
            from ..data.sources import default_data_dir

            root = Path(data_dir) if data_dir is not None else default_data_dir()
            if root is None or not (root / NAMED_REFERENCES[str(path)]).is_dir():
                raise ReferenceFormatError(
                    f"The named reference {str(path)!r} lives in the shared data folder as "
                    f"{NAMED_REFERENCES[str(path)]}/, which was not found (looked in {root}). "
                    "Pass --data-dir / data_dir (or set HF_REFT_DATA_DIR), or the book's folder."
                )
            p = root / NAMED_REFERENCES[str(path)]
        if not p.exists():
            raise ReferenceFormatError(
                f"Reference {str(path)!r} does not exist. Pass an OpenStax book folder (with "
                "collections/ and modules/), a *.collection.xml file, a Markdown file, or one of "
                f"the named references {sorted(NAMED_REFERENCES)}."
            )
        if p.is_dir() or p.name.endswith(".collection.xml"):
            return cls.from_openstax(p)
        if p.suffix.lower() in (".md", ".markdown", ".txt"):
            return cls.from_markdown(p, **kwargs)
        raise ReferenceFormatError(
            f"Cannot tell what kind of book {str(p)!r} is. Pass an OpenStax book folder, a "
            "*.collection.xml file, or a Markdown file ending in .md."
        )

    @classmethod
    def from_openstax(cls, path: str | os.PathLike[str]) -> Reference:
        """Read an OpenStax book: a folder with ``collections/`` and ``modules/``, or a collection file.

        With several collections in the folder, pass the ``*.collection.xml`` to read.
        """
        from .openstax import read_openstax

        return read_openstax(Path(path).expanduser())

    @classmethod
    def from_markdown(
        cls,
        path_or_text: str | os.PathLike[str],
        *,
        title: str | None = None,
        license: str | None = None,
        license_url: str | None = None,
        attribution: str | None = None,
    ) -> Reference:
        """Read a Markdown book (``#`` chapters, ``##`` sections) from a file or a string.

        A string that contains a line break is taken as the book's text; anything else as a path.
        """
        is_text = isinstance(path_or_text, str) and "\n" in path_or_text
        if is_text:
            text, source = str(path_or_text), "<markdown text>"
        else:
            p = Path(path_or_text).expanduser()
            if not p.is_file():
                raise ReferenceFormatError(f"Markdown book {str(p)!r} does not exist or is not a file.")
            text, source = p.read_text(encoding="utf-8"), str(p)
        from .markdown_book import read_markdown

        chapters = read_markdown(text, source)
        default_title = "Markdown book" if is_text else Path(source).stem
        return cls(
            title=title or default_title,
            chapters=chapters,
            kind="markdown",
            source=source,
            license=license,
            license_url=license_url,
            attribution=attribution,
        )

    # ------------------------------------------------------------------ access
    @property
    def sections(self) -> tuple[Section, ...]:
        """Every section of every chapter, in order (front and back matter excluded)."""
        return tuple(s for ch in self.chapters for s in ch.sections)

    @property
    def examples(self) -> tuple[WorkedExample, ...]:
        """Worked examples in the chapters (front and back matter excluded)."""
        return tuple(ex for ch in self.chapters for ex in ch.examples)

    @property
    def all_examples(self) -> tuple[WorkedExample, ...]:
        """Every worked example, including those in the front and back matter (appendices)."""
        extra = tuple(ex for s in (*self.front_matter, *self.back_matter) for ex in s.examples)
        return self.examples + extra

    def section(self, key: str) -> Section:
        """The section with id or number ``key`` (e.g. ``"m68674"`` or ``"1.4"``)."""
        for s in (*self.sections, *self.front_matter, *self.back_matter):
            if key in (s.id, s.number):
                return s
        raise KeyError(f"No section {key!r} in {self.title!r}; ids look like {self.sections[0].id!r}.")

    def chapter(self, number: int) -> Chapter:
        """Chapter ``number`` (1-based)."""
        for ch in self.chapters:
            if ch.number == number:
                return ch
        raise KeyError(f"No chapter {number} in {self.title!r} (it has {len(self.chapters)}).")

    def parts(self, budget: int, *, tokenizer: Any = None) -> Iterator[SectionPart]:
        """Every chapter section split under ``budget`` (see :meth:`Section.split`)."""
        for s in self.sections:
            yield from s.split(budget, tokenizer=tokenizer)

    def summary(self, budget: int | None = None, *, tokenizer: Any = None) -> dict[str, Any]:
        """Counts: chapters, sections, worked examples (with and without appendices), parts.

        ``parts`` is present when ``budget`` is given (characters, or tokens with ``tokenizer``).
        """
        out: dict[str, Any] = {
            "title": self.title,
            "kind": self.kind,
            "chapters": len(self.chapters),
            "sections": len(self.sections),
            "examples": len(self.examples),
            "examples_with_stated_answer": sum(ex.answer is not None for ex in self.examples),
            "all_examples": len(self.all_examples),
            "front_matter_sections": len(self.front_matter),
            "back_matter_sections": len(self.back_matter),
            "characters": sum(len(s.text) for s in self.sections),
        }
        if budget is not None:
            out["budget"] = budget
            out["unit"] = "tokens" if tokenizer is not None else "chars"
            out["parts"] = sum(1 for _ in self.parts(budget, tokenizer=tokenizer))
        return out

    def __repr__(self) -> str:
        return (
            f"Reference(title={self.title!r}, kind={self.kind!r}, chapters={len(self.chapters)}, "
            f"sections={len(self.sections)}, examples={len(self.all_examples)})"
        )


# --------------------------------------------------------------------------- helpers
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
_RESULT_START = re.compile(r"^[-+~≈$]?\s*\(?\d")
_NUMBER = r"[-+]?\d[\d,]*(?:\.\d+)?(?:\s*×\s*10\^\(?[-+]?\d+\)?)?"
_UNIT_WORD = (
    r"(?!(?:and|at|or|of|for|in|to|the|which|when|with|is|was|so|as|by|from|than)\b)[%°\w/^()·-]{1,12}"
)
_PROSE_RESULT = re.compile(
    rf"\b(?:is|was|are|were|be|equals|gives|yields|Result:)\s+(?:about\s+|approximately\s+)?"
    rf"(?P<value>{_NUMBER}(?:\s+{_UNIT_WORD}){{0,2}})(?=\s*[.,;)]?\s*(?:$|[a-z(]))"
)
_COMMENTARY = re.compile(r"^(?:\[(?:Image|Figure):|\(?note\b|\([^=]*\)$)", re.IGNORECASE)


def _trim_result(rhs: str) -> str | None:
    """``"4.41 oz (three significant figures)"`` → ``"4.41 oz"``; ``None`` if not a result."""
    value = rhs.strip()
    value = re.split(
        r",\s+(?=[a-z])|;|\s\((?!\s*[-+]?\d)|\s\(\d+\.?\d*\s+[^\d)]*\)|\.\s|\s+for\s|\s+which\s", value
    )[0]
    value = value.strip().rstrip(".").strip()
    for open_, close in (("(", ")"), ("[", "]")):
        while value.endswith(close) and value.count(close) > value.count(open_):
            value = value[:-1].rstrip()
    if not value or len(value) > 60 or not _RESULT_START.match(value):
        return None
    return value


def _equation_result(line: str) -> str | None:
    """The result on the right of the last ``=``, ``≈`` or ``⟶`` of ``line``, if it is one."""
    cuts = sorted((line.rfind(sep), sep) for sep in (" ⟶ ", "=", "≈") if sep in line)
    for position, sep in reversed(cuts):
        if value := _trim_result(line[position + len(sep) :]):
            return value
    return None


def stated_answer(solution: str) -> str | None:
    """The answer a worked solution arrives at, as the book states it (best effort).

    OpenStax solutions end with their result, most often as the right-hand side of the last
    equation (``density = (90.7 g)/(8.00 cm^3) = 11.3 g/cm^3`` → ``"11.3 g/cm^3"``). The last
    three lines that are not commentary (image descriptions, notes, parenthetical remarks)
    are searched for such a result, then the last line for a value stated in prose
    (``"... is 20.15 amu."`` → ``"20.15 amu"``); otherwise the last sentence is returned.
    ``None`` for an empty solution.

    The "Check Your Learning" answer of an example (:attr:`WorkedExample.check_answer`) is
    stated explicitly by the book and is the more reliable of the two.
    """
    lines = [ln.strip() for ln in solution.strip().split("\n") if ln.strip()]
    lines = [ln for ln in lines if not _COMMENTARY.match(ln)]
    if not lines:
        return None
    for line in lines[-3:][::-1]:
        if value := _equation_result(line):
            return value
    for match in reversed(list(_PROSE_RESULT.finditer(lines[-1]))):
        if value := _trim_result(match.group("value")):
            return value
    sentences = [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z(])", lines[-1]) if s.strip()]
    return sentences[-1].strip() if sentences else lines[-1]
