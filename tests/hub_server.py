"""A local stand-in for the Hugging Face Hub, speaking its HTTP protocol as `huggingface_hub` 2.x uses it.

The server keeps every repository in memory: each commit is a full snapshot ``{path: bytes}`` with a 40-hex
commit id, so any revision (branch, tag, ``refs/pr/N``, full or short commit hash) can be served at any time.
Files are always "regular" git files: the preupload endpoint answers ``uploadMode: "regular"`` for every file,
so the client sends contents base64-encoded inside the NDJSON commit and never touches LFS or Xet storage.

Implemented endpoints (``{type}`` is ``models``, ``datasets`` or ``spaces``; ``{repo}`` is ``namespace/name``):

=========================================================  =====================================================
``GET  /api/whoami-v2``                                    ``HfApi.whoami``
``POST /api/validate-yaml``                                README.md metadata check (``create_commit``, cards)
``POST /api/repos/create``                                 ``create_repo`` (model, dataset, space)
``DELETE /api/repos/delete``                               ``delete_repo``
``POST /api/repos/move``                                   ``move_repo``
``GET  /api/{type}/{repo}[/revision/{rev}]``               ``model_info`` / ``dataset_info`` / ``space_info``
``GET  /api/{type}/{repo}/tree/{rev}[/{path}]``            ``list_repo_tree`` / ``list_repo_files``
``POST /api/{type}/{repo}/paths-info/{rev}``               ``get_paths_info``
``POST /api/{type}/{repo}/preupload/{rev}``                upload mode of each file (always "regular")
``POST /api/{type}/{repo}/commit/{rev}``                   ``create_commit`` (NDJSON), ``create_pr=1`` too
``GET  /api/{type}/{repo}/commits/{rev}``                  ``list_repo_commits``
``GET  /api/{type}/{repo}/refs``                           ``list_repo_refs``
``POST|DELETE /api/{type}/{repo}/branch/{branch}``         ``create_branch`` / ``delete_branch``
``POST /api/{type}/{repo}/tag/{rev}``, ``DELETE .../tag``  ``create_tag`` / ``delete_tag``
``PUT  /api/{type}/{repo}/settings``                       ``update_repo_settings`` (``private``, ``gated``)
``HEAD|GET /[datasets/|spaces/]{repo}/resolve/{rev}/{p}``  ``hf_hub_download``, ``snapshot_download``, with
                                                           ``ETag``, ``X-Repo-Commit``, ``Content-Length`` and
                                                           ``Range`` support
=========================================================  =====================================================

Errors carry the ``X-Error-Code`` header the Hub sends, so the client raises the same classes as against the
real Hub: ``RepoNotFound`` → ``RepositoryNotFoundError``, ``RevisionNotFound`` → ``RevisionNotFoundError``,
``EntryNotFound`` → ``RemoteEntryNotFoundError`` (a subclass of ``EntryNotFoundError``).

Use it from tests through the fixtures in ``tests/conftest.py`` (``hub_server`` and ``hub``), or standalone::

    python tests/hub_server.py --port 8765   # then: HF_ENDPOINT=http://127.0.0.1:8765 HF_TOKEN=... python ...
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fnmatch
import hashlib
import importlib
import itertools
import json
import mimetypes
import os
import re
import subprocess
import sys
import threading
import traceback
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

DEFAULT_USER = "hf-reft-tester"
"""User name the server's default token belongs to (``whoami()["name"]``)."""

DEFAULT_ORG = "hf-reft-org"
"""Organisation the default user is a member of."""

DEFAULT_TOKEN = "hf_localhubFakeTokenForTests0000000000"
"""Fake access token the server accepts; the fixtures export it as ``HF_TOKEN``."""

REPO_TYPES_BY_PLURAL = {"models": "model", "datasets": "dataset", "spaces": "space"}
URL_PREFIXES = {"model": "", "dataset": "datasets/", "space": "spaces/"}
SPACE_SDKS = ("gradio", "streamlit", "docker", "static")

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
_SHORT_SHA_RE = re.compile(r"^[0-9a-f]{7,40}$")
_PR_REF_RE = re.compile(r"^refs/pr/(\d+)$")
_FRONT_MATTER_RE = re.compile(r"\A---\s*\n(.*?)\n---\s*(\n|\Z)", re.DOTALL)

# What the Hub writes into every new repo (an excerpt of its standard LFS attributes).
DEFAULT_GITATTRIBUTES = (
    b"*.7z filter=lfs diff=lfs merge=lfs -text\n"
    b"*.bin filter=lfs diff=lfs merge=lfs -text\n"
    b"*.ckpt filter=lfs diff=lfs merge=lfs -text\n"
    b"*.gguf filter=lfs diff=lfs merge=lfs -text\n"
    b"*.h5 filter=lfs diff=lfs merge=lfs -text\n"
    b"*.npy filter=lfs diff=lfs merge=lfs -text\n"
    b"*.onnx filter=lfs diff=lfs merge=lfs -text\n"
    b"*.parquet filter=lfs diff=lfs merge=lfs -text\n"
    b"*.pt filter=lfs diff=lfs merge=lfs -text\n"
    b"*.pth filter=lfs diff=lfs merge=lfs -text\n"
    b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"
    b"*.zip filter=lfs diff=lfs merge=lfs -text\n"
)


def git_blob_sha1(data: bytes) -> str:
    """Return the git object id of a blob with content ``data`` (what ``git hash-object`` prints)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _iso(moment: datetime) -> str:
    """Format a datetime the way the Hub does (``2024-05-01T12:00:00.000Z``)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _as_bool(value: str | None) -> bool:
    """Interpret a query-string flag (``true``, ``True``, ``1``)."""
    return value is not None and value.lower() in {"1", "true", "yes"}


def parse_front_matter(text: str) -> dict[str, Any] | None:
    """Return the YAML metadata block at the top of a README, ``None`` when there is none.

    Raises:
        yaml.YAMLError: if the block is not valid YAML.
        ValueError: if the block is valid YAML but not a mapping.
    """
    match = _FRONT_MATTER_RE.match(text)
    if match is None:
        return None
    data = yaml.safe_load(match.group(1))
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError("YAML metadata must be a mapping")
    return data


