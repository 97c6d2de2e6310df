"""The application: the QWizard window with its eight pages, and ``run`` for the CLI.

``run(profile_path, sandbox)`` is the contract ``xacct-wizard gui`` relies on. The window opens
before anything heavy loads: boto3 and the engine are imported on a worker right after the
first paint, and the AWS config / keyring are read there too, so the first page is ready in
well under a second and the GUI thread never waits on the network.
"""

from __future__ import annotations

import base64
import gc
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QByteArray, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QInputDialog,
    QLineEdit,
    QMessageBox,
    QWidget,
    QWizard,
)

from ui.backend import Backend
from ui.context import AppContext
from ui.pages.access import AccessPage
from ui.pages.accounts import AccountsPage
from ui.pages.apply import ApplyPage
from ui.pages.base import ACCESS, ACCOUNTS, APPLY, CONNECTOR, FINISH, QUERY, REVIEW, START
from ui.pages.connector import ConnectorPage
from ui.pages.diagnose import DIAGNOSE, DiagnosePage
from ui.pages.finish import FinishPage
from ui.pages.query import QueryPage
from ui.pages.review import ReviewPage
from ui.pages.start import StartPage
from ui.settings import GuiSettings
from ui.state import WizardState
from ui.widgets.step_list import StepList
from ui.workers import WorkerPool

# The platform adds the application display name ("— xacct-wizard"); do not repeat it here.
TITLE = "Athena cross-account federated query setup"
STEPS = [(START, "Start"), (ACCOUNTS, "Accounts"), (CONNECTOR, "Connector"),
         (ACCESS, "Access"), (REVIEW, "Review"), (APPLY, "Apply"), (QUERY, "Test query"),
         (FINISH, "Finish")]
# What a busy page is doing, as the question before quitting names it.
WORK = {REVIEW: "Reading both accounts for the plan", APPLY: "Apply",
        QUERY: "The test query", FINISH: "Clean up"}


@dataclass
class _MfaRequest:
    text: str
    done: threading.Event
    code: str = ""


class MfaBridge(QObject):
    """botocore asks for MFA codes on a worker thread; the dialog must open on the GUI thread.

    ``prompt`` (worker side) posts a request through a queued signal and blocks that worker
    until the user answers; the GUI thread keeps running its event loop meanwhile.
    """

    asked = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.parent_widget = parent
        self.asked.connect(self._ask)

    def prompt(self, text: str) -> str:
        if threading.current_thread() is threading.main_thread():
            raise RuntimeError("MFA prompt called on the GUI thread")
        request = _MfaRequest(text, threading.Event())
        self.asked.emit(request)
        request.done.wait()
        return request.code

    def _ask(self, request: _MfaRequest) -> None:
        code, ok = QInputDialog.getText(self.parent_widget, "MFA code",
                                        request.text.strip() or "Enter the MFA code:",
                                        QLineEdit.EchoMode.Normal)
        request.code = code.strip() if ok else ""
        request.done.set()


