"""Run each benchmark row in a fresh child process, so that peak memory and caches are its own.

A benchmark script calls itself with ``--worker ROW ...``; the child prints one line
``RESULT <json>`` (see :func:`report`) and the parent collects it with :func:`run_row`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

PREFIX = "RESULT "


def report(result: dict[str, Any]) -> None:
    """In the child: print ``result`` for the parent."""
    print(PREFIX + json.dumps(result), flush=True)


def run_row(script: str, row: str, extra_args: list[str]) -> dict[str, Any]:
    """In the parent: run ``script --worker row *extra_args`` and return the child's result."""
    print(f"running {row} ...", flush=True)
    command = [sys.executable, script, "--worker", row, *extra_args]
    done = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ))
    lines = [line for line in done.stdout.splitlines() if line.startswith(PREFIX)]
    if done.returncode != 0 or not lines:
        sys.exit(f"{row} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return json.loads(lines[-1][len(PREFIX) :])