def _safetensors_parameters(data: bytes) -> dict[str, int]:
    """Count parameters per dtype in a safetensors file from its JSON header (empty on a malformed file)."""
    if len(data) < 8:
        return {}
    header_len = int.from_bytes(data[:8], "little")
    try:
        header = json.loads(data[8 : 8 + header_len])
    except ValueError:
        return {}
    counts: dict[str, int] = {}
    for name, info in header.items():
        if name == "__metadata__" or not isinstance(info, dict):
            continue
        numel = 1
        for dim in info.get("shape", []):
            numel *= int(dim)
        counts[info.get("dtype", "?")] = counts.get(info.get("dtype", "?"), 0) + numel
    return counts


def _gitignore_matches(patterns: list[str], path: str) -> bool:
    """Whether ``path`` is ignored by gitignore ``patterns`` (a reasonable subset of git's rules)."""
    ignored = False
    parts = path.split("/")
    for raw in patterns:
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern[1:] if negate else pattern
        pattern = pattern.rstrip("/")
        if "/" in pattern.strip("/"):
            anchored = pattern.lstrip("/")
            hit = fnmatch.fnmatchcase(path, anchored) or fnmatch.fnmatchcase(path, anchored + "/*")
        else:
            pattern = pattern.lstrip("/")
            hit = any(fnmatch.fnmatchcase(part, pattern) for part in parts)
        if hit:
            ignored = not negate
    return ignored


class HubError(Exception):
    """An HTTP error answer, shaped like the Hub's (JSON ``{"error": ...}`` plus ``X-Error-*`` headers)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


@dataclass(frozen=True)
class Commit:
    """One commit: a full snapshot of the repo's files."""

    oid: str
    parents: tuple[str, ...]
    title: str
    message: str
    author: str
    date: datetime
    files: Mapping[str, bytes]


@dataclass
class Repo:
    """A repository with its commits and references."""

    repo_type: str
    repo_id: str
    private: bool
    created_at: datetime
    sdk: str | None = None
    gated: bool | str = False
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    pull_requests: dict[int, str] = field(default_factory=dict)
    internal_id: str = field(default_factory=lambda: uuid.uuid4().hex[:24])

    @property
    def url_path(self) -> str:
        """The repo's path on the website, e.g. ``datasets/user/name``."""
        return URL_PREFIXES[self.repo_type] + self.repo_id

    def resolve(self, revision: str) -> Commit | None:
        """Resolve a branch, tag, ``refs/...`` name or (short) commit hash to a commit."""
        name = revision
        if name.startswith("refs/heads/"):
            name = name[len("refs/heads/") :]
            return self.commits[self.branches[name]] if name in self.branches else None
        if name.startswith("refs/tags/"):
            name = name[len("refs/tags/") :]
            return self.commits[self.tags[name]] if name in self.tags else None
        if match := _PR_REF_RE.match(name):
            oid = self.pull_requests.get(int(match.group(1)))
            return self.commits[oid] if oid else None
        if name in self.branches:
            return self.commits[self.branches[name]]
        if name in self.tags:
            return self.commits[self.tags[name]]
        if _SHORT_SHA_RE.match(name):
            found = [commit for oid, commit in self.commits.items() if oid.startswith(name)]
            if len(found) == 1:
                return found[0]
        return None

    def history(self, start: Commit) -> list[Commit]:
        """First-parent history from ``start`` back to the initial commit, newest first."""
        out = [start]
        while out[-1].parents:
            out.append(self.commits[out[-1].parents[0]])
        return out

    def used_storage(self) -> int:
        """Bytes of all distinct blobs ever committed."""
        blobs = {git_blob_sha1(data): len(data) for c in self.commits.values() for data in c.files.values()}
        return sum(blobs.values())


@dataclass
class RequestRecord:
    """One request the server answered (for assertions and debugging)."""

    method: str
    path: str
    status: int
    handled: bool


