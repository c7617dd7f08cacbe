"""The RefTool toolbox: chapters → sections → validated tools, saved and shared like a model.

A :class:`Toolbox` holds the tools a chat model wrote from a reference book, organised as the
book is (chapters → sections). A :class:`Tool` is a self-contained Python function with a
name and a description, the :class:`ValidationExample` it was checked on (a problem from the
book, code that calls the tool, the answer the book states, where it came from) and the
:class:`ValidationRecord` of that check. Each section keeps its build counts
(:class:`BuildStats`: tools proposed, passed first time, repaired, dropped).

On disk (``save_pretrained``; written atomically, so a build can save after every section)::

    README.md                                  model card: source book + attribution, model, counts
    chapters/01-essential-ideas/1.4-measurements/density_from_mass_and_volume.py
    toolbox.json                               the index: format_version, book, model, chapters,
                                               sections, tools (file, description, validation)

``from_pretrained`` reads a local folder or a Hub repo. Loading never runs tool code: each file
is parsed with :mod:`ast` only. Tools are code written by a model; a toolbox downloaded from
the Hub may only be *run* (in the sandbox) when it was loaded with ``trust_remote_code=True``,
as with ``transformers``: code that runs tools calls :meth:`Toolbox.require_trusted` first.
"""

from __future__ import annotations

import ast
import datetime as _dt
import json
import os
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from .. import hub
from ..data.sources import default_data_dir
from .reference import Reference, Section

__all__ = [
    "FORMAT_VERSION",
    "INDEX_FILE",
    "BuildStats",
    "Tool",
    "Toolbox",
    "ToolboxChapter",
    "ToolboxFormatError",
    "ToolboxSection",
    "UntrustedToolboxError",
    "ValidationExample",
    "ValidationRecord",
    "check_tool_code",
]

#: Version of the on-disk layout this code writes and reads.
FORMAT_VERSION = 1
INDEX_FILE = "toolbox.json"
TOOLS_DIR = "chapters"
CARD_TEMPLATE = "toolbox.md"
_SPDX = {
    "CC BY 4.0": "cc-by-4.0",
    "CC BY-SA 4.0": "cc-by-sa-4.0",
    "CC BY-NC 4.0": "cc-by-nc-4.0",
    "CC0 1.0": "cc0-1.0",
}


class ToolboxFormatError(ValueError):
    """A toolbox (or a tool) that cannot be read; the message names the file and the fix."""


class UntrustedToolboxError(PermissionError):
    """Running tools of a toolbox that came from the Hub without ``trust_remote_code=True``."""


