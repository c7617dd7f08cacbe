"""The host side of the sandbox: a pool of pre-loaded workers and the public ``Sandbox`` API."""

from __future__ import annotations

import atexit
import base64
import contextlib
import ctypes
import fcntl
import logging
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from hf_reft.sandbox._worker import hfsb_protocol as protocol
from hf_reft.sandbox._worker.hfsb_cleanup import remove_tree
from hf_reft.sandbox.policy import BASE_LAYERS, LAYER_NAMES, SandboxPolicy
from hf_reft.sandbox.result import SandboxError, SandboxResult, SandboxStatus

__all__ = ["Program", "Sandbox", "run_program", "shared_sandbox"]

logger = logging.getLogger(__name__)
#: Worker notes already logged by this process (a limit that does not hold is said once, loudly).
_NOTED: set[str] = set()

WORKER_DIR = Path(__file__).resolve().parent / "_worker"
READY_TIMEOUT = 180.0
RESPONSE_GRACE = 10.0
_PASSED_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
_BOOT = "import sys; sys.path.insert(0, sys.argv[1]); import hfsb_zygote as z; z.launcher_main(*map(int, sys.argv[2:]))"

# Workers die with the *thread* that started them (PR_SET_PDEATHSIG), so one long-lived thread
# starts them all, whichever thread asks.
_SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hf-reft-sandbox-spawner")


@dataclass(frozen=True)
class Program:
    """One program for :meth:`Sandbox.run_batch` (a plain string is a program with only source).

    ``files`` maps relative paths in the working directory to text or bytes; ``call`` names a
    function the program defines, called with no arguments after the program ran.
    """

    source: str
    stdin: str | bytes | None = None
    args: Sequence[str] = ()
    files: Mapping[str, str | bytes] | None = None
    call: str | None = None


# --------------------------------------------------------------------------- request building
def _as_b64(data: str | bytes, what: str) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not isinstance(data, bytes | bytearray):
        raise TypeError(f"{what} must be str or bytes, got {type(data).__name__}")
    return base64.b64encode(data).decode("ascii")


def _checked_file_name(name: str) -> str:
    path = PurePosixPath(name) if isinstance(name, str) else None
    if path is None or not name or path.is_absolute() or ".." in path.parts or "\x00" in name:
        raise ValueError(
            f"file name {name!r} must be a relative path inside the working directory, without '..'"
        )
    return str(path)


def _encode_program(program: Program) -> dict[str, Any]:
    if not isinstance(program.source, str):
        raise TypeError(f"the program source must be a str, got {type(program.source).__name__}")
    if isinstance(program.args, str) or not all(isinstance(arg, str) for arg in program.args):
        raise TypeError("args must be a sequence of strings, e.g. args=('3', '4')")
    if program.call is not None and not (isinstance(program.call, str) and program.call.isidentifier()):
        raise ValueError(
            f"call must name a function the program defines, e.g. call='solution'; got {program.call!r}"
        )
    files = {
        _checked_file_name(name): {"b64": _as_b64(data, f"files[{name!r}]")}
        for name, data in (program.files or {}).items()
    }
    return {
        "op": "run",
        "source": program.source,
        "stdin": None if program.stdin is None else _as_b64(program.stdin, "stdin"),
        "args": list(program.args),
        "files": files,
        "call": program.call,
    }


def _unencodable(request: dict[str, Any]) -> str | None:
    """Why the program's source or arguments are not UTF-8 text (a lone surrogate such as ``'\\udc80'``)."""
    for what, text in (("source", request["source"]), *(("an argument", arg) for arg in request["args"])):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as error:
            return (
                f"the program's {what} is not valid text: {error.reason} at index {error.start} "
                f"({text[error.start : error.end]!r})"
            )
    return None


# --------------------------------------------------------------------------- workers
UID_BASE = 0x40000
UID_COUNT = 1 << 21  # uids 0x40000 .. 0x23ffff: outside the usual ranges of real users


def _uid_lock_dir() -> Path:
    """A folder of lock files, one per leased uid, private to this user."""
    path = Path(tempfile.gettempdir()) / f"hf-reft-sandbox-uids-{os.geteuid()}"
    path.mkdir(mode=0o700, exist_ok=True)
    info = path.lstat()
    if not path.is_dir() or path.is_symlink() or info.st_uid != os.geteuid() or info.st_mode & 0o022:
        raise SandboxError(
            f"{path} must be a folder owned by uid {os.geteuid()} and writable only by it; "
            "remove it and try again"
        )
    return path


