"""Reading an OpenStax book (CollXML collection + CNXML modules) into a :class:`Reference`.

Layout of an OpenStax book (e.g. github.com/openstax/osbooks-chemistry-bundle)::

    collections/<slug>.collection.xml   chapters: <col:subcollection> with <md:title>,
                                        sections: <col:module document="mNNNNN"/>
    modules/mNNNNN/index.cnxml          a section's text (CNXML with MathML)

Modules outside any chapter (preface, appendices) become front and back matter. In each
module the learning objectives, body text, subsections, summary and key equations are kept;
end-of-chapter exercises, glossaries and "link to learning" boxes are left out. Each
``<example>`` becomes a :class:`~hf_reft.reftool.reference.WorkedExample`: the first
paragraph (its ``<title>`` is the example's title) starts the problem, a paragraph titled
"Solution" starts the solution, one titled "Check Your Learning" the exercise, and the
``<note>`` titled "Answer:" holds the exercise's answer. Figures, tables and examples are
numbered per chapter as the book prints them, so that textless cross-references
(``<link target-id="..."/>``) read "Figure 1.3", "Table 1.2", "Example 1.1".
"""

from __future__ import annotations

import copy
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .cnxml import (
    CNXML_NS,
    clean_text,
    link_labels,
    local_name,
    render_inline,
    render_list,
    render_math,
    render_table,
    title_of,
)
from .solutions import stated_answer
from .structure import Block, Chapter, ReferenceFormatError, Section, WorkedExample

__all__ = ["EndOfChapterExercise", "read_openstax", "read_openstax_exercises"]

_C = f"{{{CNXML_NS}}}"
_MATHML_MATH = "{http://www.w3.org/1998/Math/MathML}math"
_COL = "http://cnx.rice.edu/collxml"
_NS = {"col": _COL, "md": "http://cnx.rice.edu/mdml"}


@dataclass
class _Slot:
    """Where a module sits in the book."""

    module_id: str
    chapter: int  # 0: front or back matter
    chapter_title: str
    root: ET.Element
    path: Path
    number: str = ""


def _parse_xml(path: Path, what: str) -> ET.Element:
    if not path.is_file():
        raise ReferenceFormatError(f"{what} is missing: expected the file {path}.")
    try:
        return ET.parse(path).getroot()
    except ET.ParseError as err:
        raise ReferenceFormatError(
            f"{what} ({path}) is not well-formed XML: {err}. Restore the file from the book's source."
        ) from err


def _find_collection(path: Path) -> tuple[Path, Path]:
    """``(collection file, book folder)`` for a book folder or a collection file."""
    if path.is_dir():
        found = sorted((path / "collections").glob("*.collection.xml"))
        if not found:
            raise ReferenceFormatError(
                f"{path} is not an OpenStax book folder: no collections/*.collection.xml in it. "
                "Pass the folder that holds collections/ and modules/."
            )
        if len(found) > 1:
            raise ReferenceFormatError(
                f"{path} holds several books {[f.name for f in found]}; pass the *.collection.xml "
                "file of the one to read."
            )
        return found[0], path
    if not path.is_file():
        raise ReferenceFormatError(f"OpenStax collection {path} does not exist.")
    return path, path.parent.parent


@dataclass
class _Book:
    """A collection with every module parsed once, in book order."""

    collection: Path
    meta: ET.Element | None
    title: str
    slots: list[_Slot]
    chapter_titles: list[str]


def _read_book(path: Path) -> _Book:
    """The collection at ``path`` (a book folder or its ``*.collection.xml``) and its parsed modules."""
    collection, book_dir = _find_collection(path)
    modules_dir = book_dir / "modules"
    if not modules_dir.is_dir():
        raise ReferenceFormatError(f"No modules/ folder for {collection}: expected {modules_dir}.")
    root = _parse_xml(collection, "The OpenStax collection")
    meta = root.find("md:metadata", _NS)
    if meta is None:
        meta = root.find(f"{{{_COL}}}metadata")
    title = (meta.findtext("md:title", default="", namespaces=_NS) if meta is not None else "").strip()
    content = root.find("col:content", _NS)
    if content is None or not title:
        raise ReferenceFormatError(
            f"{collection} is not an OpenStax CollXML collection: it has no <md:title> or <col:content>."
        )

    # 1. The book's structure, every module parsed once.
    slots: list[_Slot] = []
    chapter_titles: list[str] = []

    def add(module_el: ET.Element, chapter: int, chapter_title: str) -> None:
        module_id = module_el.get("document", "")
        if not re.fullmatch(r"[\w-]+", module_id):
            raise ReferenceFormatError(
                f"{collection}: a <col:module> has an invalid document id {module_id!r}."
            )
        module_path = modules_dir / module_id / "index.cnxml"
        slots.append(
            _Slot(
                module_id, chapter, chapter_title, _parse_xml(module_path, f"Module {module_id}"), module_path
            )
        )

    def walk(container: ET.Element) -> None:
        for el in container:
            name = local_name(el)
            if name == "module":
                add(el, 0, "")
            elif name == "subcollection":
                sub = el.find("col:content", _NS)
                if sub is None:
                    continue
                if any(local_name(c) == "subcollection" for c in sub):
                    walk(sub)  # a unit that groups chapters
                    continue
                chapter_titles.append((el.findtext("md:title", default="", namespaces=_NS) or "").strip())
                for module_el in sub:
                    if local_name(module_el) == "module":
                        add(module_el, len(chapter_titles), chapter_titles[-1])

    walk(content)
    if not chapter_titles:
        raise ReferenceFormatError(f"{collection} lists no chapters (<col:subcollection>).")
    return _Book(collection, meta, title, slots, chapter_titles)


