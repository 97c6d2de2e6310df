"""Measurements that need a fresh process, run by bench/run.py as ``python -m bench._child``.

    python -m bench._child MODE '{"json": "params"}'

Each mode prints one line ``BENCH-RESULT {...}`` (JSON) last. Why separate processes:

* ``cold``: the first apply after a sandbox starts pays one-time imports on both sides (moto
  loads its CloudFormation backend, botocore parses its models); in the benchmark's own process
  those are long paid.
* ``query`` / ``qt-model``: peak memory must be the client's alone, not the sandbox's (which
  holds the 100 000-row result), so the client runs beside the sandbox, not in it.
* ``gui-stall``: the GUI with an in-process sandbox, as ``xacct-wizard --sandbox`` runs it (one
  sandbox per process, and the benchmark's process already has one).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

MARK = "BENCH-RESULT "


def _emit(result: dict[str, Any]) -> None:
    print(MARK + json.dumps(result), flush=True)


def _maxrss_mb() -> float:
    """Peak resident set size of this process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ----------------------------------------------------------------------------------- cold
def cold(params: dict[str, Any]) -> dict[str, Any]:
    """Sandbox start, then the first apply, verify and destroy of this process."""
    t0 = time.perf_counter()
    from wizard.aws import CallRecorder
    from wizard.engine import Engine
    from wizard.profile import load_profile
    from wizard.sandbox import Sandbox

    imported = time.perf_counter()
    sb = Sandbox().start()
    started = time.perf_counter()
    try:
        os.environ.update(sb.env())
        profile = load_profile(sb.example_profile)
        journal = Path(params["journal"])
        engine = Engine(profile, journal_path=journal, recorder=CallRecorder())
        a0 = time.perf_counter()
        engine.apply()
        a1 = time.perf_counter()
        verify = Engine(profile, journal_path=journal).verify()
        v1 = time.perf_counter()
        Engine(profile, journal_path=journal).destroy()
        d1 = time.perf_counter()
    finally:
        sb.stop()
    if not verify.ok:
        raise RuntimeError(f"cold run: verify failed: {verify.findings} {verify.query}")
    return {"import_s": imported - t0, "start_s": started - imported, "apply_s": a1 - a0,
            "verify_s": v1 - a1, "destroy_s": d1 - v1, "calls": len(engine.recorder.calls)}


# ----------------------------------------------------------------------------------- query
def _runner(params: dict[str, Any]) -> Any:
    from wizard.engine import Engine
    from wizard.profile import load_profile

    profile = load_profile(params["profile"])
    engine = Engine(profile, journal_path=Path(params["journal"]))
    return engine.query_runner()


def query(params: dict[str, Any]) -> dict[str, Any]:
    """Time to the first page from QueryRunner.pages, then every page read and dropped.

    Timing runs go without tracemalloc (it slows Python down); one more run under tracemalloc
    gives the peak of Python allocations while the whole result is paged through.
    """
    import tracemalloc

    runner = _runner(params)
    sql, runs = params["sql"], int(params["runs"])
    first, total, rows = [], [], 0
    parts: dict[str, list[float]] = {"server_execution_s": [], "wait_s": [],
                                     "first_page_s": []}

    def one() -> tuple[float, float, int]:
        t0 = time.perf_counter()
        qid = runner.start(sql)
        ex = runner.wait(qid)
        waited = time.perf_counter() - t0
        if ex["Status"]["State"] != "SUCCEEDED":
            raise RuntimeError(f"query ended {ex['Status']}")
        stats = ex.get("Statistics", {})
        t_first, n = 0.0, 0
        for _columns, _types, page in runner.pages(qid):
            if not t_first:
                t_first = time.perf_counter() - t0
                parts["wait_s"].append(waited)
                parts["first_page_s"].append(t_first - waited)
                parts["server_execution_s"].append(
                    int(stats.get("TotalExecutionTimeInMillis") or 0) / 1000)
            n += len(page)
        return t_first, time.perf_counter() - t0, n

    for _ in range(runs):
        f, t, rows = one()
        first.append(f)
        total.append(t)
    tracemalloc.start()
    _, _, n = one()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"first_rows_s": first, "all_rows_s": total, "rows": rows, "rows_traced": n,
            "peak_traced_mb": peak / 2**20, "maxrss_mb": _maxrss_mb(),
            "breakdown": {k: v[:runs] for k, v in parts.items()}}


