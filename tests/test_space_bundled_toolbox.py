"""The toolbox that ships with the Space is the project's own finished build of Chemistry 2e.

It must cover every section of the book, each built from the book's current text (same digest),
by the offline default model with the build's default settings, and carry the CC BY attribution —
so that the demo on a fresh machine shows what `hf-reft reftool build chemistry-2e` makes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hf_reft.models import DEFAULT_REFTOOL_MODEL
from hf_reft.reftool.books import Reference
from hf_reft.reftool.creation import ToolCreator
from hf_reft.reftool.scripted import ScriptedChatBackend
from hf_reft.reftool.toolbox import Toolbox

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "spaces" / "reftool-chemistry" / "toolbox"
DATA_DIR = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="module")
def toolbox() -> Toolbox:
    return Toolbox.from_pretrained(BUNDLED)


@pytest.mark.skipif(not (DATA_DIR / "openstax-chemistry-2e").is_dir(), reason="needs ../shared/data")
def test_bundled_toolbox_is_the_whole_book_built_from_its_current_text(toolbox: Toolbox) -> None:
    book = Reference.load("chemistry-2e", data_dir=DATA_DIR)
    built = {s.id: s.digest for s in toolbox.sections}
    missing = [s.label for s in book.sections if s.id not in built]
    assert not missing, f"the bundled build lacks {len(missing)} sections, e.g. {missing[:3]}"
    stale = [s.label for s in book.sections if built[s.id] != s.digest]
    assert not stale, f"sections built from another text of the book: {stale[:3]}"
    assert len(toolbox.sections) == len(book.sections)


def test_bundled_toolbox_records_the_default_model_settings_and_attribution(toolbox: Toolbox) -> None:
    assert toolbox.model == DEFAULT_REFTOOL_MODEL.name  # built by RefTool's offline default
    assert toolbox.settings == ToolCreator(ScriptedChatBackend([])).settings  # with the build's defaults
    card = (BUNDLED / "README.md").read_text(encoding="utf-8")
    assert "CC BY 4.0" in card and "OpenStax Chemistry 2e" in card
    stats = toolbox.stats
    assert f"| tools proposed | {stats.proposed} |" in card  # the card's counts are the toolbox's
    assert stats.proposed == stats.first_pass + stats.repaired + stats.dropped
    log = [
        json.loads(line) for line in (BUNDLED / "build-log.jsonl").read_text().splitlines() if line.strip()
    ]
    logged = {row["id"] for row in log if "stats" in row}
    assert {s.id for s in toolbox.sections} <= logged  # every section's build is in the log
