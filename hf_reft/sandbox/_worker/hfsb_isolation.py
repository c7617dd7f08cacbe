"""Operating-system isolation primitives used by the sandbox worker (Linux only).

Everything here is a thin, checked wrapper over one kernel facility: namespaces (``unshare``),
mounts, ``prctl``, a seccomp filter, resource limits, privilege dropping and cgroups. Python 3.11
has no ``os.unshare``/``os.mount``, so libc is called through :mod:`ctypes`. Each function either
succeeds or raises :class:`OSError`; the caller decides which layers are optional.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import platform
import resource
import signal
import socket
import struct
import time

_libc = ctypes.CDLL(None, use_errno=True)

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_SECCOMP = 22
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
SECCOMP_MODE_FILTER = 2

_MOUNT_OPTION_FLAGS = {
    "nosuid": MS_NOSUID,
    "nodev": MS_NODEV,
    "noexec": MS_NOEXEC,
    "noatime": MS_NOATIME,
    "nodiratime": MS_NODIRATIME,
    "relatime": MS_RELATIME,
    "strictatime": MS_STRICTATIME,
}


def _check(result: int, what: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")


# --------------------------------------------------------------------------- namespaces, prctl
def unshare(flags: int) -> None:
    """Move the calling process into new namespaces (see ``unshare(2)``)."""
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def namespace_id(kind: str) -> str:
    """The identity of this process's namespace of ``kind`` (e.g. ``"mnt:[4026531841]"``)."""
    return os.readlink(f"/proc/self/ns/{kind}")


def prctl(option: int, arg: int = 0) -> None:
    """Call ``prctl(option, arg, 0, 0, 0)``."""
    zero = ctypes.c_ulong(0)
    _check(_libc.prctl(ctypes.c_int(option), ctypes.c_ulong(arg), zero, zero, zero), "prctl")


def set_parent_death_signal(sig: int = signal.SIGKILL) -> None:
    """Have the kernel send ``sig`` to this process when its parent dies."""
    prctl(PR_SET_PDEATHSIG, int(sig))


def set_child_subreaper() -> None:
    """Adopt orphaned descendants (they are re-parented here instead of to init)."""
    prctl(PR_SET_CHILD_SUBREAPER, 1)


def set_dumpable(dumpable: bool) -> None:
    """A non-dumpable process cannot be ptrace-attached or have its /proc files read by its uid."""
    prctl(PR_SET_DUMPABLE, int(dumpable))


def set_no_new_privs() -> None:
    """Forbid gaining privileges through set-uid binaries or file capabilities."""
    prctl(PR_SET_NO_NEW_PRIVS, 1)


# --------------------------------------------------------------------------- mounts
def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    """Call ``mount(2)``."""

    def arg(value: str | None) -> bytes | None:
        return None if value is None else os.fsencode(value)

    result = _libc.mount(arg(source), arg(target), arg(fstype), ctypes.c_ulong(flags), arg(data))
    _check(result, f"mount {target}")


def _unescape_mount_path(field: str) -> str:
    return field.encode().decode("unicode_escape") if "\\" in field else field


def mount_points() -> list[tuple[str, int]]:
    """Mount points of this mount namespace and their per-mount flags, from ``mountinfo``."""
    points = []
    with open("/proc/self/mountinfo", encoding="utf-8") as handle:
        for line in handle:
            fields = line.split()
            flags = 0
            for option in fields[5].split(","):
                flags |= _MOUNT_OPTION_FLAGS.get(option, 0)
            points.append((_unescape_mount_path(fields[4]), flags))
    return points


def make_mounts_private() -> None:
    """Stop mount events from propagating between this namespace and the host's."""
    mount(None, "/", None, MS_REC | MS_PRIVATE)


def remount_everything_readonly() -> list[str]:
    """Remount every mount point read-only in this (private) namespace; return the failures.

    Existing per-mount flags (``nosuid``, ``nodev``, ...) are kept, so nothing is weakened.
    """
    failures = []
    for target, flags in mount_points():
        try:
            mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | flags)
        except OSError:
            failures.append(target)
    return failures


