"""The forked child of a sandbox worker: isolate this process, run one program, report, exit.

:func:`run_child` never returns. Isolation is applied step by step *before* the program's code is
compiled; if any step fails the child reports a setup error and exits without running the program.
The child is forked *before* its program is known (so the fork and the generic isolation steps
overlap with the host's work); it then reads the program from the host's request pipe (fd 3) and
sends its report as one framed JSON message over a pipe to the worker (fd 4).
"""

from __future__ import annotations

import base64
import builtins
import contextlib
import fcntl
import io
import json
import math
import numbers
import os
import resource
import sys
import tempfile
import traceback
from typing import Any

import hfsb_filters as filters
import hfsb_isolation as iso
import hfsb_protocol as protocol

REQUEST_FD = 3
REPORT_FD = 4
LANDLOCK_FD = 5
PROGRAM_FILENAME = "<program>"
MAX_REPR_CHARS = 65536
SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"


# --------------------------------------------------------------------------- isolation steps
def _wire_standard_streams(stdout_fd: int, stderr_fd: int) -> None:
    stdin_fd = os.open(os.devnull, os.O_RDONLY)
    for source, target in ((stdin_fd, 0), (stdout_fd, 1), (stderr_fd, 2)):
        if source != target:
            os.dup2(source, target)
            os.close(source)


def _keep_only(request_fd: int, report_fd: int, landlock_fd: int | None) -> None:
    """Move the control pipes (and the Landlock ruleset) to fds 3, 4 (and 5); close the rest."""

    def copy(fd: int) -> int:  # a copy above the targets, so no dup2 below clobbers a source
        return fcntl.fcntl(fd, fcntl.F_DUPFD, 10)

    keep = [(copy(request_fd), REQUEST_FD), (copy(report_fd), REPORT_FD)]
    if landlock_fd is not None:
        keep.append((copy(landlock_fd), LANDLOCK_FD))
    for source, target in keep:
        os.dup2(source, target)
    os.closerange(keep[-1][1] + 1, resource.getrlimit(resource.RLIMIT_NOFILE)[0])


def _set_stdin(data: bytes | None) -> None:
    """The program's standard input: a memory file, or (where seccomp refuses those) an unlinked file
    in the working directory."""
    if data is None:
        return
    try:
        fd = os.memfd_create("stdin")
    except PermissionError:
        fd = os.open(".stdin", os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        os.unlink(".stdin")
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    os.dup2(fd, 0)
    os.close(fd)


def _write_files(files: dict[str, dict[str, str]]) -> None:
    for name, content in files.items():
        data = base64.b64decode(content["b64"])
        directory = os.path.dirname(name)
        if directory:
            os.makedirs(directory, exist_ok=True)
        with open(name, "wb") as handle:
            handle.write(data)


def _apply_limits(limits: dict[str, Any], baseline: dict[str, int]) -> None:
    iso.set_cpu_limit(limits["cpu_time"])
    iso.set_limit(resource.RLIMIT_AS, baseline["address_space"] + limits["memory_bytes"])
    iso.set_limit(resource.RLIMIT_FSIZE, limits["max_file_bytes"])
    iso.set_limit(resource.RLIMIT_NOFILE, limits["max_open_files"])
    iso.set_limit(resource.RLIMIT_CORE, 0)
    iso.set_limit(resource.RLIMIT_MEMLOCK, 0)
    iso.set_limit(resource.RLIMIT_MSGQUEUE, 0)
    # RLIMIT_NPROC counts every process of the uid; with a dedicated uid that is only ours.
    iso.set_limit(resource.RLIMIT_NPROC, limits["max_processes"] + baseline["other_processes"])


def _reset_environment(workdir: str) -> None:
    os.environ.clear()
    os.environ.update(
        {
            "PATH": SAFE_PATH,
            "HOME": workdir,
            "TMPDIR": workdir,
            "LANG": "C.UTF-8",
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
        }
    )
    tempfile.tempdir = None


def _fresh_text_streams() -> None:
    def writer(fd: int) -> io.TextIOWrapper:
        raw = io.FileIO(fd, "w", closefd=False)
        return io.TextIOWrapper(
            io.BufferedWriter(raw), encoding="utf-8", errors="backslashreplace", line_buffering=True
        )

    sys.stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)), encoding="utf-8")
    sys.stdout = writer(1)
    sys.stderr = writer(2)


