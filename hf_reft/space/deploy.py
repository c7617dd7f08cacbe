"""Deploy the RefTool chemistry Space: bundle hf-reft as a wheel and push the folder as a Space repo.

A Space installs ``requirements.txt`` before the rest of the repository is copied into its image,
so a wheel *file* next to ``app.py`` cannot be named there. :func:`deploy_space` therefore pushes
in two commits:

1. the wheel, built from this checkout (``wheels/hf_reft-<version>-py3-none-any.whl``);
2. the Space folder (``app.py``, ``README.md``, ``examples/``, ``toolbox/``, the wheel again) with a
   ``requirements.txt`` whose last line pins hf-reft to that wheel *at the first commit's hash*:
   ``hf-reft @ <endpoint>/spaces/<repo>/resolve/<commit>/wheels/<wheel>``.

The Space's build downloads that exact file; nothing else needs publishing. A private Space's
build cannot download from the Space itself, so for ``private=True`` the line is left out and
``app.py`` installs the bundled wheel (``--no-deps``) when it starts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .. import __version__, hub

__all__ = ["DeployResult", "build_wheel", "deploy_space", "pinned_requirement", "stage_space"]

WHEELS_DIR = "wheels"
#: What of the Space folder is pushed (besides the wheel and the generated requirements.txt).
_SKIP = {"__pycache__", ".gradio", "flagged", WHEELS_DIR, ".git", ".gitignore"}
#: Folders the deploy owns in the Space repo: files there that the new folder lacks are deleted.
_MIRRORED = ("examples/**", "toolbox/**", f"{WHEELS_DIR}/**")


class DeployError(RuntimeError):
    """The Space cannot be bundled or pushed; the message says why and what to do."""


@dataclass(frozen=True)
class DeployResult:
    """Where the Space went: its repo id, page URL, the final commit and the pinned wheel URL."""

    repo_id: str
    url: str
    commit: str
    wheel_url: str | None
    wheel: str


def project_root() -> Path | None:
    """The hf-reft source checkout this package runs from (``None`` when installed from a wheel)."""
    root = Path(__file__).resolve().parents[2]
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and 'name = "hf-reft"' in pyproject.read_text(encoding="utf-8"):
        return root
    return None


def build_wheel(out_dir: str | os.PathLike[str], *, source: str | os.PathLike[str] | None = None) -> Path:
    """Build hf-reft's wheel from its source checkout into ``out_dir``; return the wheel's path.

    Uses the installed build backend (hatchling, part of ``[dev]``) when available, otherwise
    lets pip fetch it (needs PyPI).
    """
    root = Path(source) if source is not None else project_root()
    if root is None or not (root / "pyproject.toml").is_file():
        raise DeployError(
            "hf-reft is not running from a source checkout, so there is nothing to build a wheel from. "
            "Pass --wheel PATH (a wheel of hf-reft), or run from the checkout."
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(out)]
    try:
        import hatchling  # noqa: F401

        command.append("--no-build-isolation")
    except ImportError:
        pass
    done = subprocess.run([*command, str(root)], capture_output=True, text=True, check=False)
    wheels = sorted(out.glob("hf_reft-*.whl"))
    if done.returncode != 0 or not wheels:
        raise DeployError(f"Building the hf-reft wheel failed:\n{done.stderr.strip()[-2000:]}")
    return wheels[-1]


def pinned_requirement(repo_id: str, commit: str, wheel_name: str, *, endpoint: str | None = None) -> str:
    """The requirements line installing hf-reft from the wheel in Space ``repo_id`` at ``commit``."""
    if not hub.is_commit_hash(commit):
        raise ValueError(f"Pin the wheel to a full commit hash, got {commit!r}.")
    from huggingface_hub import constants

    base = (endpoint or constants.ENDPOINT).rstrip("/")
    return f"hf-reft @ {base}/spaces/{repo_id}/resolve/{commit}/{WHEELS_DIR}/{wheel_name}"


def stage_space(
    space_dir: str | os.PathLike[str],
    staging: str | os.PathLike[str],
    *,
    wheel: Path,
    requirement: str | None,
) -> Path:
    """Copy the Space folder into ``staging`` with the wheel and the final ``requirements.txt``.

    ``requirement`` (the pinned hf-reft line) is appended to the folder's ``requirements.txt``;
    ``None`` leaves hf-reft to ``app.py``'s start-up install of the bundled wheel.
    """
    source, target = Path(space_dir), Path(staging)
    for required in ("app.py", "README.md", "requirements.txt"):
        if not (source / required).is_file():
            raise DeployError(f"{source} is not a Space folder: {required} is missing.")
    if not (source / "toolbox" / "toolbox.json").is_file():
        raise DeployError(
            f"{source}/toolbox/toolbox.json is missing: the Space must ship its default toolbox. Build one "
            "with `hf-reft reftool build` and copy it there."
        )
    shutil.copytree(
        source, target, dirs_exist_ok=True, ignore=lambda _, names: [n for n in names if n in _SKIP]
    )
    (target / WHEELS_DIR).mkdir(exist_ok=True)
    shutil.copy2(wheel, target / WHEELS_DIR / wheel.name)
    lines = (source / "requirements.txt").read_text(encoding="utf-8").rstrip("\n").splitlines()
    lines = [line for line in lines if not line.strip().startswith(("hf-reft", "hf_reft"))]
    if requirement:
        lines.append(requirement)
    (target / "requirements.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def deploy_space(
    repo_id: str,
    *,
    space_dir: str | os.PathLike[str],
    wheel: str | os.PathLike[str] | None = None,
    token: str | None = None,
    private: bool | None = None,
    commit_message: str | None = None,
) -> DeployResult:
    """Push the Space folder to the Space repo ``repo_id`` (created with ``sdk: gradio`` if needed).

    Args:
        repo_id: ``owner/name`` of the Space.
        space_dir: the Space folder (``app.py``, ``README.md``, ``requirements.txt``, ``examples/``,
            ``toolbox/``).
        wheel: a wheel of hf-reft to bundle; default: built from this checkout.
        token: a Hugging Face token with write access (default: the logged-in one).
        private: create the Space private (then hf-reft installs from the bundled wheel at start-up).
    """
    if "/" not in repo_id:
        raise DeployError(f"Name the Space as owner/name (got {repo_id!r}).")
    with tempfile.TemporaryDirectory(prefix="hf-reft-space-") as tmp:
        tmp_path = Path(tmp)
        wheel_path = Path(wheel) if wheel is not None else build_wheel(tmp_path / "dist")
        if not wheel_path.is_file() or not wheel_path.name.startswith("hf_reft-"):
            raise DeployError(f"{wheel_path} is not a wheel of hf-reft (hf_reft-<version>-...whl).")
        only_wheel = tmp_path / "wheel-only"
        (only_wheel / WHEELS_DIR).mkdir(parents=True)
        shutil.copy2(wheel_path, only_wheel / WHEELS_DIR / wheel_path.name)
        first = hub.upload_folder(
            only_wheel,
            repo_id,
            repo_type="space",
            token=token,
            private=private,
            space_sdk="gradio",
            commit_message=f"Bundle hf-reft {wheel_path.name}",
        )
        wheel_commit = first.oid
        requirement = None if private else pinned_requirement(repo_id, wheel_commit, wheel_path.name)
        staged = stage_space(space_dir, tmp_path / "space", wheel=wheel_path, requirement=requirement)
        second = hub.upload_folder(
            staged,
            repo_id,
            repo_type="space",
            token=token,
            private=private,
            space_sdk="gradio",
            commit_message=commit_message or f"Deploy the RefTool chemistry Space (hf-reft {__version__})",
            delete_patterns=_MIRRORED,
        )
    from huggingface_hub import constants

    return DeployResult(
        repo_id=repo_id,
        url=f"{constants.ENDPOINT.rstrip('/')}/spaces/{repo_id}",
        commit=second.oid,
        wheel_url=requirement.split(" @ ", 1)[1] if requirement else None,
        wheel=wheel_path.name,
    )
