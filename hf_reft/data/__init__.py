"""Data shared by the training wings: tokenization with prompt masking, the collator,
named data sets under ``../shared/data``, the train/test leak check, and held-out validation
questions."""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .collator import SupervisedCollator
    from .leakage import DataLeakError, check_no_overlap, normalize_question
    from .sources import (
        NAMED_DATASETS,
        DatasetSpec,
        DataSource,
        check_columns,
        default_data_dir,
        load_data,
        load_named_dataset,
        source_name,
    )
    from .splits import hold_out_questions
    from .tokenization import IGNORE_INDEX, format_prompt, prepare_supervised_dataset, tokenize_example

__all__ = [
    "IGNORE_INDEX",
    "NAMED_DATASETS",
    "DataLeakError",
    "DataSource",
    "DatasetSpec",
    "SupervisedCollator",
    "check_columns",
    "check_no_overlap",
    "default_data_dir",
    "format_prompt",
    "hold_out_questions",
    "load_data",
    "load_named_dataset",
    "normalize_question",
    "prepare_supervised_dataset",
    "source_name",
    "tokenize_example",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__)
