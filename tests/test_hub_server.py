"""The local Hub server (tests/hub_server.py), driven by the real `huggingface_hub` and `transformers` clients.

Nothing here is mocked: every call goes over HTTP to the server the `hub` fixture points the clients at.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path

import huggingface_hub
import pytest
from huggingface_hub import (
    CommitOperationAdd,
    HfApi,
    ModelCard,
    constants,
    get_hf_file_metadata,
    hf_hub_download,
    hf_hub_url,
    snapshot_download,
)
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.hf_api import RepoFile, RepoFolder

from hub_server import HubClient, HubServer, connect_client, git_blob_sha1

BINARY = bytes(range(256)) * 40  # every byte value, 10 KiB


def _make_folder(root: Path, files: dict[str, bytes]) -> Path:
    """Write ``files`` (relative path → content) under ``root`` and return it."""
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def _only_inline_commits(hub: HubClient) -> None:
    """Every commit carried its files inline (NDJSON `file` lines): no LFS, no Xet, no unknown route."""
    assert hub.server.state.commit_line_keys, "no commit reached the server"
    for keys in hub.server.state.commit_line_keys:
        assert keys[0] == "header"
        assert set(keys[1:]) <= {"file", "deletedFile", "deletedFolder"}, keys
    markers = ("xet-read-token", "xet-write-token", "/info/lfs", "lfs-files")
    assert not any(marker in r.path for r in hub.server.requests for marker in markers)
    assert hub.server.unhandled_requests == []


def test_fixture_points_clients_at_the_local_hub(hub: HubClient) -> None:
    assert hub.server.requests == []  # every test starts on an empty Hub
    assert os.environ["HF_ENDPOINT"] == hub.url == constants.ENDPOINT
    assert hf_hub_url("a/b", "c.json").startswith(hub.url + "/a/b/resolve/main/")
    assert huggingface_hub.hf_api.api.endpoint == hub.url  # behind huggingface_hub.model_info & co
    assert Path(constants.HF_HUB_CACHE).is_relative_to(hub.home)
    assert Path(constants.HF_TOKEN_PATH).is_relative_to(hub.home)
    assert not constants.is_offline_mode() and constants.HF_HUB_DISABLE_XET
    assert hub.env["HF_ENDPOINT"] == hub.url and hub.env["HF_TOKEN"] == hub.token
    assert "HF_HUB_OFFLINE" not in hub.env
    assert huggingface_hub.whoami()["name"] == hub.user


@pytest.fixture
def offline_before_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a CI that guards the real Hub does: offline mode on, before the `hub` fixture runs."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)


def test_hub_fixture_overrides_a_global_offline_mode(offline_before_hub: None, hub: HubClient) -> None:
    assert not constants.is_offline_mode() and "HF_HUB_OFFLINE" not in os.environ
    repo_id = HfApi().create_repo("online").repo_id
    assert Path(hf_hub_download(repo_id, ".gitattributes")).is_file()


def test_connect_client_restores_everything(hub_server: HubServer, tmp_path: Path) -> None:
    """`connect_client` (for code outside fixtures) patches like `hub` does and undoes it on exit."""
    before = (constants.ENDPOINT, constants.HF_HUB_CACHE, huggingface_hub.hf_api.api.endpoint)
    env_before = os.environ.get("HF_ENDPOINT")
    with connect_client(hub_server, tmp_path / "home") as client:
        assert (
            constants.ENDPOINT
            == huggingface_hub.hf_api.api.endpoint
            == client.url
            == os.environ["HF_ENDPOINT"]
        )
        assert huggingface_hub.whoami()["name"] == client.user
    assert (constants.ENDPOINT, constants.HF_HUB_CACHE, huggingface_hub.hf_api.api.endpoint) == before
    assert os.environ.get("HF_ENDPOINT") == env_before


def test_create_repo_for_each_type(hub: HubClient) -> None:
    api = HfApi()
    prefixes = {"model": "", "dataset": "datasets/", "space": "spaces/"}
    for repo_type, prefix in prefixes.items():
        sdk = {"space_sdk": "gradio"} if repo_type == "space" else {}
        url = api.create_repo("things", repo_type=repo_type, **sdk)
        assert url.repo_id == hub.repo_id("things") and url.repo_type == repo_type
        assert url == f"{hub.url}/{prefix}{hub.user}/things"
        info = api.repo_info(url.repo_id, repo_type=repo_type)
        assert len(info.sha) == 40 and ".gitattributes" in [s.rfilename for s in info.siblings]
        assert api.list_repo_commits(url.repo_id, repo_type=repo_type)[0].title == "initial commit"
        with pytest.raises(HfHubHTTPError) as conflict:
            api.create_repo(url.repo_id, repo_type=repo_type, **sdk)
        assert conflict.value.response.status_code == 409
        assert api.create_repo(url.repo_id, repo_type=repo_type, exist_ok=True, **sdk) == url
    assert api.space_info(hub.repo_id("things")).sdk == "gradio"
    assert api.repo_exists(hub.repo_id("things"), repo_type="dataset")
    assert not api.repo_exists(hub.repo_id("nothing"), repo_type="dataset")

    api.create_repo("secret", private=True)
    assert api.model_info(hub.repo_id("secret")).private is True
    with pytest.raises(RepositoryNotFoundError):
        api.model_info(hub.repo_id("secret"), token=False)  # anonymous: a private repo does not exist


def test_upload_folder_listing_and_downloads(hub: HubClient, tmp_path: Path) -> None:
    api = HfApi()
    repo_id = api.create_repo("folder").repo_id
    files = {
        "config.json": b'{"a": 1}',
        "weights/part one.bin": BINARY,
        "weights/nested/deep.txt": "ünïcode ✓\n".encode(),
        ".git/HEAD": b"ignored by the client",
    }
    info = api.upload_folder(folder_path=_make_folder(tmp_path / "src", files), repo_id=repo_id)
    assert len(info.oid) == 40 and info.commit_url == f"{hub.url}/{repo_id}/commit/{info.oid}"

    expected = sorted([".gitattributes", "config.json", "weights/part one.bin", "weights/nested/deep.txt"])
    assert sorted(api.list_repo_files(repo_id)) == expected
    model = api.model_info(repo_id, files_metadata=True)
    assert model.sha == info.oid
    sizes = {s.rfilename: s.size for s in model.siblings}
    assert sizes["weights/part one.bin"] == len(BINARY)
    assert {s.rfilename: s.blob_id for s in model.siblings}["config.json"] == git_blob_sha1(b'{"a": 1}')

    top = {e.path: type(e) for e in api.list_repo_tree(repo_id)}
    assert top == {".gitattributes": RepoFile, "config.json": RepoFile, "weights": RepoFolder}
    sub = {e.path for e in api.list_repo_tree(repo_id, "weights", recursive=True)}
    assert sub == {"weights/part one.bin", "weights/nested", "weights/nested/deep.txt"}
    expanded = next(iter(api.list_repo_tree(repo_id, "weights", expand=True)))
    assert expanded.last_commit is not None and expanded.last_commit.oid == info.oid
    paths = api.get_paths_info(repo_id, ["config.json", "weights", "missing.txt"])
    assert [(type(p), p.path) for p in paths] == [(RepoFile, "config.json"), (RepoFolder, "weights")]

    assert Path(hf_hub_download(repo_id, "weights/part one.bin")).read_bytes() == BINARY
    assert Path(hf_hub_download(repo_id, "deep.txt", subfolder="weights/nested")).read_text() == "ünïcode ✓\n"
    snapshot = Path(snapshot_download(repo_id))
    assert snapshot.name == info.oid
    assert sorted(str(p.relative_to(snapshot)) for p in snapshot.rglob("*") if p.is_file()) == expected
    local = Path(snapshot_download(repo_id, allow_patterns="weights/*", local_dir=tmp_path / "local"))
    assert (local / "weights/part one.bin").read_bytes() == BINARY and not (local / "config.json").exists()
    _only_inline_commits(hub)


def test_upload_file_to_dataset_and_space(hub: HubClient) -> None:
    api = HfApi()
    dataset = api.create_repo("data", repo_type="dataset").repo_id
    rows = b'{"q": "1+1", "a": 2}\n'
    api.upload_file(
        path_or_fileobj=rows, path_in_repo="train/rows.jsonl", repo_id=dataset, repo_type="dataset"
    )
    assert Path(hf_hub_download(dataset, "train/rows.jsonl", repo_type="dataset")).read_bytes() == rows
    assert "train/rows.jsonl" in [s.rfilename for s in api.dataset_info(dataset).siblings]

    space = api.create_repo("demo", repo_type="space", space_sdk="gradio").repo_id
    api.upload_file(path_or_fileobj=b"print('hi')\n", path_in_repo="app.py", repo_id=space, repo_type="space")
    assert Path(hf_hub_download(space, "app.py", repo_type="space")).read_text() == "print('hi')\n"
    assert api.space_info(space).card_data.sdk == "gradio"  # the Hub's initial Space README
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download(space, "app.py")  # same id, wrong type
    _only_inline_commits(hub)


def test_datasets_and_hf_file_system_read_a_dataset_repo(hub: HubClient) -> None:
    """`datasets.load_dataset` and `HfFileSystem` (which `datasets` builds on) read from the local Hub."""
    datasets = pytest.importorskip("datasets")
    from huggingface_hub import HfFileSystem

    repo_id = HfApi().create_repo("rows", repo_type="dataset").repo_id
    rows = b'{"q": "1+1", "a": 2}\n{"q": "2+3", "a": 5}\n'
    HfApi().upload_file(
        path_or_fileobj=rows, path_in_repo="data/train.jsonl", repo_id=repo_id, repo_type="dataset"
    )
    fs = HfFileSystem()
    assert fs.glob(f"datasets/{repo_id}/**/*.jsonl") == [f"datasets/{repo_id}/data/train.jsonl"]
    assert fs.cat(f"datasets/{repo_id}/data/train.jsonl") == rows
    loaded = datasets.load_dataset(repo_id, split="train")
    assert loaded.to_dict() == {"q": ["1+1", "2+3"], "a": [2, 5]}
    assert hub.server.unhandled_requests == []


def test_history_revisions_branches_and_tags(hub: HubClient) -> None:
    api = HfApi()
    repo_id = api.create_repo("history").repo_id
    first = api.upload_file(
        path_or_fileobj=b"v1", path_in_repo="w.txt", repo_id=repo_id, commit_message="one"
    )
    api.upload_file(path_or_fileobj=b"old", path_in_repo="gone.txt", repo_id=repo_id, commit_message="two")
    third = api.create_commit(
        repo_id,
        operations=[CommitOperationAdd("w.txt", b"v2")],
        commit_message="three",
        commit_description="details",
        parent_commit=api.model_info(repo_id).sha,
    )
    api.delete_file("gone.txt", repo_id, commit_message="four")

    commits = api.list_repo_commits(repo_id)
    assert [c.title for c in commits] == ["four", "three", "two", "one", "initial commit"]
    assert commits[1].commit_id == third.oid and commits[1].message == "details"
    assert commits[0].authors == [hub.user]
    assert [c.title for c in api.list_repo_commits(repo_id, revision=first.oid)] == ["one", "initial commit"]

    # `revision=` with a full hash, a short hash, a branch and a tag.
    assert Path(hf_hub_download(repo_id, "w.txt")).read_bytes() == b"v2"
    assert Path(hf_hub_download(repo_id, "w.txt", revision=first.oid)).read_bytes() == b"v1"
    assert Path(hf_hub_download(repo_id, "w.txt", revision=first.oid[:10])).read_bytes() == b"v1"
    old = Path(snapshot_download(repo_id, revision=commits[2].commit_id))
    assert (old / "gone.txt").read_bytes() == b"old" and not (
        Path(snapshot_download(repo_id)) / "gone.txt"
    ).exists()
    assert api.model_info(repo_id, revision=first.oid).sha == first.oid
    assert "gone.txt" not in api.list_repo_files(repo_id)

    api.create_branch(repo_id, branch="dev", revision=first.oid)
    api.upload_file(path_or_fileobj=b"dev", path_in_repo="w.txt", repo_id=repo_id, revision="dev")
    api.create_tag(repo_id, tag="v1.0", revision=first.oid)
    assert Path(hf_hub_download(repo_id, "w.txt", revision="dev")).read_bytes() == b"dev"
    assert Path(hf_hub_download(repo_id, "w.txt", revision="v1.0")).read_bytes() == b"v1"
    assert Path(hf_hub_download(repo_id, "w.txt")).read_bytes() == b"v2"  # main untouched
    refs = api.list_repo_refs(repo_id)
    assert {b.name for b in refs.branches} == {"main", "dev"}
    assert [(t.name, t.target_commit) for t in refs.tags] == [("v1.0", first.oid)]

    # An unchanged file is not committed again (the preupload answer carries the remote blob id).
    before = api.model_info(repo_id).sha
    assert api.upload_file(path_or_fileobj=b"v2", path_in_repo="w.txt", repo_id=repo_id).oid == before
    assert api.model_info(repo_id).sha == before
    with pytest.raises(HfHubHTTPError) as stale:  # optimistic locking on a stale parent
        api.create_commit(
            repo_id, [CommitOperationAdd("x", b"x")], commit_message="x", parent_commit=first.oid
        )
    assert stale.value.response.status_code == 412

    pr = api.create_commit(
        repo_id, [CommitOperationAdd("pr.txt", b"pr")], commit_message="pr", create_pr=True
    )
    assert pr.pr_num == 1 and pr.pr_revision == "refs/pr/1"
    assert Path(hf_hub_download(repo_id, "pr.txt", revision="refs/pr/1")).read_bytes() == b"pr"
    assert "pr.txt" not in api.list_repo_files(repo_id)
    _only_inline_commits(hub)


@pytest.mark.parametrize("repo_type", ["model", "dataset", "space"])
def test_missing_repo_file_or_revision_raise_the_hub_errors(hub: HubClient, repo_type: str) -> None:
    api = HfApi()
    sdk = {"space_sdk": "static"} if repo_type == "space" else {}
    repo_id = api.create_repo("present", repo_type=repo_type, **sdk).repo_id
    api.upload_file(path_or_fileobj=b"x", path_in_repo="f.txt", repo_id=repo_id, repo_type=repo_type)
    missing_repo = hub.repo_id("absent")

    for call in (
        lambda: hf_hub_download(missing_repo, "f.txt", repo_type=repo_type),
        lambda: snapshot_download(missing_repo, repo_type=repo_type),
        lambda: api.repo_info(missing_repo, repo_type=repo_type),
        lambda: api.list_repo_files(missing_repo, repo_type=repo_type),
        lambda: api.upload_file(
            path_or_fileobj=b"x", path_in_repo="f", repo_id=missing_repo, repo_type=repo_type
        ),
    ):
        with pytest.raises(RepositoryNotFoundError):
            call()

    with pytest.raises(RemoteEntryNotFoundError) as entry_error:
        hf_hub_download(repo_id, "nope.txt", repo_type=repo_type)
    assert isinstance(entry_error.value, EntryNotFoundError)
    with pytest.raises(RemoteEntryNotFoundError):
        api.delete_file("nope.txt", repo_id, repo_type=repo_type)
    with pytest.raises(RemoteEntryNotFoundError):
        list(api.list_repo_tree(repo_id, "no/such/dir", repo_type=repo_type))
    assert not api.file_exists(repo_id, "nope.txt", repo_type=repo_type)
    assert api.file_exists(repo_id, "f.txt", repo_type=repo_type)

    for call in (
        lambda: hf_hub_download(repo_id, "f.txt", repo_type=repo_type, revision="no-such-branch"),
        lambda: hf_hub_download(repo_id, "f.txt", repo_type=repo_type, revision="0" * 40),
        lambda: snapshot_download(repo_id, repo_type=repo_type, revision="no-such-branch"),
        lambda: api.repo_info(repo_id, repo_type=repo_type, revision="no-such-branch"),
        lambda: api.list_repo_commits(repo_id, repo_type=repo_type, revision="no-such-branch"),
    ):
        with pytest.raises(RevisionNotFoundError):
            call()
    assert not api.revision_exists(repo_id, "no-such-branch", repo_type=repo_type)

    with pytest.raises(HfHubHTTPError) as bad_token:  # a wrong token is refused, not taken for a missing repo
        api.repo_info(repo_id, repo_type=repo_type, token="hf_wrong")
    assert bad_token.value.response.status_code == 401
    assert not isinstance(bad_token.value, RepositoryNotFoundError)


def test_resolve_headers_and_ranges(hub: HubClient) -> None:
    api = HfApi()
    repo_id = api.create_repo("raw").repo_id
    sha = api.upload_file(path_or_fileobj=BINARY, path_in_repo="b.bin", repo_id=repo_id).oid
    url = hf_hub_url(repo_id, "b.bin")
    meta = get_hf_file_metadata(url)
    assert (meta.commit_hash, meta.etag, meta.size) == (sha, git_blob_sha1(BINARY), len(BINARY))

    auth = {"Authorization": f"Bearer {hub.token}"}
    with urllib.request.urlopen(urllib.request.Request(url, method="HEAD", headers=auth)) as head:
        assert head.headers["X-Repo-Commit"] == sha
        assert head.headers["ETag"] == f'"{git_blob_sha1(BINARY)}"'
        assert int(head.headers["Content-Length"]) == len(BINARY) and head.read() == b""
    ranged = urllib.request.Request(url, headers={**auth, "Range": "bytes=10-19"})
    with urllib.request.urlopen(ranged) as part:
        assert part.status == 206 and part.read() == BINARY[10:20]
        assert part.headers["Content-Range"] == f"bytes 10-19/{len(BINARY)}"
    missing = urllib.request.Request(hf_hub_url(repo_id, "nope"), method="HEAD", headers=auth)
    with pytest.raises(urllib.error.HTTPError) as not_found:
        urllib.request.urlopen(missing)
    assert not_found.value.code == 404
    assert not_found.value.headers["X-Error-Code"] == "EntryNotFound"
    assert not_found.value.headers["X-Repo-Commit"] == sha


def test_model_card_metadata_round_trip(hub: HubClient) -> None:
    repo_id = HfApi().create_repo("carded").repo_id
    card = ModelCard(
        "---\nlibrary_name: hf-reft\nlicense: apache-2.0\nbase_model: org/base\n"
        "base_model_relation: adapter\ntags:\n- reft\n---\n\n# Adapter\n"
    )
    card.push_to_hub(repo_id)
    info = huggingface_hub.model_info(repo_id)
    assert info.card_data.library_name == "hf-reft" and info.card_data.base_model == "org/base"
    assert info.tags == ["reft"]
    assert ModelCard.load(repo_id).data.base_model_relation == "adapter"
    with pytest.raises(ValueError, match="Invalid metadata"):  # the Hub validates README metadata
        HfApi().upload_file(
            path_or_fileobj=b"---\n[unclosed\n---\n", path_in_repo="README.md", repo_id=repo_id
        )


def test_delete_and_move_repo(hub: HubClient) -> None:
    api = HfApi()
    repo_id = api.create_repo("doomed", repo_type="dataset").repo_id
    api.move_repo(repo_id, hub.repo_id("moved"), repo_type="dataset")
    with pytest.raises(RepositoryNotFoundError):
        api.dataset_info(repo_id)
    api.delete_repo(hub.repo_id("moved"), repo_type="dataset")
    with pytest.raises(RepositoryNotFoundError):
        api.dataset_info(hub.repo_id("moved"))
    with pytest.raises(RepositoryNotFoundError):
        api.delete_repo(hub.repo_id("moved"), repo_type="dataset")
    api.delete_repo(hub.repo_id("moved"), repo_type="dataset", missing_ok=True)


def test_upload_folder_with_xet_enabled_still_commits_inline(
    hub: HubClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Users have `hf_xet` installed: `upload_folder` then takes the pipelined path, which must work too."""
    pytest.importorskip("hf_xet")
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", False)
    repo_id = HfApi().create_repo("pipelined").repo_id
    folder = _make_folder(tmp_path, {"a.txt": b"a", "sub/b.bin": BINARY})
    HfApi().upload_folder(folder_path=folder, repo_id=repo_id, commit_message="pipelined")
    assert HfApi().list_repo_commits(repo_id)[0].title == "pipelined"
    assert Path(hf_hub_download(repo_id, "sub/b.bin")).read_bytes() == BINARY
    _only_inline_commits(hub)


