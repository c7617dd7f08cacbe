"""Shared pytest fixtures. Each block below belongs to one feature; keep blocks self-contained."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

# ---- local Hugging Face Hub server (tests/hub_server.py) -----------------------------------------------------------
# `hub_server`: one in-memory Hub per test session, on 127.0.0.1 with a free port.
# `hub`: per test: empties the Hub, points HF_ENDPOINT/HF_TOKEN/HF_HOME (a tmp dir) at it, patches the constants
# huggingface_hub/transformers/datasets read at import time, and returns a `HubClient` (url, token, user, env,
# api, repo_id(), run_python() for fresh processes). See tests/test_hub_server.py for examples.
from hub_server import HubClient, HubServer, client_environment, client_patches, subprocess_environment


@pytest.fixture(scope="session")
def hub_server() -> Iterator[HubServer]:
    """The session's local Hub server (not yet pointed to: use the `hub` fixture in tests)."""
    with HubServer() as server:
        yield server


@pytest.fixture
def hub(
    hub_server: HubServer, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> HubClient:
    """An empty local Hub with this process's Hugging Face clients pointed at it, caches in a tmp `HF_HOME`."""
    hub_server.reset()
    home = tmp_path_factory.mktemp("hf_home")
    for key, value in client_environment(hub_server.url, hub_server.token, home).items():
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value)
    for obj, name, value in client_patches(hub_server.url, home):
        monkeypatch.setattr(obj, name, value)
    env = subprocess_environment(os.environ, hub_server.url, hub_server.token, home)
    return HubClient(hub_server, hub_server.url, hub_server.token, hub_server.user, home, env)


# ---- end of local Hugging Face Hub server ------------------------------------------------------------------------
