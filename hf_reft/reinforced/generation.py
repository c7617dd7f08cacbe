"""Deprecated alias of :mod:`hf_reft.generation` (batched generation moved to the shared floor)."""

import warnings

from ..generation import Completion, Generator, SamplingParams, TransformersGenerator

__all__ = ["Completion", "Generator", "SamplingParams", "TransformersGenerator"]

warnings.warn(
    "hf_reft.reinforced.generation moved to hf_reft.generation; import from there "
    "(this alias goes away in hf-reft 0.3).",
    DeprecationWarning,
    stacklevel=2,
)