def qt_model(params: dict[str, Any]) -> dict[str, Any]:
    """The same result fed page by page into the GUI's results model, with its view shown.

    "Shown" is when the first chunk is in the model and the view has processed the insert;
    the memory run then feeds every page and lets the view fetch all rows (a user scrolling to
    the end): the worst case, where the model holds every row as a plain list.
    """
    import tracemalloc

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QModelIndex
    from PySide6.QtWidgets import QApplication

    from ui.widgets.results import ResultsModel, ResultsView

    app = QApplication.instance() or QApplication([])
    runner = _runner(params)
    sql, runs = params["sql"], int(params["runs"])
    model = ResultsModel()
    view = ResultsView()
    view.setModel(model)
    view.resize(900, 600)
    view.show()
    app.processEvents()
    first: list[float] = []

    def one(feed_all: bool) -> tuple[float, int]:
        t0 = time.perf_counter()
        model.start()
        qid = runner.start(sql)
        ex = runner.wait(qid)
        if ex["Status"]["State"] != "SUCCEEDED":
            raise RuntimeError(f"query ended {ex['Status']}")
        shown = 0.0
        for columns, types, page in runner.pages(qid):
            model.add_page(columns, types, page)
            app.processEvents()
            if not shown:
                shown = time.perf_counter() - t0
                if model.loaded == 0:
                    raise RuntimeError("the first page reached the model but no row is shown")
                if not feed_all:
                    break
            while model.canFetchMore(QModelIndex()) and model._buffer:
                model.fetchMore(QModelIndex())
        if feed_all:
            model.finish()
            app.processEvents()
        return shown, model.loaded

    for _ in range(runs):
        shown, _ = one(feed_all=False)
        first.append(shown)
    model.start()
    tracemalloc.start()
    _, loaded = one(feed_all=True)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    from PySide6.QtGui import QStandardItemModel

    return {"first_shown_s": first, "rows_in_model": loaded, "peak_traced_mb": peak / 2**20,
            "maxrss_mb": _maxrss_mb(), "model_class": type(model).__mro__[1].__name__,
            "standard_items": isinstance(model, QStandardItemModel)}


# ----------------------------------------------------------------------------------- GUI
class StallMeter:
    """A 5 ms timer on the GUI thread; a gap between its ticks is time the thread was busy.

    Attribution: every tick re-arms ``faulthandler.dump_traceback_later``, whose C watchdog
    needs no GIL. When a gap passes ``dump_after_ms`` it dumps every thread's stack: what the
    GUI thread was doing, and what the other threads were running meanwhile.
    """

    def __init__(self, dump_file: Path, interval_ms: int = 5, dump_after_ms: int = 60) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.interval = interval_ms / 1000
        self.dump_after = dump_after_ms / 1000
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)
        self.gaps: list[tuple[float, float, int]] = []  # (gap s, at s, tick)
        self.dumps: dict[int, tuple[int, int]] = {}  # tick -> byte range in the dump file
        self.tick = 0
        self.last = 0.0
        self.t0 = 0.0
        self.dump_path = dump_file
        self._fh = open(dump_file, "w+b")  # noqa: SIM115 - closed in stop()
        self._size = 0

    def start(self) -> None:
        self.t0 = self.last = time.perf_counter()
        self._arm()
        self.timer.start()

    def _arm(self) -> None:
        import faulthandler

        if self.dump_after > 0:
            faulthandler.dump_traceback_later(self.dump_after, repeat=False, file=self._fh)

    def stop(self) -> None:
        import faulthandler

        self.timer.stop()
        faulthandler.cancel_dump_traceback_later()
        self._fh.flush()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps.append((now - self.last, self.last - self.t0, self.tick))
        size = os.fstat(self._fh.fileno()).st_size
        if size != self._size:
            self.dumps[self.tick] = (self._size, size)
            self._size = size
        self.last = now
        self.tick += 1
        self._arm()

    def longest(self, n: int = 3) -> list[dict[str, Any]]:
        self._fh.seek(0)
        text = self._fh.read()
        out = []
        for gap, at, tick in sorted(self.gaps, reverse=True)[:n]:
            span = self.dumps.get(tick)
            dump = text[span[0]:span[1]].decode("utf-8", "replace") if span else ""
            out.append({"gap_ms": gap * 1000, "at_s": at, **_summarise_dump(dump)})
        return out