def read_openstax(path: Path) -> dict[str, Any]:
    """Read the OpenStax book at ``path`` (its folder, or its ``*.collection.xml``): the fields of
    its :class:`~hf_reft.reftool.books.reference.Reference`."""
    book = _read_book(path)
    collection, meta, title = book.collection, book.meta, book.title
    slots, chapter_titles = book.slots, book.chapter_titles

    # 2. Numbers: sections, figures, tables, examples, exercises; labels for cross-references.
    labels = _number(slots)

    # 3. Text.
    reader = _ModuleReader()
    sections: list[Section] = []
    for slot in slots:
        with link_labels(slot.module_id, labels):
            sections.append(reader.read(slot))
    chapters = tuple(
        Chapter(
            number=c,
            title=chapter_titles[c - 1],
            sections=tuple(s for s in sections if s.chapter_number == c),
        )
        for c in range(1, len(chapter_titles) + 1)
    )
    first_chapter = next(i for i, slot in enumerate(slots) if slot.chapter)
    front = tuple(s for i, s in enumerate(sections) if not s.chapter_number and i < first_chapter)
    back = tuple(s for i, s in enumerate(sections) if not s.chapter_number and i > first_chapter)

    license_el = meta.find("md:license", _NS) if meta is not None else None
    license_url = license_el.get("url") if license_el is not None else None
    license_name = _license_name(license_url, license_el.text if license_el is not None else None)
    slug = (meta.findtext("md:slug", default="", namespaces=_NS) if meta is not None else "").strip()
    book_url = f"https://openstax.org/details/books/{slug}" if slug else "https://openstax.org"
    attribution = f"OpenStax {title}, {book_url}" + (
        f", licensed under {license_name} ({license_url})" if license_name else ""
    )
    return {
        "title": title,
        "chapters": chapters,
        "kind": "openstax",
        "source": str(collection),
        "license": license_name,
        "license_url": license_url,
        "attribution": attribution,
        "front_matter": front,
        "back_matter": back,
        "metadata": {"slug": slug, "url": book_url},
    }


@dataclass(frozen=True)
class EndOfChapterExercise:
    """An end-of-chapter exercise: an ``<exercise>`` in a module's ``<section class="exercises">``.

    These are not part of any :class:`Section`'s text (the reader leaves the exercises sections out),
    so they can test tools built from the sections without the tools having seen them.

    Attributes:
        id: the exercise's CNXML id (``"fs-idm203954352"``).
        number: ``"<chapter>.<k>"``: its place among the chapter's exercises in CNXML order (the
            numbering that cross-references such as "see Exercise 78" are given).
        section_id, section_number: the module whose end it closes (``"m68674"``, ``"1.4"``).
        problem: the ``<problem>`` as plain text, rendered as section text is (MathML, images by their
            description, tables row by row).
        solution: the ``<solution>`` as plain text (``""`` for a solution that is only a drawing
            without a description); ``None`` when the book gives none (873 of Chemistry 2e's 1,736
            exercises have one).
    """

    id: str
    number: str
    section_id: str
    section_number: str
    problem: str
    solution: str | None


def read_openstax_exercises(path: Path) -> tuple[EndOfChapterExercise, ...]:
    """Every end-of-chapter exercise of the OpenStax book at ``path``, in book order."""
    book = _read_book(path)
    labels = _number(book.slots)
    reader = _ModuleReader()
    counters: dict[int, int] = {}
    exercises: list[EndOfChapterExercise] = []
    for slot in book.slots:
        reader._slot = slot
        with link_labels(slot.module_id, labels):
            for el in slot.root.iter(f"{_C}exercise"):  # the order in which _number counts them
                counters[slot.chapter] = k = counters.get(slot.chapter, 0) + 1
                problem = _exercise_part(reader, el.find(f"{_C}problem"))
                exercises.append(
                    EndOfChapterExercise(
                        id=el.get("id") or f"{slot.module_id}-exercise{k}",
                        number=f"{slot.chapter}.{k}" if slot.chapter else f"{slot.module_id}.{k}",
                        section_id=slot.module_id,
                        section_number=slot.number,
                        problem=problem or "",
                        solution=_exercise_part(reader, el.find(f"{_C}solution")),
                    )
                )
    return tuple(exercises)


