"""The RefTool chemistry Space in a real browser: Playwright drives Debian's Chromium.

Two pages: one with a scripted chat model and the fixture toolbox (three validated tools), where
every panel's content is known; and a smoke test with the real offline model and the toolbox the
Space ships (marked slow).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from space_fixtures import SPACE_DIR, make_space_dir, running_app, scripted_backend

from hf_reft.space import SpaceService, SpaceSettings
from hf_reft.space.render import count

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def chromium_path() -> str:
    """Debian's Chromium (never a browser downloaded by Playwright); ``$HF_REFT_CHROMIUM`` overrides."""
    path = os.environ.get("HF_REFT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).is_file():
        pytest.fail(f"Chromium not found at {path}: apt-get install chromium (make install-test does).")
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser) -> Iterator:
    context = browser.new_context(viewport={"width": 1280, "height": 1400})
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="module")
def backend():
    return scripted_backend()


@pytest.fixture(scope="module")
def scripted_url(tmp_path_factory: pytest.TempPathFactory, backend) -> Iterator[str]:
    space = make_space_dir(tmp_path_factory.mktemp("space"))
    service = SpaceService(SpaceSettings(space_dir=space), backend_factory=lambda model: backend)
    with running_app(service) as url:
        yield url


def _pick_example_and_solve(page, label: str) -> None:
    page.get_by_role("button", name=label).first.click()
    page.locator("#solve-button").click()


def test_solve_an_example_and_browse_the_toolbox(page, scripted_url: str) -> None:
    from playwright.sync_api import expect

    page.goto(scripted_url)
    expect(page.locator("#intro")).to_contain_text("RefTool")
    expect(page.locator("#toolbox-size")).to_contain_text("3 tools in 3 sections")
    expect(page.locator("#model-notice")).to_contain_text("What the default model can and cannot do")

    # pick an example: it fills the problem box
    page.get_by_role("button", name="atkins 1.4 ·").first.click()
    expect(page.locator("#problem textarea")).to_have_value(
        "Estimate the molar volume of $\\mathrm{CO}_2$ at $500 \\mathrm{~K}$ and 100 atm by treating it as a van der Waals gas."
    )
    page.locator("#solve-button").click()

    answer = page.locator("#answer-panel")
    expect(answer).to_contain_text("0.366 dm^3/mol", timeout=60_000)
    expect(answer).to_contain_text("SciBench's answer (atkins 1.4)")
    expect(page.locator("#status-panel")).to_contain_text("Tools chosen: van_der_waals_pressure")
    expect(page.locator("#status-panel")).not_to_contain_text("⏳")
    chapters = page.locator("#chapters-panel")
    expect(chapters).to_contain_text("Chapter 9: Gases")
    expect(chapters).to_contain_text("9.6 Non-Ideal Gas Behavior")
    tools = page.locator("#tools-panel")
    expect(tools).to_contain_text("van_der_waals_pressure(n_mol, temperature_celsius, volume_l, a, b)")
    expect(tools).to_contain_text("def van_der_waals_pressure")
    expect(page.locator("#program-panel")).to_contain_text("by bisection")
    expect(page.locator("#output-panel")).to_contain_text("0.366 dm^3/mol")

    # the toolbox tab: counts, size, chapters → sections → tools with their validation example
    page.get_by_role("tab", name="Toolbox").click()
    summary = page.locator("#toolbox-summary")
    expect(summary).to_contain_text("2 chapters · 3 sections built · 3 tools")
    expect(summary).to_contain_text("KB on disk")
    expect(summary).to_contain_text("CC BY 4.0")
    expect(page.locator("#toolbox-counts")).to_contain_text("Gases")
    view = page.locator("#toolbox-section-view")
    expect(view).to_contain_text("1.4 Measurements")
    expect(view).to_contain_text("density_from_mass_volume(mass_g, volume_cm3)")
    expect(view).to_contain_text("Book's answer: 11.3 g/cm^3")

    page.locator("#toolbox-chapter input").click()
    page.get_by_role("option", name="9. Gases (2 tools)").click()
    expect(view).to_contain_text("9.2 Relating Pressure")
    page.locator("#toolbox-section input").click()
    page.get_by_role("option", name="9.6 Non-Ideal Gas Behavior (1 tool)").click()
    expect(view).to_contain_text("def van_der_waals_pressure")
    expect(view).to_contain_text("Example 9.24 (section 9.6)")
    expect(view).to_contain_text("Book's answer: 32.4 atm")
    expect(view).to_contain_text("Validation: passed after 1 run(s), got 32.4 atm.")


