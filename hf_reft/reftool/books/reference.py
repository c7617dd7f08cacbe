"""A reference book for RefTool: :class:`Reference`, read from an OpenStax book or a Markdown file.

A :class:`Reference` is read from

* an **OpenStax book** (:meth:`Reference.from_openstax`): a CollXML collection
  (``collections/<slug>.collection.xml``; chapters are ``<col:subcollection>``, sections are
  ``<col:module document="mNNNNN"/>``) and its CNXML modules (``modules/mNNNNN/index.cnxml``).
  Text and MathML are rendered readably (:mod:`~hf_reft.reftool.books.cnxml`); every ``<example>``
  becomes a :class:`~hf_reft.reftool.books.structure.WorkedExample` with its problem, solution,
  stated answer and the "Check Your Learning" exercise with its answer. End-of-chapter exercises
  and glossaries are left out; summaries and key equations stay. Modules outside any chapter
  (preface, appendices) are kept apart as :attr:`Reference.front_matter` / :attr:`Reference.back_matter`.
* a **Markdown book** (:meth:`Reference.from_markdown`): ``#`` headings are chapters, ``##``
  headings sections; text under a ``#`` before its first ``##`` becomes an "Introduction"
  section. A ``### Example: <title>`` block is a worked example: the problem, then a line
  ``Solution``, the solution, optionally a line ``Answer: <stated answer>``, optionally a line
  ``Check Your Learning`` with an exercise and its ``Answer: ...``.

The readers build the book's parts (:mod:`~hf_reft.reftool.books.structure`) and import nothing
of this module.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...data.sources import default_data_dir
from .markdown import read_markdown
from .openstax import read_openstax
from .structure import Chapter, ReferenceFormatError, Section, SectionPart, WorkedExample

__all__ = ["NAMED_REFERENCES", "Reference"]

#: Books of the shared data folder known by name: name → folder.
NAMED_REFERENCES: dict[str, str] = {"chemistry-2e": "openstax-chemistry-2e"}


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
        return cls(**read_openstax(Path(path).expanduser()))

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