class HubState:
    """All repositories, users and tokens of the server; every method is thread-safe."""

    def __init__(
        self, user: str = DEFAULT_USER, token: str = DEFAULT_TOKEN, orgs: tuple[str, ...] = ()
    ) -> None:
        self.lock = threading.RLock()
        self.user = user
        self.orgs = tuple(orgs)
        self.tokens: dict[str, str] = {token: user}
        self.repos: dict[tuple[str, str], Repo] = {}
        self.requests: list[RequestRecord] = []
        self.commit_line_keys: list[list[str]] = []
        self._counter = itertools.count()

    def reset(self) -> None:
        """Forget every repository and the request log (users and tokens stay)."""
        with self.lock:
            self.repos.clear()
            self.requests.clear()
            self.commit_line_keys.clear()

    # -- repositories -------------------------------------------------------------------------------------------

    def get_repo(self, repo_type: str, repo_id: str, user: str | None) -> Repo:
        """Look a repo up; missing (or private and anonymous) gives the Hub's ``RepoNotFound``."""
        repo = self.repos.get((repo_type, repo_id))
        if repo is None or (repo.private and user is None):
            raise HubError(
                401 if user is None else 404,
                "Repository not found",
                code="RepoNotFound",
            )
        return repo

    def resolve(self, repo: Repo, revision: str) -> Commit:
        """Resolve ``revision`` in ``repo``; unknown gives the Hub's ``RevisionNotFound``."""
        commit = repo.resolve(revision)
        if commit is None:
            raise HubError(404, f"Invalid rev id: {revision}", code="RevisionNotFound")
        return commit

    def new_oid(self, *parts: str) -> str:
        """A fresh 40-hex commit id."""
        seed = "\0".join([*parts, str(next(self._counter)), str(datetime.now(UTC).timestamp())])
        return hashlib.sha1(seed.encode()).hexdigest()

    def create_repo(
        self, repo_type: str, repo_id: str, *, private: bool, sdk: str | None, author: str
    ) -> tuple[Repo, bool]:
        """Create a repo with the Hub's initial commit; returns ``(repo, created)``."""
        with self.lock:
            existing = self.repos.get((repo_type, repo_id))
            if existing is not None:
                return existing, False
            now = datetime.now(UTC)
            repo = Repo(repo_type=repo_type, repo_id=repo_id, private=private, created_at=now, sdk=sdk)
            files: dict[str, bytes] = {".gitattributes": DEFAULT_GITATTRIBUTES}
            if repo_type == "space":
                name = repo_id.split("/")[-1]
                files["README.md"] = (
                    f"---\ntitle: {name}\nemoji: 🚀\ncolorFrom: blue\ncolorTo: green\nsdk: {sdk}\n"
                    "pinned: false\n---\n\nCheck out the configuration reference at "
                    "https://huggingface.co/docs/hub/spaces-config-reference\n"
                ).encode()
            oid = self.new_oid(repo_type, repo_id, "initial commit")
            repo.commits[oid] = Commit(oid, (), "initial commit", "", author, now, files)
            repo.branches["main"] = oid
            self.repos[(repo_type, repo_id)] = repo
            return repo, True

    def commit(
        self,
        repo: Repo,
        revision: str,
        *,
        header: dict[str, Any],
        operations: list[tuple[str, dict[str, Any]]],
        author: str,
        create_pr: bool,
    ) -> tuple[Commit, int | None]:
        """Apply NDJSON ``operations`` on top of ``revision``; returns the new commit and the PR number if any."""
        with self.lock:
            base = self.resolve(repo, revision)
            target_branch: str | None = None
            target_pr: int | None = None
            if create_pr:
                target_pr = max([0, *repo.pull_requests]) + 1
            elif match := _PR_REF_RE.match(revision):
                target_pr = int(match.group(1))
            else:
                name = revision.removeprefix("refs/heads/")
                if name not in repo.branches:
                    raise HubError(400, f"Invalid rev id: {revision} is not a branch, cannot commit to it")
                target_branch = name
            parent_commit = header.get("parentCommit")
            if parent_commit and not create_pr and parent_commit != base.oid:
                raise HubError(412, "A commit has happened since. Please refresh and try again.")

            files = dict(base.files)
            for key, value in operations:
                path = str(value.get("path", "")).strip("/")
                if key == "file":
                    if value.get("encoding") == "base64":
                        files[path] = base64.b64decode(value["content"])
                    else:
                        files[path] = str(value["content"]).encode()
                elif key == "lfsFile":
                    files[path] = self._find_lfs_object(repo, str(value.get("oid")))
                elif key == "deletedFile":
                    if path not in files:
                        raise HubError(
                            404, f"A file with this name doesn't exist: {path}", code="EntryNotFound"
                        )
                    del files[path]
                elif key == "deletedFolder":
                    doomed = [p for p in files if p.startswith(path + "/")]
                    if not doomed:
                        raise HubError(
                            404, f"A file with this name doesn't exist: {path}", code="EntryNotFound"
                        )
                    for p in doomed:
                        del files[p]
                else:
                    raise HubError(400, f"Unknown commit operation key: {key!r}")

            summary = str(header.get("summary") or "Update files")
            description = str(header.get("description") or "")
            now = datetime.now(UTC)
            oid = self.new_oid(repo.repo_id, base.oid, summary)
            commit = Commit(oid, (base.oid,), summary, description, author, now, files)
            repo.commits[oid] = commit
            if target_branch is not None:
                repo.branches[target_branch] = oid
            if target_pr is not None:
                repo.pull_requests[target_pr] = oid
            return commit, target_pr if create_pr else None

    @staticmethod
    def _find_lfs_object(repo: Repo, sha256: str) -> bytes:
        """Content of a previously committed file by its sha256 (server-side LFS copy)."""
        for commit in repo.commits.values():
            for data in commit.files.values():
                if hashlib.sha256(data).hexdigest() == sha256:
                    return data
        raise HubError(422, f"LFS object {sha256} not found: this server only stores regular files")


