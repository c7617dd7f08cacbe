"""The :class:`Toolbox`: tools organised by chapter and section of a reference book, and trust."""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ...data.sources import default_data_dir
from ..books import Reference, Section
from .serialization import ToolboxFilesMixin
from .tools import (
    BuildStats,
    Tool,
    ToolboxChapter,
    ToolboxFormatError,
    ToolboxSection,
    UntrustedToolboxError,
    _SectionTotals,
)

__all__ = ["Toolbox"]


def _number_key(number: str) -> tuple[Any, ...]:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"[.]", number))


# --------------------------------------------------------------------------- the toolbox
class Toolbox(ToolboxFilesMixin, _SectionTotals):
    """Tools organised by chapter and section of a reference book.

    Args:
        reference: the book the tools come from — a :class:`Reference` or a dict with
            ``title``, ``kind``, ``source``, ``license``, ``license_url``, ``attribution``.
        model: name of the chat model that wrote the tools.
        settings: build settings worth recording (tools per section, budget, temperature...).
        chapters: initial content.

    A toolbox made in this process (or loaded from a local folder) is trusted; one loaded from
    the Hub is trusted only with ``trust_remote_code=True`` (see :meth:`require_trusted`).
    """

    def __init__(
        self,
        reference: Reference | dict[str, Any] | None = None,
        *,
        model: str | None = None,
        settings: dict[str, Any] | None = None,
        chapters: Iterable[ToolboxChapter] = (),
    ) -> None:
        self.reference = _reference_info(reference)
        self.model = model
        self.settings = dict(settings or {})
        self.chapters: list[ToolboxChapter] = list(chapters)
        self.created_at = _now()
        self.updated_at = self.created_at
        self.source: str | None = None  # folder or Hub id it was loaded from
        self.revision: str | None = None  # commit hash, when loaded from the Hub
        self._trusted = True
        self._check_unique_names()

    # ------------------------------------------------------------------ content
    def __repr__(self) -> str:
        return (
            f"Toolbox(reference={self.reference.get('title')!r}, model={self.model!r}, chapters={len(self.chapters)}, "
            f"sections={len(self.sections)}, tools={len(self)}, trusted={self.trusted})"
        )

    def __len__(self) -> int:
        return sum(len(s.tools) for s in self.sections)

    def __iter__(self) -> Iterator[Tool]:
        return iter(self.tools)

    @property
    def sections(self) -> list[ToolboxSection]:
        """Every section built so far, in book order."""
        return [s for ch in self.chapters for s in ch.sections]

    def has_section(self, section_id: str) -> bool:
        """Whether section ``section_id`` was built already (to resume a build)."""
        return any(s.id == section_id for s in self.sections)

    def section(self, section_id: str) -> ToolboxSection:
        """The built section with id (or number) ``section_id``."""
        for s in self.sections:
            if section_id in (s.id, s.number):
                return s
        raise KeyError(
            f"Section {section_id!r} is not in this toolbox ({len(self.sections)} sections built)."
        )

    def tool(self, name: str) -> Tool:
        """The tool called ``name``."""
        for t in self.tools:
            if t.name == name:
                return t
        raise KeyError(f"No tool named {name!r} in this toolbox.")

    def chapter_of(self, tool_or_section: Tool | ToolboxSection | str) -> ToolboxChapter:
        """The chapter holding a tool, a section, or a section id."""
        for ch in self.chapters:
            for s in ch.sections:
                if (
                    tool_or_section is s
                    or tool_or_section == s.id
                    or any(t is tool_or_section for t in s.tools)
                ):
                    return ch
        raise KeyError(f"{tool_or_section!r} is not in this toolbox.")

    def unique_name(self, name: str) -> str:
        """``name``, or ``name_2``, ``name_3``... if a tool already uses it."""
        taken = {t.name for t in self.tools}
        candidate, k = name, 2
        while candidate in taken:
            candidate, k = f"{name}_{k}", k + 1
        return candidate

    def add_section(
        self,
        section: Section | ToolboxSection,
        tools: Sequence[Tool] = (),
        stats: BuildStats | None = None,
        *,
        chapter: tuple[int, str] | None = None,
    ) -> ToolboxSection:
        """Record the tools built for ``section``, replacing an earlier build of it.

        Args:
            section: the book :class:`Section` (its chapter comes with it), or a ready
                :class:`ToolboxSection` together with ``chapter=(number, title)``.
            tools: the validated tools (names must not clash with other sections' tools:
                use :meth:`unique_name`).
            stats: the build counts; default: every tool counted as proposed and as it was
                validated (``record.status``).

        Returns:
            The stored :class:`ToolboxSection`. Chapters and sections stay in book order.
        """
        if isinstance(section, Section):
            chapter = (section.chapter_number, section.chapter_title)
            entry = ToolboxSection(
                section.id, section.number, section.title, list(tools), digest=section.digest
            )
        else:
            if chapter is None:
                raise ValueError("Pass chapter=(number, title) with a ToolboxSection.")
            entry = section
            entry.tools = list(tools) or entry.tools
        if stats is not None:
            entry.stats = stats
        elif isinstance(section, Section) or tools:
            entry.stats = _stats_of(entry.tools)
        others = {t.name: s.label for s in self.sections if s.id != entry.id for t in s.tools}
        seen: set[str] = set()
        for tool in entry.tools:
            if tool.name in others or tool.name in seen:
                where = others.get(tool.name, entry.label)
                raise ValueError(
                    f"Tool name {tool.name!r} is already used in section {where}; tool names must be unique "
                    f"in a toolbox (try {self.unique_name(tool.name)!r} from toolbox.unique_name())."
                )
            seen.add(tool.name)
        number, title = chapter
        target = next((ch for ch in self.chapters if ch.number == number), None)
        if target is None:
            target = ToolboxChapter(number, title)
            self.chapters.append(target)
            self.chapters.sort(key=lambda ch: ch.number)
        target.sections = [s for s in target.sections if s.id != entry.id] + [entry]
        target.sections.sort(key=lambda s: _number_key(s.number))
        self.updated_at = _now()
        return entry

    def source_code(self, tools: Iterable[Tool | str] | None = None) -> str:
        """The source of ``tools`` (names or tools; default all), ready to prepend to a program."""
        chosen = self.tools if tools is None else [t if isinstance(t, Tool) else self.tool(t) for t in tools]
        return "\n\n".join(t.code.strip() for t in chosen) + ("\n" if chosen else "")

    def _check_unique_names(self) -> None:
        seen: dict[str, str] = {}
        for s in self.sections:
            for t in s.tools:
                if t.name in seen:
                    raise ToolboxFormatError(
                        f"Tool name {t.name!r} appears in sections {seen[t.name]} and {s.label}; names must be unique."
                    )
                seen[t.name] = s.label

    # ------------------------------------------------------------------ trust
    @property
    def trusted(self) -> bool:
        """Whether this toolbox's tools may be run (in the sandbox)."""
        return self._trusted

    def require_trusted(self) -> None:
        """Raise :class:`UntrustedToolboxError` unless the tools may be run.

        Everything that executes tools (validation, the solver) calls this first.
        """
        if not self._trusted:
            raise UntrustedToolboxError(
                f"The toolbox {self.source!r} was downloaded from the Hub and its tools are code written by a "
                "model. Read the tool files, then load it with "
                f"Toolbox.from_pretrained({self.source!r}, trust_remote_code=True) to run them (in the sandbox)."
            )