class _UidLease:
    """A uid (and gid) that no other live worker on this machine uses, for as long as it is held.

    Each worker's programs run as their own uid, so ``RLIMIT_NPROC`` counts only that worker's
    processes and programs of different sandboxes (in this process or another) cannot signal
    each other. The lease is an exclusive ``flock`` on ``<uid>.lock``: it is released by
    :meth:`release` or when the holding process dies, whatever the way.
    """

    def __init__(self) -> None:
        folder = _uid_lock_dir()
        start = int.from_bytes(os.urandom(4), "little") % UID_COUNT
        for step in range(4096):
            uid = UID_BASE + (start + step) % UID_COUNT
            fd = os.open(folder / f"{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            self.uid, self._fd = uid, fd
            return
        raise SandboxError(f"no free sandbox uid after 4096 tries; are stale workers holding {folder}?")

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _protect_host() -> bool:
    """Make this process non-dumpable when programs run as our own (non-root) uid.

    Its ``/proc/<pid>/environ``, ``/proc/<pid>/mem`` and ptrace then need privileges the programs
    lack. Side effect: no core dumps of this process. Root gains nothing from it (programs that
    run as root can read anything), so it is left alone then.
    """
    if os.geteuid() == 0:
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(4, 0, 0, 0, 0) == 0  # PR_SET_DUMPABLE, 0
    except OSError:
        return False


def _worker_env() -> dict[str, str]:
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
    env.update({name: "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")})
    env.update({name: os.environ[name] for name in _PASSED_ENV if name in os.environ})
    return env


class _Worker:
    """One launcher/zygote pair and the pipes to talk to it."""

    def __init__(self, index: int, policy: SandboxPolicy) -> None:
        self.index = index
        self.policy = policy
        self.process: subprocess.Popen[bytes] | None = None
        self.request_fd = -1
        self.response_fd = -1
        self.layers: dict[str, bool] | None = None
        self.notes: list[str] = []
        self.scratch: str | None = None
        self.uid_lease: _UidLease | None = None

    @property
    def uid(self) -> int:
        """The uid this worker's programs run as when it drops privileges."""
        if self.uid_lease is None:
            self.uid_lease = _UidLease()
        return self.uid_lease.uid

    def config(self) -> dict[str, Any]:
        policy, uid = self.policy, self.uid
        return {
            "op": "configure",
            "namespaces": policy.namespaces,
            "drop_privileges": policy.drop_privileges,
            "network": policy.network,
            "uid": uid,
            "gid": uid,
            "preload": list(policy.preload),
            "disk_bytes": policy.disk_bytes,
            "memory_bytes": policy.memory_bytes,
            "max_processes": policy.max_processes,
            "cgroups": policy.cgroups,
            "limits": {
                **policy.limits(),
                "allowed_imports": None if policy.allowed_imports is None else sorted(policy.allowed_imports),
            },
            "landlock": policy.landlock,
            "fallback_workdir_root": self.scratch,
        }

    def start(self) -> None:
        """Start the worker process (it then imports the pre-loaded modules in the background)."""
        self.scratch = tempfile.mkdtemp(prefix="hf-reft-sandbox-")
        request_r, self.request_fd = os.pipe()
        self.response_fd, response_w = os.pipe()
        command = [
            sys.executable,
            "-I",
            "-c",
            _BOOT,
            str(WORKER_DIR),
            str(request_r),
            str(response_w),
            str(os.getpid()),
        ]
        try:
            self.process = _SPAWNER.submit(
                subprocess.Popen,
                command,
                pass_fds=(request_r, response_w),
                env=_worker_env(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=None if os.environ.get("HF_REFT_SANDBOX_DEBUG") else subprocess.DEVNULL,
                start_new_session=True,
                cwd="/",
            ).result()
        finally:
            os.close(request_r)
            os.close(response_w)
        protocol.write_message(self.request_fd, self.config())

    def wait_ready(self) -> None:
        """Block until the worker reports its isolation layers; raise if it failed to start."""
        if self.layers is not None:
            return
        message = self._read(time.monotonic() + READY_TIMEOUT)
        if message is None or message.get("op") != "ready":
            reason = (message or {}).get("message", "the worker exited during start-up")
            self.stop()
            raise SandboxError(f"sandbox worker {self.index} did not start: {reason}")
        self.layers = {name: bool(message["layers"].get(name, False)) for name in LAYER_NAMES}
        self.layers.update(dict.fromkeys(BASE_LAYERS, True))
        self.layers["import_allowlist"] = self.policy.allowed_imports is not None
        self.layers["host_not_dumpable"] = _protect_host() if not self.layers["unprivileged_uid"] else False
        self.notes = list(message.get("notes", []))
        for note in self.notes:
            if note not in _NOTED:
                _NOTED.add(note)
                logger.warning("hf-reft sandbox: %s (Sandbox.describe() lists the isolation layers).", note)

    def _read(self, deadline: float) -> dict[str, Any] | None:
        try:
            return protocol.read_message(self.response_fd, deadline)
        except (protocol.ProtocolTimeout, EOFError, OSError, ValueError):
            return None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def run(self, request: dict[str, Any]) -> dict[str, Any] | None:
        """Send one program; ``None`` when the worker died or stopped answering."""
        self.wait_ready()
        try:
            protocol.write_message(self.request_fd, request)
        except OSError:
            return None
        deadline = time.monotonic() + self.policy.wall_time + RESPONSE_GRACE
        message = self._read(deadline)
        return message if message is not None and message.get("op") == "result" else None

    def stop(self) -> None:
        """Stop the worker: closing the request pipe ends it; a kill makes sure."""
        for fd in (self.request_fd, self.response_fd):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.request_fd = self.response_fd = -1
        if self.process is not None:
            _end_launcher(self.process)
            self.process = None
        if self.scratch:
            with contextlib.suppress(OSError):
                remove_tree(self.scratch)
            self.scratch = None
        if self.uid_lease is not None:  # after the worker is gone: no process of the uid is left
            self.uid_lease.release()
            self.uid_lease = None
        self.layers = None


def _end_launcher(process: subprocess.Popen) -> None:
    """Wait for a worker's launcher whose pipes were closed, then make it end.

    An idle worker ends on its own once its pipes close; a busy one is told to (SIGTERM: the launcher
    kills and reaps every process below it, escapees included); SIGKILL is the last resort.
    """
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=0.5)
        return
    with contextlib.suppress(ProcessLookupError):
        process.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


