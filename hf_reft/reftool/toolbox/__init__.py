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

The package: :mod:`~hf_reft.reftool.toolbox.tools` (what a toolbox holds),
:mod:`~hf_reft.reftool.toolbox.toolbox` (the :class:`Toolbox`) and
:mod:`~hf_reft.reftool.toolbox.serialization` (files, card, Hub).
"""

from .serialization import FORMAT_VERSION, INDEX_FILE
from .toolbox import Toolbox
from .tools import (
    BuildStats,
    Tool,
    ToolboxChapter,
    ToolboxFormatError,
    ToolboxSection,
    UntrustedToolboxError,
    ValidationExample,
    ValidationRecord,
    check_tool_code,
)

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
