"""Hostile programs: each must end with a clear status while the host stays unharmed.

Three configurations run most of them:

* ``namespaced``: everything this machine offers (PID/mount/network namespaces, own uid, cgroups);
* ``no_namespaces``: what a root host without ``unshare`` gets (own uid, cgroups, seccomp);
* ``same_uid``: the fallback of a Space without root (no namespaces, no own uid, no cgroups;
  Landlock, seccomp and a subreaper). Run as root here, so a test that depends on the uid (file
  permissions, ``RLIMIT_NPROC``) skips it;
* ``bare``: the weakest fallback, ``same_uid`` on a kernel without Landlock (seccomp, subreaper,
  rlimits). Programs there can read what the host's uid can read: the documented weakness.

Network tests only ever aim at 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from hf_reft.sandbox import Sandbox, SandboxPolicy, SandboxStatus, core

pytestmark = [
    pytest.mark.timeout(90),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the sandbox needs Linux"),
]

IS_ROOT = os.geteuid() == 0
MODES = {
    "namespaced": {},
    "no_namespaces": {"namespaces": False},
    "same_uid": {"namespaces": False, "drop_privileges": False, "cgroups": False},
    "bare": {"namespaces": False, "drop_privileges": False, "cgroups": False, "landlock": False},
}
OWN_UID_MODES = ["namespaced", "no_namespaces"] if IS_ROOT else []


def _policy(mode: str, **changes) -> SandboxPolicy:
    base = {
        "wall_time": 2.0,
        "cpu_time": 2.0,
        "memory_bytes": 256 << 20,
        "max_output_bytes": 64 << 10,
        "max_processes": 8,
        "allowed_imports": None,
        "preload": ("math", "numpy"),
    }
    return SandboxPolicy(**{**base, **MODES[mode], **changes})


@pytest.fixture(scope="module", params=list(MODES))
def mode(request):
    return request.param


@pytest.fixture(scope="module")
def box(mode):
    with Sandbox(_policy(mode), workers=1) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def roomy_box(mode):
    """Like ``box`` with a generous wall clock, for programs that are slow on a loaded machine."""
    with Sandbox(_policy(mode, wall_time=20.0, cpu_time=20.0), workers=1) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def bystander():
    """A host process holding a secret in its environment: the programs' target."""
    secret = f"hf_secret_{uuid.uuid4().hex}"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HF_TOKEN": secret}
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], env=env)
    yield process, secret
    process.kill()
    process.wait()


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                if marker.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                    found.append(int(entry))
    return found