# --------------------------------------------------------------------------- the public API
class Sandbox:
    """Runs untrusted Python programs in isolated, pre-loaded worker processes.

    Every program runs in a freshly forked process (no state survives between programs); see
    ``docs/sandbox.md`` for the isolation layers. Thread-safe: concurrent :meth:`run` calls share
    the workers. Use as a context manager or call :meth:`close`.

    Args:
        policy: limits and permissions (default :class:`SandboxPolicy()`).
        workers: number of worker processes, i.e. programs run at once (default: the CPU count,
            at least 2 so that consecutive runs alternate, at most 4).
    """

    def __init__(self, policy: SandboxPolicy | None = None, *, workers: int | None = None) -> None:
        if not sys.platform.startswith("linux"):
            raise SandboxError(
                f"the sandbox needs Linux (namespaces, rlimits, prctl); this is {sys.platform}"
            )
        if policy is not None and not isinstance(policy, SandboxPolicy):
            raise TypeError(f"policy must be a SandboxPolicy, got {type(policy).__name__}")
        count = min(4, max(2, os.cpu_count() or 1)) if workers is None else workers
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"workers must be a positive integer, got {workers!r}; pass e.g. workers=2")
        self.policy = policy or SandboxPolicy()
        self._workers = [_Worker(index, self.policy) for index in range(count)]
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._closed = False
        self._notes: list[str] = []
        self._owner_pid = os.getpid()
        for worker in self._workers:
            worker.start()
            self._idle.put(worker)
        if self.policy.required_layers:
            self._check_required_layers()

    # ----------------------------------------------------------------- introspection
    @property
    def workers(self) -> int:
        """How many programs can run at once."""
        return len(self._workers)

    @property
    def layers(self) -> dict[str, bool]:
        """Which isolation layers are active (as reported by the first worker)."""
        self._ensure_open()
        worker = self._idle.get()
        try:
            self._revive(worker)
            worker.wait_ready()
            self._notes = list(worker.notes)
            return dict(worker.layers or {})
        finally:
            self._idle.put(worker)

    @property
    def worker_uids(self) -> list[int]:
        """The uid each worker's programs run as (a uid no other live sandbox on this machine uses).

        Programs run as these uids only where the ``unprivileged_uid`` layer is active (as root).
        """
        self._ensure_open()
        return [worker.uid for worker in self._workers]

    def describe(self) -> str:
        """A readable table of the isolation layers, the policy's limits and worker notes."""
        layers = self.layers
        lines = [f"hf-reft sandbox: {self.workers} worker(s), running as uid {os.geteuid()}"]
        lines += [f"  [{'x' if active else ' '}] {name}" for name, active in layers.items()]
        lines += [f"  {key} = {value}" for key, value in self.policy.limits().items()]
        lines += [f"  note: {note}" for note in self._notes]
        return "\n".join(lines)

    def _check_required_layers(self) -> None:
        missing = sorted(name for name in self.policy.required_layers if not self.layers.get(name))
        if missing:
            self.close()
            raise SandboxError(
                f"required isolation layers are unavailable here: {missing}. Run as root on Linux with "
                "namespaces and cgroups allowed, or drop them from SandboxPolicy.required_layers."
            )

    # ----------------------------------------------------------------- running
    def run(
        self,
        source: str,
        *,
        stdin: str | bytes | None = None,
        args: Sequence[str] = (),
        files: Mapping[str, str | bytes] | None = None,
        call: str | None = None,
    ) -> SandboxResult:
        """Run one program and return its result (never raises for anything the program does).

        Args:
            source: Python source code, run as ``__main__`` in a throw-away working directory.
            stdin: data on the program's standard input.
            args: ``sys.argv[1:]`` of the program.
            files: files to create in the working directory first (relative path -> content).
            call: a function the program defines, called with no arguments after it ran; its
                return value comes back as ``result.value`` / ``result.value_repr``.
        """
        return self._run(Program(source, stdin=stdin, args=args, files=files, call=call))

    def run_batch(self, programs: Iterable[str | Program]) -> list[SandboxResult]:
        """Run many programs on all workers at once; results come back in the same order."""
        items = [item if isinstance(item, Program) else Program(item) for item in programs]
        requests = [_encode_program(item) for item in items]  # bad input fails before any runs
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="hf-reft-sandbox-batch") as pool:
            return list(pool.map(self._run_request, requests))

    def _run(self, program: Program) -> SandboxResult:
        return self._run_request(_encode_program(program))

    def _run_request(self, request: dict[str, Any]) -> SandboxResult:
        self._ensure_open()
        if problem := _unencodable(request):  # Python could not compile it either
            return SandboxResult(
                status=SandboxStatus.ERROR, exception_type="UnicodeEncodeError", exception_message=problem
            )
        worker = self._idle.get()
        try:
            return self._run_on(worker, request)
        finally:
            self._idle.put(worker)

    def _run_on(self, worker: _Worker, request: dict[str, Any]) -> SandboxResult:
        self._revive(worker)
        started = time.monotonic()
        try:
            message = worker.run(request)
        except BaseException:  # e.g. KeyboardInterrupt mid-program: its answer would come later
            worker.stop()
            raise
        if message is None:
            worker.stop()
            return SandboxResult.worker_failure(
                "the sandbox worker died or stopped answering", time.monotonic() - started
            )
        if message["status"] == "setup_error":
            raise SandboxError(
                f"the sandbox could not isolate the program: {message.get('exception_message')}"
            )
        return SandboxResult.from_message(message)

    @staticmethod
    def _revive(worker: _Worker) -> None:
        """Restart a worker that died (or was stopped after failing)."""
        if not worker.alive or worker.request_fd < 0:
            worker.stop()
            worker.start()

    # ----------------------------------------------------------------- lifetime
    def _ensure_open(self) -> None:
        if self._closed:
            raise SandboxError("this Sandbox is closed; create a new one")
        if os.getpid() != self._owner_pid:
            raise SandboxError(
                "this Sandbox was created in another process (before a fork); create one in this process"
            )

    def close(self) -> None:
        """Stop every worker (idempotent; in a forked copy of the owner it only forgets them)."""
        if self._closed:
            return
        if os.getpid() != self._owner_pid:
            self._closed = True
            return
        self._closed = True
        for worker in self._workers:
            worker.stop()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


# --------------------------------------------------------------------------- convenience
_SHARED: dict[SandboxPolicy, Sandbox] = {}
_SHARED_LOCK = threading.Lock()


def shared_sandbox(policy: SandboxPolicy) -> Sandbox:
    """One sandbox per policy for the whole process (started on first use, closed at exit)."""
    with _SHARED_LOCK:
        sandbox = _SHARED.get(policy)
        if sandbox is None or sandbox._closed:
            sandbox = _SHARED[policy] = Sandbox(policy)
        return sandbox


@atexit.register
def _close_shared() -> None:
    with _SHARED_LOCK:
        for sandbox in _SHARED.values():
            sandbox.close()
        _SHARED.clear()


def run_program(
    source: str,
    policy: SandboxPolicy | None = None,
    *,
    stdin: str | bytes | None = None,
    args: Sequence[str] = (),
    files: Mapping[str, str | bytes] | None = None,
    call: str | None = None,
) -> SandboxResult:
    """Run one program in a shared sandbox for ``policy`` (started on first use, closed at exit)."""
    sandbox = shared_sandbox(policy or SandboxPolicy())
    return sandbox.run(source, stdin=stdin, args=args, files=files, call=call)
