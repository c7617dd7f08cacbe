"""`hf-reft space deploy` against the local Hub server: the Space repo, the bundled wheel, the pin."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest
from space_fixtures import SPACE_DIR, make_fixture_toolbox

from hf_reft.cli import main as cli_main
from hf_reft.space.deploy import DeployError, build_wheel, deploy_space, stage_space


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """hf-reft's wheel, built once from this checkout."""
    return build_wheel(tmp_path_factory.mktemp("dist"))


@pytest.fixture
def space_dir(tmp_path: Path) -> Path:
    """The real Space folder's files with the fixture toolbox as its bundled toolbox."""
    folder = tmp_path / "reftool-chemistry"
    folder.mkdir()
    for name in ("app.py", "README.md", "requirements.txt", ".gitignore"):
        shutil.copy2(SPACE_DIR / name, folder / name)
    shutil.copytree(SPACE_DIR / "examples", folder / "examples")
    make_fixture_toolbox(folder / "toolbox")
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"junk")
    return folder


def test_wheel_holds_the_space_app_and_card_templates(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert wheel.name.startswith("hf_reft-") and wheel.name.endswith("-py3-none-any.whl")
    assert "hf_reft/space/app.py" in names and "hf_reft/reftool/solver.py" in names
    assert "hf_reft/model_cards/toolbox.md" in names


def test_deploy_pushes_a_gradio_space_pinned_to_its_wheel(
    hub, space_dir: Path, wheel: Path, tmp_path: Path
) -> None:
    repo_id = hub.repo_id("reftool-chemistry")
    result = deploy_space(repo_id, space_dir=space_dir, wheel=wheel)

    api = hub.api
    info = api.space_info(repo_id)
    assert info.sdk == "gradio" and info.sha == result.commit
    files = set(api.list_repo_files(repo_id, repo_type="space"))
    assert {
        "app.py",
        "README.md",
        "requirements.txt",
        "toolbox/toolbox.json",
        f"wheels/{wheel.name}",
    } <= files
    assert "examples/atkins_sol.json" in files and "examples/LICENSE-SciBench" in files
    assert not any("__pycache__" in f or f.endswith(".gitignore") for f in files)

    # requirements.txt ends with hf-reft pinned to the wheel at the commit that first uploaded it
    requirements = (Path(api.hf_hub_download(repo_id, "requirements.txt", repo_type="space"))).read_text()
    last = requirements.strip().splitlines()[-1]
    assert "torch==2.13.0" in requirements
    commits = [c.commit_id for c in api.list_repo_commits(repo_id, repo_type="space")]
    assert len(commits) >= 3  # creation, the wheel, the folder
    wheel_commit = commits[1]
    assert last == f"hf-reft @ {hub.url}/spaces/{repo_id}/resolve/{wheel_commit}/wheels/{wheel.name}"
    assert result.wheel_url == last.split(" @ ")[1]
    # ... a URL that serves exactly this wheel
    response = httpx.get(result.wheel_url, follow_redirects=True, timeout=30)
    assert response.status_code == 200 and response.content == wheel.read_bytes()
    assert "hf_reft/space/app.py" in zipfile.ZipFile(io.BytesIO(response.content)).namelist()

    # the README's Space header
    readme = Path(api.hf_hub_download(repo_id, "README.md", repo_type="space")).read_text()
    header = readme.split("---")[1]
    for line in ("sdk: gradio", "app_file: app.py", "license: apache-2.0", 'python_version: "3.11"'):
        assert line in header
    assert "OpenStax Chemistry 2e" in readme and "CC BY 4.0" in readme


def test_pip_installs_hf_reft_from_the_pinned_line(hub, space_dir: Path, wheel: Path, tmp_path: Path) -> None:
    """What a Space's build does with the last line of requirements.txt (dependencies left out here)."""
    repo_id = hub.repo_id("reftool-chemistry")
    result = deploy_space(repo_id, space_dir=space_dir, wheel=wheel)
    target = tmp_path / "site"
    done = subprocess.run(
        [
            *(sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q"),
            *("--target", str(target), f"hf-reft @ {result.wheel_url}"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert (target / "hf_reft" / "space" / "app.py").is_file()
    assert (target / "hf_reft" / "model_cards" / "toolbox.md").is_file()


def test_redeploy_mirrors_the_folder(hub, space_dir: Path, wheel: Path) -> None:
    repo_id = hub.repo_id("reftool-chemistry")
    deploy_space(repo_id, space_dir=space_dir, wheel=wheel)
    (space_dir / "examples" / "quan_sol.json").unlink()
    second = deploy_space(repo_id, space_dir=space_dir, wheel=wheel, commit_message="Drop quan")
    files = set(hub.api.list_repo_files(repo_id, repo_type="space"))
    assert "examples/quan_sol.json" not in files and "examples/atkins_sol.json" in files
    assert f"wheels/{wheel.name}" in files and "README.md" in files
    assert hub.api.list_repo_commits(repo_id, repo_type="space")[0].title == "Drop quan"
    assert hub.api.space_info(repo_id).sha == second.commit


def test_private_space_installs_the_bundled_wheel_at_start_up(hub, space_dir: Path, wheel: Path) -> None:
    repo_id = hub.repo_id("private-chemistry")
    result = deploy_space(repo_id, space_dir=space_dir, wheel=wheel, private=True)
    assert result.wheel_url is None and hub.api.space_info(repo_id).private
    requirements = Path(hub.api.hf_hub_download(repo_id, "requirements.txt", repo_type="space")).read_text()
    lines = [line for line in requirements.splitlines() if line and not line.startswith("#")]
    assert lines == [
        "torch==2.13.0",
        "xllamacpp>=2026.10",
    ]  # no pinned URL: a private Space's build could not download it
    app = Path(hub.api.hf_hub_download(repo_id, "app.py", repo_type="space")).read_text()
    assert 'glob("hf_reft-*.whl")' in app and "--no-deps" in app
    assert f"wheels/{wheel.name}" in hub.api.list_repo_files(repo_id, repo_type="space")


def test_cli_deploy_in_a_fresh_process(hub, space_dir: Path, wheel: Path) -> None:
    repo_id = hub.repo_id("cli-space")
    done = subprocess.run(
        [
            *(sys.executable, "-m", "hf_reft", "space", "deploy", repo_id),
            *("--space-dir", str(space_dir), "--wheel", str(wheel)),
        ],
        env=hub.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert f"Deployed {space_dir} to {hub.url}/spaces/{repo_id}" in done.stdout
    assert f"hf-reft is installed from {hub.url}/spaces/{repo_id}/resolve/" in done.stdout
    assert "app.py" in hub.api.list_repo_files(repo_id, repo_type="space")


def test_bad_deploys_are_clear_errors(hub, space_dir: Path, wheel: Path, tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["space", "deploy", "no-owner", "--space-dir", str(space_dir), "--wheel", str(wheel)])
    assert exit_info.value.code == 2 and "owner/name" in capsys.readouterr().err
    shutil.rmtree(space_dir / "toolbox")
    with pytest.raises(DeployError, match="must ship its default toolbox"):
        stage_space(space_dir, tmp_path / "staged", wheel=wheel, requirement=None)
    not_a_wheel = tmp_path / "something.whl"
    not_a_wheel.write_bytes(b"x")
    with pytest.raises(DeployError, match="is not a wheel of hf-reft"):
        deploy_space(hub.repo_id("x"), space_dir=space_dir, wheel=not_a_wheel)