def _processes_of_uid(uid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    found.append(int(entry))
    return found


def _wait_until(predicate, timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def _assert_healthy(sandbox: Sandbox) -> None:
    assert sandbox.run("print('still fine')").stdout == "still fine\n"


# --------------------------------------------------------------------------- time
def test_infinite_loop_times_out(box):
    started = time.monotonic()
    result = box.run("while True:\n    pass\n")
    assert result.status is SandboxStatus.TIMEOUT
    assert time.monotonic() - started < 2.0 + 5
    _assert_healthy(box)


def test_cpu_limit_kills_a_busy_loop():
    with Sandbox(
        _policy("namespaced" if IS_ROOT else "same_uid", cpu_time=1.0, wall_time=20.0), workers=1
    ) as box:
        result = box.run("while True:\n    pass\n")
    assert result.status is SandboxStatus.TIMEOUT and "CPU" in result.exception_message


def test_sleeping_program_times_out(box):
    result = box.run("import time\ntime.sleep(60)\n")
    assert result.status is SandboxStatus.TIMEOUT


# --------------------------------------------------------------------------- memory
@pytest.mark.parametrize(
    "source",
    [
        "x = bytearray(2 << 30)\n",
        "chunks = []\nwhile True:\n    chunks.append(bytearray(8 << 20))\n",
        "import numpy\nx = numpy.ones((1 << 28,))\n",
    ],
    ids=["one_big_block", "gradual", "numpy"],
)
def test_memory_hog_is_stopped(roomy_box, source):
    result = roomy_box.run(source)
    assert result.status is SandboxStatus.MEMORY, result
    assert result.exception_type is not None and "MemoryError" in result.exception_type
    _assert_healthy(roomy_box)


SPREAD_HOG = """
import os, time
pids = []
for _ in range(4):
    pid = os.fork()
    if pid == 0:
        block = bytearray(100 << 20)  # each child stays under its own address-space limit
        time.sleep(1)
        os._exit(0)
    pids.append(pid)
print(sorted(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids))
"""


@pytest.mark.parametrize("mode_name", OWN_UID_MODES)
def test_memory_spread_over_processes_is_capped_by_the_cgroup(mode_name):
    policy = _policy(mode_name, memory_bytes=128 << 20, wall_time=20.0, preload=("math",))
    with Sandbox(policy, workers=2), Sandbox(policy, workers=1) as box:  # with a bystander
        if not box.layers["memory_cgroup"]:
            pytest.skip("no memory cgroup here")
        result = box.run(SPREAD_HOG)
        assert result.ok, result
        assert result.stdout.count("-9") >= 1, "4 x 100 MiB fitted in a 128 MiB budget"
        _assert_healthy(box)


# --------------------------------------------------------------------------- processes
FORK_BOMB = """
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
"""

FORK_COUNT = """
import os, time
started = 0
try:
    while True:
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
        started += 1
except OSError as error:
    print(started, type(error).__name__)
"""


def test_live_sandboxes_never_share_a_uid():
    """Each worker leases its own uid; a closed sandbox gives its uids back."""
    policy = _policy("same_uid")
    with Sandbox(policy, workers=2) as first, Sandbox(policy, workers=2) as second:
        uids = first.worker_uids + second.worker_uids
        assert len(set(uids)) == 4
        assert all(uid >= 0x40000 for uid in uids)
    # The lease is an flock: a process that holds none can take each of those uids again.
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys\n"
            "for path in sys.argv[1:]:\n"
            "    fd = os.open(path, os.O_RDWR)\n"
            "    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n",
            *(str(core._uid_lock_dir() / f"{uid}.lock") for uid in uids),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr


@pytest.mark.parametrize("mode_name", OWN_UID_MODES)
def test_fork_bomb_is_contained(mode_name):
    """A real fork bomb, under a strict process limit (the uid is the sandbox's own)."""
    policy = _policy(mode_name, wall_time=2.0, max_processes=8)
    # Other sandboxes alive at the same time (as in a test session or a server) must not matter.
    with Sandbox(policy, workers=2) as bystander, Sandbox(policy, workers=1) as box:
        assert not set(box.worker_uids) & set(bystander.worker_uids)
        counted = box.run(FORK_COUNT)
        assert counted.ok, counted
        started, error = counted.stdout.split()
        assert int(started) < 8 and error == "BlockingIOError"
        (uid,) = box.worker_uids
        peak = [0]
        running = threading.Event()
        running.set()

        def sample() -> None:
            while running.is_set():
                peak[0] = max(peak[0], len(_processes_of_uid(uid)))
                time.sleep(0.02)

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            result = box.run(FORK_BOMB)
        finally:
            running.clear()
            sampler.join()
        assert result.status is SandboxStatus.TIMEOUT
        assert 1 < peak[0] <= 8, f"{peak[0]} processes of the sandbox uid at once"
        # Only the next program's pre-forked child (waiting for its program) may run as the uid.
        assert _wait_until(lambda: len(_processes_of_uid(uid)) <= 1), _processes_of_uid(uid)
        _assert_healthy(box)


ESCAPE = """
import os, sys, time
marker = sys.argv[1]
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv("/bin/sleep", ["sleep", marker])
    os._exit(0)
time.sleep(float(sys.argv[2]))
print("parent done")
"""


@pytest.mark.parametrize("main_sleeps", [1.2, 30.0], ids=["main_exits", "main_times_out"])
def test_setsid_double_fork_escapee_does_not_survive(box, main_sleeps):
    marker = f"{random.randint(1000, 9999)}.{random.randint(10**8, 10**9)}"  # a unique `sleep` duration
    seen: list[int] = []

    def watch() -> None:
        _wait_until(lambda: bool(seen.extend(_processes_with(marker)) or seen), timeout=3.0)

    watcher = threading.Thread(target=watch)
    watcher.start()
    result = box.run(ESCAPE, args=(marker, str(main_sleeps)))
    watcher.join()
    assert seen, "the escapee never started, so the test proves nothing"
    expected = SandboxStatus.OK if main_sleeps < 2 else SandboxStatus.TIMEOUT
    assert result.status is expected, result
    assert not _processes_with(marker), "an escapee outlived its program's result"


def test_kill_of_parent_host_and_everyone_is_contained(box, bystander):
    process, _ = bystander
    source = (
        "import os, signal, sys\n"
        "for target in (os.getppid(), int(sys.argv[1]), -1):\n"
        "    try:\n"
        "        os.kill(target, signal.SIGKILL)\n"
        "        print(target, 'sent')\n"
        "    except OSError as error:\n"
        "        print(target, type(error).__name__)\n"
    )
    result = box.run(source, args=(str(process.pid),))
    assert result.ok, result
    assert "-1 sent" not in result.stdout
    assert process.poll() is None, "a host process was killed"
    _assert_healthy(box)


# --------------------------------------------------------------------------- secrets and processes
def test_host_environment_and_processes_are_hidden(box, mode, bystander):
    if mode == "bare":
        pytest.skip("without namespaces, an own uid or Landlock, programs can read their uid's processes")
    process, secret = bystander
    source = (
        "import os, sys\n"
        "leaks = []\n"
        "for pid in [sys.argv[1], '1', 'self'] + [str(p) for p in range(1, 5000)]:\n"
        "    try:\n"
        "        leaks.append(open(f'/proc/{pid}/environ', 'rb').read().decode(errors='replace'))\n"
        "    except OSError as error:\n"
        "        pass\n"
        "try:\n"
        "    print(len([p for p in os.listdir('/proc') if p.isdigit()]))\n"
        "except OSError as error:\n"
        "    print(0, type(error).__name__)\n"
        "print('\\n'.join(leaks))\n"
        "print(dict(os.environ))\n"
    )
    result = box.run(source, args=(str(process.pid),))
    assert result.ok, result
    assert secret not in result.stdout
    if mode == "namespaced":
        visible = int(
            result.stdout.splitlines()[0].split()[0]
        )  # "0 PermissionError": /proc not even listable
        assert visible <= 2, f"host processes are visible: {visible}"


# --------------------------------------------------------------------------- network
def test_network_reaches_no_host_listener(box, mode):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    source = (
        "import socket, sys\n"
        "try:\n"
        "    print(socket.if_nameindex())\n"
        "except OSError as error:\n"
        "    print(type(error).__name__)\n"
        "try:\n"
        "    s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=1)\n"
        "    print('connected')\n"
        "except OSError as error:\n"
        "    print(type(error).__name__)\n"
    )
    try:
        result = box.run(source, args=(str(port),))
        pending, _, _ = select.select([listener], [], [], 0.2)
    finally:
        listener.close()
    assert result.ok, result
    assert "connected" not in result.stdout and not pending
    if mode == "namespaced":
        interfaces, outcome = result.stdout.splitlines()
        # as root: an own network namespace with only lo; as a normal user the seccomp filter refuses too
        assert interfaces in ("[(1, 'lo')]", "PermissionError"), interfaces
        assert outcome in ("ConnectionRefusedError", "PermissionError"), outcome
    else:
        assert "PermissionError" in result.stdout  # the seccomp filter refuses AF_INET sockets


# --------------------------------------------------------------------------- files
@pytest.mark.parametrize("mode_name", OWN_UID_MODES)
def test_cannot_write_outside_its_directory(mode_name, tmp_path):
    tag = uuid.uuid4().hex
    targets = [
        tmp_path / f"outside-{tag}",
        Path.home() / f"hf-reft-probe-{tag}",
        Path(f"/etc/hf-reft-probe-{tag}"),
    ]
    source = (
        "import os, sys\n"
        "for path in sys.argv[1:] + ['~/inside.txt', 'here.txt']:\n"
        "    try:\n"
        "        with open(os.path.expanduser(path), 'w') as handle:\n"
        "            handle.write('x')\n"
        "        print('wrote', path)\n"
        "    except OSError as error:\n"
        "        print('refused', type(error).__name__)\n"
    )
    try:
        with Sandbox(_policy(mode_name), workers=1) as box:
            result = box.run(source, args=tuple(map(str, targets)))
    finally:
        leaked = [path for path in targets if path.exists()]
        for path in leaked:
            path.unlink()
    assert result.ok, result
    assert not leaked, f"the program wrote outside its directory: {leaked}"
    assert result.stdout.count("refused") == 3
    assert "wrote ~/inside.txt" in result.stdout and "wrote here.txt" in result.stdout


def test_symlinks_left_behind_do_not_steer_the_root_clean_up(box, tmp_path):
    """The worker (root) empties the working directory and /dev/shm after each program."""
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("precious")
    shm_links = [Path(f"/dev/shm/hf-reft-probe-{uuid.uuid4().hex}-{kind}") for kind in ("dir", "file")]
    source = (
        "import os, sys\n"
        "os.symlink(sys.argv[1], 'dir_link')\n"
        "os.symlink(sys.argv[1] + '/keep.txt', 'file_link')\n"
        "for link, target in zip(sys.argv[2:], (sys.argv[1], sys.argv[1] + '/keep.txt')):\n"
        "    try:\n"
        "        os.symlink(target, link)\n"
        "    except OSError:\n"
        "        pass\n"
    )
    try:
        assert box.run(source, args=(str(victim), *map(str, shm_links))).ok
        assert box.run("print('next')").ok  # the clean-up of the first program has happened by now
        assert (victim / "keep.txt").read_text() == "precious"
    finally:
        for link in shm_links:  # without a private /dev/shm (and without Landlock) they land on the host
            with contextlib.suppress(OSError):
                link.unlink()


def test_home_is_the_throwaway_directory(box):
    assert box.run("import os\nopen(os.path.expanduser('~/note'), 'w').write('x')\n").ok
    assert box.run("import os\nprint(os.path.exists(os.path.expanduser('~/note')))\n").stdout == "False\n"


# --------------------------------------------------------------------------- output
@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_hundreds_of_megabytes_of_output_are_cut(box, stream):
    source = f"import sys\nline = 'x' * (1 << 20)\nfor _ in range(500):\n    print(line, file=sys.{stream})\n"
    started = time.monotonic()
    result = box.run(source)
    assert result.status is SandboxStatus.OUTPUT_LIMIT and result.output_truncated
    assert len(result.stdout) + len(result.stderr) <= 64 << 10
    assert time.monotonic() - started < 5
    _assert_healthy(box)


# --------------------------------------------------------------------------- crashes
def test_ctypes_crash_is_reported_as_killed(box):
    result = box.run("import ctypes\nctypes.string_at(0)\n")
    assert result.status is SandboxStatus.KILLED and result.signal == signal.SIGSEGV
    _assert_healthy(box)


def test_ctypes_is_refused_by_the_default_policy():
    with Sandbox(SandboxPolicy(preload=("math",)), workers=1) as box:
        result = box.run("import ctypes\nctypes.string_at(0)\n")
    assert result.status is SandboxStatus.ERROR and result.exception_type == "ImportError"


# --------------------------------------------------------------------------- a host without root
UNPRIVILEGED_BOOT = """
import os, sys
worker_dir, repo, uid, check = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
sys.path.insert(0, worker_dir)
import hfsb_isolation as iso
host_namespace = iso.namespace_id("mnt")
iso.unshare(iso.CLONE_NEWNS)
if iso.namespace_id("mnt") == host_namespace:
    raise SystemExit("no private mount namespace: refusing to mount anything")
iso.make_mounts_private()
paths = [sys.prefix, sys.exec_prefix, sys.base_prefix, os.path.dirname(sys.executable), repo]
iso.expose_paths(paths + [path for path in sys.path if path], uid, uid)
os.setgroups([])
os.setresgid(uid, uid, uid)
os.setresuid(uid, uid, uid)
env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "HF_TOKEN": "hf_unprivileged_host_secret"}
os.execve(sys.executable, [sys.executable, "-c", check, repo], env)
"""

UNPRIVILEGED_CHECK = """
import json, os, sys, time, types
package = types.ModuleType("hf_reft")
package.__path__ = [os.path.join(sys.argv[1], "hf_reft")]
sys.modules["hf_reft"] = package
from hf_reft.sandbox import Sandbox, SandboxPolicy
ESCAPE = {escape!r}
FORK_COUNT = {fork_count!r}
marker = "{marker}"
policy = SandboxPolicy(wall_time=3, cpu_time=3, max_processes=8, allowed_imports=None, preload=("math",))
out = {{"uid": os.getuid()}}
with Sandbox(policy, workers=1) as box:
    out["layers"] = box.layers
    def run(source, *args):
        result = box.run(source, args=tuple(map(str, args)))
        return [result.status.value, result.stdout]
    out["trivial"] = run("print(1 + 1)")
    out["environ"] = run("import sys\\ntry:\\n    print(open(f'/proc/{{sys.argv[1]}}/environ').read())\\nexcept OSError as e:\\n    print(type(e).__name__)", os.getpid())
    out["kill"] = run("import os, sys\\nfor t in (int(sys.argv[1]), os.getppid(), -1):\\n    try:\\n        os.kill(t, 9); print('sent')\\n    except OSError as e:\\n        print(type(e).__name__)", os.getpid())
    out["fork_count"] = run(FORK_COUNT)
    out["escape"] = run(ESCAPE, marker, 1.0)
    alive = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and int(entry) != os.getpid() and marker.encode() in open(f"/proc/{{entry}}/cmdline", "rb").read():
                alive.append(entry)
        except OSError:
            pass
    out["escapees_alive"] = alive
    out["network"] = run("import socket\\ntry:\\n    socket.create_connection(('127.0.0.1', 9), timeout=1)\\nexcept OSError as e:\\n    print(type(e).__name__)")
    out["loop"] = run("while True:\\n    pass")
print(json.dumps(out))
"""


@pytest.mark.skipif(not IS_ROOT, reason="needs root to start a host process as another user")
def test_unprivileged_host_gets_the_documented_fallback():
    """The host itself runs as ``nobody`` (as on a Space): no namespaces, no own uid, no cgroups."""
    import json

    from hf_reft.sandbox.core import WORKER_DIR

    marker = f"{random.randint(1000, 9999)}.{random.randint(10**8, 10**9)}"
    check = UNPRIVILEGED_CHECK.format(escape=ESCAPE, fork_count=FORK_COUNT, marker=marker)
    repo = Path(__file__).resolve().parents[1]
    command = [sys.executable, "-c", UNPRIVILEGED_BOOT, str(WORKER_DIR), str(repo), "65534", check]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=100)
    assert completed.returncode == 0, completed.stderr[-3000:]
    out = json.loads(completed.stdout.strip().splitlines()[-1])
    layers = out["layers"]
    assert out["uid"] == 65534
    assert not layers["pid_namespace"] and not layers["unprivileged_uid"] and not layers["pids_cgroup"]
    assert layers["child_subreaper"] and layers["seccomp_process_filter"] and layers["host_not_dumpable"]
    assert layers["seccomp_network_filter"]
    assert out["trivial"] == ["ok", "2\n"]
    assert out["environ"] == ["ok", "PermissionError\n"]
    assert out["kill"][1].split() == ["PermissionError"] * 3
    started, error = out["fork_count"][1].split()
    assert int(started) < 8 and error == "BlockingIOError"
    assert out["escape"][0] == "ok" and out["escapees_alive"] == []
    assert out["network"][1].strip() == "PermissionError"
    assert out["loop"][0] == "timeout"
    assert not _processes_with(marker)


# --------------------------------------------------------------------------- the report channel
FORGE = """
import random
os = random._os  # reachable under the default import allowlist
body = {KIND!r}.encode()
os.write(4, len(body).to_bytes(4, "big") + body)
{AFTER}
"""


@pytest.mark.parametrize(
    ("kind", "after"),
    [
        ('{"kind": "setup_error", "exception_message": "forged"}', ""),  # would fail the whole batch
        ('{"kind": "ok", "value": 42}', "raise ValueError('the real outcome')"),  # a raising program as ok
        ('{"kind": "ok"}', "pass"),  # a second message after the child's own
        ('"not an object"', ""),
    ],
    ids=["setup_error", "ok_then_raise", "extra_message", "garbage"],
)
def test_a_forged_report_fails_only_its_program(kind, after):
    with Sandbox(SandboxPolicy(wall_time=5.0, cpu_time=5.0), workers=1) as sandbox:
        program = FORGE.replace("{KIND!r}", repr(kind)).replace("{AFTER}", after)
        results = sandbox.run_batch([program, "print(1 + 1)"])
        forged, honest = results
        assert forged.status is SandboxStatus.ERROR, forged
        assert forged.exception_type == "SandboxReportError" and "report pipe" in forged.exception_message
        assert forged.value is None
        assert honest.ok and honest.stdout == "2\n"
        _assert_healthy(sandbox)


@pytest.mark.parametrize(
    ("source", "call", "words"),
    [
        ("raise ValueError('\\udc80')", None, "ValueError"),
        (
            "class E(Exception):\n    def __str__(self):\n        raise RuntimeError\nraise E()",
            None,
            "could not be read",
        ),
        ("def f():\n    return '\\udc80'", "f", None),
        ("def f():\n    return 'x' * (5 << 20)", "f", "report limit"),
        ("import os\nos._exit(0)", None, "without a readable report"),
    ],
    ids=["surrogate_message", "hostile_str", "surrogate_value", "huge_value", "os_exit"],
)
def test_failures_are_never_reported_as_success(source, call, words):
    with Sandbox(SandboxPolicy(wall_time=10.0, cpu_time=10.0, allowed_imports=None), workers=1) as sandbox:
        result = sandbox.run(source, call=call)
        if words is None:  # a lone surrogate in a returned string: reported, replaced by "?"
            assert result.ok and result.value == "?", result
        else:
            assert result.status is SandboxStatus.ERROR, result
            assert words in f"{result.exception_type} {result.exception_message}", result
        _assert_healthy(sandbox)


def test_a_source_that_is_not_text_is_an_error_not_a_crash():
    with Sandbox(SandboxPolicy(), workers=1) as sandbox:
        result = sandbox.run("x = '\udc80'\nprint(x)")
        assert result.status is SandboxStatus.ERROR and result.exception_type == "UnicodeEncodeError"
        assert "index 5" in result.exception_message
        _assert_healthy(sandbox)


# --------------------------------------------------------------------------- what a program leaves behind
LITTER = {
    "deep_nest": "import os\nfor _ in range(3000):\n    os.mkdir('d')\n    os.chdir('d')\nopen('x', 'w').close()",
    "chmod_000": "import os\nos.makedirs('a/b/c')\nopen('a/b/c/x', 'w').close()\nos.chmod('a/b', 0)\nos.chmod('a', 0)",
}


@pytest.mark.parametrize("litter", list(LITTER))
def test_litter_of_any_shape_is_cleaned_up(mode, litter):
    sandbox = Sandbox(_policy(mode, allowed_imports=None, wall_time=20.0, cpu_time=20.0), workers=1)
    scratch = Path(sandbox._workers[0].scratch) if sandbox._workers[0].scratch else None
    for _ in range(2):  # the second run starts from the first one's litter
        assert sandbox.run(LITTER[litter]).ok
        _assert_healthy(sandbox)
    listing = sandbox.run("import os\nprint(os.listdir('.'))")
    assert listing.stdout == "[]\n", "the next program saw the litter"
    sandbox.close()
    assert scratch is None or not scratch.exists(), "the worker's scratch folder leaked"


def test_remove_tree_handles_depth_permissions_and_links(tmp_path):
    from hf_reft.sandbox._worker.hfsb_cleanup import remove_tree

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("x")
    top = tmp_path / "top"
    deep = top
    for _ in range(2500):  # deeper than Python's recursion limit, longer than PATH_MAX
        deep = deep / "d"
    os.makedirs(top)
    fd = os.open(top, os.O_RDONLY)
    for _ in range(2500):
        os.mkdir("d", dir_fd=fd)
        fd, old = os.open("d", os.O_RDONLY, dir_fd=fd), fd
        os.close(old)
    os.symlink(outside, "link", dir_fd=fd)
    os.close(fd)
    (top / "locked").mkdir()
    (top / "locked" / "f").write_text("x")
    (top / "locked").chmod(0)
    remove_tree(top)
    assert not top.exists() and (outside / "keep").read_text() == "x"  # the link's target survives
    remove_tree(top)  # a missing path is fine


# --------------------------------------------------------------------------- the sandbox ending mid-program
HOST = """
import sys
from hf_reft.sandbox import Sandbox, SandboxPolicy
sys.path.insert(0, sys.argv[1])
from test_sandbox_hostile import ESCAPE, _policy
box = Sandbox(_policy(sys.argv[2], wall_time=60.0, cpu_time=60.0), workers=1)
print(box.run(ESCAPE, args=(sys.argv[3], "60")).status, flush=True)
"""


def _escapees(marker: str) -> list[int]:
    """The ``sleep <marker>`` processes (not the host whose arguments hold the marker too)."""
    return [pid for pid in _processes_with(marker) if _cmdline(pid).startswith(b"sleep\0")]


def _cmdline(pid: int) -> bytes:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    return b""


@pytest.mark.parametrize("ending", ["close", "host_killed"])
def test_escapees_end_with_the_sandbox_mid_program(mode, ending):
    """A program still running (its escapee too) when the host closes the sandbox or dies leaves nothing."""
    marker = f"{random.randint(1000, 9999)}.{random.randint(10**8, 10**9)}"
    if ending == "close":
        sandbox = Sandbox(_policy(mode, wall_time=60.0, cpu_time=60.0), workers=1)
        runner = threading.Thread(target=lambda: sandbox.run(ESCAPE, args=(marker, "60")))
        runner.start()
        assert _wait_until(lambda: bool(_escapees(marker)), timeout=20), "the escapee never started"
        sandbox.close()
        runner.join(timeout=30)
        assert not runner.is_alive()
    else:
        host = subprocess.Popen([sys.executable, "-c", HOST, str(Path(__file__).parent), mode, marker])
        try:
            assert _wait_until(lambda: bool(_escapees(marker)), timeout=60), "the escapee never started"
            host.kill()
        finally:
            host.kill()
            host.wait()
    assert _wait_until(lambda: not _escapees(marker), timeout=10), "an escapee outlived the sandbox"


HOPPER_SCRIPT = 'sleep 0.05; sh -c "$0" "$0" "$1" & exit'  # each generation starts the next and exits
HOPPER = """
import os, sys, time
if os.fork() == 0:
    os.setsid()
    os.execv("/bin/sh", ["sh", "-c", sys.argv[2], sys.argv[2], sys.argv[1]])
time.sleep(float(sys.argv[3]))
"""


@pytest.mark.parametrize("main_sleeps", [1.0, 30.0], ids=["main_exits", "main_times_out"])
def test_a_pid_hopping_daemon_ends_with_its_run(box, main_sleeps):
    """A daemon that moves to a new pid every 50 ms (each generation forks the next, then exits) is
    gone when ``run`` returns, in every mode: the sweep repeats until no process of the run is left."""
    marker = f"{random.randint(1000, 9999)}.{random.randint(10**8, 10**9)}"
    seen: list[int] = []
    watcher = threading.Thread(
        target=lambda: _wait_until(
            lambda: bool(seen.extend(_processes_with(marker)) or len(set(seen)) > 3), 3.0
        )
    )
    watcher.start()
    result = box.run(HOPPER, args=(marker, HOPPER_SCRIPT, str(main_sleeps)))
    watcher.join()
    assert len(set(seen)) > 3, f"the daemon did not hop ({len(set(seen))} pids seen): the test proves nothing"
    assert result.status.value in ("ok", "timeout"), result
    assert _wait_until(lambda: not _processes_with(marker), timeout=5), "the hopping daemon outlived its run"
    time.sleep(0.5)  # and it does not come back from a generation the sweep missed
    assert not _processes_with(marker)


ORPHANS = """
import os, time
reaped = 0
for _ in range(24):  # three times max_processes
    read_end, write_end = os.pipe()
    middle = os.fork()
    if middle == 0:  # starts an orphan that exits at once, then exits itself
        orphan = os.fork()
        if orphan == 0:
            os._exit(0)
        os.write(write_end, str(orphan).encode())
        os._exit(0)
    os.waitpid(middle, 0)
    os.close(write_end)
    orphan = int(os.read(read_end, 32))
    os.close(read_end)
    deadline = time.monotonic() + 5
    while os.path.exists(f"/proc/{orphan}") and time.monotonic() < deadline:
        time.sleep(0.005)
    reaped += not os.path.exists(f"/proc/{orphan}")
print("reaped", reaped)
"""


def test_exited_orphans_are_reaped_while_the_program_runs(roomy_box):
    """A process the program orphans is re-parented to the sandbox (PID 1 of its namespace, or a
    subreaper); once it exits it is reaped at once, so its zombie does not count against
    ``max_processes`` (8 here): a program may start three times that many short-lived daemons."""
    result = roomy_box.run(ORPHANS)
    assert result.status.value == "ok", result
    assert result.stdout.split() == ["reaped", "24"], result


CAPABILITIES = """
import ctypes, errno, socket
libc = ctypes.CDLL(None, use_errno=True)
header = (ctypes.c_uint32 * 2)(0x20080522, 0)
data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable; twice (capabilities 0-31, 32-63)
libc.capget(header, data)
bounding = [cap for cap in range(41) if libc.prctl(23, cap, 0, 0, 0) == 1]  # PR_CAPBSET_READ
print("effective", hex(data[0] | data[3] << 32), "permitted", hex(data[1] | data[4] << 32), "bounding", bounding)
try:
    socket.sethostname(socket.gethostname())  # the same name: harmless even where it succeeds
    print("sethostname allowed")
except PermissionError:
    print("sethostname refused")
libc.syscall(169, 0, 0, 0, 0)  # reboot(2) with no magic: EPERM without CAP_SYS_BOOT, else EINVAL
print("reboot", errno.errorcode[ctypes.get_errno()])
"""


@pytest.mark.skipif(not IS_ROOT, reason="a same-uid program of a non-root host has no capabilities to drop")
@pytest.mark.parametrize("mode_name", ["same_uid", "bare"])
def test_a_same_uid_program_of_a_root_host_has_no_capabilities(mode_name):
    with Sandbox(_policy(mode_name), workers=1) as sandbox:
        result = sandbox.run(CAPABILITIES)
    assert result.ok, result
    assert result.stdout.splitlines() == [
        "effective 0x0 permitted 0x0 bounding []",
        "sethostname refused",
        "reboot EPERM",
    ]


MEMFD_HOG = """
import os
fd = os.memfd_create("hog")
block = b"x" * (1 << 20)
for _ in range(320):
    os.write(fd, block)
print("held 320 MiB")
"""


def test_memory_in_a_memfd_counts_or_is_refused(mode, caplog, monkeypatch):
    monkeypatch.setattr("hf_reft.sandbox.core._NOTED", set())  # said once per process: forget earlier tests
    caplog.set_level(logging.WARNING, logger="hf_reft.sandbox.core")
    with Sandbox(_policy(mode, memory_bytes=64 << 20, wall_time=20.0, cpu_time=20.0), workers=1) as sandbox:
        result = sandbox.run(MEMFD_HOG)
        assert "held" not in result.stdout, f"320 MiB held against a 64 MiB policy in {mode}"
        if not sandbox.layers.get("memory_cgroup"):
            assert result.exception_type == "PermissionError", result  # memfd_create refused
            assert any("memfd_create is refused" in note for note in sandbox._notes)
            assert "memfd_create is refused" in caplog.text  # said loudly, not only listed
        else:  # the memory cgroup counts it (or max_file_bytes stops the file first)
            assert not result.ok, result
        # the disk limit holds only on the private scratch tmpfs; elsewhere a warning says so
        unenforced_disk = "disk_bytes is not enforced" in caplog.text
        assert unenforced_disk == (not sandbox.layers.get("private_tmp")), (mode, caplog.text)
        assert sandbox.run("import sys\nprint(sys.stdin.read())", stdin="in").stdout == "in\n"
        _assert_healthy(sandbox)
