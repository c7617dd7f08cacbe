"""RefTool (Liu et al. 2025): reference books, chat backends and toolboxes.

* :mod:`~hf_reft.reftool.reference` — :class:`Reference` (OpenStax or Markdown book) →
  :class:`Chapter` → :class:`Section` (text blocks and :class:`WorkedExample` s), split into
  :class:`SectionPart` s under a budget.
* :mod:`~hf_reft.reftool.chat` — :class:`ChatBackend` and :func:`get_chat_backend`.
* :mod:`~hf_reft.reftool.toolbox` — :class:`Toolbox` → chapters → sections → :class:`Tool`,
  ``save_pretrained`` / ``from_pretrained`` / ``push_to_hub``.
"""

from .chat import (
    ChatBackend,
    ChatBackendError,
    InferenceClientBackend,
    TransformersChatBackend,
    get_chat_backend,
)
from .reference import (
    NAMED_REFERENCES,
    Chapter,
    Reference,
    ReferenceFormatError,
    Section,
    SectionPart,
    WorkedExample,
)
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
    "BuildStats",
    "Chapter",
    "ChatBackend",
    "ChatBackendError",
    "InferenceClientBackend",
    "Reference",
    "ReferenceFormatError",
    "Section",
    "SectionPart",
    "Tool",
    "Toolbox",
    "ToolboxChapter",
    "ToolboxFormatError",
    "ToolboxSection",
    "TransformersChatBackend",
    "UntrustedToolboxError",
    "ValidationExample",
    "ValidationRecord",
    "WorkedExample",
    "get_chat_backend",
]
