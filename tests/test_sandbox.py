"""The sandbox's API: results, values, inputs, import policy, batches, errors, layers.

Hostile programs (escapes, bombs, floods) are in ``test_sandbox_hostile.py``.
"""

from __future__ import annotations

import os
import sys
import threading
import time

import pytest

from hf_reft.sandbox import (
    LAYER_NAMES,
    Program,
    Sandbox,
    SandboxError,
    SandboxPolicy,
    SandboxResult,
    SandboxStatus,
    run_program,
)

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the sandbox needs Linux"),
]

IS_ROOT = os.geteuid() == 0


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(SandboxPolicy(wall_time=5.0, cpu_time=5.0)) as box:
        yield box


# --------------------------------------------------------------------------- results
def test_trivial_program_prints(sandbox):
    result = sandbox.run("print(1 + 1)")
    assert result.status is SandboxStatus.OK and result.ok
    assert result.stdout == "2\n" and result.stderr == ""
    assert result.exit_code == 0 and result.signal is None
    assert 0 < result.wall_time < 5 and result.cpu_time >= 0


def test_call_returns_plain_values(sandbox):
    source = (
        "import numpy as np, sympy, fractions\n"
        "def solution():\n"
        "    return {'np': np.float64(2.5) * 2, 'arr': np.arange(3), 'q': sympy.Rational(1, 4),\n"
        "            'f': fractions.Fraction(3, 2), 'i': np.int64(7), 'c': 1 + 2j, 'nan': float('nan')}\n"
    )
    result = sandbox.run(source, call="solution")
    assert result.ok, result
    assert result.value == {
        "np": 5.0,
        "arr": [0, 1, 2],
        "q": 0.25,
        "f": 1.5,
        "i": 7,
        "c": [1.0, 2.0],
        "nan": "nan",
    }
    assert "Rational" not in result.value_repr and "1/4" in result.value_repr


def test_call_with_unserialisable_value_keeps_repr(sandbox):
    result = sandbox.run("def solution():\n    return {1, 2}\n", call="solution")
    assert result.ok and result.value is None and result.value_repr == "{1, 2}"


def test_call_of_missing_function_is_an_error(sandbox):
    result = sandbox.run("x = 1\n", call="solution")
    assert result.status is SandboxStatus.ERROR
    assert result.exception_type == "NameError" and "solution" in result.exception_message


def test_stdin_args_and_files(sandbox):
    source = (
        "import json\n"
        "name = input()\n"
        "data = json.load(open('data/in.json'))\n"
        "print(name, data['x'] + 1, open('raw.bin', 'rb').read() == bytes([0, 255]))\n"
    )
    sandbox_args = ("unused",)
    result = sandbox.run(
        source,
        stdin="alice\n",
        args=sandbox_args,
        files={"data/in.json": '{"x": 41}', "raw.bin": bytes([0, 255])},
    )
    assert result.ok, result
    assert result.stdout == "alice 42 True\n"


def test_exception_type_message_and_traceback(sandbox):
    result = sandbox.run("def f():\n    raise ValueError('bad input')\nf()\n")
    assert result.status is SandboxStatus.ERROR
    assert result.exception_type == "ValueError" and result.exception_message == "bad input"
    assert 'File "<program>", line 2' in result.traceback and "hfsb_" not in result.traceback


def test_syntax_error(sandbox):
    result = sandbox.run("def (:\n")
    assert result.status is SandboxStatus.ERROR and result.exception_type == "SyntaxError"


@pytest.mark.parametrize(("source", "status"), [("exit(0)", "ok"), ("exit()", "ok"), ("exit(3)", "error")])
def test_exit_codes(sandbox, source, status):
    assert sandbox.run(source).status.value == status


def test_stdout_before_an_error_is_kept(sandbox):
    result = sandbox.run("print('partial')\n1 / 0\n")
    assert result.stdout == "partial\n" and result.exception_type == "ZeroDivisionError"


