"""Kernel filters a sandboxed process applies to itself: a seccomp BPF program and Landlock.

Neither needs root: both are what keeps the fallback (no namespaces, no own uid) worth having.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import socket
import struct

from hfsb_isolation import PR_SET_SECCOMP, SECCOMP_MODE_FILTER, check_result, libc

# --------------------------------------------------------------------------- seccomp
_SYSCALLS = {
    # machine: AUDIT_ARCH value and the syscall numbers the fallback filter looks at
    "x86_64": {
        "arch": 0xC000003E, "socket": 41, "kill": 62, "tkill": 200, "tgkill": 234, "ptrace": 101,
        "process_vm_readv": 310, "process_vm_writev": 311, "perf_event_open": 298, "bpf": 321,
        "userfaultfd": 323, "keyctl": 250, "add_key": 248, "request_key": 249, "kcmp": 312,
        "memfd_create": 319,
    },
    "aarch64": {
        "arch": 0xC00000B7, "socket": 198, "kill": 129, "tkill": 130, "tgkill": 131, "ptrace": 117,
        "process_vm_readv": 270, "process_vm_writev": 271, "perf_event_open": 241, "bpf": 280,
        "userfaultfd": 282, "keyctl": 219, "add_key": 217, "request_key": 218, "kcmp": 272,
        "memfd_create": 279,
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


def seccomp_program(
    deny_network: bool,
    protected_pids: tuple[int, ...],
    own_pid: int | None = None,
    deny_memory_files: bool = False,
) -> bytes:
    """A seccomp BPF program that narrows what a sandboxed process can do to others.

    It refuses (``EPERM``): foreign syscall ABIs; ``ptrace`` and the other ways into another
    process's memory; pidfd signalling; ``kill``/``tkill``/``tgkill`` of process groups (pid < 0,
    -1 included) and of ``protected_pids`` (the host and the worker) -- or, with ``own_pid`` (for
    programs that share a uid with other processes), of anything but ``own_pid`` and its own
    process group; and, with ``deny_network``, ``socket()`` for anything but ``AF_UNIX`` plus
    ``io_uring``; and, with ``deny_memory_files`` (no memory cgroup counts them), ``memfd_create``,
    whose pages ``RLIMIT_AS`` does not count until they are mapped.
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
    if deny_memory_files:
        program += [(_BPF_JEQ, numbers["memfd_create"], "deny", None)]
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
    result = libc.prctl(
        ctypes.c_int(PR_SET_SECCOMP),
        ctypes.c_ulong(SECCOMP_MODE_FILTER),
        ctypes.c_void_p(ctypes.addressof(fprog)),
        zero,
        zero,
    )
    check_result(result, "seccomp")


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
    version = libc.syscall(
        ctypes.c_long(_LANDLOCK_CREATE_RULESET), None, ctypes.c_size_t(0), ctypes.c_uint32(1)
    )
    return max(int(version), 0)


def _add_path_rule(ruleset: int, path: str, rights: int) -> None:
    handle = os.open(path, os.O_PATH | os.O_CLOEXEC)
    try:
        if not os.path.isdir(f"/proc/self/fd/{handle}"):
            rights &= _FILE_RIGHTS
        attr = _PathBeneathAttr(rights, handle)
        result = libc.syscall(
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
    ruleset = libc.syscall(
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
    result = libc.syscall(ctypes.c_long(_LANDLOCK_RESTRICT_SELF), ctypes.c_int(ruleset), ctypes.c_uint32(0))
    if result != 0:
        raise OSError(ctypes.get_errno(), "landlock_restrict_self")
