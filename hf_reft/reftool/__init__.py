"""RefTool (Liu et al. 2025): reference books, chat backends and toolboxes.

* :mod:`~hf_reft.reftool.books` — :class:`Reference` (OpenStax or Markdown book) →
  :class:`Chapter` → :class:`Section` (text blocks and :class:`WorkedExample` s), split into
  :class:`SectionPart` s under a budget.
* :mod:`~hf_reft.reftool.chat` — :class:`ChatBackend` and :func:`get_chat_backend`.
* :mod:`~hf_reft.reftool.toolbox` — :class:`Toolbox` → chapters → sections → :class:`Tool`,
  ``save_pretrained`` / ``from_pretrained`` / ``push_to_hub``.
* :mod:`~hf_reft.reftool.solver` — :class:`RefToolSolver` (hierarchical selection, streamed
  :class:`SolverStep` s, a :class:`SolveTrace`); :mod:`~hf_reft.reftool.baselines` — chain and
  program of thought; :mod:`~hf_reft.reftool.scripted` — :class:`ScriptedChatBackend`.
* :mod:`~hf_reft.reftool.creation` — :class:`ToolCreator` (tools per section, validated on the
  book's answers, one repair); :mod:`~hf_reft.reftool.building` — :func:`build_toolbox`
  (whole book, resumable); :mod:`~hf_reft.reftool.evaluation` — SciBench chemistry.
"""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .baselines import ChainOfThoughtSolver, ProgramOfThoughtSolver
    from .books import (
        NAMED_REFERENCES,
        Chapter,
        Reference,
        ReferenceFormatError,
        Section,
        SectionPart,
        WorkedExample,
    )
    from .building import BuildReport, build_toolbox
    from .chat import (
        ChatBackend,
        ChatBackendError,
        InferenceClientBackend,
        LlamaCppChatBackend,
        TransformersChatBackend,
        get_chat_backend,
    )
    from .creation import SectionBuild, ToolCreator
    from .scripted import RecordingChatBackend, ScriptedChatBackend
    from .solver import BaseSolver, RefToolSolver, SolverStep, SolveTrace
    from .toolbox import (
        BuildStats,
        Tool,
        Toolbox,
        ToolboxChapter,
        ToolboxFormatError,
        ToolboxSection,
        UntrustedToolboxError,
        ValidationExample,
        ValidationRecord,
    )

__all__ = [
    "NAMED_REFERENCES",
    "BaseSolver",
    "BuildReport",
    "BuildStats",
    "ChainOfThoughtSolver",
    "Chapter",
    "ChatBackend",
    "ChatBackendError",
    "InferenceClientBackend",
    "LlamaCppChatBackend",
    "ProgramOfThoughtSolver",
    "RecordingChatBackend",
    "RefToolSolver",
    "Reference",
    "ReferenceFormatError",
    "ScriptedChatBackend",
    "Section",
    "SectionBuild",
    "SectionPart",
    "SolveTrace",
    "SolverStep",
    "Tool",
    "ToolCreator",
    "Toolbox",
    "ToolboxChapter",
    "ToolboxFormatError",
    "ToolboxSection",
    "TransformersChatBackend",
    "UntrustedToolboxError",
    "ValidationExample",
    "ValidationRecord",
    "WorkedExample",
    "build_toolbox",
    "get_chat_backend",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__)