def test_a_failure_is_a_message_and_the_page_stays_usable(page, scripted_url: str) -> None:
    from playwright.sync_api import expect

    page.goto(scripted_url)
    page.locator("#problem textarea").fill("A silent program, please: what is the molar volume of CO2?")
    page.locator("#solve-button").click()
    answer = page.locator("#answer-panel")
    expect(answer).to_contain_text("No answer", timeout=60_000)
    expect(answer).to_contain_text("The program printed no numeric answer.")
    expect(page.locator("#output-panel")).to_contain_text("I am not sure.")
    assert "Traceback" not in page.content()

    _pick_example_and_solve(page, "atkins 1.4 ·")
    expect(answer).to_contain_text("0.366 dm^3/mol", timeout=60_000)
    expect(answer).not_to_contain_text("No answer")


def test_stop_ends_a_running_solve(page, scripted_url: str, backend) -> None:
    import time

    from playwright.sync_api import expect

    page.goto(scripted_url)
    page.locator("#problem textarea").fill("Think slowly: what is the molar volume of CO2?")
    page.locator("#solve-button").click()
    status = page.locator("#status-panel")
    expect(status).to_contain_text("Choosing chapters of the book", timeout=30_000)
    expect(status).to_contain_text("3 4 5", timeout=30_000)  # the reply being written, live
    page.locator("#stop-button").click()
    expect(status).to_contain_text("✗ Stopped.")
    expect(page.locator("#answer-panel")).to_contain_text("You stopped this solve")
    counts = [backend.slow_pieces]
    for _ in range(100):  # the model stops writing (within 20 s)
        time.sleep(0.2)
        counts.append(backend.slow_pieces)
        if len(counts) >= 3 and counts[-1] == counts[-2] == counts[-3]:
            break
    assert counts[-1] == counts[-2] == counts[-3] < 5000

    _pick_example_and_solve(page, "atkins 1.4 ·")  # and the page solves the next problem
    expect(page.locator("#answer-panel")).to_contain_text("0.366 dm^3/mol", timeout=60_000)


@pytest.mark.slow
@pytest.mark.timeout(900, method="thread")  # llama.cpp in-process: see test_reftool_llamacpp.py
def test_smoke_with_the_real_offline_model(page) -> None:
    """The shipped Space folder (its toolbox) and the offline default model (Qwen2.5-Coder-1.5B on
    llama.cpp): the page runs a whole solve."""
    from playwright.sync_api import expect

    settings = SpaceSettings(space_dir=SPACE_DIR, max_new_tokens=160)
    service = SpaceService(settings)
    with running_app(service) as url:
        page.goto(url)
        expect(page.locator("#toolbox-size")).to_contain_text(re.compile(r"\d+ tools? in \d+ sections?"))
        _pick_example_and_solve(page, "atkins 1.4 ·")
        status = page.locator("#status-panel")
        expect(status).to_contain_text("Qwen2.5-Coder-1.5B-Instruct", timeout=120_000)
        expect(status).not_to_contain_text("⏳", timeout=540_000)  # finished, with an answer or a message
        answer = page.locator("#answer-panel").inner_text().strip()
        steps = status.inner_text()
        # the pipeline ran: chapters (or the fallback when no tool fits), a program, the sandbox
        assert "Chapters chosen" in steps or "Falling back to program of thought" in steps
        assert "Program written" in steps
        program = page.locator("#program-panel").inner_text()
        if "✓ Answer: " in steps:  # an answer (right or wrong): the answer panel shows it
            shown = steps.split("✓ Answer: ", 1)[1].split(" (")[0]
            assert answer.startswith(shown) and "SciBench's answer (atkins 1.4)" in answer
            assert page.locator("#output-panel").inner_text().strip()
        else:  # a readable reason instead
            assert answer.startswith("No answer") and len(answer) > len("No answer") + 10, answer
        assert program.strip() or "wrote no program" in answer
        toolbox = service.toolbox("bundled").toolbox
        assert "Traceback" not in page.content()
        page.get_by_role("tab", name="Toolbox").click()
        expect(page.locator("#toolbox-summary")).to_contain_text(count(len(toolbox), "tool"))
