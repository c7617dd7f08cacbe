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
import resource
import signal
import socket
import struct

libc = ctypes.CDLL(None, use_errno=True)

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


def check_result(result: int, what: str) -> None:
    """Raise :class:`OSError` from ``errno`` when a libc call returned non-zero."""
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")


# --------------------------------------------------------------------------- namespaces, prctl
def unshare(flags: int) -> None:
    """Move the calling process into new namespaces (see ``unshare(2)``)."""
    check_result(libc.unshare(ctypes.c_int(flags)), "unshare")


def namespace_id(kind: str) -> str:
    """The identity of this process's namespace of ``kind`` (e.g. ``"mnt:[4026531841]"``)."""
    return os.readlink(f"/proc/self/ns/{kind}")


def prctl(option: int, arg: int = 0) -> None:
    """Call ``prctl(option, arg, 0, 0, 0)``."""
    zero = ctypes.c_ulong(0)
    check_result(libc.prctl(ctypes.c_int(option), ctypes.c_ulong(arg), zero, zero, zero), "prctl")


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

    result = libc.mount(arg(source), arg(target), arg(fstype), ctypes.c_ulong(flags), arg(data))
    check_result(result, f"mount {target}")


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


def count_tasks_of_uid(uid: int) -> int:
    """How many tasks (threads included, as ``RLIMIT_NPROC`` counts them) the user ``uid`` runs now."""
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    count += len(os.listdir(f"/proc/{entry}/task"))
    return count


def drop_privileges(uid: int, gid: int) -> None:
    """Become ``uid``/``gid`` with no supplementary groups (irreversible; clears capabilities)."""
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if os.geteuid() != uid or os.getegid() != gid:
        raise OSError(errno.EPERM, "privilege drop did not take effect")


PR_CAPBSET_DROP = 24
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
_LINUX_CAPABILITY_VERSION_3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def drop_capabilities() -> None:
    """Give up every capability for good: bounding set, ambient set, then the effective, permitted and
    inheritable sets (``capset(2)``). For a program that keeps the host's uid 0 (``same_uid`` as root),
    so that it cannot reboot, load kernel modules, change the hostname, read the kernel log, ...
    """
    with open("/proc/sys/kernel/cap_last_cap", encoding="ascii") as handle:
        last = int(handle.read())
    for capability in range(last + 1):
        prctl(PR_CAPBSET_DROP, capability)
    with contextlib.suppress(OSError):  # kernels before 4.3 have no ambient set
        zero = ctypes.c_ulong(0)
        result = libc.prctl(
            ctypes.c_int(PR_CAP_AMBIENT), ctypes.c_ulong(PR_CAP_AMBIENT_CLEAR_ALL), zero, zero, zero
        )
        check_result(result, "prctl(PR_CAP_AMBIENT)")
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    check_result(libc.capset(ctypes.byref(header), data), "capset")


# --------------------------------------------------------------------------- process trees
def last_pid() -> int:
    """The last pid allocated in this PID namespace (-1 if unknown)."""
    try:
        with open("/proc/sys/kernel/ns_last_pid", encoding="ascii") as handle:
            return int(handle.read())
    except (OSError, ValueError):
        return -1


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