def _summarise_dump(dump: str) -> dict[str, list[str]]:
    """A faulthandler dump -> the GUI thread's innermost frames, and each other thread's top.

    Python 3.11's watchdog cannot say which thread holds the GIL, so both are kept: the GUI
    thread inside Qt's event loop with nothing of ours above it was waiting (for the GIL, or
    on Qt's own work); Python frames above the loop were the GUI thread's own work.
    """
    threads: list[list[str]] = []
    for line in dump.splitlines():
        if line.startswith(("Current thread", "Thread ")):
            threads.append([])
        elif threads and line.strip().startswith("File "):
            frame = line.strip()[len("File "):].replace(str(Path(sys.prefix)), "<venv>")
            threads[-1].append(frame.replace('"', ""))
    gui = next((t for t in threads if any("gui_stall" in f for f in t)), [])
    others = [t[0] for t in threads if t is not gui and t]
    return {"gui_thread": gui[:6], "other_threads": others}


def _wait_until(cond: Any, timeout: float, what: str, failed: Any = None) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    deadline = time.monotonic() + timeout
    while not cond():
        problem = failed() if failed else None
        if problem:
            raise RuntimeError(f"{what}: {problem}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        loop = QEventLoop()
        QTimer.singleShot(10, loop.quit)
        loop.exec()


def _advance_to(window: Any, target: int) -> None:
    """Press Next whenever it is allowed, as a user would, until ``target`` is shown."""
    for _ in range(12):
        if window.currentId() == target:
            return
        page = window.currentPage()
        _wait_until(page.isComplete, 120, f"page {type(page).__name__} to allow Next",
                    failed=lambda p=page: _page_problem(p))
        current = window.currentId()
        window.next()
        _wait_until(lambda c=current: window.currentId() != c, 30, "the next page")
    raise RuntimeError(f"never reached page {target}")


def _page_problem(page: Any) -> str:
    """The message of a page's failure panel or error label, when one is showing."""
    for panel, label in (("failure", "failure_text"), ("error", "error")):
        widget = getattr(page, panel, None)
        if widget is not None and widget.isVisible():
            text = getattr(getattr(page, label, None), "plain", "")
            return f"{type(page).__name__} shows a problem: {text}"
    return ""


def gui_stall(params: dict[str, Any]) -> dict[str, Any]:
    """The whole wizard on a sandbox, clicked through as a user would, in the real app.

    ``xacct-wizard --sandbox`` runs through ``wizard.cli.main`` (which serves the sandbox the
    way it does for users) into ``ui.app.run`` (heap freeze, background loading);
    ``ui.app.build`` is wrapped only to get hold of the window. ``{"sandbox": "in-process"}``
    instead starts the sandbox in this process first, for comparison. Once the
    first page is up: Start (the sandbox's example profile) -> Accounts (identities checked)
    -> ... -> Review (plan) -> Apply (the engine worker applies) -> Test query (rows shown),
    while a 5 ms timer on the GUI thread measures how long the thread was ever busy at once.
    """
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    import ui.app as uiapp
    from ui.pages.base import APPLY, QUERY

    dumps = Path(params.get("dump_file") or "stall-dumps.txt")
    sb: Any = None
    in_process = params.get("sandbox") == "in-process"
    if in_process:
        # for comparison: the emulator in the window's process (sharing its GIL)
        from wizard.sandbox import Sandbox

        sb = Sandbox().start()
        os.environ.update(sb.env())
    out: dict[str, Any] = {}
    original_build = uiapp.build

    def build(*args: Any, **kwargs: Any) -> Any:
        window, ctx = original_build(*args, **kwargs)
        QTimer.singleShot(100, lambda: drive(window, ctx))
        return window, ctx

    def drive(window: Any, ctx: Any) -> None:
        app = QApplication.instance()
        try:
            idle = StallMeter(Path(str(dumps) + ".idle"))
            if params.get("idle_baseline", True):
                # the machine's own noise: the same timer while the window waits for a click
                _wait_until(lambda: getattr(ctx, "preloaded", True), 60, "background loading")
                idle.start()
                _wait_until(lambda: time.perf_counter() - idle.t0 > 1.0, 5, "idle baseline")
                idle.stop()
            meter = StallMeter(dumps, dump_after_ms=60 if params.get("dumps", True) else 0)
            meter.start()
            t0 = time.perf_counter()
            _advance_to(window, APPLY)
            applying = time.perf_counter()
            _wait_until(lambda: ctx.state.applied, 120, "apply",
                        failed=lambda: _page_problem(window.currentPage()))
            applied = time.perf_counter()
            _advance_to(window, QUERY)
            page = window.currentPage()
            _wait_until(lambda: page.model.complete and page.model.loaded > 0, 60,
                        "the test query's rows", failed=lambda: _page_problem(page))
            done = time.perf_counter()
            meter.stop()
            longest, idle_longest = meter.longest(), idle.longest(1)
            out.update(
                longest_gap_ms=longest[0]["gap_ms"] if longest else 0.0,
                idle_longest_gap_ms=idle_longest[0]["gap_ms"] if idle_longest else 0.0,
                gaps_over_100ms=sum(1 for g, _, _ in meter.gaps if g > 0.1),
                ticks=len(meter.gaps), run_s=done - t0, apply_s=applied - applying,
                rows=page.model.loaded, query_state=page.state_label.text(), longest=longest)
        except BaseException as exc:
            out["error"] = f"{type(exc).__name__}: {exc}"
        finally:
            window.close()
            if app is not None:
                QTimer.singleShot(0, app.quit)

    uiapp.build = build
    try:
        if in_process:
            uiapp.run(None, sandbox=True)
        else:
            from wizard import cli

            # exactly `xacct-wizard --sandbox`: the CLI serves the sandbox as it does for users
            rc = cli.main(["--sandbox"])
            if rc != 0 and "error" not in out:
                out["error"] = f"xacct-wizard --sandbox exited {rc}"
    finally:
        uiapp.build = original_build
        if sb is not None:
            sb.stop()
    if "error" in out:
        raise RuntimeError(out["error"])
    return out


def serve(params: dict[str, Any]) -> dict[str, Any]:
    """A sandbox in its own process, driven over stdin: ``reset`` (answers ``ok``) or EOF.

    For the figures that must not share a GIL with the emulator: the benchmark's process then
    holds only the client (as against AWS, where the server is elsewhere).
    """
    from wizard.sandbox import Sandbox

    sb = Sandbox(extra_consumers=int(params.get("extra_consumers", 0))).start()
    try:
        print("ENV " + json.dumps({**sb.env(), "EXAMPLE_PROFILE": str(sb.example_profile)}),
              flush=True)
        for line in sys.stdin:
            if line.strip() == "reset":
                sb.reset()
                print("ok", flush=True)
    finally:
        sb.stop()
    return {"stopped": True}


MODES = {"cold": cold, "query": query, "qt-model": qt_model, "gui-stall": gui_stall,
         "serve": serve}


def main(argv: list[str]) -> int:
    import faulthandler

    faulthandler.enable()  # a crash (a signal) leaves its stacks on stderr for the report
    mode, params = argv[0], json.loads(argv[1]) if len(argv) > 1 else {}
    _emit(MODES[mode](params))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