# --------------------------------------------------------------------------- tools
def check_tool_code(name: str, code: str, *, where: str = "") -> ast.FunctionDef:
    """Check, without running it, that ``code`` parses and defines a top-level function ``name``.

    Returns the function's AST node. Raises :class:`ToolboxFormatError` naming ``where``
    (e.g. the file) and the line of a syntax error.
    """
    where = where or f"tool {name!r}"
    if not name.isidentifier() or name.startswith("__"):
        raise ToolboxFormatError(
            f"{where}: {name!r} is not a valid tool name; use a Python identifier like 'molar_mass'."
        )
    try:
        module = ast.parse(code, filename=where)
    except SyntaxError as err:
        raise ToolboxFormatError(
            f"{where} has a syntax error at line {err.lineno}: {err.msg}. "
            "Fix the code, or remove the tool (and its entry in toolbox.json)."
        ) from err
    for node in module.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node
    defined = [n.name for n in module.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    raise ToolboxFormatError(
        f"{where} does not define a top-level function named {name!r} (it defines {defined or 'none'}). "
        "A tool's code must define the function its name refers to."
    )


@dataclass
class ValidationExample:
    """The problem a tool was validated on. The expected answer comes from the book, never from a model.

    Attributes:
        problem: the problem text (e.g. a worked example's "Check Your Learning" exercise).
        solution: Python code that calls the tool and prints the answer.
        expected_answer: the answer the book states, e.g. ``"8.91 g/cm^3"``.
        source: where in the book it came from, e.g. ``"Example 1.1 (section 1.4), Check Your Learning"``.
        example_id: the worked example's id in the book, if any.
    """

    problem: str
    solution: str
    expected_answer: str
    source: str = ""
    example_id: str | None = None


@dataclass
class ValidationRecord:
    """What happened when a tool's validation example ran in the sandbox.

    Attributes:
        status: ``"passed"`` (first try), ``"repaired"`` (passed after one repair),
            ``"failed"``, or ``"not_run"``.
        attempts: how many times the example was run.
        answer: the answer extracted from the run's output.
        output: what the run printed (trimmed).
        error: the error of the last failed run, if any.
        seconds: wall time of the last run.
    """

    status: Literal["passed", "repaired", "failed", "not_run"] = "not_run"
    attempts: int = 0
    answer: str | None = None
    output: str = ""
    error: str | None = None
    seconds: float | None = None

    def __post_init__(self) -> None:
        if self.status not in ("passed", "repaired", "failed", "not_run"):
            raise ToolboxFormatError(
                f"Unknown validation status {self.status!r}; use 'passed', 'repaired', 'failed' or 'not_run'."
            )

    @property
    def passed(self) -> bool:
        """Whether the tool's example gave the book's answer (first time or after repair)."""
        return self.status in ("passed", "repaired")


@dataclass
class Tool:
    """A tool: a self-contained Python function written from a section of the book.

    Attributes:
        name: the function's name (a Python identifier, unique in the toolbox).
        description: what it computes, its arguments and units (shown to the solver).
        code: the function's source; it defines ``name`` and imports what it needs.
        validation: the example it was checked on.
        record: the result of that check.
    """

    name: str
    description: str
    code: str
    validation: ValidationExample | None = None
    record: ValidationRecord = field(default_factory=ValidationRecord)

    def __post_init__(self) -> None:
        self._node = check_tool_code(self.name, self.code)
        if not self.description.strip():
            raise ToolboxFormatError(f"Tool {self.name!r} has no description; the solver picks tools by it.")

    @property
    def signature(self) -> str:
        """``"name(arg1, arg2=1.0)"`` from the function's definition."""
        return f"{self.name}({ast.unparse(self._node.args)})"

    @property
    def docstring(self) -> str | None:
        """The function's docstring, if it has one."""
        return ast.get_docstring(self._node)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready metadata (the code itself is saved in its own file)."""
        return {
            "name": self.name,
            "description": self.description,
            "signature": self.signature,
            "validation": asdict(self.validation) if self.validation else None,
            "record": asdict(self.record),
        }


@dataclass
class BuildStats:
    """Build counts of a section (or a whole toolbox): tools proposed, passed first time, repaired, dropped."""

    proposed: int = 0
    first_pass: int = 0
    repaired: int = 0
    dropped: int = 0

    @property
    def kept(self) -> int:
        """Tools that passed validation (first time or after repair)."""
        return self.first_pass + self.repaired

    def __add__(self, other: BuildStats) -> BuildStats:
        return BuildStats(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


@dataclass
class ToolboxSection:
    """The tools of one book section, with its build counts.

    Attributes:
        id: the book section's id (e.g. OpenStax module ``"m68674"``).
        number: ``"1.4"``; title: ``"Measurements"``.
        tools: its validated tools.
        stats: what the build did here (a section may end with no tools).
        digest: :attr:`Section.digest` of the text the tools were written from.
    """

    id: str
    number: str
    title: str
    tools: list[Tool] = field(default_factory=list)
    stats: BuildStats = field(default_factory=BuildStats)
    digest: str | None = None

    @property
    def label(self) -> str:
        return f"{self.number} {self.title}"


class _SectionTotals:
    """``tools`` and ``stats`` of whatever holds ``sections`` (a chapter, the whole toolbox)."""

    sections: list[ToolboxSection]

    @property
    def tools(self) -> list[Tool]:
        """Every tool of the sections, in book order."""
        return [t for s in self.sections for t in s.tools]

    @property
    def stats(self) -> BuildStats:
        """Build counts summed over the sections."""
        return sum((s.stats for s in self.sections), BuildStats())


@dataclass
class ToolboxChapter(_SectionTotals):
    """A chapter of the toolbox: number, title and the sections built so far."""

    number: int
    title: str
    sections: list[ToolboxSection] = field(default_factory=list)


def _number_key(number: str) -> tuple[Any, ...]:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"[.]", number))


def _slug(text: str, limit: int = 48) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:limit].rstrip("-") or "untitled"


# --------------------------------------------------------------------------- the toolbox
class Toolbox(_SectionTotals):
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

    # ------------------------------------------------------------------ serialisation
    def tool_path(self, tool: Tool) -> str:
        """The tool's file, relative to the toolbox folder."""
        chapter = self.chapter_of(tool)
        section = next(s for s in chapter.sections if any(t is tool for t in s.tools))
        return (
            f"{TOOLS_DIR}/{chapter.number:02d}-{_slug(chapter.title)}/"
            f"{section.number}-{_slug(section.title)}/{tool.name}.py"
        )

    def to_dict(self) -> dict[str, Any]:
        """The index (``toolbox.json``) as a dict."""
        stats = self.stats
        return {
            "format_version": FORMAT_VERSION,
            "library": hub.LIBRARY_NAME,
            "hf_reft_version": _version(),
            "reference": self.reference,
            "model": self.model,
            "settings": self.settings,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "counts": {
                "chapters": len(self.chapters),
                "sections": len(self.sections),
                "tools": len(self),
                **asdict(stats),
            },
            "chapters": [
                {
                    "number": ch.number,
                    "title": ch.title,
                    "sections": [
                        {
                            "id": s.id,
                            "number": s.number,
                            "title": s.title,
                            "digest": s.digest,
                            "stats": asdict(s.stats),
                            "tools": [{**t.to_dict(), "file": self.tool_path(t)} for t in s.tools],
                        }
                        for s in ch.sections
                    ],
                }
                for ch in self.chapters
            ],
        }

    def save_pretrained(self, save_directory: str | os.PathLike[str], *, repo_id: str | None = None) -> Path:
        """Write the index, one ``.py`` per tool and the card into ``save_directory``, atomically.

        Safe to call after every built section: files move into place only once all were
        written (the index last), and tool files the index no longer lists are removed.
        ``repo_id`` is the Hub id shown in the card's usage snippet.
        """
        target = Path(save_directory)
        index = self.to_dict()
        with hub.atomic_save(target) as tmp:
            for tool in self.tools:
                path = tmp / self.tool_path(tool)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(tool.code.rstrip() + "\n", encoding="utf-8")
            self.card(repo_id=repo_id).save(tmp / "README.md")
            # "toolbox.json" sorts after "chapters/" and "README.md": atomic_save moves it last.
            (tmp / INDEX_FILE).write_text(
                json.dumps(index, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
            )
        listed = {target / t["file"] for ch in index["chapters"] for s in ch["sections"] for t in s["tools"]}
        for stale in (target / TOOLS_DIR).rglob("*.py") if (target / TOOLS_DIR).is_dir() else ():
            if stale not in listed:
                stale.unlink()
        return target

    def card(self, repo_id: str | None = None) -> Any:
        """The README card (:class:`huggingface_hub.ModelCard`); ``repo_id`` goes in its usage snippet."""
        ref = self.reference
        stats = self.stats
        return hub.render_card(
            CARD_TEMPLATE,
            license=_SPDX.get(ref.get("license") or ""),
            tags=[
                "reftool",
                "tool-creation",
                *(["chemistry"] if "chem" in (ref.get("title") or "").lower() else []),
            ],
            metadata={"pretty_name": f"RefTool toolbox: {ref.get('title') or 'reference'}"},
            title=f"RefTool toolbox — {ref.get('title') or 'reference book'}",
            reference=ref,
            model=self.model,
            settings=self.settings,
            counts={"chapters": len(self.chapters), "sections": len(self.sections), "tools": len(self)},
            stats=stats,
            chapters=[
                {
                    "number": ch.number,
                    "title": ch.title,
                    "sections": len(ch.sections),
                    "tools": len(ch.tools),
                    "stats": ch.stats,
                }
                for ch in self.chapters
            ],
            repo_id=repo_id or (self.source if self.source and not Path(self.source).exists() else None),
            format_version=FORMAT_VERSION,
            version=_version(),
            updated_at=self.updated_at,
        )

    def push_to_hub(
        self,
        repo_id: str,
        *,
        token: str | None = None,
        private: bool | None = None,
        revision: str | None = None,
        commit_message: str | None = None,
        create_pr: bool = False,
    ) -> Any:
        """Save to a temporary folder and upload it to the Hub repo ``repo_id`` (created if needed)."""
        return hub.push_to_hub(
            lambda folder: self.save_pretrained(folder, repo_id=repo_id),
            repo_id,
            token=token,
            private=private,
            revision=revision,
            commit_message=commit_message or f"Upload RefTool toolbox ({len(self)} tools)",
            create_pr=create_pr,
        )

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | os.PathLike[str],
        *,
        revision: str | None = None,
        trust_remote_code: bool = False,
        token: str | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        local_files_only: bool = False,
        force_download: bool = False,
    ) -> Toolbox:
        """Load a toolbox from a local folder or a Hub repo, without running any of its code.

        Args:
            name_or_path: a folder written by :meth:`save_pretrained`, or a Hub id.
            revision: branch, tag or commit of a Hub repo.
            trust_remote_code: allow the tools of a Hub toolbox to be run later (in the
                sandbox). A local folder is trusted.
        """
        local = Path(name_or_path).expanduser().is_dir()
        folder = hub.resolve_folder(
            name_or_path,
            revision=revision,
            token=token,
            cache_dir=cache_dir,
            local_files_only=local_files_only,
            force_download=force_download,
        )
        toolbox = cls._read(folder)
        toolbox.source = str(name_or_path)
        if not local:
            toolbox.revision = folder.name if hub.is_commit_hash(folder.name) else revision
            toolbox._trusted = bool(trust_remote_code)
        return toolbox

    @classmethod
    def _read(cls, folder: Path) -> Toolbox:
        index_path = folder / INDEX_FILE
        if not index_path.is_file():
            raise ToolboxFormatError(
                f"{folder} is not a RefTool toolbox: {INDEX_FILE} is missing. Pass a folder written by "
                "Toolbox.save_pretrained (or a Hub repo made with push_to_hub)."
            )
        try:
            index = json.loads(index_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise ToolboxFormatError(
                f"{index_path} is not valid JSON ({err}); restore it from the repo."
            ) from err
        version = index.get("format_version") if isinstance(index, dict) else None
        if version != FORMAT_VERSION:
            if isinstance(version, int) and version > FORMAT_VERSION:
                fix = "it was written by a newer hf-reft: upgrade hf-reft (pip install -U hf-reft)"
            else:
                fix = f"this hf-reft reads format_version {FORMAT_VERSION}; rebuild or convert the toolbox"
            raise ToolboxFormatError(f"{index_path} has unknown format_version {version!r}: {fix}.")
        toolbox = cls(
            index.get("reference") or {}, model=index.get("model"), settings=index.get("settings") or {}
        )
        toolbox.created_at = index.get("created_at") or toolbox.created_at
        for ch in index.get("chapters", []):
            chapter = ToolboxChapter(int(ch["number"]), ch["title"])
            for s in ch.get("sections", []):
                tools = [_read_tool(folder, entry) for entry in s.get("tools", [])]
                chapter.sections.append(
                    ToolboxSection(
                        s["id"],
                        s["number"],
                        s["title"],
                        tools,
                        BuildStats(**s.get("stats", {})),
                        s.get("digest"),
                    )
                )
            toolbox.chapters.append(chapter)
        toolbox._check_unique_names()
        toolbox.updated_at = index.get("updated_at") or toolbox.updated_at
        return toolbox


def _read_tool(folder: Path, entry: dict[str, Any]) -> Tool:
    name, rel = entry.get("name", "?"), entry.get("file", "")
    # Checked lexically: files of a Hub snapshot are symlinks into the cache's blob store.
    if not rel or Path(rel).is_absolute() or ".." in Path(rel).parts or "\\" in rel:
        raise ToolboxFormatError(
            f"Tool {name!r} in {INDEX_FILE} has an invalid file entry {rel!r}; it must be a path inside the toolbox."
        )
    path = folder / rel
    if not path.is_file():
        raise ToolboxFormatError(
            f"{INDEX_FILE} lists tool {name!r} at {rel}, but that file is missing. Restore the file, or remove "
            "the tool's entry from the index (or rebuild the section)."
        )
    code = path.read_text(encoding="utf-8")
    check_tool_code(name, code, where=f"Tool file {rel}")
    validation = entry.get("validation")
    if validation:
        try:
            ast.parse(validation.get("solution", ""))
        except SyntaxError as err:
            raise ToolboxFormatError(
                f"The validation solution of tool {name!r} in {INDEX_FILE} has a syntax error at line {err.lineno}: {err.msg}."
            ) from err
    try:
        return Tool(
            name=name,
            description=entry.get("description", ""),
            code=code,
            validation=ValidationExample(**validation) if validation else None,
            record=ValidationRecord(**entry.get("record", {})),
        )
    except TypeError as err:
        raise ToolboxFormatError(f"Tool {name!r} in {INDEX_FILE} has an unexpected field: {err}.") from err


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


def _version() -> str:
    from .. import __version__

    return __version__
