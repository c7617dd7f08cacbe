"""hf_reft.hub: card rendering and atomic saves (pushes are tested with the local Hub server)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hf_reft import hub


def _metadata(card) -> dict:
    text = str(card)
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def test_render_card_metadata_and_body(tmp_path):
    template = tmp_path / "t.md"
    template.write_text("---\n{{ card_data }}\n---\n# {{ title }}\nBase: {{ base_model }}\n")
    card = hub.render_card(
        template,
        base_model="HuggingFaceTB/SmolLM2-135M-Instruct",
        base_model_relation="adapter",
        tags=["loreft"],
        title="My adapter",
    )
    meta = _metadata(card)
    assert meta["library_name"] == "hf-reft"
    assert meta["base_model"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert meta["base_model_relation"] == "adapter"
    assert meta["tags"] == ["hf-reft", "loreft"]
    assert meta["license"] == "apache-2.0"
    assert "# My adapter" in card.text and "Base: HuggingFaceTB/SmolLM2-135M-Instruct" in card.text


def test_render_card_keeps_local_base_out_of_metadata(tmp_path):
    template = tmp_path / "t.md"
    template.write_text("---\n{{ card_data }}\n---\nBase: {{ base_model }}\n")
    card = hub.render_card(template, base_model=str(tmp_path), base_model_relation="adapter")
    meta = _metadata(card)
    assert "base_model" not in meta and "base_model_relation" not in meta
    assert f"Base: {tmp_path}" in card.text


def test_unknown_template_names_known_ones():
    with pytest.raises(FileNotFoundError, match=r"No model card template 'nope\.md'"):
        hub.card_template_path("nope.md")


def test_atomic_save_replaces_files(tmp_path):
    target = tmp_path / "artefact"
    with hub.atomic_save(target) as tmp:
        (tmp / "a.txt").write_text("one")
        (tmp / "sub").mkdir()
        (tmp / "sub" / "b.txt").write_text("two")
    assert (target / "a.txt").read_text() == "one" and (target / "sub" / "b.txt").read_text() == "two"
    (target / "optimizer.bin").write_text("kept")
    with hub.atomic_save(target) as tmp:
        (tmp / "a.txt").write_text("three")
    assert (target / "a.txt").read_text() == "three"
    assert (target / "optimizer.bin").read_text() == "kept"  # files the save did not write stay
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left behind


def test_failed_save_leaves_previous_contents_intact(tmp_path):
    target = tmp_path / "artefact"
    with hub.atomic_save(target) as tmp:
        (tmp / "config.json").write_text('{"v": 1}')
        (tmp / "weights.bin").write_text("old")
    with pytest.raises(RuntimeError, match="disk full"), hub.atomic_save(target) as tmp:
        (tmp / "config.json").write_text('{"v": 2}')
        raise RuntimeError("disk full")
    assert (target / "config.json").read_text() == '{"v": 1}'
    assert (target / "weights.bin").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["artefact"]


def test_atomic_save_refuses_a_file_target(tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(NotADirectoryError, match="Choose a folder"), hub.atomic_save(target):
        pass


def test_atomic_write_text(tmp_path):
    path = tmp_path / "deep" / "x.json"
    hub.atomic_write_text(path, "{}")
    assert path.read_text() == "{}"
    assert list(path.parent.iterdir()) == [path]


def test_resolve_folder_local_and_errors(tmp_path):
    assert hub.resolve_folder(tmp_path) == tmp_path
    (tmp_path / "f").write_text("x")
    with pytest.raises(NotADirectoryError):
        hub.resolve_folder(tmp_path / "f")
    with pytest.raises(FileNotFoundError, match="neither an existing folder"):
        hub.resolve_folder("./missing/folder")


def test_commit_hash_detection():
    assert hub.is_commit_hash("a" * 40)
    assert not hub.is_commit_hash("main") and not hub.is_commit_hash(None)
    assert hub.pinned_revision("/local/path") is None
    assert hub.pinned_revision("user/repo", "b" * 40) == "b" * 40


def test_push_to_hub_uploads_what_save_wrote(hub):
    """The one push helper: save into a temporary folder, create the repo, upload in one commit."""
    from huggingface_hub import hf_hub_download, list_repo_commits, list_repo_files

    from hf_reft import hub as hub_module

    repo_id = hub.repo_id("artefact")

    def save(folder):
        with hub_module.atomic_save(folder) as tmp:
            (tmp / "config.json").write_text('{"v": 1}')
            (tmp / "weights").mkdir()
            (tmp / "weights" / "a.txt").write_text("A")

    info = hub_module.push_to_hub(save, repo_id, commit_message="first")
    assert hub.api.repo_exists(repo_id)
    assert sorted(list_repo_files(repo_id)) == [".gitattributes", "config.json", "weights/a.txt"]
    assert Path(hf_hub_download(repo_id, "weights/a.txt")).read_text() == "A"
    assert list_repo_commits(repo_id)[0].title == "first" and info.oid
    folder = hub_module.resolve_folder(repo_id, revision=info.oid)
    assert (folder / "config.json").read_text() == '{"v": 1}'
    assert hub_module.pinned_revision(repo_id) == info.oid


def test_push_to_a_branch_and_space(hub, tmp_path):
    from huggingface_hub import list_repo_refs

    from hf_reft import hub as hub_module

    (tmp_path / "app.py").write_text("print('hi')\n")
    hub_module.upload_folder(tmp_path, hub.repo_id("demo"), repo_type="space", space_sdk="gradio")
    assert hub.api.space_info(hub.repo_id("demo")).sha
    repo_id = hub.repo_id("branchy")
    hub_module.upload_folder(tmp_path, repo_id, revision="dev")
    assert "dev" in [b.name for b in list_repo_refs(repo_id).branches]


def test_a_save_swaps_the_whole_folder_and_restores_one_a_killed_fallback_left_aside(tmp_path, monkeypatch):
    target = tmp_path / "artefact"
    with hub.atomic_save(target) as tmp:
        (tmp / "a.txt").write_text("one")
    inode = target.stat().st_ino
    with hub.atomic_save(target) as tmp:
        (tmp / "a.txt").write_text("two")
    assert (target / "a.txt").read_text() == "two" and target.stat().st_ino != inode  # a new folder
    assert target.stat().st_mode & 0o777 != 0o700  # not mkdtemp's private mode
    # where renameat2 cannot exchange, two renames: a kill between them leaves the old folder aside,
    # and the next save puts it back before saving
    monkeypatch.setattr(hub, "_exchange", lambda a, b: False)
    target.rename(tmp_path / ".artefact.old-12345678")
    with hub.atomic_save(target) as tmp:
        (tmp / "b.txt").write_text("three")
    assert (target / "a.txt").read_text() == "two" and (target / "b.txt").read_text() == "three"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["artefact"]
