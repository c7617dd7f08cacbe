"""The README and docs name only paths that exist: every `path/to/file` in backticks that points into
the repository (package, examples, benchmarks, tests, Space, docs, cards) is there."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
#: A path from the repository root, or one inside the package named from its sub-package.
REPOSITORY_PATH = re.compile(r"`((?:hf_reft|examples|benchmarks|tests|spaces|docs|model_cards)/[\w./-]+)")
PACKAGE_PATH = re.compile(
    r"`((?:reftool|representation|reinforced|space|sandbox|answers|data|metrics)/[\w./-]+)"
)


def _named_paths(text: str) -> set[str]:
    found = {m.group(1) for m in REPOSITORY_PATH.finditer(text)}
    found |= {f"hf_reft/{m.group(1)}" for m in PACKAGE_PATH.finditer(text)}
    return {path.rstrip(".") for path in found}


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_every_path_a_document_names_exists(document):
    missing = sorted(p for p in _named_paths(document.read_text(encoding="utf-8")) if not (ROOT / p).exists())
    assert not missing, f"{document.name} names paths that do not exist: {missing}"


def test_the_check_sees_paths():
    assert _named_paths("see `hf_reft/models.py` and `reftool/solver.py`.") == {
        "hf_reft/models.py",
        "hf_reft/reftool/solver.py",
    }
