"""`xacct-wizard` opens its first page quickly and exits cleanly (a real process, offscreen).

XACCT_WIZARD_EXIT_WHEN_READY closes the window as soon as the first page is ready, and
XACCT_WIZARD_TIMING prints how long that took from process start.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest


def launch(*args: str, timeout: float = 60) -> tuple[int, str, float | None]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XACCT_WIZARD_TIMING="1",
               XACCT_WIZARD_EXIT_WHEN_READY="1")
    proc = subprocess.run([sys.executable, "-m", "wizard", *args], env=env, timeout=timeout,
                          capture_output=True, text=True)
    m = re.search(r"([0-9.]+) s after the process started", proc.stderr)
    return proc.returncode, proc.stderr, float(m.group(1)) if m else None


def test_first_page_is_ready_quickly_and_the_app_exits_cleanly() -> None:
    rc, err, launch_s = launch()
    assert rc == 0, err
    assert "first page ready" in err
    assert "QThread: Destroyed while thread is still running" not in err
    if launch_s is not None:
        print(f"\nlaunch to first page: {launch_s:.2f} s")
        assert launch_s < 5  # the target is 1 s; a loaded CI box gets slack, not a hang


@pytest.mark.slow
def test_sandbox_mode_opens_on_the_example_profile() -> None:
    rc, err, _ = launch("--sandbox")
    assert rc == 0, err
    assert "sandbox: http://127.0.0.1:" in err
    assert "first page ready" in err
