"""RefTool end to end with the real offline model: build two sections of Chemistry 2e, solve three
SciBench problems with RefTool, PoT and CoT. Short replies keep it to about a minute on 2 cores.

The offline model is tiny and rarely writes a tool that passes; what must hold is the pipeline:
counts that add up, a toolbox that saves and reloads, every solve a complete trace that ends in an
answer or a readable error, and programs that really ran in the sandbox.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hf_reft.answers import is_correct
from hf_reft.reftool.baselines import ChainOfThoughtSolver, ProgramOfThoughtSolver
from hf_reft.reftool.books import Reference
from hf_reft.reftool.building import LOG_FILE, build_toolbox, select_sections
from hf_reft.reftool.chat import TransformersChatBackend
from hf_reft.reftool.creation import ToolCreator
from hf_reft.reftool.evaluation import load_scibench
from hf_reft.reftool.solver import RefToolSolver
from hf_reft.reftool.toolbox import Toolbox

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"
KINDS = {"chapters", "tools", "program", "output", "answer", "fallback", "error", "reasoning"}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (DATA_DIR / "scibench-chemistry").is_dir(), reason="needs ../shared/data"),
]


def test_build_two_sections_and_solve_three_problems(tmp_path):
    backend = TransformersChatBackend()
    reference = Reference.load("chemistry-2e", data_dir=DATA_DIR)
    sections = select_sections(reference, sections=["1.4", "9.2"])  # both have worked examples with answers
    # creation replies only, to bound the time of the 135M model; the default model's slow test covers
    # transcription (on by default) with a model that can transcribe
    creator = ToolCreator(
        backend, max_tools=2, budget=1500, max_new_tokens=160, candidates=1, transcribe=False
    )
    report = build_toolbox(
        reference, backend, tmp_path / "toolbox", creator=creator, sections=sections, progress=False
    )
    assert report.built == 2 and not report.failed and len(report.model_sections) == 2

    toolbox = Toolbox.from_pretrained(tmp_path / "toolbox")
    assert [s.number for s in toolbox.sections] == ["1.4", "9.2"]
    assert toolbox.model == backend.name
    for section in toolbox.sections:
        s = section.stats
        assert s.proposed == s.first_pass + s.repaired + s.dropped == len(section.tools) + s.dropped
        assert s.proposed <= 2
        for tool in section.tools:  # whatever was kept reproduced the book's answer
            assert tool.record.passed and tool.validation.expected_answer
    log = [json.loads(line) for line in (tmp_path / "toolbox" / LOG_FILE).read_text().splitlines()]
    assert [r["section"].split()[0] for r in log] == ["1.4", "9.2"]
    assert all(r["log"][0]["event"] == "create" and r["log"][0]["reply"].strip() for r in log)

    problems = load_scibench(["atkins", "chemmc"], data_dir=DATA_DIR, limit=3, seed=0)
    common = {"program_tokens": 120}
    solvers = [
        RefToolSolver(toolbox, backend, choice_tokens=12, **common),
        ProgramOfThoughtSolver(backend, **common),
        ChainOfThoughtSolver(backend, **common),
    ]
    for problem in problems:
        for solver in solvers:
            steps = list(solver.stream(problem.text))
            assert {s.kind for s in steps} <= KINDS
            assert steps[-1].kind in ("answer", "error") and all(
                s.kind not in ("answer", "error") for s in steps[:-1]
            )
            trace = steps[-1].data["trace"]
            json.dumps(trace)
            assert trace["method"] == solver.method and len(trace["steps"]) == len(steps)
            if solver.method == "reftool" and not toolbox.tools:
                assert trace["fallback"] and steps[0].kind == "fallback"
            if solver.method != "cot":
                programs = [s for s in steps if s.kind == "program"]
                assert programs
                for k, step in enumerate(steps):  # every program written was run in the sandbox
                    if step.kind == "program" and step.data["program"]:
                        assert steps[k + 1].kind == "output" and steps[k + 1].data["status"]
            if steps[-1].kind == "answer":
                assert isinstance(steps[-1].data["value"], float)
                assert isinstance(is_correct(steps[-1].data["value"], problem.gold, "scibench"), bool)
            else:
                assert steps[-1].data["message"]