class _Handler(BaseHTTPRequestHandler):
    """Routes one HTTP request to the matching Hub endpoint."""

    protocol_version = "HTTP/1.1"
    server: _HubHTTPServer

    # -- plumbing -----------------------------------------------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:  # quiet: requests are recorded in HubState
        """Silence the default stderr access log."""

    def do_GET(self) -> None:
        """Handle GET."""
        self._dispatch()

    def do_HEAD(self) -> None:
        """Handle HEAD."""
        self._dispatch()

    def do_POST(self) -> None:
        """Handle POST."""
        self._dispatch()

    def do_PUT(self) -> None:
        """Handle PUT."""
        self._dispatch()

    def do_DELETE(self) -> None:
        """Handle DELETE."""
        self._dispatch()

    @property
    def state(self) -> HubState:
        """The server's shared state."""
        return self.server.state

    @property
    def endpoint(self) -> str:
        """Base URL of this server."""
        return self.server.url

    def _read_body(self) -> bytes:
        """Read the request body (Content-Length or chunked) so the connection can be reused."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(
        self, status: int, body: bytes, content_type: str, headers: Mapping[str, str] | None = None
    ) -> None:
        """Write a complete response (no body for HEAD, but the headers of a GET)."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Request-Id", self._request_id)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self._status = status

    def _json(self, payload: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> None:
        """Send a JSON response."""
        self._send(status, json.dumps(payload).encode(), "application/json; charset=utf-8", headers)

    def _error(self, error: HubError) -> None:
        """Send an error the way the Hub does."""
        headers = {"X-Error-Message": error.message.encode("ascii", "replace").decode(), **error.headers}
        if error.code:
            headers["X-Error-Code"] = error.code
        self._json({"error": error.message, **error.extra}, status=error.status, headers=headers)

    def _dispatch(self) -> None:
        """Parse the URL, run the endpoint, and record the request."""
        self._request_id = uuid.uuid4().hex
        self._status = 500
        self._handled = True
        split = urlsplit(self.path)
        # Split on raw slashes first, so that "%2F" inside a revision or a path stays inside its segment.
        self._segments = [unquote(part) for part in split.path.split("/")[1:]]
        self._query = parse_qs(split.query, keep_blank_values=True)
        try:
            self._body = self._read_body()
            self._user = self._authenticate()
            self._route()
        except HubError as error:
            self._error(error)
        except Exception as error:  # a bug in this server: answer 500 with the traceback, never hang
            traceback.print_exc()
            self._error(HubError(500, f"Internal error in local hub server: {error!r}"))
        finally:
            with self.state.lock:
                self.state.requests.append(
                    RequestRecord(self.command, split.path, self._status, self._handled)
                )

    def _authenticate(self) -> str | None:
        """User of the bearer token, ``None`` when anonymous; a bad token is refused like the Hub does."""
        header = self.headers.get("Authorization")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        user = self.state.tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            raise HubError(401, "Invalid credentials in Authorization header")
        return user

    def _require_user(self) -> str:
        """The authenticated user, or the Hub's 401."""
        if self._user is None:
            raise HubError(401, "Invalid username or password.", code="RepoNotFound")
        return self._user

    def _query_one(self, name: str) -> str | None:
        """First value of a query parameter."""
        values = self._query.get(name)
        return values[0] if values else None

    def _json_body(self) -> dict[str, Any]:
        """The request body parsed as a JSON object (``{}`` when empty)."""
        if not self._body:
            return {}
        try:
            data = json.loads(self._body)
        except ValueError as error:
            raise HubError(400, f"Invalid JSON body: {error}") from error
        if not isinstance(data, dict):
            raise HubError(400, "JSON body must be an object")
        return data

    # -- routing ------------------------------------------------------------------------------------------------

    def _route(self) -> None:
        """Send the request to its endpoint, or answer a plain 404 for unknown routes."""
        seg = self._segments
        method = self.command
        if seg and seg[0] == "api":
            if seg[1:] == ["whoami-v2"] and method == "GET":
                return self._whoami()
            if seg[1:] == ["validate-yaml"] and method == "POST":
                return self._validate_yaml()
            if seg[1:] == ["repos", "create"] and method == "POST":
                return self._create_repo()
            if seg[1:] == ["repos", "delete"] and method == "DELETE":
                return self._delete_repo()
            if seg[1:] == ["repos", "move"] and method == "POST":
                return self._move_repo()
            if len(seg) >= 4 and seg[1] in REPO_TYPES_BY_PLURAL:
                return self._repo_api(REPO_TYPES_BY_PLURAL[seg[1]], f"{seg[2]}/{seg[3]}", seg[4:])
        elif method in ("GET", "HEAD"):
            repo_type = "model"
            rest = seg
            if seg and seg[0] in ("datasets", "spaces"):
                repo_type = REPO_TYPES_BY_PLURAL[seg[0]]
                rest = seg[1:]
            if len(rest) >= 5 and rest[2] == "resolve":
                return self._resolve(repo_type, f"{rest[0]}/{rest[1]}", rest[3], "/".join(rest[4:]))
        self._handled = False
        raise HubError(404, f"Not found: {method} {self.path} is not implemented by the local hub server")

    def _repo_api(self, repo_type: str, repo_id: str, rest: list[str]) -> None:
        """Endpoints under ``/api/{type}s/{namespace}/{name}``."""
        method = self.command
        action = rest[0] if rest else ""
        repo = self.state.get_repo(repo_type, repo_id, self._user)
        if method == "GET" and not rest:
            return self._repo_info(repo, "main")
        if method == "GET" and action == "revision" and len(rest) >= 2:
            return self._repo_info(repo, "/".join(rest[1:]))
        if method == "GET" and action == "tree" and len(rest) >= 2:
            return self._tree(repo, rest[1], "/".join(p for p in rest[2:] if p))
        if method == "POST" and action == "paths-info" and len(rest) == 2:
            return self._paths_info(repo, rest[1])
        if method == "POST" and action == "preupload" and len(rest) == 2:
            return self._preupload(repo, rest[1])
        if method == "POST" and action == "commit" and len(rest) == 2:
            return self._commit(repo, rest[1])
        if method == "GET" and action == "commits" and len(rest) == 2:
            return self._commits(repo, rest[1])
        if method == "GET" and action == "refs" and len(rest) == 1:
            return self._refs(repo)
        if action == "branch" and len(rest) == 2 and method in ("POST", "DELETE"):
            return self._branch(repo, rest[1])
        if action == "tag" and len(rest) == 2 and method in ("POST", "DELETE"):
            return self._tag(repo, rest[1])
        if action == "settings" and method == "PUT":
            return self._settings(repo)
        self._handled = False
        raise HubError(404, f"Not found: {method} {self.path} is not implemented by the local hub server")

    # -- account and repositories -------------------------------------------------------------------------------

    def _whoami(self) -> None:
        """``GET /api/whoami-v2``."""
        user = self._user
        if user is None:
            raise HubError(401, "Invalid credentials in Authorization header")
        self._json(
            {
                "type": "user",
                "id": hashlib.sha1(user.encode()).hexdigest()[:24],
                "name": user,
                "fullname": user,
                "email": f"{user}@example.invalid",
                "emailVerified": True,
                "canPay": False,
                "isPro": False,
                "periodEnd": None,
                "avatarUrl": "",
                "orgs": [
                    {"type": "org", "name": org, "fullname": org, "roleInOrg": "admin"}
                    for org in self.state.orgs
                ],
                "auth": {
                    "type": "access_token",
                    "accessToken": {"displayName": "local-hub", "role": "write"},
                },
            }
        )

    def _validate_yaml(self) -> None:
        """``POST /api/validate-yaml``: the README metadata must be a YAML mapping."""
        content = str(self._json_body().get("content", ""))
        try:
            metadata = parse_front_matter(content)
        except (yaml.YAMLError, ValueError) as error:
            payload = {"errors": [{"message": f"Invalid YAML metadata: {error}"}], "warnings": []}
            self._json(payload, status=400)
            return
        warnings = [] if metadata else [{"message": "empty or missing yaml metadata in repo card"}]
        self._json({"errors": [], "warnings": warnings})

    def _create_repo(self) -> None:
        """``POST /api/repos/create``."""
        user = self._require_user()
        body = self._json_body()
        name = str(body.get("name") or "")
        namespace = body.get("organization") or user
        repo_type = body.get("type") or "model"
        if repo_type not in URL_PREFIXES:
            raise HubError(400, f"Invalid repo type: {repo_type}")
        if not _NAME_RE.match(name) or "--" in name or ".." in name or not _NAME_RE.match(namespace):
            raise HubError(400, f"Invalid repo name: {namespace}/{name}")
        sdk = body.get("sdk")
        if repo_type == "space" and sdk not in SPACE_SDKS:
            raise HubError(400, f"Invalid sdk for a Space: {sdk!r}")
        private = bool(body.get("private")) or body.get("visibility") == "private"
        repo_id = f"{namespace}/{name}"
        repo, created = self.state.create_repo(repo_type, repo_id, private=private, sdk=sdk, author=user)
        url = f"{self.endpoint}/{repo.url_path}"
        if not created:
            raise HubError(409, f"You already created this {repo_type} repo", extra={"url": url})
        self._json({"url": url, "name": repo_id, "id": repo.internal_id})

    def _delete_repo(self) -> None:
        """``DELETE /api/repos/delete``."""
        user = self._require_user()
        body = self._json_body()
        repo_type = body.get("type") or "model"
        repo_id = f"{body.get('organization') or user}/{body.get('name')}"
        with self.state.lock:
            self.state.get_repo(repo_type, repo_id, user)
            del self.state.repos[(repo_type, repo_id)]
        self._json({})

    def _move_repo(self) -> None:
        """``POST /api/repos/move``."""
        user = self._require_user()
        body = self._json_body()
        repo_type = body.get("type") or "model"
        source, target = str(body.get("fromRepo")), str(body.get("toRepo"))
        with self.state.lock:
            repo = self.state.get_repo(repo_type, source, user)
            if (repo_type, target) in self.state.repos:
                raise HubError(409, f"Repository {target} already exists")
            del self.state.repos[(repo_type, source)]
            repo.repo_id = target
            self.state.repos[(repo_type, target)] = repo
        self._json({})

    def _settings(self, repo: Repo) -> None:
        """``PUT /api/{type}s/{repo}/settings``."""
        self._require_user()
        body = self._json_body()
        with self.state.lock:
            if "private" in body:
                repo.private = bool(body["private"])
            if "gated" in body:
                repo.gated = body["gated"]
        self._json({})

    # -- reading ------------------------------------------------------------------------------------------------

    def _repo_info(self, repo: Repo, revision: str) -> None:
        """``GET /api/{type}s/{repo}[/revision/{rev}]``: info with siblings, card data and config."""
        with self.state.lock:
            commit = self.state.resolve(repo, revision)
            used_storage = repo.used_storage()
        blobs = _as_bool(self._query_one("blobs"))
        siblings = []
        for path in sorted(commit.files):
            sibling: dict[str, Any] = {"rfilename": path}
            if blobs:
                sibling.update(size=len(commit.files[path]), blobId=git_blob_sha1(commit.files[path]))
            siblings.append(sibling)
        card_data: dict[str, Any] | None = None
        if "README.md" in commit.files:
            with contextlib.suppress(yaml.YAMLError, ValueError, UnicodeDecodeError):
                card_data = parse_front_matter(commit.files["README.md"].decode())
        tags = list((card_data or {}).get("tags") or [])
        info: dict[str, Any] = {
            "_id": repo.internal_id,
            "id": repo.repo_id,
            "author": repo.repo_id.split("/")[0],
            "sha": commit.oid,
            "lastModified": _iso(commit.date),
            "createdAt": _iso(repo.created_at),
            "private": repo.private,
            "gated": repo.gated,
            "disabled": False,
            "likes": 0,
            "tags": tags,
            "siblings": siblings,
            "usedStorage": used_storage,
        }
        if card_data is not None:
            info["cardData"] = card_data
        if repo.repo_type == "model":
            info.update(downloads=0, library_name=(card_data or {}).get("library_name"), spaces=[])
            if pipeline_tag := (card_data or {}).get("pipeline_tag"):
                info["pipeline_tag"] = pipeline_tag
            if "config.json" in commit.files:
                with contextlib.suppress(ValueError, UnicodeDecodeError):
                    config = json.loads(commit.files["config.json"])
                    if isinstance(config, dict):
                        info["config"] = {
                            k: config[k] for k in ("architectures", "model_type") if k in config
                        }
            parameters: dict[str, int] = {}
            for path, data in commit.files.items():
                if path.endswith(".safetensors"):
                    for dtype, count in _safetensors_parameters(data).items():
                        parameters[dtype] = parameters.get(dtype, 0) + count
            if parameters:
                info["safetensors"] = {"parameters": parameters, "total": sum(parameters.values())}
        elif repo.repo_type == "dataset":
            info["downloads"] = 0
        else:
            info.update(
                sdk=repo.sdk, subdomain=repo.repo_id.replace("/", "-").lower(), models=[], datasets=[]
            )
            info["runtime"] = {"stage": "NO_APP_FILE", "hardware": {"current": None, "requested": None}}
        if expand := self._query.get("expand") or self._query.get("expand[]"):
            info = {key: value for key, value in info.items() if key in {"_id", "id", *expand}}
        self._json(info)

    def _entry(self, repo: Repo, commit: Commit, path: str, *, is_dir: bool, expand: bool) -> dict[str, Any]:
        """Tree entry for a file or a directory, as the tree and paths-info endpoints return it."""
        if is_dir:

            def state_of(c: Commit) -> Any:
                return sorted((p, git_blob_sha1(d)) for p, d in c.files.items() if p.startswith(path + "/"))

            entry: dict[str, Any] = {
                "type": "directory",
                "oid": hashlib.sha1(json.dumps(state_of(commit)).encode()).hexdigest(),
                "size": 0,
                "path": path,
            }
        else:

            def state_of(c: Commit) -> Any:
                return c.files.get(path)

            data = commit.files[path]
            entry = {"type": "file", "oid": git_blob_sha1(data), "size": len(data), "path": path}

        if expand:
            # The last commit that changed this entry: walk back while the content stays the same.
            current = state_of(commit)
            last = commit
            for older in repo.history(commit)[1:]:
                if state_of(older) != current:
                    break
                last = older
            entry["lastCommit"] = {"id": last.oid, "title": last.title, "date": _iso(last.date)}
        return entry

    def _tree(self, repo: Repo, revision: str, path: str) -> None:
        """``GET /api/{type}s/{repo}/tree/{rev}[/{path}]`` (``recursive``, ``expand``)."""
        with self.state.lock:
            commit = self.state.resolve(repo, revision)
        recursive = _as_bool(self._query_one("recursive"))
        expand = _as_bool(self._query_one("expand"))
        prefix = f"{path}/" if path else ""
        under = [p for p in commit.files if p.startswith(prefix)]
        if path and not under:
            raise HubError(
                404,
                f"{path} does not exist on {revision}",
                code="EntryNotFound",
                headers={"X-Repo-Commit": commit.oid},
            )
        entries: dict[str, bool] = {}  # path -> is_dir
        for file_path in under:
            parts = file_path[len(prefix) :].split("/")
            if not recursive:
                entries[prefix + parts[0]] = len(parts) > 1
                continue
            for depth in range(1, len(parts)):
                entries[prefix + "/".join(parts[:depth])] = True
            entries[file_path] = False
        ordered = sorted(entries.items(), key=lambda item: (not item[1], item[0]))
        with self.state.lock:
            payload = [self._entry(repo, commit, p, is_dir=d, expand=expand) for p, d in ordered]
        self._json(payload)

    def _paths_info(self, repo: Repo, revision: str) -> None:
        """``POST /api/{type}s/{repo}/paths-info/{rev}`` (form or JSON body with ``paths`` and ``expand``)."""
        with self.state.lock:
            commit = self.state.resolve(repo, revision)
        if self.headers.get("Content-Type", "").startswith("application/json"):
            body = self._json_body()
            paths = body.get("paths") or []
            expand = bool(body.get("expand"))
        else:
            form = parse_qs(self._body.decode(), keep_blank_values=True)
            paths = form.get("paths", [])
            expand = _as_bool((form.get("expand") or [None])[0])
        out = []
        with self.state.lock:
            for raw in paths:
                path = str(raw).strip("/")
                if path in commit.files:
                    out.append(self._entry(repo, commit, path, is_dir=False, expand=expand))
                elif any(p.startswith(path + "/") for p in commit.files):
                    out.append(self._entry(repo, commit, path, is_dir=True, expand=expand))
        self._json(out)

    def _commits(self, repo: Repo, revision: str) -> None:
        """``GET /api/{type}s/{repo}/commits/{rev}``: first-parent history, newest first."""
        with self.state.lock:
            history = repo.history(self.state.resolve(repo, revision))
        payload = []
        for commit in history:
            item: dict[str, Any] = {
                "id": commit.oid,
                "title": commit.title,
                "message": commit.message,
                "authors": [{"user": commit.author, "avatar": ""}],
                "date": _iso(commit.date),
            }
            if self._query.get("expand[]") == ["formatted"]:
                item["formatted"] = {"title": commit.title, "message": commit.message}
            payload.append(item)
        self._json(payload)

    def _refs(self, repo: Repo) -> None:
        """``GET /api/{type}s/{repo}/refs`` (``include_prs``)."""
        with self.state.lock:
            payload: dict[str, Any] = {
                "branches": [
                    {"name": n, "ref": f"refs/heads/{n}", "targetCommit": oid}
                    for n, oid in sorted(repo.branches.items())
                ],
                "converts": [],
                "tags": [
                    {"name": n, "ref": f"refs/tags/{n}", "targetCommit": oid}
                    for n, oid in sorted(repo.tags.items())
                ],
            }
            if self._query_one("include_prs"):
                payload["pullRequests"] = [
                    {"name": str(n), "ref": f"refs/pr/{n}", "targetCommit": oid}
                    for n, oid in sorted(repo.pull_requests.items())
                ]
        self._json(payload)

    def _resolve(self, repo_type: str, repo_id: str, revision: str, path: str) -> None:
        """``HEAD|GET /[datasets/|spaces/]{repo}/resolve/{rev}/{path}``, with ``Range`` support."""
        repo = self.state.get_repo(repo_type, repo_id, self._user)
        with self.state.lock:
            commit = self.state.resolve(repo, revision)
        data = commit.files.get(path)
        if data is None:
            raise HubError(
                404, "Entry not found", code="EntryNotFound", headers={"X-Repo-Commit": commit.oid}
            )
        name = path.rsplit("/", 1)[-1]
        headers = {
            "ETag": f'"{git_blob_sha1(data)}"',
            "X-Repo-Commit": commit.oid,
            "Accept-Ranges": "bytes",
            "Content-Disposition": f'inline; filename="{name}"',
            "Cache-Control": "no-cache",
        }
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        status = 200
        range_header = self.headers.get("Range")
        if (
            range_header
            and self.command == "GET"
            and (m := re.fullmatch(r"bytes=(\d*)-(\d*)", range_header.strip()))
        ):
            start_s, end_s = m.groups()
            if start_s:
                start, end = int(start_s), int(end_s) if end_s else len(data) - 1
            else:  # suffix range: the last N bytes
                start, end = max(len(data) - int(end_s or 0), 0), len(data) - 1
            end = min(end, len(data) - 1)
            if start >= len(data) or start > end:
                raise HubError(
                    416, "Requested range not satisfiable", headers={"Content-Range": f"bytes */{len(data)}"}
                )
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            data = data[start : end + 1]
            status = 206
        self._send(status, data, content_type, headers)

    # -- writing ------------------------------------------------------------------------------------------------

    def _preupload(self, repo: Repo, revision: str) -> None:
        """``POST /api/{type}s/{repo}/preupload/{rev}``: every file is "regular" (inline in the commit)."""
        self._require_user()
        with self.state.lock:
            create_pr = _as_bool(self._query_one("create_pr"))
            commit = self.state.resolve(
                repo, "main" if create_pr and not repo.resolve(revision) else revision
            )
        body = self._json_body()
        gitignore = body.get("gitIgnore")
        if gitignore is None and ".gitignore" in commit.files:
            gitignore = commit.files[".gitignore"].decode(errors="replace")
        patterns = str(gitignore or "").splitlines()
        files = []
        for item in body.get("files", []):
            path = str(item["path"])
            existing = commit.files.get(path)
            files.append(
                {
                    "path": path,
                    "uploadMode": "regular",
                    "shouldIgnore": _gitignore_matches(patterns, path),
                    "oid": git_blob_sha1(existing) if existing is not None else None,
                }
            )
        self._json({"files": files, "commitOid": commit.oid})

    def _commit(self, repo: Repo, revision: str) -> None:
        """``POST /api/{type}s/{repo}/commit/{rev}``: NDJSON header line, then one line per operation."""
        user = self._require_user()
        header: dict[str, Any] = {}
        operations: list[tuple[str, dict[str, Any]]] = []
        keys = []
        for line in self._body.splitlines():
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                key, value = item["key"], item["value"]
            except (ValueError, KeyError, TypeError) as error:
                raise HubError(400, f"Invalid NDJSON commit payload: {error}") from error
            keys.append(key)
            if key == "header":
                header = value
            else:
                operations.append((key, value))
        with self.state.lock:
            self.state.commit_line_keys.append(keys)
        create_pr = _as_bool(self._query_one("create_pr"))
        commit, pr_num = self.state.commit(
            repo, revision, header=header, operations=operations, author=user, create_pr=create_pr
        )
        base_url = f"{self.endpoint}/{repo.url_path}"
        payload: dict[str, Any] = {
            "success": True,
            "commitOid": commit.oid,
            "commitUrl": f"{base_url}/commit/{commit.oid}",
            "hookOutput": "",
        }
        if pr_num is not None:
            payload["pullRequestUrl"] = f"{base_url}/discussions/{pr_num}"
        self._json(payload)

    def _branch(self, repo: Repo, branch: str) -> None:
        """``POST|DELETE /api/{type}s/{repo}/branch/{branch}``."""
        self._require_user()
        if branch.startswith("refs/") or not branch:
            raise HubError(400, f"Invalid branch name: {branch}")
        with self.state.lock:
            if self.command == "DELETE":
                if branch not in repo.branches:
                    raise HubError(404, f"Invalid rev id: {branch}", code="RevisionNotFound")
                if branch == "main":
                    raise HubError(403, "Cannot delete the default branch")
                del repo.branches[branch]
            else:
                if branch in repo.branches:
                    raise HubError(409, "Reference already exists")
                start = self._json_body().get("startingPoint") or "main"
                repo.branches[branch] = self.state.resolve(repo, start).oid
        self._json({})

    def _tag(self, repo: Repo, name: str) -> None:
        """``POST /api/{type}s/{repo}/tag/{rev}`` (tag name in the body) and ``DELETE .../tag/{tag}``."""
        self._require_user()
        with self.state.lock:
            if self.command == "DELETE":
                if name not in repo.tags:
                    raise HubError(404, f"Invalid rev id: {name}", code="RevisionNotFound")
                del repo.tags[name]
            else:
                tag = str(self._json_body().get("tag") or "")
                if not tag or tag.startswith("refs/"):
                    raise HubError(400, f"Invalid tag name: {tag}")
                if tag in repo.tags:
                    raise HubError(409, "Tag already exists")
                repo.tags[tag] = self.state.resolve(repo, name).oid
        self._json({})


class _HubHTTPServer(ThreadingHTTPServer):
    """``ThreadingHTTPServer`` carrying the shared :class:`HubState`."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], state: HubState) -> None:
        super().__init__(address, _Handler)
        self.state = state
        host, port = self.server_address[:2]
        self.url = f"http://{host}:{port}"


class HubServer:
    """A running local Hub: ``with HubServer() as server: ...`` or ``start()`` / ``stop()``.

    Args:
        host: interface to bind; keep the loopback default.
        port: TCP port; 0 picks a free one.
        user: the user the default token belongs to.
        token: the access token the server accepts.
        orgs: organisations the user is a member of (``whoami``).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        user: str = DEFAULT_USER,
        token: str = DEFAULT_TOKEN,
        orgs: tuple[str, ...] = (DEFAULT_ORG,),
    ) -> None:
        self.state = HubState(user=user, token=token, orgs=orgs)
        self.user = user
        self.token = token
        self._httpd = _HubHTTPServer((host, port), self.state)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321`` (what ``HF_ENDPOINT`` must be set to)."""
        return self._httpd.url

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request answered since the last :meth:`reset`."""
        with self.state.lock:
            return list(self.state.requests)

    @property
    def unhandled_requests(self) -> list[RequestRecord]:
        """Requests for routes this server does not implement (answered with a plain 404)."""
        return [record for record in self.requests if not record.handled]

    def start(self) -> HubServer:
        """Serve in a daemon thread; returns ``self``."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._httpd.serve_forever, name="local-hub", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self._httpd.server_close()

    def reset(self) -> None:
        """Delete every repo and clear the request log."""
        self.state.reset()

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# -- pointing the client at the server ----------------------------------------------------------------------------

_OFFLINE_VARS = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")
_UNSET_VARS = (
    *_OFFLINE_VARS,
    "HUGGING_FACE_HUB_TOKEN",
    "HF_OIDC_RESOURCE",
    "HUGGINGFACE_HUB_CACHE",
    "HUGGINGFACE_ASSETS_CACHE",
    "HUGGINGFACE_CO_STAGING",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN",
    "XDG_CACHE_HOME",
)


def client_environment(url: str, token: str, home: Path) -> dict[str, str | None]:
    """Environment variables that point ``huggingface_hub`` / ``transformers`` / ``datasets`` at ``url``.

    ``None`` means "unset". Every cache lives under ``home``; Xet is disabled so nothing but this server is
    contacted; offline flags are removed because the local Hub is always reachable.
    """
    env: dict[str, str | None] = {
        "HF_ENDPOINT": url,
        "HF_TOKEN": token,
        "HF_HOME": str(home),
        "HF_HUB_CACHE": str(home / "hub"),
        "HF_ASSETS_CACHE": str(home / "assets"),
        "HF_XET_CACHE": str(home / "xet"),
        "HF_TOKEN_PATH": str(home / "token"),
        "HF_MODULES_CACHE": str(home / "modules"),
        "HF_DATASETS_CACHE": str(home / "datasets"),
        "HF_HUB_DISABLE_XET": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_UPDATE_CHECK": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    env.update(dict.fromkeys(_UNSET_VARS))
    return env


def _rehome(module: ModuleType, old_home: str, new_home: Path) -> Iterator[tuple[object, str, object]]:
    """Patches moving every path attribute of ``module`` that lives under ``old_home`` to ``new_home``."""
    for name, value in list(vars(module).items()):
        if name.startswith("__") or not isinstance(value, (str, Path)):
            continue
        text = str(value)
        if text == old_home or text.startswith(old_home + os.sep):
            moved = str(new_home) + text[len(old_home) :]
            yield module, name, Path(moved) if isinstance(value, Path) else moved


def client_patches(url: str, home: Path) -> list[tuple[object, str, object]]:
    """In-process patches ``(object, attribute, new value)`` for clients already imported.

    ``huggingface_hub`` reads ``HF_ENDPOINT``, the cache folders and the offline/Xet flags into module constants
    at import time, and builds a default ``HfApi`` (behind ``huggingface_hub.model_info`` & co) and an
    ``HfFileSystem`` then; ``transformers`` caches one ``HfApi`` lazily and ``datasets`` copies the endpoint
    into its config. Setting the environment is not enough for a process that already imported them; these
    patches are. Apply them with ``monkeypatch.setattr`` (or :func:`connect_client`).
    """
    from urllib.parse import urlparse

    from huggingface_hub import constants
    from huggingface_hub.utils import _http

    parsed = urlparse(url)
    origin = (parsed.scheme, (parsed.hostname or "").lower(), parsed.port or 80)
    old_home = constants.HF_HOME
    patches: list[tuple[object, str, object]] = list(_rehome(constants, old_home, home))
    patches += [
        (constants, "ENDPOINT", url),
        (constants, "HUGGINGFACE_CO_URL_TEMPLATE", url + "/{repo_id}/resolve/{revision}/{filename}"),
        (constants, "HF_URL_HOSTS", frozenset({*constants.HF_URL_HOSTS, parsed.hostname or ""})),
        (constants, "HF_HOME", str(home)),
        (constants, "HF_HUB_CACHE", str(home / "hub")),
        (constants, "HUGGINGFACE_HUB_CACHE", str(home / "hub")),
        (constants, "HF_ASSETS_CACHE", str(home / "assets")),
        (constants, "HUGGINGFACE_ASSETS_CACHE", str(home / "assets")),
        (constants, "HF_XET_CACHE", str(home / "xet")),
        (constants, "HF_TOKEN_PATH", str(home / "token")),
        (constants, "HF_STORED_TOKENS_PATH", str(home / "stored_tokens")),
        (constants, "HF_HUB_OFFLINE", False),
        (constants, "HF_HUB_DISABLE_XET", True),
        (constants, "HF_HUB_DISABLE_TELEMETRY", True),
        (constants, "HF_HUB_DISABLE_IMPLICIT_TOKEN", False),
        (_http, "_HUB_ORIGINS", frozenset({*_http._HUB_ORIGINS, origin})),
    ]
    # Import these now so that their default `HfApi` / `HfFileSystem` get patched (and restored) too.
    importlib.import_module("huggingface_hub.hf_api")
    importlib.import_module("huggingface_hub.hf_file_system")
    modules = sys.modules
    if (hf_api := modules.get("huggingface_hub.hf_api")) is not None:
        patches.append((hf_api.api, "endpoint", url))
    if (hf_fs := modules.get("huggingface_hub.hf_file_system")) is not None:
        patches += [(hf_fs.hffs, "endpoint", url), (hf_fs.hffs._api, "endpoint", url)]
    if (cache_assets := modules.get("huggingface_hub.utils._cache_assets")) is not None:
        patches.append((cache_assets, "HF_ASSETS_CACHE", str(home / "assets")))
    if (cache_manager := modules.get("huggingface_hub.utils._cache_manager")) is not None:
        patches.append((cache_manager, "HF_HUB_CACHE", str(home / "hub")))
    if (git_credential := modules.get("huggingface_hub.utils._git_credential")) is not None:
        patches.append((git_credential, "ENDPOINT", url))
    if (tf_hub := modules.get("transformers.utils.hub")) is not None:
        patches.append((tf_hub, "_hf_api", None))
        patches.append((tf_hub, "HF_MODULES_CACHE", str(home / "modules")))
    for name in ("transformers.dynamic_module_utils", "transformers.file_utils"):
        if (module := modules.get(name)) is not None and hasattr(module, "HF_MODULES_CACHE"):
            patches.append((module, "HF_MODULES_CACHE", str(home / "modules")))
    if (ds_config := modules.get("datasets.config")) is not None:
        patches += list(_rehome(ds_config, str(Path(getattr(ds_config, "HF_CACHE_HOME", old_home))), home))
        patches += [
            (ds_config, "HF_ENDPOINT", url),
            (ds_config, "HUB_DATASETS_URL", url + "/datasets/{repo_id}/resolve/{revision}/{path}"),
            (ds_config, "HF_HUB_OFFLINE", False),
        ]
    return [(obj, name, value) for obj, name, value in patches if hasattr(obj, name)]


@dataclass
class HubClient:
    """What a test gets from the ``hub`` fixture: the server, credentials and environment of the client.

    Attributes:
        server: the running :class:`HubServer` (request log in ``server.requests``).
        url: the endpoint (``HF_ENDPOINT``).
        token: the fake token (``HF_TOKEN``).
        user: the token's user; the default namespace of ``create_repo("name")``.
        home: the temporary ``HF_HOME`` of this test (caches live under it).
        env: a full environment for subprocesses (``os.environ`` plus the variables above).
    """

    server: HubServer
    url: str
    token: str
    user: str
    home: Path
    env: dict[str, str]

    @property
    def api(self) -> Any:
        """A fresh ``HfApi`` bound to this server."""
        from huggingface_hub import HfApi

        return HfApi(endpoint=self.url, token=self.token)

    def repo_id(self, name: str) -> str:
        """``"{user}/{name}"``."""
        return f"{self.user}/{name}"

    def run_python(
        self, code: str, *, fresh_cache: bool = True, timeout: float = 300, cwd: str | Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run ``code`` in a fresh Python process pointed at this server; raise with its output if it fails.

        With ``fresh_cache`` (the default) the child gets its own empty ``HF_HOME``, so whatever it loads
        really comes from the server, not from files this process already downloaded.
        """
        env = dict(self.env)
        if fresh_cache:
            child_home = self.home.parent / f"{self.home.name}-child-{uuid.uuid4().hex[:8]}"
            for key, value in client_environment(self.url, self.token, child_home).items():
                if value is None:
                    env.pop(key, None)
                else:
                    env[key] = value
        result = subprocess.run(
            [sys.executable, "-c", code],
            env=env,
            cwd=str(cwd or Path(__file__).resolve().parent.parent),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise AssertionError(
                f"subprocess failed with exit code {result.returncode}\n"
                f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
            )
        return result


def subprocess_environment(base: Mapping[str, str], url: str, token: str, home: Path) -> dict[str, str]:
    """``base`` with :func:`client_environment` applied and the repo root on ``PYTHONPATH``."""
    env = dict(base)
    for key, value in client_environment(url, token, home).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env


@contextlib.contextmanager
def connect_client(server: HubServer, home: Path) -> Iterator[HubClient]:
    """Point this process (environment and already-imported clients) at ``server`` until the block exits.

    The ``hub`` fixture does the same with ``monkeypatch``; this is for code outside pytest fixtures.
    """
    changes = client_environment(server.url, server.token, home)
    saved_env = {key: os.environ.get(key) for key in changes}
    undo: list[tuple[object, str, object]] = []
    try:
        for key, value in changes.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        for obj, name, value in client_patches(server.url, home):
            undo.append((obj, name, getattr(obj, name)))
            setattr(obj, name, value)
        env = subprocess_environment(os.environ, server.url, server.token, home)
        yield HubClient(server, server.url, server.token, server.user, home, env)
    finally:
        for obj, name, value in reversed(undo):
            setattr(obj, name, value)
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def main(argv: list[str] | None = None) -> None:
    """Run the server in the foreground (``python tests/hub_server.py --port 8765``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--user", default=DEFAULT_USER)
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    args = parser.parse_args(argv)
    server = HubServer(host=args.host, port=args.port, user=args.user, token=args.token)
    print(f"HF_ENDPOINT={server.url} HF_TOKEN={server.token} HF_HUB_DISABLE_XET=1", flush=True)
    server.start()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
