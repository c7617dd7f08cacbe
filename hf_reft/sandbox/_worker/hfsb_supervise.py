"""Running one program: fork its child, follow it, classify how it ended, clean up after it."""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import hfsb_child
import hfsb_isolation as iso
import hfsb_protocol as protocol
from hfsb_cleanup import remove_tree

if TYPE_CHECKING:
    from hfsb_cgroups import WorkerCgroups
    from hfsb_zygote import Layers

READ_CHUNK = 65536


@dataclass
class ZygoteState:
    """Everything the zygote decided at start-up and uses for every program."""

    config: dict[str, Any]
    layers: Layers
    cgroups: WorkerCgroups
    pid_namespace: bool
    workdir_root: str
    uid: int | None
    gid: int | None
    seccomp: dict[str, Any] | None
    landlock_fd: int | None
    request_fd: int = -1


@dataclass
class Capture:
    """Output read from one program's pipes."""

    limit: int
    stdout: bytearray = field(default_factory=bytearray)
    stderr: bytearray = field(default_factory=bytearray)
    report: bytearray = field(default_factory=bytearray)
    over_limit: bool = False

    def add(self, stream: str, chunk: bytes) -> None:
        if stream == "report":
            room = protocol.MAX_REPORT_BYTES - len(self.report)
            self.report += chunk[: max(room, 0)]
            return
        room = self.limit - len(self.stdout) - len(self.stderr)
        if len(chunk) > room:
            self.over_limit = True
        getattr(self, stream).extend(chunk[: max(room, 0)])

    @property
    def started(self) -> bool:
        """Whether the child has taken its program from the host's pipe."""
        return self.report[:1] == hfsb_child.STARTED

    @property
    def running(self) -> bool:
        """Whether the program's own code started (after its isolation and request were applied)."""
        return self.report[1:2] == hfsb_child.RUNNING

    def _frame(self) -> bytearray:
        """The report pipe's bytes after the markers: one framed report, when all went well."""
        return self.report[2:] if self.running else self.report[1:]

    def report_complete(self) -> bool:
        """Whether a whole framed report has arrived (after the markers)."""
        header, body = protocol.HEADER.size, self._frame()
        return len(body) >= header and len(body) >= header + protocol.HEADER.unpack(body[:header])[0]

    def decoded_report(self) -> dict[str, Any] | None:
        """The program's report, ``None`` if none arrived, or an error report if it is not one well-formed
        message of the expected kind.

        The program can write to the report pipe (it shares the process that reports). What it writes
        can only fail itself: more than one message, garbage, or a setup error after its code started
        becomes an error of this program, never a failure of the sandbox.
        """
        if not self.report_complete():
            return None
        frame = self._frame()
        size = protocol.HEADER.size + protocol.HEADER.unpack(frame[: protocol.HEADER.size])[0]
        try:
            report = json.loads(bytes(frame[protocol.HEADER.size : size]).decode("utf-8", "replace"))
        except ValueError:
            report = None
        kinds = ("ok", "error", "memory") if self.running else ("setup_error",)
        if len(frame) > size or not isinstance(report, dict) or report.get("kind") not in kinds:
            return {
                "kind": "error",
                "exception_type": "SandboxReportError",
                "exception_message": "the program wrote to the sandbox's report pipe (fd 4); its result is void",
            }
        return report


@dataclass
class Child:
    """A forked child waiting for its program, and the zygote's ends of its pipes."""

    pid: int
    pipes: dict[int, str]
    oom_kills_before: int = 0
    last_pid: int = -1


def _prepare_workdir(state: ZygoteState) -> str:
    workdir = os.path.join(state.workdir_root, "work")
    with contextlib.suppress(OSError):
        info = os.lstat(workdir)
        owner = os.getuid() if state.uid is None else state.uid
        if info.st_mode == 0o40700 and info.st_uid == owner and not os.listdir(workdir):
            return workdir  # still empty and untouched: reuse it
    with contextlib.suppress(OSError):
        remove_tree(workdir)
    os.mkdir(workdir, 0o700)
    if state.uid is not None:
        os.chown(workdir, state.uid, state.gid)
    return workdir


def _clean_shared_memory(state: ZygoteState) -> None:
    if not state.layers.active.get("private_tmp"):  # /dev/shm is our own tmpfs only then
        return
    with contextlib.suppress(OSError):
        for entry in os.listdir("/dev/shm"):
            path = os.path.join("/dev/shm", entry)
            if os.path.isdir(path) and not os.path.islink(path):
                with contextlib.suppress(OSError):
                    remove_tree(path)
            else:
                with contextlib.suppress(OSError):
                    os.unlink(path)