# --------------------------------------------------------------------------- import policy
@pytest.mark.parametrize("module", ["os", "subprocess", "socket", "ctypes", "importlib", "sys"])
def test_disallowed_imports_are_refused(sandbox, module):
    result = sandbox.run(f"import {module}\n")
    assert result.status is SandboxStatus.ERROR and result.exception_type == "ImportError"
    assert "allowed_imports" in result.exception_message


def test_allowed_imports_and_submodules_work(sandbox):
    result = sandbox.run(
        "import collections.abc, math\nfrom fractions import Fraction\nprint(Fraction(1, 3), math.pi > 3)\n"
    )
    assert result.ok and result.stdout == "1/3 True\n"


def test_library_internal_imports_are_not_refused(sandbox):
    """The standard library imports codecs lazily through ``__import__``: that must keep working."""
    result = sandbox.run("print('bücher.example'.encode('idna'))\nimport sympy\nprint(sympy.sqrt(8))\n")
    assert result.ok, result
    assert result.stdout == "b'xn--bcher-kva.example'\n2*sqrt(2)\n"


def test_dunder_import_and_relative_import_are_checked(sandbox):
    assert sandbox.run("__import__('os')").exception_type == "ImportError"
    assert sandbox.run("exec('import os', {})").exception_type == "ImportError"
    assert sandbox.run("from . import x").exception_type == "ImportError"


def test_unrestricted_policy_allows_any_import():
    with Sandbox(SandboxPolicy(allowed_imports=None, preload=("math",)), workers=1) as box:
        assert box.run("import os, sys\nprint(sys.argv)\n", args=("a",)).stdout == "['program.py', 'a']\n"


# --------------------------------------------------------------------------- fresh state
def test_every_program_gets_a_fresh_process_state(sandbox):
    assert sandbox.run("import math\nmath.pi = 3\n").ok
    assert sandbox.run("import math\nprint(math.pi)\n").stdout.startswith("3.14159")
    assert sandbox.run("open('left.txt', 'w').write('x')\n").ok
    result = sandbox.run(
        "import json\ntry:\n    open('left.txt')\n    print('found')\nexcept OSError:\n    print('gone')\n"
    )
    assert result.stdout == "gone\n"


def test_environment_is_empty():
    policy = SandboxPolicy(preload=("math",)).allow("os")
    os.environ["HF_TOKEN"] = "hf_should_not_leak"
    try:
        with Sandbox(policy, workers=1) as box:
            result = box.run("import os\nprint(sorted(os.environ))\nprint(os.environ.get('HF_TOKEN'))\n")
    finally:
        del os.environ["HF_TOKEN"]
    assert result.ok
    listed, token = result.stdout.splitlines()
    assert token == "None" and "HTTPS_PROXY" not in listed and "hf_should_not_leak" not in result.stdout


def test_program_runs_in_its_own_session_and_process_group():
    with Sandbox(SandboxPolicy(preload=("math",)).allow("os"), workers=1) as box:
        result = box.run("import os\nprint(os.getsid(0) == os.getpid() == os.getpgrp())\n")
    assert result.stdout == "True\n"


# --------------------------------------------------------------------------- batches and threads
def test_batch_keeps_order_and_mixes_statuses(sandbox):
    programs = [f"print({index} * 2)" for index in range(20)]
    programs[5] = "raise KeyError('k')"
    programs[7] = Program("def solution():\n    return 99\n", call="solution")
    results = sandbox.run_batch(programs)
    assert len(results) == 20
    assert [result.stdout for index, result in enumerate(results) if index not in (5, 7)] == [
        f"{index * 2}\n" for index in range(20) if index not in (5, 7)
    ]
    assert results[5].exception_type == "KeyError" and results[7].value == 99