def mount_tmpfs(target: str, size_bytes: int, mode: int) -> None:
    """Mount a fresh, size-limited tmpfs on ``target`` (no set-uid binaries, no devices)."""
    data = f"size={max(size_bytes, 4096)},mode={mode:o}"
    mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, data)


def mount_fresh_proc() -> None:
    """Mount a /proc of this PID namespace; other users' processes are hidden where supported."""
    flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
    for data in ("hidepid=invisible", "hidepid=2", None):
        try:
            mount("proc", "/proc", "proc", flags, data)
            return
        except OSError as error:
            if error.errno != errno.EINVAL or data is None:
                raise


def _can_traverse(info: os.stat_result, uid: int, gid: int) -> bool:
    if info.st_uid == uid:
        return bool(info.st_mode & 0o100)
    if info.st_gid == gid:
        return bool(info.st_mode & 0o010)
    return bool(info.st_mode & 0o001)


def _first_blocked_ancestor(path: str, uid: int, gid: int) -> tuple[str, str] | None:
    """``(blocked directory, its child on the way to path)`` if ``uid`` cannot reach ``path``."""
    parts = [part for part in os.path.abspath(path).split("/") if part]
    current = "/"
    for index, part in enumerate(parts[:-1]):
        current = os.path.join(current, part)
        if not _can_traverse(os.stat(current), uid, gid):
            return current, os.path.join(current, parts[index + 1])
    return None


def unreachable(path: str, uid: int, gid: int) -> bool:
    """Whether ``uid`` (with primary group ``gid``) is kept from ``path`` by a directory on the way."""
    return _first_blocked_ancestor(path, uid, gid) is not None


