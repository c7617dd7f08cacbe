"""Per-worker cgroups (v1 or v2): a pids limit and a memory budget for a worker's process tree."""

from __future__ import annotations

import contextlib
import os
import time

CGROUP_ROOT = "/sys/fs/cgroup"
CGROUP_PREFIX = "hf-reft-sandbox-"


def _own_cgroup_paths() -> dict[str, str]:
    """``{controller or "": path}`` for this process, from ``/proc/self/cgroup``."""
    paths = {}
    with open("/proc/self/cgroup", encoding="utf-8") as handle:
        for line in handle:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for controller in controllers.split(",") if controllers else [""]:
                paths[controller] = path
    return paths


def _write(path: str, value: str) -> None:
    with open(path, "w", encoding="ascii") as handle:
        handle.write(value)


def _sweep_stale(parent: str) -> None:
    """Remove empty cgroups left by launchers that were killed (their pid no longer exists)."""
    with contextlib.suppress(OSError):
        for name in os.listdir(parent):
            owner = name.removeprefix(CGROUP_PREFIX)
            if name.startswith(CGROUP_PREFIX) and owner.isdigit() and not os.path.exists(f"/proc/{owner}"):
                with contextlib.suppress(OSError):
                    os.rmdir(os.path.join(parent, name))


class WorkerCgroups:
    """A pids and a memory cgroup for one sandbox worker (cgroup v1 or v2, whichever is usable)."""

    def __init__(self) -> None:
        self.directories: dict[str, str] = {}

    @classmethod
    def create(cls, max_processes: int) -> WorkerCgroups:
        """Create the worker's cgroups (best effort: controllers that fail are left out)."""
        groups = cls()
        name = f"{CGROUP_PREFIX}{os.getpid()}"
        own = _own_cgroup_paths()
        if os.path.exists(os.path.join(CGROUP_ROOT, "cgroup.controllers")):
            groups._create_v2(own.get("", "/"), name)
        else:
            for controller in ("pids", "memory"):
                groups._create_v1(controller, own.get(controller, "/"), name)
        if "pids" in groups.directories:
            try:
                _write(os.path.join(groups.directories["pids"], "pids.max"), str(max_processes))
            except OSError:
                groups.directories.pop("pids")
        return groups

    def _create_v1(self, controller: str, own_path: str, name: str) -> None:
        parent = os.path.join(CGROUP_ROOT, controller) + own_path.rstrip("/")
        _sweep_stale(parent)
        with contextlib.suppress(OSError):
            directory = os.path.join(parent, name)
            os.mkdir(directory)
            self.directories[controller] = directory

    def _create_v2(self, own_path: str, name: str) -> None:
        parent = CGROUP_ROOT + own_path.rstrip("/")
        _sweep_stale(parent)
        with contextlib.suppress(OSError):
            _write(os.path.join(parent, "cgroup.subtree_control"), "+pids +memory")
        directory = os.path.join(parent, name)
        try:
            os.mkdir(directory)
        except OSError:
            return
        with open(os.path.join(directory, "cgroup.controllers"), encoding="ascii") as handle:
            available = handle.read().split()
        for controller in ("pids", "memory"):
            if controller in available:
                self.directories[controller] = directory

    @property
    def is_v2(self) -> bool:
        """Whether these are cgroup v2 (unified) groups."""
        return any(not path.startswith(f"{CGROUP_ROOT}/pids") for path in self.directories.values()) and (
            os.path.exists(os.path.join(CGROUP_ROOT, "cgroup.controllers"))
        )

    def join(self) -> list[str]:
        """Move the calling process into every group; return the controllers that worked."""
        joined = []
        for controller, directory in list(self.directories.items()):
            try:
                _write(os.path.join(directory, "cgroup.procs"), "0")
                joined.append(controller)
            except OSError:
                self.directories.pop(controller)
        return joined

    def memory_usage(self) -> int:
        """Bytes charged to the memory cgroup now (0 without one)."""
        directory = self.directories.get("memory")
        if directory is None:
            return 0
        name = "memory.current" if self.is_v2 else "memory.usage_in_bytes"
        with open(os.path.join(directory, name), encoding="ascii") as handle:
            return int(handle.read())

    def set_memory_limit(self, limit_bytes: int) -> bool:
        """Cap the memory of every process in the group; ``False`` without a memory cgroup."""
        directory = self.directories.get("memory")
        if directory is None:
            return False
        name = "memory.max" if self.is_v2 else "memory.limit_in_bytes"
        try:
            _write(os.path.join(directory, name), str(limit_bytes))
        except OSError:
            self.directories.pop("memory")
            return False
        return True

    def oom_kills(self) -> int:
        """How many processes the kernel's OOM killer has killed in the memory group so far."""
        directory = self.directories.get("memory")
        if directory is None:
            return 0
        name = "memory.events" if self.is_v2 else "memory.oom_control"
        with contextlib.suppress(OSError), open(os.path.join(directory, name), encoding="ascii") as handle:
            for line in handle:
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        return 0

    def remove(self) -> None:
        """Delete the groups (they must be empty; retried briefly while the kernel tears down)."""
        for directory in set(self.directories.values()):
            for _ in range(100):
                try:
                    os.rmdir(directory)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    os.sched_yield()
                    with contextlib.suppress(OSError):
                        os.waitpid(-1, os.WNOHANG)
                    time.sleep(0.01)