class MainWizard(QWizard):
    """The window. Closing it cancels running work and waits for every worker first."""

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.setWindowTitle(TITLE)
        self.setWizardStyle(QWizard.WizardStyle.ModernStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage, True)
        # Cancel (and Escape, and the window's close button) ask before leaving when it
        # matters: see reject().
        self.setOption(QWizard.WizardOption.NoCancelButton, False)
        self.setButtonText(QWizard.WizardButton.CancelButton, "Cancel")
        self.setOption(QWizard.WizardOption.HaveFinishButtonOnEarlyPages, False)
        self.pages = {
            START: StartPage(ctx), ACCOUNTS: AccountsPage(ctx), CONNECTOR: ConnectorPage(ctx),
            ACCESS: AccessPage(ctx), REVIEW: ReviewPage(ctx), APPLY: ApplyPage(ctx),
            QUERY: QueryPage(ctx), FINISH: FinishPage(ctx), DIAGNOSE: DiagnosePage(ctx),
        }
        for page_id, page in self.pages.items():
            self.setPage(page_id, page)
        self.setStartId(START)
        self.steps = StepList(STEPS, self)
        self.setSideWidget(self.steps)
        self.currentIdChanged.connect(self._show_steps)
        ctx.state.applied_changed.connect(self._show_steps)
        self._show_steps()
        self._pending_result: int | None = None
        self._restore_geometry()

    # ---------------------------------------------------------------- orientation
    def _show_steps(self, *_: object) -> None:
        """Pages behind the current one are done, except Apply until it has succeeded (going
        Back from Apply to Review does not make the setup exist)."""
        current = self.currentId() if self.currentId() >= 0 else START
        done = {page_id for page_id, _ in STEPS if page_id < current}
        if self.ctx.state.applied:
            done.add(APPLY)
        else:
            done.discard(APPLY)
        self.steps.show_steps(current, done)

    # ---------------------------------------------------------------- geometry
    def _restore_geometry(self) -> None:
        fm = self.fontMetrics()
        self.resize(max(960, fm.horizontalAdvance("M") * 80), max(700, fm.height() * 42))
        raw = self.ctx.settings.geometry
        if raw:
            try:
                self.restoreGeometry(QByteArray(base64.b64decode(raw)))
            except (ValueError, TypeError):
                pass

    def save_settings(self) -> None:
        self.ctx.settings.geometry = base64.b64encode(bytes(self.saveGeometry().data())
                                                      ).decode("ascii")
        self.ctx.settings.save()

    # ---------------------------------------------------------------- closing
    def running_work(self) -> list[str]:
        """What the user started and would stop by leaving now (not background reads)."""
        return [WORK[page_id] for page_id, page in self.pages.items()
                if getattr(page, "busy", False) and page_id in WORK]

    def leave_question(self) -> str:
        """Why leaving now needs a yes ("" when nothing is in flight and nothing unsaved)."""
        work = self.running_work()
        unsaved = self.ctx.state.unsaved
        if not work and not unsaved:
            return ""
        parts = [f"{what} is still running; it stops at the next safe point." for what in work]
        if "Apply" in work:
            parts.append("Nothing is lost: applying the same profile again resumes where it "
                         "stopped (or Clean up / `xacct-wizard destroy` removes it).")
        elif "Clean up" in work:
            parts.append("Nothing is lost: running Clean up (or `xacct-wizard destroy`) again "
                         "finishes it.")
        elif work:
            parts.append("Nothing has been changed in your accounts by it.")
        if unsaved:
            parts.append("The setup has changes that are not saved to a profile file "
                         "(Save profile… on the Finish page).")
        return "\n\n".join(parts)

    def may_leave(self) -> bool:
        """Ask before closing when work is in flight or the setup is unsaved."""
        question = self.leave_question()
        if not question:
            return True
        box = QMessageBox(QMessageBox.Icon.Question, "Quit xacct-wizard?",
                          "Stop and quit xacct-wizard?", parent=self)
        box.setInformativeText(question)
        quit_button = box.addButton("&Quit", QMessageBox.ButtonRole.DestructiveRole)
        stay = box.addButton("&Stay", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(stay)
        box.setEscapeButton(stay)  # a second Escape keeps the window: never a silent close
        box.exec()
        return box.clickedButton() is quit_button

    def reject(self) -> None:
        """Cancel, Escape and the close button: ask first when it matters, then stop cleanly."""
        if self._pending_result is not None:
            return  # already stopping
        if self.may_leave():
            self.done(QDialog.DialogCode.Rejected)

    def accept(self) -> None:
        if self._pending_result is not None:
            return
        if self.may_leave():
            self.done(QDialog.DialogCode.Accepted)

    def done(self, result: int) -> None:
        """Finish/Escape/close: stop running work first; close when the last worker ends."""
        pool = self.ctx.pool
        if pool.active:
            if self._pending_result is None:
                self._pending_result = result
                self.setWindowTitle(f"{TITLE} (stopping…)")
                pool.idle.connect(self._close_when_idle)
                pool.cancel_all()
                QTimer.singleShot(15000, self._close_when_idle)  # a stuck call cannot keep us
            return
        self.save_settings()
        super().done(result)

    def _close_when_idle(self) -> None:
        if self._pending_result is None:
            return
        result, self._pending_result = self._pending_result, None
        self.save_settings()
        QWizard.done(self, result)


def build(backend: Backend | None = None, *, sandbox: bool = False,
          profile_path: str | None = None,
          settings: GuiSettings | None = None,
          read_sources: bool = True) -> tuple[MainWizard, AppContext]:
    """The window and its context (tests pass a fake backend; ``run`` the real one).

    ``read_sources=False`` leaves reading the AWS config and keyring to ``start_background``
    (after the first paint), which is what ``run`` does.
    """
    backend = backend or Backend()
    from wizard.logs import setup_file_logging

    log_file = setup_file_logging()
    # Two threads: enough to keep a long run and a picker going at once, while more Python
    # threads loading boto3 side by side would starve the window of the GIL.
    pool = WorkerPool(max_threads=2)
    state = WizardState(backend, sandbox=sandbox)
    ctx = AppContext(state=state, pool=pool, backend=backend,
                     settings=settings or GuiSettings.load(), log_file=log_file)
    window = MainWizard(ctx)
    if getattr(backend, "mfa_prompt", None) is None:
        bridge = MfaBridge(window)
        backend.mfa_prompt = bridge.prompt
        window.mfa_bridge = bridge  # type: ignore[attr-defined]
    start: StartPage = window.pages[START]  # type: ignore[assignment]
    if profile_path and not sandbox:
        start.open_path(Path(profile_path))
    if read_sources:
        ctx.sources.reload(pool, backend)
    return window, ctx


def start_background(ctx: AppContext) -> None:
    """After the first paint: load the engine on a worker, then freeze the heap.

    The cyclic garbage collector holds the GIL for as long as a full pass takes; with boto3
    loaded that is a few hundred milliseconds, long enough to stall the window. So collection
    is paused while the engine's modules load, and everything loaded by then is frozen
    (``gc.freeze``): later passes only look at objects made after it.
    """
    gc.disable()

    def done() -> None:
        gc.freeze()
        gc.enable()
        ctx.preloaded = True
        ctx.state.set_warm()

    begin = getattr(ctx.backend, "begin_preload", None)
    if begin is not None:
        begin()
    ctx.pool.start(lambda job: ctx.backend.preload(), on_finished=done)
    if not ctx.sources.loaded:
        ctx.sources.reload(ctx.pool, ctx.backend)


def shutdown(ctx: AppContext) -> None:
    """After the event loop: every worker finished, an in-process sandbox stopped."""
    ctx.pool.shutdown(30000)
    gc.enable()  # in case the preload never reported back
    if ctx.sandbox_handle is not None:
        try:
            ctx.sandbox_handle.stop()
        finally:
            ctx.sandbox_handle = None


def since_process_start() -> float | None:
    """Seconds since this process was created (Linux /proc; None elsewhere): launch time
    as a user feels it, interpreter start and imports included."""
    try:
        stat = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        start_ticks = int(stat[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def run(profile_path: str | None, sandbox: bool) -> int:
    """Open the wizard; returns the process exit status (0)."""
    started = time.perf_counter()
    QApplication.setHighDpiScaleFactorRoundingPolicy(
        Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("xacct-wizard")
    app.setApplicationDisplayName("xacct-wizard")
    gc.freeze()  # what is loaded now (Qt, the sandbox if any) is never scanned again
    window, ctx = build(sandbox=sandbox, profile_path=profile_path, read_sources=False)
    window.show()

    def first_page_ready() -> None:
        ready = time.perf_counter() - started
        if os.environ.get("XACCT_WIZARD_TIMING"):
            launch = since_process_start()
            print(f"first page ready after {ready:.3f} s in ui.app.run"
                  + (f", {launch:.3f} s after the process started" if launch else ""),
                  file=sys.stderr, flush=True)
        if os.environ.get("XACCT_WIZARD_EXIT_WHEN_READY"):
            window.close()
            return
        start_background(ctx)

    QTimer.singleShot(0, first_page_ready)
    autoquit = os.environ.get("XACCT_WIZARD_AUTOQUIT_MS", "").strip()
    if autoquit.isdigit():
        # Smoke tests (tools/smoke_frozen.sh): close as a user would - running work is
        # cancelled and awaited, settings saved - after this many milliseconds.
        QTimer.singleShot(int(autoquit), lambda: window.done(QDialog.DialogCode.Rejected))
    try:
        app.exec()
    finally:
        shutdown(ctx)
    return 0
