"""The RefTool chemistry Space through its API: gradio_client against a running app.

The app runs on 127.0.0.1 with the fixture toolbox (three validated tools) and a scripted chat model
(tests/space_fixtures.py); the solver, the sandbox and the page's queue are the real ones.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

import gradio_client
import pytest
from space_fixtures import free_port, make_fixture_toolbox, make_space_dir, running_app, scripted_backend

from hf_reft.space import BUNDLED, SpaceService, SpaceSettings, SpaceSettingsError, load_examples
from hf_reft.space.examples import (
    BOOK_EXAMPLES_FILE,
    BOOK_LICENSE_FILE,
    BOOK_SOURCE,
    book_example_files,
    write_book_examples,
)
from hf_reft.space.render import SolveView

OUTPUTS = ("status", "chapters", "tools", "program", "output", "answer", "trace")
EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "spaces" / "reftool-chemistry" / "examples"
DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"
needs_book = pytest.mark.skipif(
    not (DATA_DIR / "openstax-chemistry-2e").is_dir(),
    reason=f"needs OpenStax Chemistry 2e in the shared data folder ({DATA_DIR / 'openstax-chemistry-2e'})",
)


@pytest.fixture(scope="module")
def space_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_space_dir(tmp_path_factory.mktemp("space"))


@pytest.fixture(scope="module")
def backend():
    return scripted_backend()


@pytest.fixture(scope="module")
def service(space_dir: Path, backend) -> SpaceService:
    settings = SpaceSettings(space_dir=space_dir, sandbox_seconds=2.0, max_problem_chars=600)
    return SpaceService(settings, backend_factory=lambda model: backend)


@pytest.fixture(scope="module")
def app_url(service: SpaceService):
    with running_app(service) as url:
        yield url


def _client(url: str):
    return gradio_client.Client(url, verbose=False, analytics_enabled=False, download_files=False)


def _solve(client, problem: str, model: str = "", toolbox: str = BUNDLED) -> dict:
    result = client.predict(problem, model, toolbox, api_name="/solve")
    assert len(result) == len(OUTPUTS)
    return dict(zip(OUTPUTS, result, strict=True))


def _vdw_problem(service: SpaceService) -> str:
    return next(e.text for e in service.examples if e.source == "atkins" and e.problem_id == "1.4")


def _assert_no_stack_trace(result: dict) -> None:
    for name in OUTPUTS[:-1]:
        text = str(result[name])
        assert "Traceback" not in text and not re.search(r'File "[^"]+", line \d+', text), (name, text)


# --------------------------------------------------------------------------- the API
def test_api_solve_returns_trace_and_answer(app_url: str, service: SpaceService) -> None:
    result = _solve(_client(app_url), _vdw_problem(service))
    trace = result["trace"]
    assert trace["method"] == "reftool" and trace["model"] == "scripted-chemist"
    assert [c["number"] for c in trace["chapters_chosen"]] == [9]
    assert [t["name"] for t in trace["tools_chosen"]] == ["van_der_waals_pressure"]
    assert "van_der_waals_pressure(" in trace["program"]
    assert trace["answer"]["value"] == pytest.approx(0.366, abs=1e-3)
    assert trace["answer"]["unit"] == "dm^3/mol" and trace["error"] is None
    assert [s["kind"] for s in trace["steps"]] == ["chapters", "tools", "program", "output", "answer"]
    # the panels show the same solve
    assert "0.366 dm^3/mol" in result["answer"]
    assert "within 5 %" in result["answer"] and "✓" in result["answer"]  # SciBench's answer for the example
    assert "Chapter 9: Gases" in result["chapters"] and "9.6 Non-Ideal Gas Behavior" in result["chapters"]
    assert "def van_der_waals_pressure" in result["tools"]
    assert "bisection" in result["program"]
    assert result["output"].startswith("[ok") and "0.366 dm^3/mol" in result["output"]
    assert "⏳" not in result["status"] and "✓ Answer: 0.366 dm^3/mol" in result["status"]
    _assert_no_stack_trace(result)


def test_three_simultaneous_users_all_get_answers(app_url: str, backend) -> None:
    problems = {
        "vdw": ("Estimate the molar volume of CO2 at 500 K and 100 atm as a van der Waals gas.", "0.366"),
        "density": ("A copper cube of edge 0.843 cm has a mass of 5.34 g. What is its density?", "8.91"),
        "pot": ("With no tool: what pressure do 1.0 mol of an ideal gas exert in 24.6 L at 300 K?", "1.001"),
    }
    calls_before = len(backend.calls)
    barrier = threading.Barrier(len(problems))
    results: dict[str, dict] = {}
    errors: list[BaseException] = []

    def user(key: str, problem: str) -> None:
        try:
            client = _client(app_url)  # one client (session) per user
            barrier.wait(timeout=30)
            results[key] = _solve(client, problem)
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=user, args=(k, p)) for k, (p, _) in problems.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert sorted(results) == sorted(problems)
    for key, (_, expected) in problems.items():
        assert expected in results[key]["answer"], (key, results[key]["answer"])
        assert results[key]["trace"]["error"] is None
    # no tool fitted the third problem: it fell back to program of thought
    assert results["pot"]["trace"]["tools_chosen"] == [] and results["pot"]["trace"]["fallback"]
    assert "Falling back" in results["pot"]["tools"]
    assert len(backend.calls) - calls_before >= 3 * 3


@pytest.mark.parametrize(
    ("problem", "message"),
    [
        (
            "An infinite loop: compute the van der Waals volume.",
            # the CPU or the wall-clock limit, whichever the machine's load lets come first
            ("The program failed (timeout: ", "limit of 2.0 s exceeded"),
        ),
        ("A silent program: compute the van der Waals volume.", ("printed no numeric answer",)),
        ("", ("Type a chemistry problem",)),
        ("x" * 601, ("at most 600",)),
    ],
    ids=["sandbox-timeout", "no-answer", "empty", "too-long"],
)
def test_failures_are_readable_and_the_app_stays_usable(
    app_url: str, service: SpaceService, problem: str, message: tuple[str, ...]
) -> None:
    client = _client(app_url)
    failed = _solve(client, problem)
    assert failed["answer"].startswith("### No answer")
    assert all(fragment in failed["answer"] for fragment in message), failed["answer"]
    assert "✗" in failed["status"] and "⏳" not in failed["status"]
    _assert_no_stack_trace(failed)
    # the same session solves the next problem normally
    after = _solve(client, _vdw_problem(service))
    assert "0.366" in after["answer"]


def test_sandbox_timeout_shows_the_sandbox_status(app_url: str) -> None:
    result = _solve(_client(app_url), "An infinite loop again, please.")
    assert result["output"].startswith("[timeout")
    assert "ran past the sandbox's time limit" in result["output"]
    steps = [s["kind"] for s in result["trace"]["steps"]]
    assert steps[-1] == "error" and "output" in steps


def test_unreachable_model_is_a_readable_message(space_dir: Path) -> None:
    port = free_port()  # nothing listens there
    settings = SpaceSettings(space_dir=space_dir, default_model=f"http://127.0.0.1:{port}/v1")
    service = SpaceService(settings)  # the real backend choice: an OpenAI-compatible server URL
    with running_app(service) as url:
        client = _client(url)
        result = _solve(client, "What is the density of a 2.00 cm lead cube of mass 90.7 g?")
        assert "### No answer" in result["answer"]
        assert "could not be reached" in result["answer"] and f"127.0.0.1:{port}" in result["answer"]
        _assert_no_stack_trace(result)
        again = _solve(client, "And a second try?")  # still answering requests, same readable error
        assert "could not be reached" in again["answer"]


def test_toolbox_not_on_the_allowlist_is_refused(app_url: str) -> None:
    result = _solve(_client(app_url), "Any problem.", toolbox="someone/else")
    assert "not on this Space's allowlist" in result["answer"]
    _assert_no_stack_trace(result)


def test_model_without_a_token_is_refused(app_url: str) -> None:
    result = _solve(_client(app_url), "Any problem.", model="Qwen/Qwen2.5-72B-Instruct")
    assert "needs Inference Providers" in result["answer"] and "HF_TOKEN" in result["answer"]


def test_toolbox_endpoint_reports_size_and_counts(app_url: str) -> None:
    summary, rows, *_rest, size = _client(app_url).predict(BUNDLED, api_name="/toolbox")
    assert "**3 tools**" in summary and "on disk" in summary
    assert "CC BY 4.0" in summary
    assert re.search(r"\d+(\.\d)? KB", size)
    counts = {row[0]: row[1:] for row in rows["data"]}
    assert counts[9][:3] == ["Gases", 2, 2]


# --------------------------------------------------------------------------- settings and service
def test_settings_bound_what_visitors_may_pick(space_dir: Path) -> None:
    settings = SpaceSettings(space_dir=space_dir, toolbox_allowlist=("my-org/*", "alice/chem-tools"))
    assert settings.check_model("") is None and settings.check_model(settings.default_model_label) is None
    with pytest.raises(SpaceSettingsError, match="no HF_TOKEN"):
        settings.check_model("Qwen/Qwen2.5-72B-Instruct")
    with_token = settings.with_(has_token=True)
    assert with_token.check_model("Qwen/Qwen2.5-72B-Instruct") == "Qwen/Qwen2.5-72B-Instruct"
    assert with_token.model_choices[1:] == list(with_token.provider_models)
    with pytest.raises(SpaceSettingsError, match="not offered"):
        with_token.check_model("someone/any-model")
    any_model = with_token.with_(any_model=True)
    assert any_model.check_model("someone/any-model") == "someone/any-model"
    with pytest.raises(SpaceSettingsError, match="not a Hub model id"):
        any_model.check_model("http://10.0.0.1/v1")  # visitors never point the Space at a URL
    assert settings.check_toolbox("my-org/anything") == "my-org/anything"
    assert settings.check_toolbox("alice/chem-tools") == "alice/chem-tools"
    assert settings.toolbox_choices == [BUNDLED, "alice/chem-tools"] and settings.toolbox_open_owners
    with pytest.raises(SpaceSettingsError, match="allowlist"):
        settings.check_toolbox("alice/other")
    with pytest.raises(SpaceSettingsError, match="not a toolbox id"):
        settings.check_toolbox("../etc")


def test_settings_from_env(space_dir: Path) -> None:
    env = {
        "SPACE_ID": "someone/reftool-chemistry",
        "HF_TOKEN": "hf_x",
        "HF_REFT_SPACE_TOOLBOXES": "my-org/*, alice/chem-tools",
        "HF_REFT_SPACE_MAX_CHARS": "900",
    }
    settings = SpaceSettings.from_env(space_dir, env)
    assert settings.on_space and settings.default_model is None  # RefTool's default, its GGUF from the Hub
    assert settings.default_model_label == "Qwen/Qwen2.5-Coder-1.5B-Instruct"
    assert settings.has_token and settings.toolbox_allowlist == ("my-org/*", "alice/chem-tools")
    assert settings.max_problem_chars == 900
    local = SpaceSettings.from_env(space_dir, {})
    assert local.default_model is None and not local.on_space  # the offline default
    with pytest.raises(SpaceSettingsError, match="HF_REFT_SPACE_MAX_CHARS"):
        SpaceSettings.from_env(space_dir, {"HF_REFT_SPACE_MAX_CHARS": "many"})
    with pytest.raises(SpaceSettingsError, match="neither 'owner/name' nor 'owner/\\*'"):
        SpaceSettings.from_env(space_dir, {"HF_REFT_SPACE_TOOLBOXES": "just-a-name"})
    with pytest.raises(SpaceSettingsError, match="does not exist"):
        SpaceSettings.from_env(space_dir / "missing", {})


def test_allowlisted_hub_toolbox_is_loaded_and_solves(hub, tmp_path: Path, space_dir: Path, backend) -> None:
    repo_id = hub.repo_id("chem-tools")
    make_fixture_toolbox(tmp_path / "box").push_to_hub(repo_id)
    settings = SpaceSettings(space_dir=space_dir, toolbox_allowlist=(f"{hub.user}/*",))
    service = SpaceService(settings, backend_factory=lambda model: backend)
    loaded = service.toolbox(repo_id)
    assert loaded.label == repo_id and len(loaded.toolbox) == 3 and loaded.toolbox.trusted
    assert loaded.size_bytes > 1000
    views = list(service.solve("A copper cube of edge 0.843 cm has a mass of 5.34 g. Density?", "", repo_id))
    assert "8.91 g/cm^3" in views[-1].answer and repo_id in views[-1].status


def test_missing_bundled_toolbox_is_a_readable_message(tmp_path: Path, space_dir: Path, backend) -> None:
    bare = tmp_path / "bare"
    (bare / "examples").mkdir(parents=True)
    for path in (space_dir / "examples").iterdir():
        (bare / "examples" / path.name).write_bytes(path.read_bytes())
    service = SpaceService(SpaceSettings(space_dir=bare), backend_factory=lambda model: backend)
    view = list(service.solve("Some problem"))[-1]
    assert "ships no toolbox" in view.answer and "hf-reft reftool build" in view.answer


def test_example_problems_ship_with_the_space() -> None:
    examples = load_examples(EXAMPLES_DIR)
    assert len(examples) == 43 + 12
    scibench, book = examples[:43], examples[43:]  # SciBench first, then the book's exercises
    assert {e.source for e in scibench} == {"atkins", "chemmc", "matter", "quan"}
    assert all(e.label.startswith(f"{e.source} {e.problem_id} · ") and len(e.label) < 100 for e in scibench)
    assert all(e.answer_heading == f"SciBench's answer ({e.source} {e.problem_id})" for e in scibench)
    assert {e.source for e in book} == {BOOK_SOURCE}
    assert len({e.source_id for e in book}) == 12
    for e in book:
        assert e.source_id.startswith("chemistry-2e-exercises/fs-") and e.answer and e.text
        assert re.fullmatch(r"\d+\.\d+", e.problem_id), e.problem_id  # the exercise's number: "10.79"
        assert e.label.startswith(f"Chemistry 2e ex. {e.problem_id} · ") and len(e.label) < 100
        assert e.section.split()[0].split(".")[0] == e.problem_id.split(".")[0]  # section of that chapter
        assert e.answer_heading.startswith(
            f"The book's answer (Chemistry 2e ex. {e.problem_id}, end of section "
        )
    # each book example is found by its text: no other example has it
    assert len({e.text for e in book}) == 12 and not {e.text for e in book} & {e.text for e in scibench}
    licence = (EXAMPLES_DIR / BOOK_LICENSE_FILE).read_text(encoding="utf-8")
    assert "OpenStax Chemistry 2e" in licence and "CC BY 4.0" in licence


@needs_book
def test_book_examples_are_not_evaluation_problems_and_are_up_to_date(tmp_path: Path) -> None:
    from hf_reft.reftool.exercises import load_book_exercises

    book = [e for e in load_examples(EXAMPLES_DIR) if e.source == BOOK_SOURCE]
    held_out = load_book_exercises(DATA_DIR, limit=100, seed=0)  # hf-reft reftool evaluate's default
    assert len(held_out) == 100
    assert not {e.source_id for e in book} & {p.id for p in held_out}
    assert not {e.text for e in book} & {p.text.strip() for p in held_out}
    # each is a kept exercise, with the gold the evaluation would use
    kept = {p.id: p for p in load_book_exercises(DATA_DIR)}
    for e in book:
        assert (kept[e.source_id].text, kept[e.source_id].answer_number, kept[e.source_id].unit) == (
            e.text,
            e.answer,
            e.unit,
        )
    # the shipped files are exactly what the writer (hf-reft space examples) writes now
    shipped = {
        name: (EXAMPLES_DIR / name).read_text(encoding="utf-8") for name in book_example_files(DATA_DIR)
    }
    assert book_example_files(DATA_DIR) == shipped
    written = write_book_examples(tmp_path / "examples", DATA_DIR)
    assert sorted(p.name for p in written) == sorted([BOOK_EXAMPLES_FILE, BOOK_LICENSE_FILE])
    assert sorted(p.name for p in (tmp_path / "examples").iterdir()) == sorted(shipped)  # no temporary left
    assert all(p.read_text(encoding="utf-8") == shipped[p.name] for p in written)
    # the same through the command line
    from hf_reft.cli import main

    space = tmp_path / "space"
    space.mkdir()
    assert main(["space", "examples", "--space-dir", str(space), "--data-dir", str(DATA_DIR)]) == 0
    assert {p.name: p.read_text(encoding="utf-8") for p in (space / "examples").iterdir()} == shipped


def test_a_book_example_is_compared_with_the_book_answer(service: SpaceService) -> None:
    example = next(e for e in service.examples if e.source == BOOK_SOURCE and e.problem_id == "14.25")
    assert service.example(f"  {example.text}\n") is example  # looked up by its text, as SciBench's are
    assert (example.answer, example.unit) == ("3.1", "10^-12 M")  # SciBench's convention: power in the unit
    right = service.reference_markdown(example, {"value": 3.2e-12, "unit": "M", "text": "3.2e-12 M"})
    wrong = service.reference_markdown(example, {"value": 3.1e-11, "unit": "M", "text": "3.1e-11 M"})
    heading = "The book's answer (Chemistry 2e ex. 14.25, end of section 14.2 pH and pOH): **3.1e-12 M**"
    assert right == f"{heading} — ✓ within 5 %" and wrong == f"{heading} — ✗ not within 5 %"
    assert service.reference_markdown(example, None) == heading
    scibench = service.example(_vdw_problem(service))
    assert (
        service.reference_markdown(scibench, None) == "SciBench's answer (atkins 1.4): **0.366 dm^3 mol^-1**"
    )


def test_api_solve_shows_the_book_answer_for_a_book_example(app_url: str, service: SpaceService) -> None:
    example = next(e for e in service.examples if e.source == BOOK_SOURCE and e.problem_id == "9.45")
    result = _solve(_client(app_url), example.text)  # the scripted model answers 0.366 dm^3/mol
    assert result["trace"]["answer"]["value"] == pytest.approx(0.366, abs=1e-3)
    assert "The book's answer (Chemistry 2e ex. 9.45, end of section 9.2 " in result["answer"]
    assert "**0.644 atm** — ✗ not within 5 %" in result["answer"]
    _assert_no_stack_trace(result)


def test_the_page_lists_both_example_sets(service: SpaceService) -> None:
    import gradio as gr

    from hf_reft.space.app import build_app

    demo = build_app(service=service)
    datasets = [b for b in demo.blocks.values() if isinstance(b, gr.Dataset)]
    assert len(datasets) == 1
    labels = datasets[0].sample_labels
    assert len(datasets[0].samples) == len(labels) == 43 + 12
    assert labels[0].startswith("atkins ") and labels[43].startswith("Chemistry 2e ex. ")
    intro = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "intro").value
    assert "43 SciBench chemistry problems and 12 end-of-chapter exercises of *Chemistry 2e*" in intro


def test_solve_view_folds_steps_into_panels() -> None:
    from hf_reft.reftool.solver import SolverStep

    view = SolveView.started("m", "bundled")
    view.add(
        SolverStep(
            "fallback", "Falling back to program of thought", {"reason": "The toolbox has no tools."}, 0.0
        )
    )
    assert "No chapter was used" in view.chapters and "The toolbox has no tools." in view.tools
    view.add(
        SolverStep("program", "Program written", {"program": None, "tools": [], "reply": "I cannot."}, 1.0)
    )
    assert view.program.startswith("# The model wrote no program") and "# I cannot." in view.program
    view.add(
        SolverStep("error", "No answer", {"message": "The model wrote no program.", "trace": {"x": 1}}, 0.0)
    )
    assert (
        view.done and view.answer == "### No answer\nThe model wrote no program." and view.trace == {"x": 1}
    )
    assert "<script>" not in SolveView.started("<script>alert(1)</script>", "b").status


def test_the_reply_being_written_is_shown_live(space_dir: Path, backend, monkeypatch) -> None:
    service = SpaceService(SpaceSettings(space_dir=space_dir), backend_factory=lambda model: backend)
    monkeypatch.setattr(service, "LIVE_INTERVAL", 0.0)
    statuses = [view.status for view in service.solve("Estimate the molar volume of CO2, van der Waals.")]
    live = [s for s in statuses if "```text" in s]
    # pieces of the scripted replies (8 characters each) appear under the running step, then go away
    assert any("Writing a program" in s and "lo, hi = 0.1" in s for s in live)
    assert any("Choosing tools" in s and "van_der" in s for s in live)
    assert "```text" not in statuses[-1] and "✓ Answer: 0.366 dm^3/mol" in statuses[-1]


def test_closing_a_solve_stops_the_model(space_dir: Path) -> None:
    import time

    from hf_reft.space.live import run_live

    generated: list[str] = []

    class Slow:
        name, kind = "slow", "test"

        def stream(self, messages, **kwargs):
            for i in range(1000):
                time.sleep(0.01)
                generated.append(str(i))
                yield f"{i} "

        def chat(self, messages, **kwargs):
            return "".join(self.stream(messages))

    def steps(live):
        live.chat([{"role": "user", "content": "count"}])
        yield "never reached"

    events = run_live(steps, Slow())
    assert next(events) == ("piece", "0 ")
    events.close()  # what Gradio does when the visitor presses Stop
    counts = [len(generated)]
    for _ in range(100):  # wait until generation has stopped (at most 20 s)
        time.sleep(0.2)
        counts.append(len(generated))
        if counts[-1] == counts[-2] == counts[-3]:
            break
    assert counts[-1] == counts[-2] == counts[-3] and counts[-1] < 1000  # stopped long before the end


def test_a_live_stream_closed_early_stops_the_model_and_ends_the_reply() -> None:
    """The solver stops a tool choice's stream once enough tools are named (RefToolSolver): the page
    still shows its pieces, then the end of the reply, and the inner generation is closed."""
    import threading

    from hf_reft.space.live import LiveBackend

    shown: list[str] = []
    inner_closed: list[bool] = []

    class Listing:
        name, kind = "listing", "test"

        def stream(self, messages, **kwargs):
            try:
                for i in range(100):
                    yield f"tool_{i}, "
            finally:
                inner_closed.append(True)

    live = LiveBackend(Listing(), shown.append, threading.Event())
    stream = live.stream([{"role": "user", "content": "Choose the tools"}])
    assert [next(stream), next(stream)] == ["tool_0, ", "tool_1, "]
    stream.close()
    assert shown == ["tool_0, ", "tool_1, ", "\x00"] and inner_closed == [True]
    assert live.chat([{"role": "user", "content": "again"}]).startswith("tool_0, tool_1, tool_2, ")


def test_untrusted_tool_text_cannot_leave_its_block():
    from markdown_it import MarkdownIt

    from hf_reft.reftool.toolbox import Tool, Toolbox, ToolboxSection, ValidationExample, ValidationRecord
    from hf_reft.space.render import section_markdown

    code = 'def evil():\n    """````\n</code><script>alert(1)</script>\n# Owned"""\n    return 1\n'
    tool = Tool(
        "evil",
        "Looks fine\n# Heading [click](http://attacker.example) <img src=x onerror=alert(1)> `x`",
        code,
        ValidationExample(
            problem="p\n## Injected", solution="print(evil())\n````\n# After", expected_answer="1"
        ),
        ValidationRecord(status="passed", attempts=1),
    )
    box = Toolbox({"title": "Book"}, model="scripted")
    box.add_section(ToolboxSection("s1", "1.1", "Section"), [tool], chapter=(1, "Chapter"))
    page = MarkdownIt("commonmark").render(section_markdown(box, "s1"))
    assert "<h1>" not in page and "<h2>Injected" not in page and "<a " not in page
    assert "<script>" not in page and "<img" not in page
    # the tool's code, fence-breaking backticks included, is one code block, shown as written
    blocks = re.findall(r"<pre><code[^>]*>(.*?)</code></pre>", page, flags=re.S)
    assert any("&lt;/code&gt;&lt;script&gt;" in b and "# Owned" in b for b in blocks)
    assert any("````\n# After" in b for b in blocks)