def fork_child(state: ZygoteState) -> Child:
    """Fork the next program's process; it isolates itself and waits for its program."""
    setup = {
        "limits": state.config["limits"],
        "workdir": _prepare_workdir(state),
        "uid": state.uid,
        "gid": state.gid,
        "seccomp": state.seccomp,
        "landlock_fd": state.landlock_fd,
    }
    (out_r, out_w), (err_r, err_w), (rep_r, rep_w) = os.pipe(), os.pipe(), os.pipe()
    pid = os.fork()
    if pid == 0:
        fds = {"stdout": out_w, "stderr": err_w, "request": state.request_fd, "report": rep_w}
        hfsb_child.run_child(setup, fds)
    for fd in (out_w, err_w, rep_w):
        os.close(fd)
    for fd in (out_r, err_r, rep_r):
        os.set_blocking(fd, False)
    pipes = {out_r: "stdout", err_r: "stderr", rep_r: "report"}
    return Child(pid=pid, pipes=pipes, oom_kills_before=state.cgroups.oom_kills(), last_pid=iso.last_pid())


def _read_available(fd: int, stream: str, capture: Capture) -> bool:
    """Read what the pipe holds now; ``False`` at end of file."""
    while True:
        try:
            chunk = os.read(fd, READ_CHUNK)
        except BlockingIOError:
            return True
        if not chunk:
            return False
        capture.add(stream, chunk)
        if capture.over_limit and stream != "report":
            return True


def _reap_orphans(child_pid: int) -> None:
    """Reap the program's processes that exited after being re-parented to us, leaving ``child_pid``.

    We are the init of the PID namespace (or a child subreaper): a daemon's exited generations
    stay zombies until we reap them, and a zombie still counts against ``max_processes``. The
    program's own process is left for :func:`tear_down`, which needs its status and usage.
    """
    while True:
        try:
            exited = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return
        if exited is None or exited.si_pid == child_pid:
            return
        with contextlib.suppress(ChildProcessError):
            os.waitpid(exited.si_pid, 0)


@contextlib.contextmanager
def _wake_on_child_exit(selector: selectors.BaseSelector) -> Iterator[None]:
    """While inside, every ``SIGCHLD`` makes ``selector`` return a key whose data is ``orphan``."""
    read_fd, write_fd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    previous_handler = signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    previous_fd = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    selector.register(read_fd, selectors.EVENT_READ, "orphan")
    try:
        yield
    finally:
        signal.set_wakeup_fd(previous_fd)
        signal.signal(signal.SIGCHLD, previous_handler)
        selector.unregister(read_fd)
        os.close(read_fd)
        os.close(write_fd)


def _supervise(child: Child, capture: Capture, wall_time: float) -> tuple[str, float]:
    """Follow one program from the moment its child takes it until it reports or must be stopped.

    Returns the reason (``reported`` when it exited after a whole report, ``exited``, ``timeout``,
    ``output``, or ``gone`` when the child exited without taking a program) and the time the
    program started. A report counts only once the child has exited, so that anything the program
    wrote to the report pipe besides it is seen.
    """
    selector = selectors.DefaultSelector()
    pidfd = os.pidfd_open(child.pid)
    selector.register(pidfd, selectors.EVENT_READ, "exit")
    for fd, stream in child.pipes.items():
        selector.register(fd, selectors.EVENT_READ, stream)
    started = deadline = None
    try:
        with _wake_on_child_exit(selector):
            while True:
                timeout = None if deadline is None else deadline - time.monotonic()
                if timeout is not None and timeout <= 0:
                    return "timeout", started
                for key, _ in selector.select(timeout):
                    if key.data == "orphan":
                        with contextlib.suppress(BlockingIOError):
                            os.read(key.fd, READ_CHUNK)
                        _reap_orphans(child.pid)
                        continue
                    if key.data == "exit":  # a report counts once its writer is gone: nothing can follow it
                        report_fd = next(fd for fd, stream in child.pipes.items() if stream == "report")
                        _read_available(report_fd, "report", capture)
                        if capture.started and capture.report_complete():
                            return "reported", started or time.monotonic()
                        return ("exited" if capture.started else "gone"), started or time.monotonic()
                    if not _read_available(key.fd, key.data, capture):
                        selector.unregister(key.fd)
                    if started is None and capture.started:
                        started = time.monotonic()
                        deadline = started + wall_time
                    if capture.over_limit:
                        return "output", started
    finally:
        selector.close()
        os.close(pidfd)


