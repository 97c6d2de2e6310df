"""The wizard against the sandbox, clicked through like a user would.

The sandbox runs as its own process (``xacct-wizard sandbox``), the way the GUI meets AWS: a
server elsewhere. Run in-process, moto's request handling would share the window's GIL, and
the heartbeat would measure the emulator rather than the GUI. Each test connects to it with
``sandbox_env`` (what ``xacct-wizard --sandbox`` does when a sandbox is already running).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QTimer

from ui.app import MainWizard, build, shutdown, start_background
from ui.backend import Backend
from ui.context import AppContext
from ui.settings import GuiSettings


@pytest.fixture(scope="session")
def sandbox_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A sandbox served by a child process for the whole e2e session."""
    from wizard.sandbox.state import wait_for_state

    home = tmp_path_factory.mktemp("sandbox-home")
    env = dict(os.environ, XACCT_WIZARD_HOME=str(home), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "wizard", "sandbox"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    state_dir = home / "sandbox"
    try:
        info = wait_for_state(state_dir, timeout=60)
        if info is None:
            proc.kill()
            pytest.fail(f"the sandbox did not start: {proc.communicate(timeout=5)[1][-2000:]}")
        yield state_dir
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def sandbox(sandbox_dir: Path) -> Iterator[Any]:
    """os.environ pointed at the sandbox for one test (restored afterwards)."""
    from wizard.sandbox import sandbox_env

    with sandbox_env(sandbox_dir) as info:
        yield info


class Heartbeat:
    """A QTimer on the GUI thread; every gap between its ticks is a time the GUI was stuck."""

    def __init__(self, interval_ms: int = 10) -> None:
        self.gaps: list[float] = []
        self.where: Any = None  # optional: what the GUI was showing, recorded for long gaps
        self.long: list[tuple[int, Any]] = []
        self._last = time.perf_counter()
        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps.append(now - self._last)
        if now - self._last > 0.1 and self.where is not None:
            self.long.append((round((now - self._last) * 1000), self.where()))
        self._last = now

    def start(self) -> None:
        self._last = time.perf_counter()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    @property
    def max_ms(self) -> float:
        return max(self.gaps, default=0.0) * 1000

    def over(self, ms: float) -> list[float]:
        return [round(g * 1000) for g in self.gaps if g * 1000 > ms]


def _leave_without_asking(window: Any) -> None:
    window.may_leave = lambda: True


@pytest.fixture
def open_wizard(qtbot: Any, sandbox: Any) -> Iterator[Callable[..., tuple[MainWizard,
                                                                           AppContext]]]:
    """The wizard as ``xacct-wizard --sandbox`` opens it, with the real engine."""
    made: list[tuple[MainWizard, AppContext]] = []

    def make(**backend_kwargs: Any) -> tuple[MainWizard, AppContext]:
        backend_kwargs.setdefault("poll_delay", 0.2)
        window, ctx = build(Backend(**backend_kwargs), sandbox=True, settings=GuiSettings(),
                            read_sources=False)
        # The test is over when pytest-qt closes it: closing must not stop to ask.
        qtbot.addWidget(window, before_close_func=_leave_without_asking)
        window.show()
        start_background(ctx)
        made.append((window, ctx))
        return window, ctx

    yield make
    for window, ctx in made:
        shutdown(ctx)
        window.hide()