def test_concurrent_runs_from_threads(sandbox):
    outputs: list[str] = []
    lock = threading.Lock()

    def work(index: int) -> None:
        stdout = sandbox.run(f"print({index})").stdout
        with lock:
            outputs.append(stdout)

    threads = [threading.Thread(target=work, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outputs) == sorted(f"{index}\n" for index in range(8))


def test_throughput_smoke(sandbox):
    """A generous floor that only catches a broken fork server (the benchmark measures)."""
    sandbox.run("print(0)")
    started = time.monotonic()
    results = [sandbox.run("print(1 + 1)") for _ in range(30)]
    assert all(result.stdout == "2\n" for result in results)
    assert time.monotonic() - started < 15


def test_run_program_uses_a_shared_sandbox():
    policy = SandboxPolicy(preload=("math",))
    first = run_program("print('a')", policy)
    second = run_program("def solution():\n    return 2\n", policy, call="solution")
    assert first.stdout == "a\n" and second.value == 2


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("changes", "fix"),
    [
        ({"wall_time": -1}, "wall_time=10.0"),
        ({"wall_time": float("inf")}, "wall_time=10.0"),
        ({"cpu_time": 0}, "cpu_time=10.0"),
        ({"memory_bytes": 1024}, "memory_bytes=1 << 30"),
        ({"max_output_bytes": 0}, "max_output_bytes"),
        ({"max_processes": 0}, "max_processes=16"),
        ({"allowed_imports": "math"}, "('math',)"),
        ({"allowed_imports": ["not a module"]}, "not a module name"),
        ({"required_layers": {"magic"}}, "known"),
    ],
)
def test_policy_validation_names_the_fix(changes, fix):
    with pytest.raises((ValueError, TypeError)) as error:
        SandboxPolicy(**changes)
    assert fix in str(error.value)


def test_bad_program_inputs_fail_clearly(sandbox):
    with pytest.raises(TypeError, match="source must be a str"):
        sandbox.run(b"print(1)")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="sequence of strings"):
        sandbox.run("print(1)", args="abc")
    with pytest.raises(ValueError, match="relative path"):
        sandbox.run("print(1)", files={"../escape.txt": "x"})
    with pytest.raises(ValueError, match="relative path"):
        sandbox.run("print(1)", files={"/etc/passwd": "x"})
    with pytest.raises(ValueError, match="call='solution'"):
        sandbox.run("print(1)", call="not valid")
    with pytest.raises(TypeError, match="str or bytes"):
        sandbox.run("print(1)", stdin=12)  # type: ignore[arg-type]


def test_bad_sandbox_arguments():
    with pytest.raises(ValueError, match="workers=2"):
        Sandbox(workers=0)
    with pytest.raises(TypeError, match="SandboxPolicy"):
        Sandbox(policy={"wall_time": 1})  # type: ignore[arg-type]