def _kill_program(state: ZygoteState, pid: int) -> None:
    if state.pid_namespace:
        if os.getpid() != 1:
            raise RuntimeError("kill(-1) is only safe for the init process of a PID namespace")
        os.kill(-1, signal.SIGKILL)
        return
    # The program's own process group; escapees are adopted by us (a subreaper) once their
    # parents die, and reap_all_children() finds and kills them then.
    for kill, target in ((os.killpg, pid), (os.kill, pid)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            kill(target, signal.SIGKILL)


def tear_down(state: ZygoteState, child: Child, capture: Capture | None) -> tuple[int, Any] | None:
    """Kill whatever is left of the child's process tree, reap it all, close the pipes."""
    _kill_program(state, child.pid)
    try:
        _, status, usage = os.wait4(child.pid, 0)
    except ChildProcessError:
        status, usage = None, None
    iso.reap_all_children(kill_everyone_in_namespace=state.pid_namespace)
    for fd, stream in child.pipes.items():
        if capture is not None:
            _read_available(fd, stream, capture)
        os.close(fd)
    _clean_shared_memory(state)
    return (status, usage) if status is not None else None


def _classify(
    reason: str,
    status: int | None,
    cpu_time: float,
    report: dict[str, Any] | None,
    limits: dict[str, Any],
    oom: bool,
) -> tuple[str, str | None, str | None]:
    """(status, exception type, message) for one finished program."""
    if reason == "output":
        return "output_limit", None, f"output exceeded {limits['max_output_bytes']} bytes"
    if reason == "timeout":
        return "timeout", None, f"wall-clock limit of {limits['wall_time']} s exceeded"
    if status is not None and os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu_time >= limits["cpu_time"] - 0.05):
            return "timeout", None, f"CPU time limit of {limits['cpu_time']} s exceeded"
        if oom:
            return "memory", "MemoryError", "killed by the memory cgroup's OOM killer"
        return "killed", None, f"terminated by signal {signal.Signals(sig).name}"
    if report is not None and report.get("kind") in ("ok", "error", "memory", "setup_error"):
        return report["kind"], report.get("exception_type"), report.get("exception_message")
    code = os.WEXITSTATUS(status) if status is not None else -1
    if code == 0:  # os._exit(0), or the report pipe closed: nothing says how the program ended
        return (
            "error",
            "SandboxReportError",
            "the program ended without a readable report of its result (os._exit, or it wrote to the report pipe)",
        )
    return "error", None, f"the program exited with status {code}"


def _result_message(
    kind: tuple[str, str | None, str | None], capture: Capture, report: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    status, exception_type, message = kind
    return {
        "op": "result",
        "status": status,
        "stdout": capture.stdout.decode("utf-8", "replace"),
        "stderr": capture.stderr.decode("utf-8", "replace"),
        "output_truncated": capture.over_limit,
        "value": report.get("value"),
        "value_repr": report.get("value_repr"),
        "exception_type": exception_type,
        "exception_message": message,
        "traceback": report.get("traceback"),
        **extra,
    }


def run_program(state: ZygoteState, child: Child) -> tuple[dict[str, Any] | None, bool]:
    """Supervise the waiting ``child`` through its program; return the result and whether cleanup is due.

    When the program reports normally and no process was created since its child (the PID
    namespace's last pid is still the child's), the result is returned at once and the child is
    reaped afterwards, off the host's critical path. Otherwise the whole tree is killed and reaped
    first, so that nothing the program started outlives its result. ``None`` means the host closed
    the request pipe.
    """
    limits = state.config["limits"]
    capture = Capture(limit=limits["max_output_bytes"])
    reason, started = _supervise(child, capture, limits["wall_time"])
    wall_time = time.monotonic() - started
    if reason == "reported":
        for fd, stream in child.pipes.items():
            if stream != "report":
                _read_available(fd, stream, capture)
        if not capture.over_limit:
            result = _reported_result(capture, limits, wall_time)
            if child.last_pid >= 0 and iso.last_pid() == child.last_pid:
                return result, True
            tear_down(state, child, None)
            return result, False
        reason = "output"
    finished = tear_down(state, child, capture)
    status, usage = finished if finished is not None else (None, None)
    if reason == "gone":
        return None if status is None or (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0) else {}, False
    cpu_time = usage.ru_utime + usage.ru_stime if usage is not None else 0.0
    report = capture.decoded_report()
    kind = _classify(
        reason, status, cpu_time, report, limits, state.cgroups.oom_kills() > child.oom_kills_before
    )
    extra = {
        "exit_code": os.WEXITSTATUS(status) if status is not None and os.WIFEXITED(status) else None,
        "signal": os.WTERMSIG(status) if status is not None and os.WIFSIGNALED(status) else None,
        "cpu_time": cpu_time,
        "max_rss_bytes": usage.ru_maxrss * 1024 if usage is not None else 0,
    }
    return _result_message(kind, capture, report or {}, wall_time=wall_time, **extra), False


def _reported_result(capture: Capture, limits: dict[str, Any], wall_time: float) -> dict[str, Any]:
    report = capture.decoded_report() or {}
    kind = _classify("reported", None, 0.0, report, limits, oom=False)
    return _result_message(
        kind,
        capture,
        report,
        wall_time=wall_time,
        exit_code=0,
        signal=None,
        cpu_time=report.get("cpu_time", 0.0),
        max_rss_bytes=report.get("max_rss_bytes", 0),
    )