def expose_paths(paths: list[str], uid: int, gid: int) -> list[str]:
    """Make ``paths`` reachable for ``uid`` in this mount namespace, hiding everything else.

    A directory on the way that ``uid`` may not traverse (say ``/root``, mode 0700, holding a
    Python installation in ``/root/.pyenv``) is covered with an empty read-only tmpfs into which
    only the needed children are bind-mounted read-only. Returns the paths still unreachable.
    """
    needed: dict[str, set[str]] = {}
    for path in paths:
        if os.path.exists(path):
            blocked = _first_blocked_ancestor(path, uid, gid)
            if blocked is not None:
                needed.setdefault(blocked[0], set()).add(blocked[1])
    for directory, children in needed.items():
        handles = {child: os.open(child, os.O_PATH) for child in children}
        try:
            mount_tmpfs(directory, 1 << 20, 0o755)
            for child, handle in handles.items():
                if os.path.isdir(f"/proc/self/fd/{handle}"):
                    os.mkdir(child)
                else:
                    open(child, "w").close()
                mount(f"/proc/self/fd/{handle}", child, None, MS_BIND | MS_REC)
                mount(None, child, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
            mount(None, directory, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
        finally:
            for handle in handles.values():
                os.close(handle)
    return [path for path in paths if os.path.exists(path) and unreachable(path, uid, gid)]


# --------------------------------------------------------------------------- network
def bring_loopback_up() -> None:
    """Set the ``lo`` interface of this network namespace up (``SIOCGIFFLAGS``/``SIOCSIFFLAGS``)."""
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14x", b"lo", 0)
        _, flags = struct.unpack("16sH14x", fcntl.ioctl(sock.fileno(), siocgifflags, request))
        fcntl.ioctl(sock.fileno(), siocsifflags, struct.pack("16sH14x", b"lo", flags | iff_up))


_SYSCALLS = {
    # machine: AUDIT_ARCH value and the syscall numbers the fallback filter looks at
    "x86_64": {
        "arch": 0xC000003E, "socket": 41, "kill": 62, "tkill": 200, "tgkill": 234, "ptrace": 101,
        "process_vm_readv": 310, "process_vm_writev": 311, "perf_event_open": 298, "bpf": 321,
        "userfaultfd": 323, "keyctl": 250, "add_key": 248, "request_key": 249, "kcmp": 312,
    },
    "aarch64": {
        "arch": 0xC00000B7, "socket": 198, "kill": 129, "tkill": 130, "tgkill": 131, "ptrace": 117,
        "process_vm_readv": 270, "process_vm_writev": 271, "perf_event_open": 241, "bpf": 280,
        "userfaultfd": 282, "keyctl": 219, "add_key": 217, "request_key": 218, "kcmp": 272,
    },
}  # fmt: skip
_GENERIC_SYSCALLS = {"io_uring_setup": 425, "pidfd_send_signal": 424, "pidfd_open": 434, "pidfd_getfd": 438}
_ALWAYS_DENIED = (
    "ptrace", "process_vm_readv", "process_vm_writev", "perf_event_open", "bpf", "userfaultfd",
    "keyctl", "add_key", "request_key", "kcmp", "pidfd_open", "pidfd_getfd", "pidfd_send_signal",
)  # fmt: skip
_BPF_LOAD, _BPF_JEQ, _BPF_JGE, _BPF_RET = 0x20, 0x15, 0x35, 0x06
_SECCOMP_ALLOW, _SECCOMP_DENY = 0x7FFF0000, 0x00050000 | errno.EPERM


def _assemble(program: list[tuple]) -> bytes:
    """Encode ``(op, k, true_label, false_label)`` / ``("label", name)`` tuples as BPF."""
    labels, position = {}, 0
    for item in program:
        if item[0] == "label":
            labels[item[1]] = position
        else:
            position += 1
    code, position = [], 0
    for item in program:
        if item[0] == "label":
            continue
        op, k, *targets = item
        jumps = [0 if target is None else labels[target] - position - 1 for target in targets] + [0, 0]
        code.append(struct.pack("HBBI", op, jumps[0], jumps[1], k))
        position += 1
    return b"".join(code)


def seccomp_program(deny_network: bool, protected_pids: tuple[int, ...], own_pid: int | None = None) -> bytes:
    """A seccomp BPF program that narrows what a sandboxed process can do to others.

    It refuses (``EPERM``): foreign syscall ABIs; ``ptrace`` and the other ways into another
    process's memory; pidfd signalling; ``kill``/``tkill``/``tgkill`` of process groups (pid < 0,
    -1 included) and of ``protected_pids`` (the host and the worker) -- or, with ``own_pid`` (for
    programs that share a uid with other processes), of anything but ``own_pid`` and its own
    process group; and, with ``deny_network``, ``socket()`` for anything but ``AF_UNIX`` plus
    ``io_uring``.
    """
    machine = platform.machine()
    if machine not in _SYSCALLS:
        raise OSError(errno.ENOSYS, f"no seccomp filter for {machine}")
    numbers = {**_SYSCALLS[machine], **_GENERIC_SYSCALLS}
    program: list[tuple] = [
        (_BPF_LOAD, 4),
        (_BPF_JEQ, numbers["arch"], None, "deny"),
        (_BPF_LOAD, 0),
        (_BPF_JGE, 0x40000000, "deny", None),
    ]
    program += [(_BPF_JEQ, numbers[name], "deny", None) for name in _ALWAYS_DENIED]
    program += [(_BPF_JEQ, numbers[name], "check_pid", None) for name in ("kill", "tkill", "tgkill")]
    if deny_network:
        program += [(_BPF_JEQ, numbers["io_uring_setup"], "deny", None)]
        program += [(_BPF_JEQ, numbers["socket"], "check_socket", None)]
    program += [(_BPF_RET, _SECCOMP_ALLOW), ("label", "check_pid"), (_BPF_LOAD, 16)]
    if own_pid is not None:
        program += [(_BPF_JEQ, 0, "allow", None), (_BPF_JEQ, own_pid, "allow", "deny")]
    else:
        program += [(_BPF_JGE, 0x80000000, "deny", None)]
        program += [(_BPF_JEQ, pid, "deny", None) for pid in protected_pids]
        program += [(_BPF_RET, _SECCOMP_ALLOW)]
    program += [("label", "check_socket"), (_BPF_LOAD, 16)]
    program += [(_BPF_JEQ, socket.AF_UNIX, "allow", "deny")]
    program += [("label", "allow"), (_BPF_RET, _SECCOMP_ALLOW), ("label", "deny"), (_BPF_RET, _SECCOMP_DENY)]
    return _assemble(program)


class _SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))


