"""`xacct-wizard sandbox` (serve), find_running, sandbox_env, and the Sandbox lifecycle.

These run in subprocesses: a process can hold only one sandbox, and the session's is taken.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from wizard.sandbox import find_running
from wizard.sandbox.state import STATE_FILE, default_state_dir

REPO = Path(__file__).resolve().parents[2]


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["XACCT_WIZARD_HOME"] = str(home)
    env["PYTHONPATH"] = str(REPO)
    return env


def _wait_for(path: Path, proc: subprocess.Popen[str], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"serve exited early: {proc.communicate()}")
        assert time.monotonic() < deadline, "no state file"
        time.sleep(0.05)


def test_default_state_dir_honours_xacct_wizard_home(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XACCT_WIZARD_HOME", str(tmp_path))
    assert default_state_dir() == tmp_path / "sandbox"


def test_serve_in_a_subprocess(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    proc = subprocess.Popen(
        [sys.executable, "-c", "from wizard.sandbox import serve; serve()"],
        env=_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        state = home / "sandbox" / STATE_FILE
        _wait_for(state, proc)
        monkeypatch.setenv("XACCT_WIZARD_HOME", str(home))
        info = find_running()
        assert info is not None
        assert info.pid == proc.pid
        assert info.endpoint_url == json.loads(state.read_text())["endpoint_url"]
        assert info.config_file == home / "sandbox" / "aws-config"
        assert info.example_profile.read_text() == (REPO / "examples/sandbox.yaml").read_text()

        # Another "terminal": plain boto3 with the printed environment reaches both accounts.
        check = subprocess.run(
            [sys.executable, "-c", textwrap.dedent("""
                import boto3
                for p in ("sandbox-owner", "sandbox-consumer", "sandbox-analyst"):
                    print(boto3.Session(profile_name=p).client("sts")
                          .get_caller_identity()["Account"])
            """)],
            env={**_env(home), **info.env()}, capture_output=True, text=True, timeout=60)
        assert check.returncode == 0, check.stderr
        assert check.stdout.split() == ["111111111111", "222222222222", "222222222222"]

        # --sandbox in this process connects to it instead of starting one.
        from wizard.sandbox import sandbox_env

        monkeypatch.setenv("AWS_PROFILE", "some-real-profile")
        with sandbox_env() as inside:
            assert inside == info
            assert os.environ["AWS_ENDPOINT_URL"] == info.endpoint_url
            assert "AWS_PROFILE" not in os.environ
        assert os.environ["AWS_PROFILE"] == "some-real-profile"
        assert os.environ.get("AWS_ENDPOINT_URL") != info.endpoint_url
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert info.endpoint_url in out and str(info.config_file) in out
    assert str(info.example_profile) in out
    assert not state.exists()
    assert find_running() is None


def test_find_running_ignores_stale_or_broken_state(tmp_path: Path) -> None:
    directory = tmp_path / "sandbox"
    directory.mkdir()
    assert find_running(directory) is None
    (directory / STATE_FILE).write_text("{not json")
    assert find_running(directory) is None
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    (directory / "aws-config").write_text("")
    (directory / STATE_FILE).write_text(json.dumps({
        "endpoint_url": "http://127.0.0.1:9", "config_file": str(directory / "aws-config"),
        "example_profile": str(directory / "sandbox.yaml"),
        "credentials_file": str(directory / "aws-credentials"), "pid": int(dead), "port": 9}))
    assert find_running(directory) is None
    (directory / STATE_FILE).write_text(json.dumps({
        "endpoint_url": "http://127.0.0.1:9", "config_file": str(directory / "aws-config"),
        "example_profile": str(directory / "sandbox.yaml"),
        "credentials_file": str(directory / "aws-credentials"), "pid": os.getpid(),
        "port": 9}))
    assert find_running(directory) is None  # alive pid, but nothing answers on the port


LIFECYCLE = textwrap.dedent("""
    import os, threading, time, boto3
    t0 = time.perf_counter()
    from wizard.sandbox import Sandbox, sandbox_env
    sb = Sandbox(extra_consumers=2).start()
    started = time.perf_counter() - t0
    import socket
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    sb.stop()
    try:
        Sandbox(busy.getsockname()[1]).start()   # a taken --port: an error, not an exit
    except OSError as exc:
        assert "already in use" in str(exc)
    else:
        raise AssertionError("started on a busy port")
    busy.close()
    sb = Sandbox(extra_consumers=2).start()
    state_dir = sb.state_dir
    assert sb.endpoint_url.startswith("http://127.0.0.1:")
    os.environ.update(sb.env())
    for n, acct in ((1, "222222220001"), (2, "222222220002")):
        for p in (f"sandbox-consumer-{n}", f"sandbox-analyst-{n}"):
            got = boto3.Session(profile_name=p).client("sts").get_caller_identity()["Account"]
            assert got == acct, (p, got)
        s3 = boto3.Session(profile_name=f"sandbox-consumer-{n}").client("s3")
        assert f"xacct-sandbox-results-{acct}" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    try:
        Sandbox().start()
    except RuntimeError as exc:
        assert "already running" in str(exc)
    else:
        raise AssertionError("a second Sandbox started in the same process")
    sb.stop()
    assert not state_dir.exists()
    time.sleep(0.1)
    left = [t.name for t in threading.enumerate() if t is not threading.main_thread()
            and (t.name.startswith("xacct-sandbox") or "process_request" in t.name)]
    assert not left, left
    with Sandbox() as again:   # stop() released the process-wide slot
        os.environ.update(again.env())
        assert boto3.Session(profile_name="sandbox-owner").client(
            "sts").get_caller_identity()["Account"] == "111111111111"
    for k in list(os.environ):
        if k.startswith("AWS_"):
            del os.environ[k]
    os.environ["XACCT_WIZARD_HOME"] = os.environ["LIFECYCLE_HOME"]
    with sandbox_env() as info:      # nothing running: an in-process sandbox for the block
        assert os.environ["AWS_ENDPOINT_URL"] == info.endpoint_url
        assert boto3.Session(profile_name="sandbox-analyst").client(
            "sts").get_caller_identity()["Account"] == "222222222222"
    assert "AWS_ENDPOINT_URL" not in os.environ
    print(f"STARTED {started:.3f}")
""")


def test_lifecycle_extra_consumers_one_per_process_and_no_leftovers(tmp_path: Path) -> None:
    env = _env(tmp_path / "home")
    env["LIFECYCLE_HOME"] = str(tmp_path / "home")
    proc = subprocess.run([sys.executable, "-c", LIFECYCLE], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    started = float(proc.stdout.split("STARTED")[1])
    assert started < 5.0  # the 1.5 s budget is measured by bench/sandbox_bench.py
