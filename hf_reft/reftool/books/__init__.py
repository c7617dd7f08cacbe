"""Reference books: what RefTool turns into tools.

* :mod:`~hf_reft.reftool.books.structure` — :class:`Chapter` → :class:`Section` (text blocks and
  :class:`WorkedExample` s), split into :class:`SectionPart` s under a budget.
* :mod:`~hf_reft.reftool.books.reference` — :class:`Reference`, the whole book, and
  :data:`NAMED_REFERENCES`; read by
* :mod:`~hf_reft.reftool.books.openstax` (CollXML/CNXML, rendered by
  :mod:`~hf_reft.reftool.books.cnxml`) and :mod:`~hf_reft.reftool.books.markdown`;
* :mod:`~hf_reft.reftool.books.solutions` — :func:`stated_answer`, the result a worked solution states.
"""

from typing import TYPE_CHECKING

from ..._lazy import lazy_exports

if TYPE_CHECKING:
    from .openstax import EndOfChapterExercise, read_openstax_exercises
    from .reference import NAMED_REFERENCES, Reference
    from .solutions import stated_answer
    from .structure import Block, Chapter, ReferenceFormatError, Section, SectionPart, WorkedExample

__all__ = [
    "NAMED_REFERENCES",
    "Block",
    "Chapter",
    "EndOfChapterExercise",
    "Reference",
    "ReferenceFormatError",
    "Section",
    "SectionPart",
    "WorkedExample",
    "read_openstax_exercises",
    "stated_answer",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__)
