"""Resumable results: append-only JSON Lines that an interrupted run picks up again.

Every long evaluation writes each finished record as it goes, so a crash or Ctrl-C loses at most
the record being written. Two layers:

* :func:`append_jsonl` / :func:`read_jsonl` — one ``write`` per batch of records (flushed to disk);
  reading skips a **torn last line** (what an interruption leaves) with a warning, while a broken
  line elsewhere is an error that names it.
* :class:`ResultsLog` — a JSONL file whose first line is a header naming what produced the records
  (``kind``, ``model``, ``data``, ``settings`` and their ``fingerprint``). Reopening it for another
  model, data set or settings raises :class:`ResultsMismatchError` naming the differences, instead
  of silently mixing results.

Standard library only.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["ResultsLog", "ResultsMismatchError", "append_jsonl", "read_jsonl"]

logger = logging.getLogger(__name__)


class ResultsMismatchError(ValueError):
    """A results file written by another model, data set or settings than the run reopening it."""


def read_jsonl(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The records of a JSON Lines file (none if it does not exist); blank lines are skipped.

    A last line that does not parse is what an interrupted write leaves: it is dropped with a
    warning (the run that appends next repeats that record). Any other broken line raises
    ``ValueError`` with its line number.
    """
    path = Path(path)
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    last = max((i for i, line in enumerate(lines) if line.strip()), default=-1)
    records = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            if i == last:
                logger.warning("%s: dropping its torn last line (an interrupted write).", path)
                break
            raise ValueError(
                f"{path}, line {i + 1}, is not JSON ({err}); repair or delete the file."
            ) from err
        if not isinstance(record, dict):
            raise ValueError(f"{path}, line {i + 1}, is not a JSON object; repair or delete the file.")
        records.append(record)
    return records


def append_jsonl(path: str | os.PathLike[str], records: Iterable[Mapping[str, Any]]) -> None:
    """Append ``records`` to ``path`` (created with its folder) in one write, flushed to disk.

    A torn last line left by an earlier interruption is cut off first, so the file stays readable.
    """
    path = Path(path)
    text = "".join(json.dumps(dict(r), ensure_ascii=False) + "\n" for r in records)
    if not text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as handle:
        size = handle.seek(0, os.SEEK_END)
        if size:
            handle.seek(size - 1)
            if handle.read(1) != b"\n":  # an interrupted write: drop the partial line
                handle.seek(0)
                keep = handle.read().rfind(b"\n") + 1
                handle.truncate(keep)
                handle.seek(keep)
        handle.write(text.encode("utf-8"))
        handle.flush()
        os.fsync(handle.fileno())


def _fingerprint(header: Mapping[str, Any]) -> str:
    canonical = json.dumps(header, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


class ResultsLog:
    """Append-only records under a header naming what produced them (see the module docstring).

    Args:
        path: the JSONL file; ``None`` keeps records in memory only.
        kind: what the records are, e.g. ``"reinforced-evaluation"``.
        model: the model (or models) that produced them.
        data: the data set they are about.
        settings: everything else that changes a record (JSON-serialisable).

    Attributes:
        records: the records read back, then those appended, in order.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None,
        *,
        kind: str,
        model: Any = None,
        data: Any = None,
        settings: Mapping[str, Any] | None = None,
    ) -> None:
        self.path = None if path is None else Path(path)
        body = {"kind": kind, "model": model, "data": data, "settings": dict(settings or {})}
        self.header = {"results_log": 1, **body, "fingerprint": _fingerprint(body)}
        self.records: list[dict[str, Any]] = []
        if self.path is None:
            return
        stored = read_jsonl(self.path)
        if not stored:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text("", encoding="utf-8")
            append_jsonl(self.path, [self.header])
            return
        found = stored[0]
        if found.get("results_log") != 1:
            raise ResultsMismatchError(
                f"{self.path} holds results without a header (written by an older hf-reft, or not by hf-reft); "
                "delete it or choose another output to start afresh."
            )
        if found.get("fingerprint") != self.header["fingerprint"]:
            changed = [k for k in ("kind", "model", "data", "settings") if found.get(k) != self.header[k]]
            details = "; ".join(f"{k}: {found.get(k)!r} there, {self.header[k]!r} now" for k in changed)
            raise ResultsMismatchError(
                f"{self.path} was written by another run ({details}). Resuming would mix their results: delete "
                "it or choose another output."
            )
        self.records = stored[1:]

    def append(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Keep ``records`` and write them (one write) after those already in the file."""
        new = [dict(r) for r in records]
        self.records.extend(new)
        if self.path is not None:
            append_jsonl(self.path, new)

    def __len__(self) -> int:
        return len(self.records)