def prepare(setup: dict[str, Any]) -> dict[str, int]:
    """Everything that does not depend on the program: done right after the fork, ahead of time.

    Returns the baselines the limits build on: this process's address space, and how many
    processes of its uid exist besides the program (``RLIMIT_NPROC`` counts them all).
    """
    os.setsid()
    iso.set_parent_death_signal()
    os.chdir(setup["workdir"])
    if setup["uid"] is not None:
        with open("/proc/self/oom_score_adj", "w", encoding="ascii") as handle:
            handle.write("1000")
        iso.drop_privileges(setup["uid"], setup["gid"])
        other_processes = 0
    else:
        other_processes = iso.count_tasks_of_uid(os.getuid()) - 1  # not counting ourselves
        if os.geteuid() == 0:  # same uid as a root host: uid 0 stays, its capabilities go
            iso.drop_capabilities()
    iso.set_dumpable(True)
    iso.set_no_new_privs()
    if setup["seccomp"] is not None:
        seccomp = setup["seccomp"]
        filters.install_seccomp_filter(
            filters.seccomp_program(
                seccomp["deny_network"],
                tuple(seccomp["protected_pids"]),
                os.getpid() if seccomp["signal_only_self"] else None,
                seccomp["deny_memory_files"],
            )
        )
    baseline = {"address_space": iso.address_space_bytes(), "other_processes": other_processes}
    if setup["landlock_fd"] is not None:
        filters.landlock_restrict_self(LANDLOCK_FD)
        os.close(LANDLOCK_FD)
    _reset_environment(setup["workdir"])
    return baseline


def _apply_request(request: dict[str, Any], baseline: dict[str, int], limits: dict[str, Any]) -> None:
    stdin = request["stdin"]
    _set_stdin(None if stdin is None else base64.b64decode(stdin))
    _write_files(request["files"])
    _apply_limits(limits, baseline)
    _fresh_text_streams()
    sys.argv = ["program.py", *request["args"]]
    if limits["allowed_imports"] is not None:
        install_import_guard(frozenset(limits["allowed_imports"]))


# --------------------------------------------------------------------------- import allowlist
def _is_library_frame(globals_: dict[str, Any] | None) -> bool:
    if not globals_:
        return False
    module = sys.modules.get(globals_.get("__name__", ""))
    return module is not None and getattr(module, "__dict__", None) is globals_


def install_import_guard(allowed: frozenset[str]) -> None:
    """Refuse imports of modules outside ``allowed`` made by the program's own code.

    Imports made by already-loaded library modules (numpy importing its internals) pass. This is
    a convenience policy that gives clear errors; the operating-system layers are the real walls.
    """
    original_import = builtins.__import__

    def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
        # Judge by the frame doing the import, not by the ``globals`` it passes (library code
        # such as the codec search function calls ``__import__`` without any).
        if not _is_library_frame(sys._getframe(1).f_globals):
            if level:
                raise ImportError("relative imports are not available to sandboxed programs")
            top = name.partition(".")[0]
            if top not in allowed:
                raise ImportError(
                    f"import of {top!r} is not allowed by the sandbox policy; "
                    f"add it to SandboxPolicy.allowed_imports if the program needs it"
                )
        return original_import(name, globals, locals, fromlist, level)

    builtins.__import__ = guarded_import


# --------------------------------------------------------------------------- results
def _plain(value: Any) -> Any:
    """Convert numbers from numpy/sympy/fractions to JSON-friendly Python values."""
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if hasattr(value, "tolist") and callable(value.tolist):
        return _plain(value.tolist())
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return _plain(float(value))
    if isinstance(value, numbers.Complex):
        return [_plain(value.real), _plain(value.imag)]
    try:
        return _plain(float(value))
    except (TypeError, ValueError, OverflowError):
        return None


def _describe_value(value: Any) -> dict[str, Any]:
    try:
        text = repr(value)
    except Exception as error:  # a hostile __repr__
        text = f"<unrepresentable: {type(error).__name__}>"
    try:
        plain = _plain(value)
        json.dumps(plain)
    except Exception:
        plain = None
    return {"value": plain, "value_repr": text[:MAX_REPR_CHARS]}


def _program_traceback(error: BaseException) -> str:
    frames = [
        frame for frame in traceback.extract_tb(error.__traceback__) if frame.filename == PROGRAM_FILENAME
    ]
    lines = traceback.format_list(frames) + traceback.format_exception_only(type(error), error)
    return ("Traceback (most recent call last):\n" if frames else "") + "".join(lines)