def _stats_of(tools: Sequence[Tool]) -> BuildStats:
    return BuildStats(
        proposed=len(tools),
        first_pass=sum(t.record.status == "passed" for t in tools),
        repaired=sum(t.record.status == "repaired" for t in tools),
        dropped=0,
    )


def _portable_source(source: str) -> str:
    """The book's source as it can be published: a local path loses the folders above the data set.

    ``/home/me/shared/data/openstax-chemistry-2e/collections/chemistry-2e.collection.xml`` becomes
    ``openstax-chemistry-2e/collections/chemistry-2e.collection.xml`` (relative to the data folder
    when it lies there, else the file name), so a toolbox on the Hub names no one's home folder.
    """
    path = Path(source)
    if not path.is_absolute():
        return source
    data_dir = default_data_dir()
    for folder in {data_dir, data_dir.resolve()} if data_dir is not None else ():  # symlinks either side
        for candidate in (path, path.resolve()):
            if candidate.is_relative_to(folder):
                return candidate.relative_to(folder).as_posix()
    return path.name


def _reference_info(reference: Reference | dict[str, Any] | None) -> dict[str, Any]:
    if reference is None:
        return {}
    if isinstance(reference, Reference):
        return {
            "title": reference.title,
            "kind": reference.kind,
            "source": _portable_source(reference.source),
            "license": reference.license,
            "license_url": reference.license_url,
            "attribution": reference.attribution,
            "url": reference.metadata.get("url"),
        }
    return dict(reference)


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