def _exercise_part(reader: _ModuleReader, el: ET.Element | None) -> str | None:
    """A ``<problem>`` or ``<solution>`` as text, its blocks one per line (as a worked example's);
    ``None`` when there is no such element."""
    if el is None:
        return None
    el = copy.deepcopy(el)
    # A <table> inside a <para> (12 paragraphs of Chemistry 2e's exercises) would be read inline, cell
    # after cell on lines of their own; lifted out after its paragraph, it reads row by row.
    for i, para in reversed(list(enumerate(el))):
        tables = [c for c in para if local_name(c) == "table"] if local_name(para) == "para" else []
        for table in reversed(tables):
            siblings = list(para)
            at = siblings.index(table)
            if at:
                siblings[at - 1].tail = (siblings[at - 1].tail or "") + (table.tail or "")
            else:
                para.text = (para.text or "") + (table.tail or "")
            para.remove(table)
            table.tail = None
            el.insert(i + 1, table)
    blocks = _merge_blocks(reader._blocks(el))
    return "\n".join(b for b in blocks if isinstance(b, str))


def _license_name(url: str | None, text: str | None) -> str | None:
    if url and (m := re.search(r"licenses/([a-z-]+)/(\d\.\d)", url)):
        return f"CC {m.group(1).upper()} {m.group(2)}"
    return text.strip() if text and text.strip() else None


def _number(slots: list[_Slot]) -> dict[tuple[str, str], str]:
    """Give each slot its section number; return cross-reference labels for the whole book."""
    labels: dict[tuple[str, str], str] = {}
    counters: dict[tuple[int, str], int] = {}

    def count(chapter: int, kind: str) -> int:
        counters[chapter, kind] = counters.get((chapter, kind), 0) + 1
        return counters[chapter, kind]

    for slot in slots:
        title = title_of(slot.root) or slot.module_id
        if not slot.chapter:
            slot.number = slot.module_id
            labels[slot.module_id, ""] = title
        elif slot.root.get("class") == "introduction":
            slot.number = f"{slot.chapter}.0"
            labels[slot.module_id, ""] = f"Chapter {slot.chapter}"
        else:
            slot.number = f"{slot.chapter}.{count(slot.chapter, 'section')}"
            labels[slot.module_id, ""] = f"Section {slot.number} {title}"
        prefix = f"{slot.chapter}." if slot.chapter else ""
        for el in slot.root.iter():
            name, el_id = local_name(el), el.get("id")
            classes = (el.get("class") or "").split()
            if name == "figure":
                label = f"Figure {prefix}{count(slot.chapter, 'figure')}" if slot.chapter else "the figure"
            elif name == "table":
                if "unnumbered" in classes:
                    label = "the table"
                else:
                    label = f"Table {prefix}{count(slot.chapter, 'table')}" if slot.chapter else "the table"
            elif name == "example":
                label = f"Example {prefix}{count(slot.chapter, 'example')}"
            elif name == "exercise":
                label = f"Exercise {count(slot.chapter, 'exercise')}" if slot.chapter else "the exercise"
            elif name == "equation":
                label = "the equation"
            elif name in ("section", "note"):
                label = title_of(el)
            else:
                continue
            if el_id and label:
                labels[slot.module_id, el_id] = label
    return labels


