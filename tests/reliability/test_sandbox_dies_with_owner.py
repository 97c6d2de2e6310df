"""The sandbox dies with its owner: a GUI (or any run) killed with SIGTERM or SIGKILL leaves
no sandbox process and no ``xacct-sandbox-*`` folder (with its credentials file) behind.

The owners are real processes: ``xacct-wizard gui --sandbox`` (the sandbox started before the
window, from the main thread) and a process that starts one the way the Start page does (from
a worker thread, which then retires).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.processes import REPO

STARTED_FROM_A_THREAD = """
import sys, threading, time
from ui.backend import Backend
box = {}
t = threading.Thread(target=lambda: box.update(sb=Backend().start_sandbox()))
t.start(); t.join()
print(box["sb"].state_dir, flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for init to reap it counts as gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return "\nState:\tZ" not in status


def _wait(what: str, until, timeout: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not until():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.fixture
def tmpdir_env(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """The child processes' TMPDIR (so only their sandbox folders are looked at)."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(TMPDIR=str(tmp), PYTHONPATH=str(REPO), QT_QPA_PLATFORM="offscreen",
               XACCT_WIZARD_HOME=str(tmp_path / "home"), AWS_EC2_METADATA_DISABLED="true")
    yield tmp, env


def _sandbox_pid(tmp: Path) -> int:
    found = list(tmp.glob("xacct-sandbox-*/sandbox/sandbox.json"))
    return int(json.loads(found[0].read_text())["pid"]) if found else 0


def _kill_and_check(owner: subprocess.Popen[bytes], tmp: Path, sig: int) -> None:
    _wait("the sandbox to serve", lambda: _sandbox_pid(tmp) > 0)
    sandbox = _sandbox_pid(tmp)
    assert _alive(sandbox) and sandbox != owner.pid
    assert list(tmp.glob("xacct-sandbox-*/sandbox/aws-credentials"))
    try:
        os.kill(owner.pid, sig)
        owner.wait(timeout=30)
        _wait("the sandbox process to end", lambda: not _alive(sandbox), timeout=20)
        _wait("the sandbox folder to go", lambda: not list(tmp.iterdir()), timeout=10)
    finally:  # a failed test must not leave its sandbox running either
        if _alive(sandbox):
            os.kill(sandbox, signal.SIGKILL)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_gui_sandbox_dies_with_the_gui(tmpdir_env: tuple[Path, dict[str, str]],
                                       sig: int) -> None:
    tmp, env = tmpdir_env
    gui = subprocess.Popen([sys.executable, "-m", "wizard", "gui", "--sandbox"], env=env,
                           cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _kill_and_check(gui, tmp, sig)
    finally:
        if gui.poll() is None:
            gui.kill()
            gui.wait()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_start_page_sandbox_dies_with_the_gui(tmpdir_env: tuple[Path, dict[str, str]],
                                              sig: int) -> None:
    """Started from a worker thread that has ended since: it is not killed with that thread
    (it keeps serving), and it still dies with the process."""
    tmp, env = tmpdir_env
    owner = subprocess.Popen([sys.executable, "-c", STARTED_FROM_A_THREAD], env=env, cwd=REPO,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert owner.stdout is not None
        state_dir = Path(owner.stdout.readline().decode().strip())
        assert state_dir.parent.parent == tmp
        time.sleep(1.0)  # the thread that started it is long gone: it must still serve
        assert _alive(_sandbox_pid(tmp))
        _kill_and_check(owner, tmp, sig)
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
        if owner.stdout is not None:
            owner.stdout.close()
