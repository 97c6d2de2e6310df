"""ui.workers: results and progress arrive on the GUI thread, cancel reaches the job, and the
pool is drained (no QThread destroyed while running) before a window goes away."""

from __future__ import annotations

import threading
import time
from typing import Any

from tests.ui.fakes import FakeBackend
from ui.workers import WorkerPool


def test_callbacks_run_on_the_gui_thread(qtbot: Any) -> None:
    pool = WorkerPool()
    main = threading.current_thread()
    seen: list[tuple[str, bool]] = []

    def job(j: Any, x: int) -> int:
        assert threading.current_thread() is not main
        j.progress("half")
        return x * 2

    with qtbot.waitSignal(pool.idle, timeout=15000):
        pool.start(job, 21,
                   on_progress=lambda v: seen.append((v, threading.current_thread() is main)),
                   on_returned=lambda v: seen.append((v, threading.current_thread() is main)),
                   on_finished=lambda: seen.append(("end", threading.current_thread() is main)))
    assert seen == [("half", True), (42, True), ("end", True)]
    assert pool.active == []


def test_errors_are_delivered_not_lost(qtbot: Any) -> None:
    pool = WorkerPool()
    errors: list[BaseException] = []

    def boom(j: Any) -> None:
        raise ValueError("nope")

    with qtbot.waitSignal(pool.idle, timeout=15000):
        pool.start(boom, on_errored=errors.append)
    assert isinstance(errors[0], ValueError)


def test_cancel_reaches_the_job_and_its_hooks(qtbot: Any) -> None:
    pool = WorkerPool()
    hooked = threading.Event()

    def slow(j: Any) -> str:
        j.on_cancel(hooked.set)  # e.g. Engine.cancel
        while not j.cancelled:
            time.sleep(0.01)
        return "stopped"

    results: list[str] = []
    worker = pool.start(slow, on_returned=results.append)
    qtbot.wait(50)
    worker.cancel()
    qtbot.waitUntil(lambda: results == ["stopped"], timeout=15000)
    assert hooked.is_set()


def test_shutdown_cancels_and_waits_for_every_job(qtbot: Any) -> None:
    pool = WorkerPool(max_threads=2)
    done: list[int] = []

    def slow(j: Any, n: int) -> None:
        end = time.monotonic() + 5
        while not j.cancelled and time.monotonic() < end:
            time.sleep(0.01)
        done.append(n)

    for n in range(4):  # two run, two wait in the queue
        pool.start(slow, n)
    qtbot.wait(50)
    t = time.monotonic()
    assert pool.shutdown(5000)
    assert time.monotonic() - t < 2
    assert sorted(done) == [0, 1]  # the queued ones never started
    assert pool.active == []


def test_closing_the_window_waits_for_running_work(qtbot: Any, make_window: Any) -> None:
    backend = FakeBackend(step_delay=0.2)
    window, ctx = make_window(backend, sandbox=True)
    start = window.currentPage()
    qtbot.waitUntil(lambda: start.isComplete(), timeout=15000)
    blocker = threading.Event()
    ctx.pool.start(lambda j: blocker.wait(2) or j.cancelled)
    ctx.pool.start(lambda j: j.on_cancel(blocker.set))
    window.close()
    assert window.isVisible(), "closing waits for the workers"
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=5000)
    assert ctx.pool.active == []
