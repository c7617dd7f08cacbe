"""The sandbox worker: a launcher process and a pre-loaded *zygote* that forks one child per program.

Process tree of one worker::

    host (hf_reft.sandbox.Sandbox)
      └─ launcher        dies with the host (PR_SET_PDEATHSIG); creates the cgroups
           └─ zygote     PID 1 of a new PID namespace when root, else a child subreaper;
                         new mount/network/IPC/UTS namespaces; modules pre-imported
                ├─ program child (fork per program: own session, limits, unprivileged uid)
                └─ ... whatever the program forks; all killed after each program

The host speaks :mod:`hfsb_protocol` with the zygote over two pipes whose numbers are passed on
the command line. Run as ``python -I hfsb_zygote.py REQUEST_FD RESPONSE_FD HOST_PID``.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import signal
import socket
import sys
from dataclasses import dataclass, field
from typing import Any

import hfsb_cgroups as cg
import hfsb_filters as filters
import hfsb_isolation as iso
import hfsb_protocol as protocol
from hfsb_supervise import ZygoteState, fork_child, run_program, tear_down

NAMESPACE_WORKDIR_ROOT = "/tmp/sandbox"
ZYGOTE_MEMORY_SLACK = 64 << 20
MAX_EARLY_DEATHS = 3


@dataclass
class Layers:
    """Which isolation layers a worker managed to put in place."""

    active: dict[str, bool] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def set(self, name: str, active: bool, note: str | None = None) -> None:
        self.active[name] = active
        if note:
            self.notes.append(f"{name}: {note}")

    def attempt(self, name: str, action: Any) -> bool:
        """Run ``action()``; record the layer as active unless it raised :class:`OSError`."""
        try:
            action()
        except OSError as error:
            self.set(name, False, str(error))
            return False
        self.set(name, True)
        return True


# --------------------------------------------------------------------------- zygote setup
# Imported lazily by the standard library itself (socket name lookups, codecs): loaded up front so
# that they work even where the program's uid cannot read the Python installation.
ALWAYS_PRELOADED = ("encodings.idna", "encodings.ascii", "encodings.latin_1", "encodings.utf_8", "stringprep")


def _preload(modules: list[str], layers: Layers) -> None:
    for name in [*ALWAYS_PRELOADED, *modules]:
        try:
            importlib.import_module(name)
        except Exception as error:  # a missing optional module is not fatal
            layers.notes.append(f"preload {name}: {type(error).__name__}: {error}")
    gc.collect()
    gc.freeze()


def _unshare_each(layers: Layers, network: bool) -> None:
    namespaces = [("mount_namespace", iso.CLONE_NEWNS), ("ipc_namespace", iso.CLONE_NEWIPC)]
    namespaces += [("uts_namespace", iso.CLONE_NEWUTS)]
    if network:
        layers.set("network_namespace", False, "network allowed by the policy")
    else:
        namespaces.append(("network_namespace", iso.CLONE_NEWNET))
    for name, flag in namespaces:
        layers.attempt(name, lambda flag=flag: iso.unshare(flag))


def _private_filesystem(config: dict[str, Any], layers: Layers, host_mount_ns: str) -> None:
    """Read-only view of the host's files, fresh tmpfs for scratch space, /proc of our PID namespace."""
    if iso.namespace_id("mnt") == host_mount_ns:  # never touch the host's mounts
        layers.set("readonly_root", False, "no private mount namespace")
        return
    iso.make_mounts_private()
    failures = iso.remount_everything_readonly()
    layers.set("readonly_root", "/" not in failures, f"could not remount {failures}" if failures else None)
    if config["drop_privileges"]:
        _expose_python(config, layers)
    disk = config["disk_bytes"]
    layers.attempt("private_tmp", lambda: iso.mount_tmpfs("/tmp", disk, 0o755))
    for path, size, mode in (
        ("/dev/shm", disk, 0o1777),
        ("/var/tmp", 1 << 20, 0o755),
        ("/run", 1 << 20, 0o755),
    ):
        if os.path.isdir(path) and not os.path.islink(path):
            with contextlib.suppress(OSError):
                iso.mount_tmpfs(path, size, mode)
    if layers.active.get("pid_namespace"):
        layers.attempt("fresh_proc", iso.mount_fresh_proc)
    else:
        layers.set("fresh_proc", False, "needs a PID namespace")