def install_seccomp_filter(program: bytes) -> None:
    """Install a seccomp BPF ``program`` for this process and its future children."""
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.addressof(buffer))
    zero = ctypes.c_ulong(0)
    result = _libc.prctl(
        ctypes.c_int(PR_SET_SECCOMP),
        ctypes.c_ulong(SECCOMP_MODE_FILTER),
        ctypes.c_void_p(ctypes.addressof(fprog)),
        zero,
        zero,
    )
    _check(result, "seccomp")


# --------------------------------------------------------------------------- landlock
_LANDLOCK_CREATE_RULESET, _LANDLOCK_ADD_RULE, _LANDLOCK_RESTRICT_SELF = 444, 445, 446
_LANDLOCK_RULE_PATH_BENEATH = 1
_FS_EXECUTE, _FS_WRITE_FILE, _FS_READ_FILE, _FS_READ_DIR = 1, 2, 4, 8
_FS_TRUNCATE, _FS_IOCTL_DEV = 1 << 14, 1 << 15
_FILE_RIGHTS = _FS_EXECUTE | _FS_WRITE_FILE | _FS_READ_FILE | _FS_TRUNCATE | _FS_IOCTL_DEV
_FS_BITS_BY_ABI = {1: 13, 2: 14, 3: 15, 4: 15}  # ABI 5 and later: 16 filesystem rights
_RULESET_SIZE_BY_ABI = {1: 8, 2: 8, 3: 8, 4: 16, 5: 16}  # ABI 6 and later: 24 bytes (scopes)


class _RulesetAttr(ctypes.Structure):
    _fields_ = (
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    )


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))


def landlock_abi() -> int:
    """The Landlock ABI version this kernel offers (0: none)."""
    version = _libc.syscall(
        ctypes.c_long(_LANDLOCK_CREATE_RULESET), None, ctypes.c_size_t(0), ctypes.c_uint32(1)
    )
    return max(int(version), 0)


def _add_path_rule(ruleset: int, path: str, rights: int) -> None:
    handle = os.open(path, os.O_PATH | os.O_CLOEXEC)
    try:
        if not os.path.isdir(f"/proc/self/fd/{handle}"):
            rights &= _FILE_RIGHTS
        attr = _PathBeneathAttr(rights, handle)
        result = _libc.syscall(
            ctypes.c_long(_LANDLOCK_ADD_RULE),
            ctypes.c_int(ruleset),
            ctypes.c_int(_LANDLOCK_RULE_PATH_BENEATH),
            ctypes.byref(attr),
            ctypes.c_uint32(0),
        )
        if result != 0:
            raise OSError(ctypes.get_errno(), f"landlock rule for {path}")
    finally:
        os.close(handle)