class _ModuleReader:
    """Turns parsed CNXML modules into :class:`Section` s, numbering examples per chapter."""

    def __init__(self) -> None:
        self._examples: dict[int, int] = {}
        self._slot: _Slot | None = None

    def read(self, slot: _Slot) -> Section:
        self._slot = slot
        is_intro = slot.root.get("class") == "introduction"
        blocks: list[tuple[str, Block]] = []
        abstract = slot.root.find(".//{http://cnx.rice.edu/mdml}abstract")
        if abstract is not None and not is_intro:  # an introduction's abstract lists its sections
            blocks.extend(self._blocks(abstract))
        content = slot.root.find(f"{_C}content")
        if content is not None:
            blocks.extend(self._blocks(content))
        return Section(
            id=slot.module_id,
            number=slot.number,
            title=title_of(slot.root) or slot.module_id,
            chapter_number=slot.chapter,
            chapter_title=slot.chapter_title,
            blocks=_merge_blocks(blocks),
            source=str(slot.path),
        )

    # Block kinds: "text"; "heading" (joins the next block); "equation" (joins the text before it).
    def _blocks(self, container: ET.Element) -> list[tuple[str, Block]]:
        out: list[tuple[str, Block]] = []
        for el in container:
            name = local_name(el)
            classes = el.get("class") or ""
            if name == "para":
                heading, text = title_of(el), clean_text(render_inline(el))
                if heading and text:
                    out.append(("heading", heading))
                if text or heading:
                    out.append(("text", text or heading))
            elif name == "equation":
                if text := _equation_text(el):
                    out.append(("equation", text))
            elif name == "list":
                if text := render_list(el):
                    out.append(("equation" if out and out[-1][0] == "text" else "text", text))
            elif name == "table":
                if text := render_table(el):
                    out.append(("text", text))
            elif name == "figure":
                caption = el.find(f"{_C}caption")
                text = clean_text(render_inline(caption)) if caption is not None else ""
                if not text:  # no caption: the image description (e.g. the periodic table)
                    text = " ".join(clean_text(m.get("alt") or "") for m in el.iter(f"{_C}media")).strip()
                if text:
                    out.append(("text", f"[Figure: {text}]"))
            elif name == "media":
                if alt := clean_text(el.get("alt") or ""):
                    out.append(("text", f"[Image: {alt}]"))
            elif name in ("note", "section"):  # their blocks, under their title
                skipped = "link-to-learning" in classes if name == "note" else "exercises" in classes.split()
                if skipped:
                    continue
                inner = self._blocks(el)
                if inner and (heading := title_of(el)):
                    out.append(("heading", heading))
                out.extend(inner)
            elif name == "example":
                out.append(("example", self._example(el)))
            elif name in ("title", "exercise", "glossary", "metadata", "label"):
                continue
            elif text := clean_text(render_inline(el)):
                out.append(("text", text))
        return out

    def _example(self, el: ET.Element) -> WorkedExample:
        assert self._slot is not None
        chapter, module_id = self._slot.chapter, self._slot.module_id
        self._examples[chapter] = k = self._examples.get(chapter, 0) + 1
        title, phase = "", "problem"
        parts: dict[str, list[str]] = {"problem": [], "solution": [], "check": [], "answer": []}
        for child in el:
            heading = title_of(child)
            low = heading.lower()
            if not title and phase == "problem" and local_name(child) == "para" and heading:
                title, heading = heading, ""
            elif low.startswith("solution"):
                phase, heading = "solution", heading[len("solution") :].lstrip(" :")
            elif low.startswith("check your learning"):
                phase, heading = "check", ""
            elif low.startswith("answer") and local_name(child) == "note":
                phase, heading = "answer", ""
            if local_name(child) == "para":
                text = clean_text(render_inline(child))
            else:
                wrapper = ET.Element("wrapper")
                wrapper.append(child)
                blocks = child if local_name(child) == "note" else wrapper
                text = "\n".join(b for b in _merge_blocks(self._blocks(blocks)) if isinstance(b, str))
            if heading and phase == "solution":  # "Solution: Using the Equation"
                text = f"{heading}:\n{text}" if text else heading
            if text:
                parts[phase].append(text)
        solution = "\n".join(parts["solution"])
        return WorkedExample(
            id=el.get("id") or f"{module_id}-ex{k}",
            number=f"{chapter}.{k}" if chapter else f"{module_id}.{k}",
            title=title,
            problem="\n".join(parts["problem"]),
            solution=solution,
            answer=stated_answer(solution),
            check_problem="\n".join(parts["check"]) or None,
            check_answer="\n".join(parts["answer"]) or None,
            section_id=module_id,
        )


def _equation_text(el: ET.Element) -> str:
    maths = [render_math(m) for m in el.iter(_MATHML_MATH)]
    if maths:
        return "\n".join(m for m in maths if m)
    return clean_text(render_inline(el))


def _merge_blocks(blocks: list[tuple[str, Block]]) -> tuple[Block, ...]:
    """Attach equations to the paragraph before them and headings to the block after them."""
    merged: list[Block] = []
    headings: list[str] = []
    for kind, block in blocks:
        if kind == "heading":
            headings.append(str(block))
            continue
        if kind == "equation" and merged and isinstance(merged[-1], str) and not headings:
            merged[-1] = f"{merged[-1]}\n{block}"
        elif isinstance(block, WorkedExample):
            if headings:
                merged.append("\n".join(headings))
            merged.append(block)
        else:
            merged.append("\n".join([*headings, str(block)]))
        headings = []
    if headings:
        merged.append("\n".join(headings))
    return tuple(clean_text(b) if isinstance(b, str) else b for b in merged)
