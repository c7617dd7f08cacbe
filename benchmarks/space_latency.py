"""Click-to-answer time of the RefTool chemistry Space with the offline default model, in a real browser.

For each of N example problems (default 5, one per SciBench subset first), Playwright drives Debian's
Chromium: open the page, put the example in the problem box, click Solve, and stop the clock when the last step is
shown (an answer, or a failure message). Right after each, the same problem is solved directly with
``RefToolSolver`` (same model, toolbox and limits, no page) as the baseline, so the table shows
what the page itself adds. The baseline runs on a twin of the page's llama.cpp model: llama.cpp
keeps each slot's last prompt, and a second solve of the same problem on the same model would find
all its prompts cached (measured: 3.6 s instead of 48 s); each twin has seen the same problems
before. Decoding is greedy, yet the two runs need not write the same programs: llama.cpp's numerics
depend on how a prompt is batched and which prefix it has cached (measured: 3 of 5 programs
differed in one run), so compare times where the answers match.

    python benchmarks/space_latency.py                      # 5 problems, prints the table
    python benchmarks/space_latency.py --screenshot docs/space.png

The machine's load matters (the model runs on the CPU); compare the two columns of one run.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

from hf_reft.reftool.chat import ChatBackend, LlamaCppChatBackend
from hf_reft.reftool.solver import RefToolSolver
from hf_reft.space.app import build_app, launch
from hf_reft.space.examples import ExampleProblem
from hf_reft.space.service import SpaceService
from hf_reft.space.settings import BUNDLED, SpaceSettings, default_space_dir

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
_DONE = """() => {
  const s = document.querySelector('#status-panel');
  const t = s ? s.innerText : '';
  return t.includes('✓') || t.includes('✗') ? !t.includes('⏳') : false;
}"""


def pick_problems(examples: list[ExampleProblem], n: int) -> list[ExampleProblem]:
    """The first problem of each subset, then the second of each, ... (a fixed, spread-out choice)."""
    by_source: dict[str, list[ExampleProblem]] = {}
    for e in examples:
        by_source.setdefault(e.source, []).append(e)
    picked: list[ExampleProblem] = []
    depth = 0
    while len(picked) < n and any(depth < len(v) for v in by_source.values()):
        picked += [v[depth] for v in by_source.values() if depth < len(v)][: n - len(picked)]
        depth += 1
    return picked


def twin(backend: ChatBackend) -> ChatBackend:
    """A second llama.cpp model like ``backend`` with its own prompt cache (other backends: itself)."""
    if not isinstance(backend, LlamaCppChatBackend):
        return backend
    return LlamaCppChatBackend(
        backend.model_path,
        name=backend.name,
        context_length=backend.context_length,
        parallel=backend.parallel,
        threads=backend.threads,
        batch_size=backend.batch_size,
        seed=backend.seed,
    )


def direct_solver(service: SpaceService, backend: ChatBackend) -> RefToolSolver:
    """The page's solver (same toolbox, limits and settings) on ``backend``, without the page."""
    return service.solver(service.toolbox(BUNDLED).toolbox, backend)


def throughput(before: dict[str, float], after: dict[str, float], solves: int) -> str:
    """Tokens read and written per solve and their speeds, from two readings of llama.cpp's counters
    (:meth:`LlamaCppChatBackend.metrics`), so that runs on days of different machine speed compare."""
    grew = {name: after[name] - before.get(name, 0.0) for name in after}
    read, written = grew["prompt_tokens_total"], grew["tokens_predicted_total"]
    return (
        f"{read / solves:.0f} prompt tokens read per solve at {read / grew['prompt_seconds_total']:.1f} "
        f"tokens/s; {written / solves:.0f} tokens written per solve at "
        f"{written / grew['tokens_predicted_seconds_total']:.1f} tokens/s"
    )


def interleaved_times(
    url: str,
    problems: list[ExampleProblem],
    chromium: str,
    screenshot: Path | None,
    solver: RefToolSolver | None,
) -> list[dict]:
    """Each problem on the page, then (with a ``solver``) the same problem solved directly."""
    from playwright.sync_api import sync_playwright

    rows = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1500})
        for number, problem in enumerate(problems, 1):
            page.goto(url)
            # the example list is paginated: put the example's text in the box as clicking it would
            page.locator("#problem textarea").fill(problem.text)
            started = time.perf_counter()
            page.locator("#solve-button").click()
            page.wait_for_function(_DONE, timeout=600_000, polling=50)
            row = {"problem": problem, "seconds": time.perf_counter() - started}
            lines = [x.strip() for x in page.locator("#answer-panel").inner_text().splitlines() if x.strip()]
            row["answer"] = " — ".join(lines[:2])
            print(f"  page   {problem.source} {problem.problem_id}: {row['seconds']:6.1f} s  {row['answer']}")
            if screenshot is not None and number == len(problems):
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(screenshot), full_page=True)
                print(f"screenshot of the last solve: {screenshot}")
            if solver is not None:
                started = time.perf_counter()
                trace = solver.solve(problem.text)
                row["alone"] = time.perf_counter() - started
                shown = str(trace.answer) if trace.answer is not None else f"no answer ({trace.error})"
                print(f"  direct {problem.source} {problem.problem_id}: {row['alone']:6.1f} s  {shown}")
            sys.stdout.flush()
            rows.append(row)
        browser.close()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=5, help="example problems to time (default 5)")
    parser.add_argument("--space-dir", type=Path, default=None)
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    parser.add_argument("--screenshot", type=Path, help="save a full-page screenshot after the last solve")
    parser.add_argument("--no-baseline", action="store_true", help="skip the solver-alone runs (screenshots)")
    args = parser.parse_args()

    settings = SpaceSettings.from_env(args.space_dir or default_space_dir())
    service = SpaceService(settings)
    loaded = service.toolbox(BUNDLED)
    backend = service.backend(None)  # load the model before timing
    problems = pick_problems(service.examples, args.n)
    threads = getattr(backend, "threads", "?")
    print(
        f"model {backend.name} ({backend.kind}, {threads} threads); toolbox {loaded.label}: "
        f"{len(loaded.toolbox)} tools; {len(problems)} problems; max_new_tokens={settings.max_new_tokens}"
    )
    solver = None if args.no_baseline else direct_solver(service, twin(backend))
    counters = getattr(backend, "metrics", None)  # llama.cpp's counters (totals since its start)
    before = counters() if counters is not None else None
    demo = build_app(service=service)
    url = launch(demo, settings, block=False, quiet=True)
    try:
        rows = interleaved_times(url, problems, args.chromium, args.screenshot, solver)
    finally:
        demo.close()
    if counters is not None and before is not None:  # how fast the machine was (days differ)
        print(f"llama.cpp during the page's solves: {throughput(before, counters(), len(rows))}")
    page_median = statistics.median(r["seconds"] for r in rows)
    if solver is None:
        print(f"\nmedian click-to-answer {page_median:.1f} s over {len(rows)} problems")
        return 0
    direct_median = statistics.median(r["alone"] for r in rows)
    print("\n| problem | click-to-answer (page) | solver alone | answer shown |")
    print("|---|---:|---:|---|")
    for row in rows:
        p = row["problem"]
        print(
            f"| {p.source} {p.problem_id} | {row['seconds']:.1f} s | {row['alone']:.1f} s | {row['answer']} |"
        )
    print(
        f"\nmedian click-to-answer {page_median:.1f} s; solver alone {direct_median:.1f} s; "
        f"ratio page/solver {page_median / direct_median:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
