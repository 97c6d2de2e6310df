"""The one way the GUI runs anything that may block: a QRunnable on our own QThreadPool.

Why one helper: every AWS call (through the engine) can take seconds, and the GUI thread must
never wait on the network. Each job reports back through Qt signals on a QObject that lives in
the GUI thread, so results and progress arrive as queued calls there and no widget is ever
touched from a worker thread. Jobs stay referenced until they have finished (a QRunnable that
Python forgets mid-run crashes), can be cancelled, and the pool is drained before the window
closes, so Qt never complains about a thread destroyed while running.

Modelled on superqt's ``_qthreading`` worker, reduced to what the wizard needs.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal


class WorkerSignals(QObject):
    """Signals of one job. Created on the GUI thread, so connected slots run there (queued)."""

    started = Signal()
    progress = Signal(object)
    returned = Signal(object)
    errored = Signal(object)  # the exception instance
    finished = Signal()


class Job:
    """What the function running in a worker sees: progress reporting and cancellation."""

    def __init__(self, signals: WorkerSignals) -> None:
        self._signals = signals
        self._cancel = threading.Event()
        self._on_cancel: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def progress(self, value: object) -> None:
        """Report something to the GUI thread (thread-safe; may be called from any thread)."""
        self._signals.progress.emit(value)

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def cancel_event(self) -> threading.Event:
        return self._cancel

    def on_cancel(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` when the job is cancelled (at once if it already is).

        Used to forward a cancel to the engine (``Engine.cancel``) or to stop a query.
        """
        with self._lock:
            already = self._cancel.is_set()
            if not already:
                self._on_cancel.append(callback)
        if already:
            _safe(callback)

    def cancel(self) -> None:
        with self._lock:
            if self._cancel.is_set():
                return
            self._cancel.set()
            callbacks = list(self._on_cancel)
        for cb in callbacks:
            _safe(cb)


def _safe(callback: Callable[[], None]) -> None:
    try:
        callback()
    except Exception:  # a cancel hook must never take the caller down
        traceback.print_exc()


class Worker(QRunnable):
    """Runs ``fn(job, *args, **kwargs)`` on a pool thread and reports through ``signals``."""

    def __init__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.setAutoDelete(False)  # Python owns it; the pool keeps it referenced until done
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.signals = WorkerSignals()
        self.job = Job(self.signals)
        self.name = getattr(fn, "__name__", "job")
        self.done = threading.Event()
        self.began = False

    def run(self) -> None:  # worker thread
        signals = self.signals
        self.began = True
        try:
            signals.started.emit()
            try:
                result = self.fn(self.job, *self.args, **self.kwargs)
            except BaseException as exc:  # delivered to the GUI, never lost on a pool thread
                signals.errored.emit(exc)
            else:
                signals.returned.emit(result)
        finally:
            self.done.set()
            signals.finished.emit()

    def cancel(self) -> None:
        self.job.cancel()


class WorkerPool(QObject):
    """Starts jobs, keeps them alive until finished, cancels and drains them at shutdown."""

    idle = Signal()  # the last running job finished

    def __init__(self, parent: QObject | None = None, max_threads: int = 8) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        self._active: set[Worker] = set()

    @property
    def active(self) -> list[Worker]:
        return list(self._active)

    def start(
        self,
        fn: Callable[..., Any],
        *args: Any,
        on_returned: Callable[[Any], None] | None = None,
        on_errored: Callable[[BaseException], None] | None = None,
        on_progress: Callable[[Any], None] | None = None,
        on_finished: Callable[[], None] | None = None,
        **kwargs: Any,
    ) -> Worker:
        """Run ``fn(job, *args, **kwargs)`` in the pool; callbacks run on the GUI thread."""
        worker = Worker(fn, *args, **kwargs)
        s = worker.signals
        if on_progress is not None:
            s.progress.connect(on_progress)
        if on_returned is not None:
            s.returned.connect(on_returned)
        if on_errored is not None:
            s.errored.connect(on_errored)
        if on_finished is not None:
            s.finished.connect(on_finished)
        s.finished.connect(lambda w=worker: self._forget(w))
        self._active.add(worker)
        self._pool.start(worker)
        return worker

    def _forget(self, worker: Worker) -> None:
        self._active.discard(worker)
        if not self._active:
            self.idle.emit()

    def cancel_all(self) -> None:
        for worker in list(self._active):
            worker.cancel()

    def wait(self, timeout_ms: int = -1) -> bool:
        """Block until every job has returned (only at shutdown, after ``cancel_all``)."""
        return self._pool.waitForDone(timeout_ms)

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        """Cancel everything and wait; True when no job is left running."""
        self.cancel_all()
        self._pool.clear()  # jobs not yet started never start
        ok = self._pool.waitForDone(timeout_ms)
        for worker in list(self._active):
            if not worker.began or worker.done.is_set():
                self._active.discard(worker)
        return ok