def test_sandbox_refuses_to_run_in_a_forked_copy(sandbox):
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        try:
            sandbox.run("print(1)")
            os.write(write_end, b"ran")
        except SandboxError as error:
            os.write(write_end, str(error).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    message = os.read(read_end, 1000).decode()
    os.close(read_end)
    assert "another process" in message
    assert sandbox.run("print(2)").stdout == "2\n"


def test_closed_sandbox_refuses_to_run():
    box = Sandbox(SandboxPolicy(preload=("math",)), workers=1)
    box.close()
    box.close()  # idempotent
    with pytest.raises(SandboxError, match="closed"):
        box.run("print(1)")


# --------------------------------------------------------------------------- layers
def test_layers_and_describe(sandbox):
    layers = sandbox.layers
    assert set(layers) == set(LAYER_NAMES)
    text = sandbox.describe()
    assert "pid_namespace" in text and "wall_time" in text
    if IS_ROOT:
        for name in (
            "pid_namespace",
            "mount_namespace",
            "network_namespace",
            "unprivileged_uid",
            "readonly_root",
        ):
            assert layers[name], f"{name} should be active as root on this kernel:\n{text}"


def test_required_layers_unavailable_is_a_clear_error():
    policy = SandboxPolicy(preload=("math",), namespaces=False, required_layers={"pid_namespace"})
    with pytest.raises(SandboxError, match="pid_namespace"):
        Sandbox(policy, workers=1)


def test_fallback_without_namespaces_still_runs_programs():
    policy = SandboxPolicy(preload=("math",), namespaces=False, drop_privileges=False, cgroups=False)
    with Sandbox(policy, workers=1) as box:
        layers = box.layers
        result = box.run("print(sum(range(10)))")
    assert result.stdout == "45\n"
    assert not layers["pid_namespace"] and layers["child_subreaper"] and layers["seccomp_network_filter"]


def test_network_policy_opens_the_network():
    """``network=True`` keeps the host's network (tested against a listener on 127.0.0.1 only)."""
    import socket

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    source = (
        "import socket, sys\nsocket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=5).close()\n"
    )
    try:
        with Sandbox(SandboxPolicy(preload=("math",), network=True).allow("socket", "sys"), workers=1) as box:
            result = box.run(source, args=(str(listener.getsockname()[1]),))
            layers = box.layers
    finally:
        listener.close()
    assert result.ok, result
    assert not layers["network_namespace"] and not layers["seccomp_network_filter"]


def test_worker_death_is_reported_and_recovered():
    policy = SandboxPolicy(preload=("math",), wall_time=20).allow("time")
    with Sandbox(policy, workers=1) as box:
        assert box.layers
        worker = box._workers[0]
        killer = threading.Timer(0.5, lambda: os.killpg(worker.process.pid, 9))
        killer.start()
        result = box.run("import time\ntime.sleep(15)\n")
        killer.join()
        assert result.status is SandboxStatus.KILLED and "worker" in result.exception_message
        assert box.run("print('back')").stdout == "back\n"


def test_interrupted_run_does_not_mix_up_answers(monkeypatch):
    """A run interrupted while waiting (Ctrl-C) must not leave its late answer for the next run."""
    from hf_reft.sandbox import core

    policy = SandboxPolicy(preload=("math",)).allow("time")
    with Sandbox(policy, workers=1) as box:
        assert box.layers
        original = core.protocol.read_message
        calls = {"count": 0}

        def interrupted_once(fd, deadline=None):
            calls["count"] += 1
            if calls["count"] == 1:
                raise KeyboardInterrupt
            return original(fd, deadline)

        monkeypatch.setattr(core.protocol, "read_message", interrupted_once)
        with pytest.raises(KeyboardInterrupt):
            box.run("import time\ntime.sleep(0.3)\nprint('first')")
        assert box.run("print('second')").stdout == "second\n"


def test_result_round_trips_to_plain_data():
    result = SandboxResult(status=SandboxStatus.TIMEOUT, stdout="x", wall_time=1.5)
    data = result.to_dict()
    assert data["status"] == "timeout" and SandboxResult.from_message(data) == result


def test_sandbox_is_the_ground_floor():
    """``hf_reft.sandbox`` imports no other part of hf_reft and never torch."""
    script = (
        "import sys, types\n"
        "package = types.ModuleType('hf_reft')\n"
        "package.__path__ = [sys.argv[1]]\n"
        "sys.modules['hf_reft'] = package  # skip hf_reft/__init__, which is not the sandbox's\n"
        "import hf_reft.sandbox\n"
        "others = sorted(name for name in sys.modules if name.startswith('hf_reft') and not name.startswith('hf_reft.sandbox'))\n"
        "print(others, 'torch' in sys.modules)\n"
    )
    import subprocess
    from pathlib import Path

    package_dir = Path(__file__).resolve().parents[1] / "hf_reft"
    output = subprocess.run(
        [sys.executable, "-c", script, str(package_dir)], capture_output=True, text=True, check=True
    )
    assert output.stdout.strip() == "['hf_reft'] False"
