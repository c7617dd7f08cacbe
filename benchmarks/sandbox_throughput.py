"""Programs per second through the sandbox, single and batch, against a naive subprocess baseline.

    python benchmarks/sandbox_throughput.py [--programs 300] [--workers 2] [--baseline 40] [--json out.json]

Every sandboxed program runs in a freshly forked process behind all the isolation layers the
machine offers (printed first). The baselines start a new interpreter per program with
``subprocess.run([sys.executable, "-c", ...])``: once bare, once importing numpy and sympy as the
sandbox's workers do. The machine's load average is printed too: other processes on a 2-core
machine change these numbers a lot.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hf_reft.sandbox import Sandbox, SandboxPolicy

TRIVIAL = "print(1 + 1)"


def measure_single(sandbox: Sandbox, count: int) -> float:
    """Programs per second for sequential ``run`` calls."""
    started = time.perf_counter()
    for _ in range(count):
        result = sandbox.run(TRIVIAL)
        if result.stdout != "2\n":
            raise RuntimeError(f"unexpected result: {result}")
    return count / (time.perf_counter() - started)


def measure_batch(sandbox: Sandbox, count: int) -> float:
    """Programs per second for one ``run_batch`` call."""
    started = time.perf_counter()
    results = sandbox.run_batch([TRIVIAL] * count)
    elapsed = time.perf_counter() - started
    if any(result.stdout != "2\n" for result in results):
        raise RuntimeError("a batch program failed")
    return count / elapsed


def measure_baseline(count: int, source: str) -> float:
    """Seconds per program for ``subprocess.run([python, "-c", source])`` (median)."""
    durations = []
    for _ in range(count):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", source], check=True, capture_output=True)
        durations.append(time.perf_counter() - started)
    return statistics.median(durations)


FORK_FLOOR = """
import gc, os, sys, time
import numpy, sympy
gc.collect(); gc.freeze()
count = int(sys.argv[1])
started = time.perf_counter()
for _ in range(count):
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
print((time.perf_counter() - started) / count)
"""


def measure_fork_floor(count: int) -> float:
    """Seconds for a bare fork + exit + wait of an interpreter with numpy and sympy loaded.

    The sandbox cannot beat this per worker; it calibrates the numbers against the machine's state.
    """
    output = subprocess.run(
        [sys.executable, "-c", FORK_FLOOR, str(count)], check=True, capture_output=True, text=True
    )
    return float(output.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", type=int, default=300, help="programs per sandbox measurement")
    parser.add_argument("--workers", type=int, default=2, help="sandbox worker processes")
    parser.add_argument("--baseline", type=int, default=40, help="programs per baseline measurement")
    parser.add_argument(
        "--repeats", type=int, default=3, help="repeat each sandbox measurement, report the best"
    )
    parser.add_argument("--json", type=Path, help="also write the numbers to this file")
    args = parser.parse_args()

    with Sandbox(SandboxPolicy(), workers=args.workers) as sandbox:
        started = time.perf_counter()
        layers = sandbox.layers
        sandbox.run_batch([TRIVIAL] * (4 * args.workers))
        startup = time.perf_counter() - started
        single = max(measure_single(sandbox, args.programs) for _ in range(args.repeats))
        batch = max(measure_batch(sandbox, args.programs) for _ in range(args.repeats))

    bare = measure_baseline(args.baseline, TRIVIAL)
    heavy = measure_baseline(max(args.baseline // 4, 5), "import numpy, sympy; print(1 + 1)")
    floor = measure_fork_floor(100)
    numbers = {
        "cpus": os.cpu_count(),
        "load_average_1min": os.getloadavg()[0],
        "workers": args.workers,
        "active_layers": sorted(name for name, active in layers.items() if active),
        "inactive_layers": sorted(name for name, active in layers.items() if not active),
        "startup_seconds": startup,
        "single_programs_per_second": single,
        "batch_programs_per_second": batch,
        "baseline_ms_per_program": bare * 1000,
        "baseline_programs_per_second": 1 / bare,
        "baseline_with_numpy_sympy_ms_per_program": heavy * 1000,
        "bare_fork_exit_wait_ms": floor * 1000,
    }
    print(f"cpus: {numbers['cpus']}   load average (1 min): {numbers['load_average_1min']:.2f}")
    print(f"active layers:   {', '.join(numbers['active_layers'])}")
    print(f"inactive layers: {', '.join(numbers['inactive_layers']) or '-'}")
    print(f"sandbox start-up ({args.workers} workers, modules pre-loaded): {startup:.2f} s")
    print()
    print(f"{'':36}{'programs/s':>12}{'ms/program':>12}{'vs baseline':>13}")
    rows = [
        ("sandbox, single (sequential run)", single),
        (f"sandbox, batch ({args.workers} workers)", batch),
        ("baseline: subprocess python -c", 1 / bare),
        ("baseline + import numpy, sympy", 1 / heavy),
    ]
    for name, rate in rows:
        print(f"{name:36}{rate:12.1f}{1000 / rate:12.2f}{rate * bare:12.1f}x")
    print(
        f"{'floor: bare fork+exit+wait (1 proc)':36}{1 / floor:12.1f}{floor * 1000:12.2f}{bare / floor:12.1f}x"
    )
    if args.json:
        args.json.write_text(json.dumps(numbers, indent=2) + "\n")


if __name__ == "__main__":
    main()
