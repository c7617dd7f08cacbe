"""The ``hf-reft`` console command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import hf_reft
from hf_reft.cli import main


def test_version_console_script():
    # the script installed beside the interpreter running the tests (a venv's bin/ need not be on PATH)
    script = Path(sys.executable).parent / "hf-reft"
    out = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"hf-reft {hf_reft.__version__}"


def test_python_dash_m(capsys):
    out = subprocess.run(
        [sys.executable, "-m", "hf_reft", "--help"], capture_output=True, text=True, check=True
    )
    assert "default-model" in out.stdout


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "usage: hf-reft" in capsys.readouterr().out