def test_push_to_hub_then_from_pretrained_in_a_fresh_process(hub: HubClient, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from transformers import AutoConfig, LlamaForCausalLM

    from tiny_models import make_tokenizer, tiny_config

    repo_id = hub.repo_id("tiny-llama")
    text = "Question: Tom has 3 apples and buys 5 more."
    tokenizer = make_tokenizer()
    torch.manual_seed(0)
    model = LlamaForCausalLM(tiny_config("llama")).eval()
    first = model.push_to_hub(repo_id)
    tokenizer.push_to_hub(repo_id)
    with torch.no_grad():
        ids = tokenizer(text, return_tensors="pt")
        expected_first = model(**ids).logits
        for parameter in model.parameters():
            parameter.add_(0.01)
        expected_latest = model(**ids).logits
    model.push_to_hub(repo_id)
    assert AutoConfig.from_pretrained(repo_id).hidden_size == 64  # in-process load too

    out = tmp_path / "loaded.pt"
    hub.run_python(
        f"""
import torch
from huggingface_hub import constants
from transformers import AutoModelForCausalLM, AutoTokenizer

assert constants.ENDPOINT == {hub.url!r} and not constants.is_offline_mode()
tokenizer = AutoTokenizer.from_pretrained({repo_id!r})
ids = tokenizer({text!r}, return_tensors="pt")
results = {{"input_ids": ids["input_ids"]}}
for name, revision in (("latest", None), ("first", {first.oid!r})):
    model = AutoModelForCausalLM.from_pretrained({repo_id!r}, revision=revision).eval()
    with torch.no_grad():
        results[name] = model(**ids).logits
torch.save(results, {str(out)!r})
"""
    )
    loaded = torch.load(out)
    assert torch.equal(loaded["input_ids"], ids["input_ids"])
    assert torch.equal(loaded["latest"], expected_latest)
    assert torch.equal(loaded["first"], expected_first)
    assert not torch.equal(expected_first, expected_latest)
    assert "model.safetensors" in json.dumps(
        [s.rfilename for s in huggingface_hub.model_info(repo_id).siblings]
    )
    _only_inline_commits(hub)