def _exception_report(error: BaseException) -> dict[str, Any]:
    try:
        message = str(error)
    except BaseException as broken:  # a hostile __str__
        message = f"<the exception's message could not be read: {type(broken).__name__}>"
    if not message and isinstance(error, MemoryError):
        message = "out of memory: the policy's memory_bytes is exhausted"
    try:
        trace = _program_traceback(error)
    except BaseException as broken:
        trace = f"<the traceback could not be formatted: {type(broken).__name__}>"
    return {
        "kind": "memory" if isinstance(error, MemoryError) else "error",
        "exception_type": type(error).__name__,
        "exception_message": message[:MAX_REPR_CHARS],
        "traceback": trace[:MAX_REPR_CHARS],
    }


def _execute(source: str, call: str | None) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    try:
        code = compile(source, PROGRAM_FILENAME, "exec")
        exec(code, namespace)
        if call is None:
            return {"kind": "ok"}
        function = namespace.get(call)
        if not callable(function):
            raise NameError(f"the program defines no function named {call!r}")
        return {"kind": "ok", **_describe_value(function())}
    except SystemExit as stop:
        if stop.code in (None, 0):
            return {"kind": "ok"}
        return {"kind": "error", "exception_type": "SystemExit", "exception_message": str(stop.code)}
    except BaseException as error:
        return _exception_report(error)


def _encoded(report: dict[str, Any]) -> bytes:
    """The report as UTF-8 JSON; lone surrogates (``'\\udc80'`` in a message or value) become ``?``."""
    return json.dumps(report, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "replace")


def _send(report: dict[str, Any]) -> None:
    """Frame the report for the worker: always one well-formed message within the report limit.

    A report that cannot be encoded (a value JSON cannot hold) or is too large (a huge return
    value) is replaced by an error report that says so, so the program fails instead of looking
    like it succeeded.
    """
    usage_self = resource.getrusage(resource.RUSAGE_SELF)
    usage_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    usage = {
        "cpu_time": sum(u.ru_utime + u.ru_stime for u in (usage_self, usage_children)),
        "max_rss_bytes": max(usage_self.ru_maxrss, usage_children.ru_maxrss) * 1024,
    }
    try:
        body = _encoded({**report, **usage})
        problem = (
            f"the program's result is {len(body):,} bytes as JSON, over the sandbox's "
            f"{protocol.MAX_REPORT_BYTES:,}-byte report limit; return a smaller value"
            if len(STARTED + RUNNING) + protocol.HEADER.size + len(body) > protocol.MAX_REPORT_BYTES
            else None
        )
    except BaseException as error:
        problem = f"the program's result could not be reported: {type(error).__name__}"
    if problem is not None:
        body = _encoded(
            {"kind": "error", "exception_type": "SandboxReportError", "exception_message": problem, **usage}
        )
    view = memoryview(protocol.HEADER.pack(len(body)) + body)
    while view:
        view = view[os.write(REPORT_FD, view) :]


def _flush_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BaseException):
            stream.flush()


STARTED = b"S"
#: Written after the isolation and the request are applied, right before the program's code runs:
#: a report that follows it cannot be a setup error (a program writing to the report pipe could
#: otherwise fake one, which the host treats as the sandbox's own failure).
RUNNING = b"R"


def run_child(setup: dict[str, Any], fds: dict[str, int]) -> None:
    """Body of a freshly forked child: isolate, wait for one program, run it, report, exit.

    ``fds`` holds this child's ends of the pipes: ``stdout``, ``stderr`` and ``report`` to the
    worker, and ``request``, the host's request pipe, from which the child takes its program itself
    (one hop less than relaying it through the worker). Having read it, the child closes that pipe
    and tells the worker with one :data:`STARTED` byte on the report pipe, which starts the clock.
    """
    failure: BaseException | None = None
    try:
        _wire_standard_streams(fds["stdout"], fds["stderr"])
        _keep_only(fds["request"], fds["report"], setup["landlock_fd"])
        baseline = prepare(setup)
    except BaseException as error:
        failure = error
    try:
        request = protocol.read_message(REQUEST_FD)
    except BaseException:
        request = None
    if request is None:  # the host closed the pipe: the worker is shutting down
        os._exit(0)
    os.close(REQUEST_FD)
    os.write(REPORT_FD, STARTED)
    if failure is None:
        try:
            _apply_request(request, baseline, setup["limits"])
        except BaseException as error:
            failure = error
    if failure is not None:
        _setup_failed(failure)
    os.write(REPORT_FD, RUNNING)
    report = _execute(request["source"], request["call"])
    _flush_streams()
    try:
        _send(report)
    finally:
        os._exit(0)


def _setup_failed(error: BaseException) -> None:
    """Report an isolation failure and exit without running the program."""
    with contextlib.suppress(BaseException):
        protocol.write_message(
            REPORT_FD,
            {"kind": "setup_error", "exception_type": type(error).__name__, "exception_message": str(error)},
        )
    os._exit(125)
