"""SciBench evaluation and the ``hf-reft reftool build|solve|evaluate`` commands (scripted replies)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from hf_reft.cli import main
from hf_reft.reftool.baselines import ChainOfThoughtSolver, ProgramOfThoughtSolver
from hf_reft.reftool.evaluation import evaluate_scibench, format_table, load_scibench
from hf_reft.reftool.scripted import ScriptedChatBackend
from hf_reft.reftool.toolbox import Tool, Toolbox, ToolboxSection, ValidationRecord
from hf_reft.results import read_jsonl

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"
pytestmark = pytest.mark.skipif(not (DATA_DIR / "scibench-chemistry").is_dir(), reason="needs ../shared/data")


def test_load_scibench_units_and_fixed_sample():
    problems = load_scibench(["atkins", "chemmc"], data_dir=DATA_DIR)
    assert len(problems) == 143 and len({p.id for p in problems}) == 143
    work_function = next(p for p in problems if "threshold wavelength for potassium" in p.text)
    # SciBench: the unit is given without its power of ten, the gold is scaled by it
    assert (
        work_function.text.endswith("The unit of the answer is J.")
        and work_function.unit.strip() == "$10^{-19} \\mathrm{~J}$"
    )
    sample = load_scibench(["atkins", "chemmc"], data_dir=DATA_DIR, limit=10, seed=0)
    assert sample == load_scibench(["atkins", "chemmc"], data_dir=DATA_DIR, limit=10, seed=0)
    assert sample != load_scibench(["atkins", "chemmc"], data_dir=DATA_DIR, limit=10, seed=1)
    with pytest.raises(FileNotFoundError, match="available"):
        load_scibench(["physics"], data_dir=DATA_DIR)
    with pytest.raises(FileNotFoundError, match="--data-dir"):
        load_scibench(data_dir="/nonexistent")


def _answer_right(messages):
    """A 'model' that solves the work-function problem (in J, as SciBench scores it) and nothing else."""
    prompt = messages[-1]["content"]
    if "potassium" in prompt:
        return "```python\nprint(6.626e-34 * 2.998e8 / 564e-9, 'J')\n```"
    return "```python\nprint(1.0)\n```"


def test_evaluate_scores_resumes_and_tabulates(tmp_path):
    problems = [
        p
        for p in load_scibench(["chemmc"], data_dir=DATA_DIR)
        if "potassium" in p.text or "de Broglie" in p.text
    ][:2]
    assert len(problems) == 2
    cot = ScriptedChatBackend(default="So the answer is 0.123 nm.")
    solvers = {
        "pot": ProgramOfThoughtSolver(ScriptedChatBackend(default=_answer_right)),
        "cot": ChainOfThoughtSolver(cot),
    }
    result = evaluate_scibench(solvers, problems, output=tmp_path, progress=False)
    pot, cot_result = result.methods["pot"], result.methods["cot"]
    assert (pot.n, pot.correct, pot.answered) == (2, 1, 2)
    assert (cot_result.n, cot_result.correct) == (2, 1)  # 0.123 nm is the de Broglie answer
    table = format_table(result)
    assert "| PoT | 2 | 1 | 50.0 [" in table and "| CoT | 2 | 1 |" in table
    rows = read_jsonl(tmp_path / "traces.jsonl")[1:]  # after the header
    assert len(rows) == 4 and {r["method"] for r in rows} == {"pot", "cot"}
    assert json.loads((tmp_path / "results.json").read_text())["methods"]["pot"]["correct"] == 1
    # resume: nothing is solved again
    silent = {
        "pot": ProgramOfThoughtSolver(ScriptedChatBackend([])),
        "cot": ChainOfThoughtSolver(ScriptedChatBackend([])),
    }
    again = evaluate_scibench(silent, problems, output=tmp_path, progress=False)
    assert again.methods["pot"].correct == 1 and again.methods["cot"].correct == 1


def test_concurrent_solves_score_each_pair_once_with_the_sequential_counts(tmp_path):
    problems = load_scibench(["chemmc"], data_dir=DATA_DIR)[:6]

    def solvers():
        return {
            "pot": ProgramOfThoughtSolver(ScriptedChatBackend(default=_answer_right)),
            "cot": ChainOfThoughtSolver(ScriptedChatBackend(default="So the answer is 0.123 nm.")),
        }

    def counts(result):
        return {m: (r.n, r.correct, r.answered) for m, r in result.methods.items()}

    sequential = evaluate_scibench(solvers(), problems, output=tmp_path / "one", progress=False)
    concurrent = evaluate_scibench(solvers(), problems, output=tmp_path / "three", progress=False, workers=3)
    assert counts(concurrent) == counts(sequential) and concurrent.methods["pot"].n == 6
    assert "Solves ran 3 at a time" in format_table(concurrent)
    assert "at a time" not in format_table(sequential)
    rows = read_jsonl(tmp_path / "three" / "traces.jsonl")[1:]  # after the header
    assert sorted((r["id"], r["method"]) for r in rows) == sorted(
        (p.id, m) for p in problems for m in ("pot", "cot")
    )
    with pytest.raises(ValueError, match="workers must be ≥ 1"):
        evaluate_scibench(solvers(), problems, progress=False, workers=0)


def _one_tool_toolbox(
    model: str, name: str, description: str, code: str, section: ToolboxSection, chapter: tuple[int, str]
) -> Toolbox:
    box = Toolbox({"title": "Test chemistry"}, model=model)
    tool = Tool(name, description, code, record=ValidationRecord(status="passed", attempts=1))
    box.add_section(section, [tool], chapter=chapter)
    return box


def test_reftool_minus_pot_is_paired_and_tool_use_among_right_answers_is_counted(tmp_path):
    """RefTool gets the work function right with a tool and a de Broglie problem right without calling
    one; PoT gets only the first: RefTool − PoT is +50 points on the shared pair, one of two right
    answers used a tool."""
    from hf_reft.reftool.solver import RefToolSolver

    problems = [
        p
        for p in load_scibench(["chemmc"], data_dir=DATA_DIR)
        if "potassium" in p.text or "de Broglie" in p.text
    ][:2]
    box = _one_tool_toolbox(
        "scripted",
        "photon_energy_J",
        "Energy (J) of a photon of wavelength (nm).",
        "def photon_energy_J(wavelength_nm):\n    return 6.626e-34 * 2.998e8 / (wavelength_nm * 1e-9)\n",
        ToolboxSection("m6", "6.1", "Light"),
        (6, "Electronic Structure"),
    )

    def program(messages):
        prompt = messages[-1]["content"]
        if "potassium" in prompt:
            return "```python\nprint(photon_energy_J(564), 'J')\n```"
        return "```python\nprint(0.123, 'nm')\n```"  # right without the tool

    backend = ScriptedChatBackend(
        rules=[("Choose the chapters", "6"), ("Choose the tools", "photon_energy_J")], default=program
    )
    solvers = {
        "reftool": RefToolSolver(box, backend),
        "pot": ProgramOfThoughtSolver(ScriptedChatBackend(default=_answer_right)),
    }
    result = evaluate_scibench(solvers, problems, output=tmp_path, progress=False)
    reftool = result.methods["reftool"]
    assert (reftool.correct, reftool.tools_used, reftool.right_with_tools) == (2, 1, 1)
    comparison = result.comparisons()["reftool-pot"]
    assert (comparison.n, comparison.wins, comparison.losses) == (2, 1, 0)
    assert comparison.difference.estimate == pytest.approx(0.5)
    table = format_table(result)
    assert "RefTool − PoT: +50.0 points, paired bootstrap 95 % [" in table
    assert "used a chosen tool on 1 of its 2 right answers" in table
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["paired"]["reftool-pot"]["wins"] == 1
    # each method's per-problem outcomes, so that runs can be paired later
    assert saved["methods"]["reftool"]["outcomes"] == {p.id: reftool.outcomes[p.id] for p in problems}
    assert sum(saved["methods"]["reftool"]["outcomes"].values()) == 2


def _recording(path: Path, replies: list[str]) -> Path:
    records = [{"messages": [{"role": "user", "content": "recorded"}], "reply": r} for r in replies]
    path.write_text(json.dumps({"model": "recorded-model", "records": records}))
    return path


@pytest.fixture
def toolbox_dir(tmp_path) -> Path:
    box = _one_tool_toolbox(
        "recorded-model",
        "ideal_gas_pressure",
        "Pressure (atm) of n mol of an ideal gas at T (K) in V (L).",
        "def ideal_gas_pressure(n_mol, T_K, V_L):\n    return n_mol * 0.082057 * T_K / V_L\n",
        ToolboxSection("m2", "9.2", "Gas laws"),
        (9, "Gases"),
    )
    return box.save_pretrained(tmp_path / "toolbox")


def test_cli_solve_prints_steps_and_json(tmp_path, toolbox_dir, capsys):
    replies = _recording(
        tmp_path / "r.json",
        [
            "9",
            "ideal_gas_pressure",
            "```python\nprint(round(ideal_gas_pressure(10, 300.15, 4.86), 1), 'atm')\n```",
        ],
    )
    problem = "10.0 mol of ethane in 4.860 dm3 at 27 C: pressure?"
    assert main(["reftool", "solve", problem, "--toolbox", str(toolbox_dir), "--replay", str(replies)]) == 0
    out = capsys.readouterr().out
    assert (
        "Chapters chosen: 9. Gases" in out
        and "ideal_gas_pressure(n_mol, T_K, V_L)" in out
        and "Answer: 50.7 atm" in out
    )
    assert (
        main(["reftool", "solve", problem, "--toolbox", str(toolbox_dir), "--replay", str(replies), "--json"])
        == 0
    )
    trace = json.loads(capsys.readouterr().out)
    assert trace["answer"]["value"] == 50.7 and trace["tools_chosen"][0]["name"] == "ideal_gas_pressure"
    cot = _recording(tmp_path / "c.json", ["I am not sure."])
    assert main(["reftool", "solve", problem, "--method", "cot", "--replay", str(cot)]) == 1
    assert "No answer" in capsys.readouterr().out


def test_cli_evaluate_and_build(tmp_path, toolbox_dir, capsys):
    replies = _recording(
        tmp_path / "r.json",
        ["NONE", "```python\nprint(1)\n```", "```python\nprint(2)\n```", "The answer is 3."],
    )
    code = main(
        ["reftool", "evaluate", "--toolbox", str(toolbox_dir), "--replay", str(replies), "--data-dir", str(DATA_DIR),
         "--subsets", "chemmc", "--limit", "1", "--no-progress", "--output", str(tmp_path / "eval")]
    )  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "| RefTool | 1 |" in out and "| PoT | 1 |" in out and "| CoT | 1 |" in out
    assert "\nModel: recorded-model. SciBench chemistry, 5 % relative tolerance." in out
    rows = read_jsonl(tmp_path / "eval" / "traces.jsonl")[1:]  # after the header
    assert [r["method"] for r in rows] == ["reftool", "pot", "cot"] and rows[0]["fallback"] is True
    # build: chapter 1's sections with the model's replies recorded (none usable) → all counted, none kept
    build = _recording(tmp_path / "b.json", ["I cannot write tools."] * 10)
    code = main(
        ["reftool", "build", "chemistry-2e", "--data-dir", str(DATA_DIR), "--sections", "1.1,1.4",
         "--output", str(tmp_path / "tb"), "--replay", str(build), "--no-progress", "--no-transcribe"]
    )  # fmt: skip
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["sections_in_toolbox"] == 2 and summary["tools"] == 0 and summary["proposed"] == 0
    assert Toolbox.from_pretrained(tmp_path / "tb").reference["title"] == "Chemistry 2e"
    assert Toolbox.from_pretrained(tmp_path / "tb").settings["transcribe"] is False
    # tools from transcriptions (on by default) only: no creation prompt, up to three transcriptions
    # (the default) of each worked example offered, the first greedy, until one gives a kept tool
    build = _recording(tmp_path / "t.json", ["I cannot transcribe it."] * 30)
    code = main(
        ["reftool", "build", "chemistry-2e", "--data-dir", str(DATA_DIR), "--sections", "1.4",
         "--output", str(tmp_path / "tt"), "--replay", str(build), "--no-progress", "--candidates", "0"]
    )  # fmt: skip
    assert code == 0 and json.loads(capsys.readouterr().out)["tools"] == 0
    settings = Toolbox.from_pretrained(tmp_path / "tt").settings
    assert settings["transcribe"] is True and settings["candidates"] == 0 and settings["transcriptions"] == 3
    log = read_jsonl(tmp_path / "tt" / "build-log.jsonl")[0]["log"]
    assert log and {e["event"] for e in log} == {"transcribe"}  # each refused: "the program prints nothing"
    examples = len({e["example"] for e in log})
    assert [e["sample"] for e in log] == [0, 1, 2] * examples
    # --transcriptions 1: the greedy transcription of each worked example alone
    build = _recording(tmp_path / "t1.json", ["I cannot transcribe it."] * 30)
    code = main(
        ["reftool", "build", "chemistry-2e", "--data-dir", str(DATA_DIR), "--sections", "1.4",
         "--output", str(tmp_path / "t1"), "--replay", str(build), "--no-progress", "--candidates", "0",
         "--transcriptions", "1"]
    )  # fmt: skip
    assert code == 0 and json.loads(capsys.readouterr().out)["tools"] == 0
    assert Toolbox.from_pretrained(tmp_path / "t1").settings["transcriptions"] == 1
    samples = [e["sample"] for e in read_jsonl(tmp_path / "t1" / "build-log.jsonl")[0]["log"]]
    assert samples == [0] * examples


needs_book = pytest.mark.skipif(
    not (DATA_DIR / "openstax-chemistry-2e").is_dir(), reason="needs OpenStax Chemistry 2e in ../shared/data"
)


@needs_book
def test_cli_evaluate_book_exercises(tmp_path, toolbox_dir, capsys):
    from hf_reft.answers import parse_scibench_gold
    from hf_reft.reftool.commands import _evaluation_problems
    from hf_reft.reftool.exercises import load_book_exercises

    problems = load_book_exercises(DATA_DIR, limit=3, seed=0)
    replies = []
    for p in problems:  # workers=1: reftool (no chapter fits → PoT), pot, cot per problem, in order
        program = f"```python\nprint({parse_scibench_gold(p.answer_number, p.unit).value!r})\n```"
        replies += ["NONE", program, program, "The answer is 0."]
    recording = _recording(tmp_path / "r.json", replies)
    code = main(
        ["reftool", "evaluate", "--benchmark", "book-exercises", "--toolbox", str(toolbox_dir),
         "--replay", str(recording), "--data-dir", str(DATA_DIR), "--limit", "3", "--no-progress",
         "--output", str(tmp_path / "eval")]
    )  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "| RefTool | 3 | 3 |" in out and "| PoT | 3 | 3 |" in out and "| CoT | 3 | 0 |" in out
    assert "Model: recorded-model. Chemistry 2e end-of-chapter exercises, 5 % relative tolerance." in out
    rows = read_jsonl(tmp_path / "eval" / "traces.jsonl")[1:]  # after the header
    assert [r["id"] for r in rows[::3]] == [p.id for p in problems]
    assert [r["method"] for r in rows] == ["reftool", "pot", "cot"] * 3
    assert [r["correct"] for r in rows] == [True, True, False] * 3
    assert rows[0]["gold"] == {"answer_number": problems[0].answer_number, "unit": problems[0].unit}
    assert json.loads((tmp_path / "eval" / "results.json").read_text())["methods"]["pot"]["correct"] == 3
    # the CLI's defaults: 100 book exercises drawn with seed 0; --subsets is SciBench's only
    default = argparse.Namespace(
        benchmark="book-exercises", subsets=None, limit=None, seed=0, data_dir=DATA_DIR
    )
    assert _evaluation_problems(default) == load_book_exercises(DATA_DIR, limit=100, seed=0)
    scibench = argparse.Namespace(benchmark="scibench", subsets=None, limit=None, seed=0, data_dir=DATA_DIR)
    assert _evaluation_problems(scibench) == load_scibench(data_dir=DATA_DIR)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["solve", "q"], "--toolbox is required"),
        (["solve", "  ", "--method", "cot"], "problem is empty"),
        (["solve", "q", "--toolbox", "/nonexistent/tb"], "Cannot load the toolbox"),
        (["solve", "q", "--method", "pot", "--max-tools", "0"], "--max-tools"),
        (["evaluate", "--methods", "pot,magic"], "--methods"),
        (["evaluate", "--methods", "pot", "--limit", "0"], "--limit"),
        (["evaluate", "--methods", "pot", "--subsets", "physics"], "No SciBench subset"),
        (
            ["evaluate", "--methods", "pot", "--benchmark", "book-exercises", "--subsets", "atkins"],
            "--subsets applies",
        ),
        (["evaluate", "--methods", "pot", "--benchmark", "physics"], "invalid choice"),
        (["build", "--output", "x", "--chapters", "9,a"], "--chapters"),
        (["build", "--output", "x", "--chapters", "99"], "Chapter 99"),
        (["build", "--output", "x", "--rel-tol", "2"], "--rel-tol"),
        (["build", "--output", "x", "--candidates", "0", "--no-transcribe"], "0 only with transcription on"),
        (["build", "--output", "x", "--transcriptions", "0"], "--transcriptions"),
        (["solve", "q", "--method", "cot", "--replay", "/nonexistent.json"], "not a recording"),
        (["solve", "q", "--method", "cot", "--threads", "0"], "--threads"),
    ],
)
def test_cli_usage_errors(argv, message, capsys):
    extra = ["--data-dir", str(DATA_DIR)] if argv[0] in ("build", "evaluate") else []
    with pytest.raises(SystemExit) as exit_info:
        main(["reftool", *argv, *extra])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
