"""Named data sets of the shared data folder, loaded with ``datasets.load_dataset("json")``.

The folder is ``--data-dir``, else ``$HF_REFT_DATA_DIR``, else ``../shared/data`` when it
exists (the layout of an hf-reft checkout). Any other JSON/JSONL file works by path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["NAMED_DATASETS", "DatasetSpec", "default_data_dir", "load_named_dataset", "resolve_data_file"]


@dataclass(frozen=True)
class DatasetSpec:
    """Where a named set lives and which columns hold the question, target and gold answer."""

    path: str
    question: str
    answer: str
    benchmark: str
    target: str | None = None
    description: str = ""


NAMED_DATASETS: dict[str, DatasetSpec] = {
    "svamp-nl": DatasetSpec(
        "mwp-reft/svamp_nl.json",
        "question",
        "answer_value",
        "svamp",
        "answer_cot",
        "SVAMP training questions with natural-language chains of thought",
    ),
    "svamp-program": DatasetSpec(
        "mwp-reft/svamp_python_sdp.json",
        "question",
        "answer_value",
        "svamp",
        "answer_cot",
        "SVAMP training questions with Python-program chains of thought",
    ),
    "svamp-test": DatasetSpec(
        "mwp-reft/svamp_test_set.json",
        "question",
        "answer_value",
        "svamp",
        description="SVAMP test set (1,000)",
    ),
    "gsm8k-test": DatasetSpec(
        "mwp-reft/gsm8k_test_set.json",
        "question",
        "answer_value",
        "gsm8k",
        description="GSM8K test set (1,319)",
    ),
    "gsm8k-train": DatasetSpec(
        "gsm8k/train.jsonl",
        "question",
        "answer",
        "gsm8k",
        "answer",
        "GSM8K training set with worked answers ending in '#### N'",
    ),
    "math10k": DatasetSpec(
        "llm-adapters/math_data.json",
        "instruction",
        "answer",
        "svamp",
        "output",
        "LLM-Adapters arithmetic training data (overlaps SVAMP/GSM8K test sets!)",
    ),
}
for _name, _folder in [
    ("addsub", "AddSub"),
    ("aqua", "AQuA"),
    ("gsm8k", "gsm8k"),
    ("mawps", "mawps"),
    ("multiarith", "MultiArith"),
    ("singleeq", "SingleEq"),
    ("svamp", "SVAMP"),
    ("mathqa", "mathqa"),
    ("boolq", "boolq"),
    ("piqa", "piqa"),
    ("social_i_qa", "social_i_qa"),
    ("arc_challenge", "ARC-Challenge"),
    ("arc_easy", "ARC-Easy"),
    ("openbookqa", "openbookqa"),
    ("winogrande", "winogrande"),
]:
    NAMED_DATASETS[f"llm-adapters/{_name}"] = DatasetSpec(
        f"llm-adapters/{_folder}/test.json",
        "instruction",
        "answer",
        _name,
        "output",
        f"LLM-Adapters {_folder} test set",
    )


def default_data_dir() -> Path | None:
    """``$HF_REFT_DATA_DIR``, else ``../shared/data`` (from the working directory) if it exists."""
    if env := os.environ.get("HF_REFT_DATA_DIR"):
        return Path(env)
    candidate = Path("..") / "shared" / "data"
    return candidate.resolve() if candidate.is_dir() else None


def resolve_data_file(
    name_or_path: str, data_dir: str | os.PathLike[str] | None = None
) -> tuple[Path, DatasetSpec | None]:
    """A named set (see :data:`NAMED_DATASETS`) or a JSON/JSONL path → ``(file, spec or None)``."""
    spec = NAMED_DATASETS.get(name_or_path)
    if spec is None:
        path = Path(name_or_path).expanduser()
        if not path.is_file():
            raise FileNotFoundError(
                f"{name_or_path!r} is neither a file nor a named data set. "
                f"Named sets: {', '.join(sorted(NAMED_DATASETS))}."
            )
        return path, None
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    if root is None:
        raise FileNotFoundError(
            f"Named data set {name_or_path!r} needs the shared data folder: pass --data-dir "
            "(or set HF_REFT_DATA_DIR) to the folder holding mwp-reft/, gsm8k/, llm-adapters/."
        )
    path = root / spec.path
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: is {root} the shared data folder (--data-dir)?")
    return path, spec


def load_named_dataset(
    name_or_path: str, data_dir: str | os.PathLike[str] | None = None, *, limit: int | None = None
) -> tuple[Any, DatasetSpec | None]:
    """Load a named set or a JSON/JSONL file as a :class:`datasets.Dataset`; optionally its first ``limit`` rows."""
    from datasets import load_dataset

    path, spec = resolve_data_file(name_or_path, data_dir)
    dataset = load_dataset("json", data_files=str(path), split="train")
    if limit is not None:
        if limit <= 0:
            raise ValueError(f"limit must be positive, got {limit}.")
        dataset = dataset.select(range(min(limit, len(dataset))))
    return dataset, spec