def _expose_python(config: dict[str, Any], layers: Layers) -> None:
    """Let the unprivileged uid read the Python installation (e.g. a pyenv under /root)."""
    paths = [sys.prefix, sys.exec_prefix, sys.base_prefix, os.path.dirname(sys.executable)]
    paths += [path for path in sys.path if path]
    try:
        unreachable = iso.expose_paths(sorted(set(paths)), config["uid"], config["gid"])
    except OSError as error:
        layers.notes.append(f"exposing the Python installation failed: {error}")
        return
    if unreachable:
        layers.notes.append(f"not readable by the sandbox uid (imports from there fail): {unreachable}")


def _restrict_ipc() -> None:
    """Shared memory segments die with their creator in this IPC namespace."""
    with (
        contextlib.suppress(OSError),
        open("/proc/sys/kernel/shm_rmid_forced", "w", encoding="ascii") as handle,
    ):
        handle.write("1")


def _namespaces_and_mounts(config: dict[str, Any], layers: Layers) -> None:
    host_mount_ns = iso.namespace_id("mnt")
    _unshare_each(layers, config["network"])
    if layers.active.get("mount_namespace"):
        _private_filesystem(config, layers, host_mount_ns)
    else:
        layers.set("readonly_root", False, "no mount namespace")
    if layers.active.get("network_namespace"):
        layers.attempt("loopback_only_network", iso.bring_loopback_up)
    if layers.active.get("uts_namespace"):
        with contextlib.suppress(OSError):
            socket.sethostname("sandbox")
    if layers.active.get("ipc_namespace"):
        _restrict_ipc()


def _no_namespaces(layers: Layers, reason: str) -> None:
    for name in ("mount_namespace", "network_namespace", "ipc_namespace", "uts_namespace", "readonly_root"):
        layers.set(name, False, reason)
    layers.set("fresh_proc", False, reason)


def _memory_cgroup(config: dict[str, Any], cgroups: cg.WorkerCgroups, layers: Layers) -> None:
    limit = cgroups.memory_usage() + config["memory_bytes"] + ZYGOTE_MEMORY_SLACK
    layers.set("memory_cgroup", "memory" in cgroups.directories and cgroups.set_memory_limit(limit))


