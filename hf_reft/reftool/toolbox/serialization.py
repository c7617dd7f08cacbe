"""A toolbox on disk and on the Hub: the index (``toolbox.json``), one ``.py`` per tool, the card.

:class:`ToolboxFilesMixin` gives :class:`~hf_reft.reftool.toolbox.Toolbox` its ``to_dict``,
``save_pretrained`` (atomic), ``card``, ``push_to_hub`` and ``from_pretrained``; loading parses
tool files with :mod:`ast` and never runs them.
"""

from __future__ import annotations

import ast
import json
import os
import re
import unicodedata
from dataclasses import asdict
from pathlib import Path
from typing import Any, Self

from ... import hub
from .tools import (
    BuildStats,
    Tool,
    ToolboxChapter,
    ToolboxFormatError,
    ToolboxSection,
    ValidationExample,
    ValidationRecord,
    check_tool_code,
)

__all__ = ["CARD_TEMPLATE", "FORMAT_VERSION", "INDEX_FILE", "TOOLS_DIR", "ToolboxFilesMixin"]

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


class ToolboxFilesMixin:
    """Saving, loading and sharing for :class:`~hf_reft.reftool.toolbox.Toolbox` (see the module docstring)."""

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

        Safe to call after every built section: the folder is replaced all at once
        (:func:`hf_reft.hub.atomic_save`), tool files the index no longer lists go with the old
        version, and other files in the folder (the build log) stay. ``repo_id`` is the Hub id shown
        in the card's usage snippet.
        """
        target = Path(save_directory)
        index = self.to_dict()
        with hub.atomic_save(target, keep=lambda path: path.parts[0] != TOOLS_DIR) as tmp:
            for tool in self.tools:
                path = tmp / self.tool_path(tool)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(tool.code.rstrip() + "\n", encoding="utf-8")
            self.card(repo_id=repo_id).save(tmp / "README.md")
            (tmp / INDEX_FILE).write_text(
                json.dumps(index, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
            )
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
            counts={
                "chapters": len(self.chapters),
                "sections": len(self.sections),
                "sections_with_tools": sum(bool(s.tools) for s in self.sections),
                "tools": len(self),
            },
            stats=stats,
            chapters=[
                {
                    "number": ch.number,
                    "title": ch.title,
                    "sections": len(ch.sections),
                    "sections_with_tools": sum(bool(s.tools) for s in ch.sections),
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
    ) -> Self:
        """Load a toolbox from a local folder or a Hub repo, without running any of its code.

        Args:
            name_or_path: a folder written by :meth:`save_pretrained`, or a Hub id.
            revision: branch, tag or commit of a Hub repo.
            trust_remote_code: allow the tools of a Hub toolbox to be run later (in the
                sandbox). A local folder is trusted, unless it is a snapshot in a Hugging Face
                cache: trust follows where the files came from, not how the path is spelled.
        """
        local = Path(name_or_path).expanduser().is_dir() and not hub.is_hub_cache_folder(name_or_path)
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
    def _read(cls, folder: Path) -> Self:
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
        for i, ch in enumerate(index.get("chapters", [])):
            where = f"{index_path}: chapters[{i}]"
            try:
                chapter = ToolboxChapter(int(ch["number"]), str(ch["title"]))
                for j, s in enumerate(ch.get("sections", [])):
                    where = f"{index_path}: chapters[{i}].sections[{j}]"
                    tools = [_read_tool(folder, entry) for entry in s.get("tools", [])]
                    stats = BuildStats(**s.get("stats", {}))
                    chapter.sections.append(
                        ToolboxSection(
                            str(s["id"]), str(s["number"]), str(s["title"]), tools, stats, s.get("digest")
                        )
                    )
            except KeyError as err:
                raise ToolboxFormatError(
                    f"{where} lacks the field {err}; restore {INDEX_FILE} from the repo."
                ) from err
            except (TypeError, ValueError, AttributeError) as err:
                if isinstance(err, ToolboxFormatError):
                    raise
                raise ToolboxFormatError(
                    f"{where} has a malformed field ({err}); restore {INDEX_FILE} from the repo."
                ) from err
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


def _slug(text: str, limit: int = 48) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:limit].rstrip("-") or "untitled"


def _version() -> str:
    from ... import __version__

    return __version__
