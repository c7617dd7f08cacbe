"""Where training and evaluation data come from: :func:`load_data` reads any of

* a **named set** (:data:`NAMED_DATASETS`: ``svamp-nl``, ``svamp-test``, ``gsm8k-test`` …) from the
  shared data folder — ``--data-dir``, else ``$HF_REFT_DATA_DIR``, else ``../shared/data`` when it
  exists (the layout of an hf-reft checkout); each names its public source, so a missing folder
  says where to get it;
* a **local file** ``datasets`` reads (``.json``, ``.jsonl``, ``.csv``, ``.parquet``, ``.arrow``) or a
  folder (one written by ``Dataset.save_to_disk``, or data files ``load_dataset`` understands);
* a **Hub dataset** id (``openai/gsm8k``) with an optional config (``main``) and split.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "NAMED_DATASETS",
    "DataSource",
    "DatasetSpec",
    "default_data_dir",
    "load_data",
    "load_named_dataset",
    "looks_like_hub_dataset",
    "resolve_data_file",
]


@dataclass(frozen=True)
class DatasetSpec:
    """Where a named set lives and which columns hold the question, target and gold answer."""

    path: str
    question: str
    answer: str
    benchmark: str
    target: str | None = None
    description: str = ""
    source: str = ""  # where the public file comes from (shown when the shared folder lacks it)


_MWP_REFT = "the ReFT paper's data, https://github.com/lqtrung1998/mwp_ReFT (folder data/)"
_LLM_ADAPTERS = "LLM-Adapters, https://github.com/AGI-Edgerunners/LLM-Adapters (folder dataset/)"

NAMED_DATASETS: dict[str, DatasetSpec] = {
    "svamp-nl": DatasetSpec(
        "mwp-reft/svamp_nl.json",
        "question",
        "answer_value",
        "svamp",
        "answer_cot",
        "SVAMP training questions with natural-language chains of thought",
        _MWP_REFT,
    ),
    "svamp-program": DatasetSpec(
        "mwp-reft/svamp_python_sdp.json",
        "question",
        "answer_value",
        "svamp",
        "answer_cot",
        "SVAMP training questions with Python-program chains of thought",
        _MWP_REFT,
    ),
    "svamp-test": DatasetSpec(
        "mwp-reft/svamp_test_set.json",
        "question",
        "answer_value",
        "svamp",
        description="SVAMP test set (1,000)",
        source=_MWP_REFT,
    ),
    "gsm8k-test": DatasetSpec(
        "mwp-reft/gsm8k_test_set.json",
        "question",
        "answer_value",
        "gsm8k",
        description="GSM8K test set (1,319)",
        source=_MWP_REFT,
    ),
    "gsm8k-train": DatasetSpec(
        "gsm8k/train.jsonl",
        "question",
        "answer",
        "gsm8k",
        "answer",
        "GSM8K training set with worked answers ending in '#### N'",
        "the Hub dataset openai/gsm8k (config main, split train): --data openai/gsm8k --data-config main",
    ),
    "math10k": DatasetSpec(
        "llm-adapters/math_data.json",
        "instruction",
        "answer",
        "svamp",
        "output",
        "LLM-Adapters arithmetic training data (overlaps SVAMP/GSM8K test sets!)",
        _LLM_ADAPTERS,
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
        _LLM_ADAPTERS,
    )


def default_data_dir() -> Path | None:
    """``$HF_REFT_DATA_DIR``, else ``../shared/data`` (from the working directory) if it exists."""
    if env := os.environ.get("HF_REFT_DATA_DIR"):
        return Path(env)
    candidate = Path("..") / "shared" / "data"
    return candidate.resolve() if candidate.is_dir() else None


@dataclass(frozen=True)
class DataSource:
    """A data source with the Hub dataset's ``config`` and ``split`` (``--data``, ``--data-config``,
    ``--data-split``); wherever a data name or path is accepted, so is one of these."""

    source: str
    config: str | None = None
    split: str | None = None

    def __str__(self) -> str:
        extra = ", ".join(f"{k}={v}" for k, v in (("config", self.config), ("split", self.split)) if v)
        return f"{self.source} ({extra})" if extra else self.source


#: ``datasets`` builders for local files, by suffix.
FILE_BUILDERS = {".json": "json", ".jsonl": "json", ".csv": "csv", ".parquet": "parquet", ".arrow": "arrow"}


def resolve_data_file(
    name_or_path: str, data_dir: str | os.PathLike[str] | None = None
) -> tuple[Path, DatasetSpec | None]:
    """A named set (see :data:`NAMED_DATASETS`) or a local file or folder → ``(path, spec or None)``.

    Raises ``FileNotFoundError`` naming the fix: where a named set comes from, or that the name is
    neither (a Hub id is not resolved here: :func:`load_data` loads it).
    """
    spec = NAMED_DATASETS.get(name_or_path)
    if spec is None:
        path = Path(name_or_path).expanduser()
        if not path.exists():
            raise FileNotFoundError(
                f"{name_or_path!r} is neither a local file or folder nor a named data set (a Hub dataset is "
                f"namespace/name, e.g. openai/gsm8k). Named sets: {', '.join(sorted(NAMED_DATASETS))}."
            )
        return path, None
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    origin = f" It comes from {spec.source}." if spec.source else ""
    if root is None:
        raise FileNotFoundError(
            f"Named data set {name_or_path!r} lives in the shared data folder as {spec.path}, and no folder was "
            f"given: pass --data-dir (or set HF_REFT_DATA_DIR) to the folder holding it.{origin}"
        )
    path = root / spec.path
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} does not exist: is {root} the shared data folder (--data-dir)?{origin} Put the file there "
            "as that path, or pass the file itself with --data."
        )
    return path, spec


def looks_like_hub_dataset(name: str) -> bool:
    """Whether :func:`load_data` fetches ``name`` from the Hub: ``namespace/name`` that is neither a
    named set nor a local path, and not a data file name. A bare name is never taken for a Hub id:
    a mistyped named set should fail here, not on the network."""
    from ..hub import looks_like_repo_id

    if name in NAMED_DATASETS or Path(name).expanduser().exists():
        return False
    return "/" in name and Path(name).suffix.lower() not in FILE_BUILDERS and looks_like_repo_id(name)


def source_name(source: Any) -> str:
    """How messages name a data source: its name, id or path, or ``"custom data"`` for rows in memory."""
    return str(source) if isinstance(source, str | os.PathLike | DataSource) else "custom data"


def check_columns(dataset: Any, columns: dict[str, str], source: Any) -> None:
    """Raise ``ValueError`` for the first of ``columns`` (column → the flag or argument that names it)
    missing from ``dataset``, naming the columns it has and the fix."""
    for column, flag in columns.items():
        if column not in dataset.column_names:
            raise ValueError(
                f"{source_name(source)} has no column {column!r} (it has {', '.join(dataset.column_names)}); "
                f"name the right one with {flag}."
            )


def load_data(
    source: str | os.PathLike[str] | DataSource | Any,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    config: str | None = None,
    split: str | None = None,
    limit: int | None = None,
    default_split: str = "train",
) -> tuple[Any, DatasetSpec | None]:
    """Load ``source`` as a :class:`datasets.Dataset`: a named set, a local file or folder, or a Hub
    dataset id (see the module docstring). Returns it with its :class:`DatasetSpec` (named sets only).

    Args:
        source: what to load; a :class:`datasets.Dataset` or a list of row dicts is taken as it is
            (with ``limit`` applied), so that every loader takes data in memory the same way.
        data_dir: the shared data folder, for named sets.
        config: the Hub dataset's configuration (e.g. ``"main"`` for ``openai/gsm8k``).
        split: the split of a Hub dataset, a folder or a saved ``DatasetDict``; default
            ``default_split`` (``"train"``; evaluation passes ``"test"``).
        limit: keep the first ``limit`` rows.
    """
    from datasets import DatasetDict, load_dataset, load_from_disk

    if limit is not None and limit <= 0:
        raise ValueError(f"limit must be positive, got {limit}.")
    if not isinstance(source, str | os.PathLike | DataSource):  # rows in memory
        from datasets import Dataset

        dataset = source if hasattr(source, "column_names") else Dataset.from_list(list(source))
        return (dataset.select(range(min(limit, len(dataset)))) if limit is not None else dataset), None
    if isinstance(source, DataSource):
        source, config, split = source.source, config or source.config, split or source.split
    name = str(source)
    if not looks_like_hub_dataset(name):
        path, spec = resolve_data_file(name, data_dir)
        if path.is_dir():
            if (path / "state.json").is_file() or (path / "dataset_dict.json").is_file():
                dataset = load_from_disk(str(path))
                if isinstance(dataset, DatasetDict):
                    dataset = _pick_split(dataset, split or default_split, name)
            else:
                dataset = load_dataset(str(path), name=config, split=split or default_split)
        else:
            builder = FILE_BUILDERS.get(path.suffix.lower())
            if builder is None:
                raise ValueError(
                    f"Cannot read {path.name}: datasets reads {', '.join(sorted(FILE_BUILDERS))} files here. "
                    "Convert it, or pass a folder or a Hub dataset id."
                )
            dataset = load_dataset(builder, data_files=str(path), split="train")
    else:
        dataset, spec = _load_hub_dataset(name, config, split or default_split), None
    if limit is not None:
        dataset = dataset.select(range(min(limit, len(dataset))))
    return dataset, spec


def _pick_split(dataset: Any, split: str, name: str) -> Any:
    if split not in dataset:
        raise ValueError(f"{name} has splits {sorted(dataset)}, not {split!r}: pass --data-split.")
    return dataset[split]


def _load_hub_dataset(repo_id: str, config: str | None, split: str) -> Any:
    from datasets import load_dataset
    from huggingface_hub.errors import OfflineModeIsEnabled

    try:
        return load_dataset(repo_id, name=config, split=split)
    except OfflineModeIsEnabled as err:
        raise FileNotFoundError(
            f"{repo_id!r} is not a named set or a local file, and loading it from the Hub needs the network "
            f"(HF_HUB_OFFLINE is set). Named sets: {', '.join(sorted(NAMED_DATASETS))}."
        ) from err
    except ValueError as err:
        if "config" in str(err).lower() or "split" in str(err).lower():
            raise ValueError(f"Hub dataset {repo_id!r}: {err} Pass --data-config / --data-split.") from err
        raise


def load_named_dataset(
    name_or_path: str, data_dir: str | os.PathLike[str] | None = None, *, limit: int | None = None
) -> tuple[Any, DatasetSpec | None]:
    """Deprecated: :func:`load_data` (which also reads Hub datasets and csv/parquet/arrow files)."""
    import warnings

    warnings.warn(
        "hf_reft.data.load_named_dataset is now hf_reft.data.load_data (this alias goes away in hf-reft 0.3).",
        DeprecationWarning,
        stacklevel=2,
    )
    return load_data(name_or_path, data_dir, limit=limit)