SYSTEM_READABLE = ("/usr", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin", "/etc", "/opt")
DEVICES_READABLE = ("/dev/urandom", "/dev/random", "/dev/zero", "/sys/devices/system/cpu")


def _landlock_setup(
    config: dict[str, Any], layers: Layers, workdir_root: str, pid_namespace: bool
) -> int | None:
    """Build the Landlock ruleset every program applies to itself (files, TCP, signals)."""
    names = ("landlock_filesystem", "landlock_network", "landlock_signal_scope")
    if not config["landlock"]:
        for name in names:
            layers.set(name, False, "disabled by the policy")
        return None
    python = [sys.prefix, sys.exec_prefix, sys.base_prefix, os.path.dirname(sys.executable), *sys.path]
    read = [*SYSTEM_READABLE, *sorted({path for path in python if path}), *DEVICES_READABLE]
    read += ["/proc"] if pid_namespace else []  # our own /proc then; the host's otherwise
    write = [workdir_root, "/dev/null"] + (["/dev/shm"] if layers.active.get("private_tmp") else [])
    deny_tcp = not config["network"] and not layers.active.get("network_namespace", False)
    try:
        ruleset, features = filters.landlock_ruleset(read, write, deny_tcp)
    except OSError as error:
        for name in names:
            layers.set(name, False, str(error))
        return None
    layers.set("landlock_filesystem", features["filesystem"])
    layers.set("landlock_network", features["tcp"])
    layers.set("landlock_signal_scope", features["signals"])
    return ruleset


def _seccomp_setup(config: dict[str, Any], layers: Layers, pid_namespace: bool) -> dict[str, Any] | None:
    """The seccomp filter each program installs (checked here once, so a failure shows as a layer)."""
    deny_network = not config["network"] and not layers.active.get("network_namespace", False)
    protected = [1] if pid_namespace else [config["host_pid"], os.getppid(), os.getpid()]
    shared_uid = not (os.geteuid() == 0 and config["drop_privileges"])
    shared_uid = shared_uid and not layers.active.get("landlock_signal_scope", False)
    deny_memfd = not layers.active.get("memory_cgroup", False)
    seccomp = {
        "deny_network": deny_network,
        "protected_pids": protected,
        "signal_only_self": shared_uid,
        "deny_memory_files": deny_memfd,
    }
    try:
        filters.seccomp_program(
            deny_network, tuple(protected), os.getpid() if shared_uid else None, deny_memfd
        )
    except OSError as error:
        layers.set("seccomp_process_filter", False, str(error))
        layers.set("seccomp_network_filter", False, str(error))
        return None
    layers.set("seccomp_process_filter", True)
    layers.set("seccomp_network_filter", deny_network)
    if deny_memfd:
        layers.notes.append(
            "no memory cgroup: memory_bytes is each process's RLIMIT_AS (memfd_create is refused, since its "
            "pages escape that limit)"
        )
    return seccomp


def set_up_zygote(config: dict[str, Any], cgroups: cg.WorkerCgroups, pid_namespace: bool) -> ZygoteState:
    """Put every available layer in place around this process; children inherit them."""
    layers = Layers()
    root = os.geteuid() == 0
    layers.set("pid_namespace", pid_namespace)
    joined = cgroups.join()
    layers.set("pids_cgroup", "pids" in joined)
    if root:
        with contextlib.suppress(OSError), open("/proc/self/oom_score_adj", "w", encoding="ascii") as handle:
            handle.write("-1000")
    _preload(config["preload"], layers)
    _memory_cgroup(config, cgroups, layers)
    if root and config["namespaces"]:
        _namespaces_and_mounts(config, layers)
    else:
        _no_namespaces(layers, "not root" if not root else "disabled by the policy")
    in_private_tmp = layers.active.get("private_tmp", False)
    workdir_root = NAMESPACE_WORKDIR_ROOT if in_private_tmp else config["fallback_workdir_root"]
    if not in_private_tmp:
        layers.notes.append(
            "no private scratch filesystem: disk_bytes is not enforced beyond max_file_bytes per file"
        )
    os.makedirs(workdir_root, mode=0o755, exist_ok=True)
    os.chmod(workdir_root, 0o711)  # the program's uid may pass through to its own directory
    drop = root and config["drop_privileges"]
    layers.set(
        "unprivileged_uid", drop, None if drop else ("not root" if not root else "disabled by the policy")
    )
    if not drop:  # programs share our uid: no ptrace of us, no reading our /proc files
        iso.set_dumpable(False)
        if root and not layers.active.get("pids_cgroup"):
            layers.notes.append(
                "programs run as root without a pids cgroup: nothing bounds their process count"
            )
    elif not layers.active.get("mount_namespace"):
        unreachable = [
            p
            for p in sys.path
            if p and os.path.exists(p) and iso.unreachable(p, config["uid"], config["gid"])
        ]
        if unreachable:
            layers.notes.append(f"only pre-loaded modules work; the sandbox uid cannot read {unreachable}")
    landlock_fd = _landlock_setup(config, layers, workdir_root, pid_namespace)
    seccomp = _seccomp_setup(config, layers, pid_namespace)
    if not pid_namespace:
        layers.set("child_subreaper", True)
    return ZygoteState(
        config=config,
        layers=layers,
        cgroups=cgroups,
        pid_namespace=pid_namespace,
        workdir_root=workdir_root,
        uid=config["uid"] if drop else None,
        gid=config["gid"] if drop else None,
        seccomp=seccomp,
        landlock_fd=landlock_fd,
    )


def serve(state: ZygoteState, response_fd: int) -> None:
    """Run programs until the host closes its end of the request pipe.

    The zygote never reads that pipe itself: the pre-forked child waiting for the next program does.
    """
    protocol.write_message(
        response_fd,
        {"op": "ready", "layers": state.layers.active, "notes": state.layers.notes, "pid": os.getpid()},
    )
    early_deaths = 0
    while early_deaths < MAX_EARLY_DEATHS:
        child = fork_child(state)
        result, cleanup_due = run_program(state, child)
        if result is None:
            return
        early_deaths = 0 if result else early_deaths + 1  # empty: died before taking a program
        if result:
            protocol.write_message(response_fd, result)
        if cleanup_due:
            tear_down(state, child, None)
    raise RuntimeError(f"{MAX_EARLY_DEATHS} children in a row died while setting up")


# --------------------------------------------------------------------------- processes
def _zygote_main(
    config: dict[str, Any], fds: tuple[int, int], cgroups: cg.WorkerCgroups, pid_ns: bool
) -> None:
    iso.set_parent_death_signal()
    if not pid_ns:
        iso.set_child_subreaper()
    try:
        state = set_up_zygote(config, cgroups, pid_ns)
    except BaseException as error:
        message = f"sandbox worker set-up failed: {type(error).__name__}: {error}"
        protocol.write_message(fds[1], {"op": "failed", "message": message})
        os._exit(1)
    state.request_fd = fds[0]
    try:
        serve(state, fds[1])
    finally:  # never fall back into the launcher's code in this forked process
        os._exit(0)


def _wait_for(zygote: int, pid_ns: bool) -> None:
    """Wait until the zygote exits; then make sure nothing it left behind survives."""
    while True:
        try:
            pid, _ = os.waitpid(-1, 0)
        except ChildProcessError:
            return
        except InterruptedError:
            continue
        if pid == zygote:
            break
    if not pid_ns:  # orphans of a killed zygote were re-parented to us (we are a subreaper)
        iso.reap_all_children(kill_everyone_in_namespace=False)


def _end_on_sigterm(cgroups: cg.WorkerCgroups | None) -> None:
    """SIGTERM (the host's ``stop()``, or the host's death): kill the zygote and every process below it,
    reap them, remove the cgroups, exit.

    Without a PID namespace the launcher is a child subreaper, so the orphans of a killed zygote or
    child (``setsid`` + double-fork escapees included) are re-parented here and killed round by
    round; with one, killing the zygote (its PID 1) makes the kernel kill the whole namespace.
    """

    def end(signum: int, frame: Any) -> None:
        iso.reap_all_children(kill_everyone_in_namespace=False)
        if cgroups is not None:
            cgroups.remove()
        os._exit(0)

    signal.signal(signal.SIGTERM, end)


def launcher_main(request_fd: int, response_fd: int, host_pid: int) -> None:
    """Entry point of a worker: configure, fork the zygote into its namespaces, wait, clean up.

    The launcher gets SIGTERM when the host stops the worker or dies (its parent-death signal), and
    then takes every process of the worker with it (:func:`_end_on_sigterm`).
    """
    _end_on_sigterm(None)
    iso.set_parent_death_signal(signal.SIGTERM)
    if os.getppid() != host_pid:
        return
    config = protocol.read_message(request_fd)
    if config is None:
        return
    config["host_pid"] = host_pid
    root = os.geteuid() == 0
    wanted = root and config["cgroups"]
    cgroups = cg.WorkerCgroups.create(config["max_processes"] + 2) if wanted else cg.WorkerCgroups()
    pid_ns = False
    if root and config["namespaces"]:
        with contextlib.suppress(OSError):
            iso.unshare(iso.CLONE_NEWPID)
            pid_ns = True
    if not pid_ns:
        iso.set_child_subreaper()
    _end_on_sigterm(cgroups)
    zygote = os.fork()
    if zygote == 0:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        _zygote_main(config, (request_fd, response_fd), cgroups, pid_ns)
    os.close(request_fd)
    os.close(response_fd)
    _wait_for(zygote, pid_ns)
    cgroups.remove()


if __name__ == "__main__":
    launcher_main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