def landlock_ruleset(read: list[str], write: list[str], deny_tcp: bool) -> tuple[int, dict[str, bool]]:
    """Build a Landlock ruleset: read-only ``read`` hierarchies, read-write ``write`` ones.

    Everything else on the filesystem is out of reach. Where the ABI allows, TCP bind/connect are
    refused (``deny_tcp``) and signals and abstract Unix sockets are scoped to the sandboxed
    process tree. Returns the ruleset's file descriptor and which features it covers.
    """
    abi = landlock_abi()
    if abi < 1:
        raise OSError(errno.ENOSYS, "Landlock is not available on this kernel")
    handled_fs = (1 << _FS_BITS_BY_ABI.get(abi, 16)) - 1
    attr = _RulesetAttr(handled_fs, 3 if deny_tcp and abi >= 4 else 0, 3 if abi >= 6 else 0)
    ruleset = _libc.syscall(
        ctypes.c_long(_LANDLOCK_CREATE_RULESET),
        ctypes.byref(attr),
        ctypes.c_size_t(_RULESET_SIZE_BY_ABI.get(abi, 24)),
        ctypes.c_uint32(0),
    )
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset")
    read_rights = _FS_EXECUTE | _FS_READ_FILE | _FS_READ_DIR
    for paths, rights in ((read, read_rights), (write, handled_fs)):
        for path in paths:
            if os.path.exists(path):
                _add_path_rule(ruleset, path, rights)
    features = {"filesystem": True, "tcp": bool(attr.handled_access_net), "signals": bool(attr.scoped)}
    return ruleset, features


def landlock_restrict_self(ruleset: int) -> None:
    """Confine this process and its future children to ``ruleset`` (needs no_new_privs)."""
    result = _libc.syscall(ctypes.c_long(_LANDLOCK_RESTRICT_SELF), ctypes.c_int(ruleset), ctypes.c_uint32(0))
    if result != 0:
        raise OSError(ctypes.get_errno(), "landlock_restrict_self")


# --------------------------------------------------------------------------- limits, identity
def address_space_bytes() -> int:
    """The current virtual size of this process (``VmSize``)."""
    with open("/proc/self/statm", encoding="ascii") as handle:
        pages = int(handle.read().split()[0])
    return pages * os.sysconf("SC_PAGE_SIZE")


def set_limit(kind: int, value: int) -> None:
    """Lower both the soft and hard limit of ``kind`` to ``value`` (never raise them)."""
    _soft, hard = resource.getrlimit(kind)
    cap = hard if hard != resource.RLIM_INFINITY else value
    value = min(value, cap)
    resource.setrlimit(kind, (value, value))


def set_cpu_limit(seconds: float) -> None:
    """SIGXCPU at ``seconds`` of CPU time, SIGKILL one second later."""
    soft = max(1, int(seconds + 0.999))
    resource.setrlimit(resource.RLIMIT_CPU, (soft, soft + 1))


def count_processes_of_uid(uid: int) -> int:
    """How many processes (including threads' owners) the user ``uid`` runs now."""
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    count += 1
    return count


def drop_privileges(uid: int, gid: int) -> None:
    """Become ``uid``/``gid`` with no supplementary groups (irreversible; clears capabilities)."""
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if os.geteuid() != uid or os.getegid() != gid:
        raise OSError(errno.EPERM, "privilege drop did not take effect")


# --------------------------------------------------------------------------- process trees
def children_of(pid: int) -> list[int]:
    """Direct children of ``pid`` (from ``/proc/*/stat``)."""
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            children.append(int(entry))
    return children


def _has_children() -> bool:
    """Whether this process has any child, running or not (a cheap ``waitpid`` probe)."""
    try:
        os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        return False
    return True


def reap_all_children(kill_everyone_in_namespace: bool) -> None:
    """Kill and reap every descendant of this process; return once none is left.

    With ``kill_everyone_in_namespace`` (only valid for the init process of a PID namespace),
    ``kill(-1, SIGKILL)`` reaches every other process in the namespace. Otherwise the caller must be
    a child subreaper: the direct children are killed, their orphans are re-parented here and
    killed on the next round, until ``waitpid`` says there are no children left.
    """
    if kill_everyone_in_namespace and os.getpid() != 1:
        raise RuntimeError("kill(-1) is only safe for the init process of a PID namespace")
    if not _has_children():
        return
    while True:
        if kill_everyone_in_namespace:
            with contextlib.suppress(ProcessLookupError):
                os.kill(-1, signal.SIGKILL)
        else:
            for child in children_of(os.getpid()):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(child, signal.SIGKILL)
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return
        except InterruptedError:
            continue


# --------------------------------------------------------------------------- cgroups
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
