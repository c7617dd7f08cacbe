"""Deprecated alias of :mod:`hf_reft.reftool.books` (reference books moved into that sub-package)."""

import warnings

from .books import (
    NAMED_REFERENCES,
    Block,
    Chapter,
    Reference,
    ReferenceFormatError,
    Section,
    SectionPart,
    WorkedExample,
    stated_answer,
)

__all__ = [
    "NAMED_REFERENCES",
    "Block",
    "Chapter",
    "Reference",
    "ReferenceFormatError",
    "Section",
    "SectionPart",
    "WorkedExample",
    "stated_answer",
]

warnings.warn(
    "hf_reft.reftool.reference moved to hf_reft.reftool.books; import from there (or from hf_reft.reftool) "
    "(this alias goes away in hf-reft 0.3).",
    DeprecationWarning,
    stacklevel=2,
)
