"""Page 6, Apply: the engine makes the setup exist, step by step, while this page shows each
step's status, the connector stack's events and a redacted log - and, when a step fails, the
translated cause and fix with Retry (apply resumes from the journal) and Roll back (destroy).

Engine events arrive from worker threads as queued signals (the job's ``progress``), so the
page only ever renders them on the GUI thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableView,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ui.errors import shown
from ui.pages.base import BasePage
from ui.widgets.account_progress import AccountProgressModel, progress_of
from ui.widgets.common import MessageLabel, heading, tone
from ui.widgets.log_pane import LogPane
from wizard.plural import count

if TYPE_CHECKING:
    from wizard.changes import Event

STATUS = {"pending": "○ pending", "running": "◐ running", "done": "✓ done",
          "failed": "✗ failed", "skipped": "– skipped"}
STATUS_TONE = {"pending": "muted", "running": "info", "done": "ok", "failed": "error",
               "skipped": "muted"}


def event_text(event: Event) -> str:
    """One log line for an event (the CLI's render module pulls in boto3, so not that)."""
    mark = {"step-started": "→", "step-done": "✓", "step-failed": "✗", "stack-event": "·",
            "query-state": "?"}.get(event.kind, " ")
    where = f"[{event.account}] " if event.account else ""
    step = f"{event.step}: " if event.step and event.kind not in ("step-started",
                                                                  "step-done") else ""
    return f"{mark} {where}{step}{event.message}"


class ApplyPage(BasePage):
    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.setTitle("Apply")
        self.setSubTitle("Making the setup exist in both accounts. It is safe to stop: "
                         "applying again resumes where it stopped.")
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 100)
        # "Stop", not "Cancel": the wizard's own Cancel (quit) sits at the bottom of the page.
        self.cancel = QPushButton("&Stop", self)
        self.cancel.setToolTip("Stop after the current AWS call; Apply again resumes.")
        self.steps = QTreeWidget(self)
        self.steps.setColumnCount(3)
        self.steps.setHeaderLabels(["Status", "Step", "Detail"])
        self.steps.setRootIsDecorated(False)
        self.steps.setUniformRowHeights(True)
        self.steps.setAccessibleName("Steps")
        hdr = self.steps.header()
        hdr.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        hdr.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        hdr.setStretchLastSection(True)
        # Long names and reasons are cut in the middle (both ends say the most); the whole
        # text is in the row's tooltip.
        self.steps.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.stack_events = QListWidget(self)
        self.stack_events.setAccessibleName("Connector stack events")
        self.stack_events.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.stack_events.setUniformItemSizes(True)
        # consumers_from: one row per account of the OU, in a model (hundreds of accounts)
        self.accounts_model = AccountProgressModel(self)
        self.accounts_view = QTableView(self)
        self.accounts_view.setModel(self.accounts_model)
        self.accounts_view.setAccessibleName("Accounts of the organizational unit")
        self.accounts_view.verticalHeader().hide()
        self.accounts_view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.accounts_view.horizontalHeader().setStretchLastSection(True)
        self.accounts_view.setWordWrap(False)
        self.accounts_summary = QLabel(self)
        self.log = LogPane("Log", self)

        # --- failure panel
        self.failure = QFrame(self)
        self.failure.setFrameShape(QFrame.Shape.StyledPanel)
        self.failure_text = MessageLabel(self.failure)
        self.retry = QPushButton("&Retry", self.failure)
        self.retry.setToolTip("Apply again: steps already done are skipped.")
        self.rollback = QPushButton("R&oll back", self.failure)
        self.rollback.setToolTip("Undo everything this setup created and restore what it "
                                 "changed.")
        # offered when the test query fails after a connector upgrade (UpgradeFailed)
        self.rollback_upgrade = QPushButton("Roll back the &upgrade", self.failure)
        self.rollback_upgrade.hide()
        fl = QVBoxLayout(self.failure)
        fl.addWidget(self.failure_text)
        frow = QHBoxLayout()
        frow.addStretch(1)
        frow.addWidget(self.rollback_upgrade)
        frow.addWidget(self.retry)
        frow.addWidget(self.rollback)
        fl.addLayout(frow)
        self.failure.hide()

        top = QHBoxLayout()
        top.addWidget(self.progress, 1)
        top.addWidget(self.cancel)
        stack_box = QWidget(self)
        sl = QVBoxLayout(stack_box)
        sl.setContentsMargins(0, 0, 0, 0)
        sl.addWidget(heading("Connector stack events"))
        sl.addWidget(self.stack_events, 1)
        steps_box = QWidget(self)
        stl = QVBoxLayout(steps_box)
        stl.setContentsMargins(0, 0, 0, 0)
        stl.addWidget(heading("Steps"))
        stl.addWidget(self.steps, 1)
        self.accounts_box = QWidget(self)
        al = QVBoxLayout(self.accounts_box)
        al.setContentsMargins(0, 0, 0, 0)
        al.addWidget(heading("Accounts (StackSet)"))
        al.addWidget(self.accounts_summary)
        al.addWidget(self.accounts_view, 1)
        self.accounts_box.hide()  # shown when a StackSet reports its first account
        upper = QSplitter(Qt.Orientation.Horizontal, self)
        upper.addWidget(steps_box)
        upper.addWidget(stack_box)
        upper.addWidget(self.accounts_box)
        upper.setStretchFactor(0, 3)
        upper.setStretchFactor(1, 2)
        upper.setChildrenCollapsible(False)
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(upper)
        split.addWidget(self.log)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addLayout(top)
        layout.addWidget(self.failure)
        layout.addWidget(split, 1)

        self.cancel.clicked.connect(self.cancel_run)
        self.retry.clicked.connect(self.start_apply)
        self.rollback.clicked.connect(self.roll_back)
        self.rollback_upgrade.clicked.connect(self.roll_back_upgrade)
        self._rows: dict[str, QTreeWidgetItem] = {}
        self._worker: Any = None
        self._applied_key: Any = None
        self._rollback_to: str | None = None
        self.cancel.setEnabled(False)

    # ---------------------------------------------------------------- lifecycle
    def initializePage(self) -> None:
        key = self.ctx.state.snapshot()
        if self.ctx.state.applied and key == self._applied_key:
            return  # came back to a finished run: show it, do not run again
        self.start_apply()

    def ready(self) -> bool:
        return self.ctx.state.applied

    def _set_row(self, step: str, status: str, detail: str | None = None,
                 title: str | None = None) -> None:
        item = self._rows.get(step)
        if item is None:
            item = QTreeWidgetItem(["", title or step, ""])
            self.steps.addTopLevelItem(item)
            self._rows[step] = item
        if title:
            item.setText(1, title)
        item.setText(0, STATUS[status])
        item.setData(0, Qt.ItemDataRole.UserRole, status)
        item.setForeground(0, tone(STATUS_TONE[status]))
        if detail is not None:
            first = detail.splitlines()[0] if detail else ""
            shown = item.text(1)
            if shown and first.startswith(f"{shown}: "):
                first = first[len(shown) + 2:]  # "Spill bucket: already in place" -> the news
            item.setText(2, first)
            item.setToolTip(2, detail)

    def step_status(self, step: str) -> str:
        item = self._rows.get(step)
        return str(item.data(0, Qt.ItemDataRole.UserRole)) if item else ""

    def _start(self, what: str, run: Any, on_returned: Any) -> None:
        state = self.ctx.state
        backend = self.ctx.backend

        def work(job: Any) -> Any:
            state.set_sink(job.progress)
            job.progress(("steps", backend.step_titles(state.profile)))
            engine = state.engine(new_run=True)
            job.on_cancel(engine.cancel)
            return run(engine)

        self.failure.hide()
        self.cancel.setEnabled(True)
        self.status.setText(what)
        self.set_busy(True)
        self._worker = self.run(work, on_progress=self._progress, on_returned=on_returned,
                                on_errored=self._failed, on_finished=self._finished)

    def start_apply(self) -> None:
        if self._worker is not None:
            return
        self.ctx.state.applied = False
        self.progress.setValue(0)
        self.log.append("apply: starting")
        self._start("Applying…", lambda engine: engine.apply(), self._applied)

    def roll_back(self) -> None:
        if self._worker is not None:
            return
        answer = QMessageBox.question(
            self, "Roll back",
            "Remove everything this setup created in both accounts and restore the policies it "
            "changed (other statements are kept)?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No)
        if answer != QMessageBox.StandardButton.Yes:
            return
        self.progress.setValue(0)
        self.log.append("roll back: starting")
        self._start("Rolling back…", lambda engine: engine.destroy(), self._rolled_back)

    def roll_back_upgrade(self) -> None:
        """Back to the connector version and parameters before the upgrade, then the test
        query as every consumer (the engine's rollback_connector)."""
        if self._worker is not None:
            return
        self.progress.setValue(0)
        self.log.append("roll back the connector upgrade: starting")
        self._start("Rolling the connector back…", lambda engine: engine.rollback_connector(),
                    self._upgrade_rolled_back)

    def _upgrade_rolled_back(self, results: dict[str, Any]) -> None:
        failed = {k: r for k, r in results.items() if getattr(r, "state", "") != "SUCCEEDED"}
        self.progress.setValue(100)
        self.rollback_upgrade.hide()
        if failed:
            text = "; ".join(f"{k}: {getattr(r, 'error', '') or r.state}"
                             for k, r in failed.items())
            self.status.setText("Rolled back, but the test query still fails.")
            self.failure_text.show_message(text, "error")
            self.failure.show()
            return
        self.ctx.state.applied = True
        self._applied_key = self.ctx.state.snapshot()
        self.status.setText(f"Rolled the connector back to {self._rollback_to}: the test query "
                            "passes again as every consumer.")
        self.log.append("roll back the connector upgrade: done, the test query passes")

    def cancel_run(self) -> None:
        if self._worker is not None:
            self.log.append("cancel requested: stopping after the current AWS call")
            self.status.setText("Cancelling…")
            self.cancel.setEnabled(False)
            self._worker.cancel()

    # ---------------------------------------------------------------- events
    def _progress(self, value: Any) -> None:
        if isinstance(value, tuple) and value and value[0] == "steps":
            for step_id, title in value[1]:
                if step_id not in self._rows:
                    self._set_row(step_id, "pending", "", title)
                elif self.step_status(step_id) in ("failed", "running"):
                    self._set_row(step_id, "pending")
            return
        event: Event = value
        account = progress_of(event)
        if account is not None:  # a StackSet's result for one account
            self.accounts_model.update(*account)
            self.accounts_box.show()
            counts = self.accounts_model.counts()
            self.accounts_summary.setText(
                f"{count(counts.get('done', 0), 'account')} done, {counts.get('failed', 0)} failed")
            self.log.append(event_text(event))
            return  # its fraction is the operation's, not the whole run's
        if event.fraction is not None:
            self.progress.setValue(int(event.fraction * 100))
        if event.kind == "step-started":
            self._set_row(event.step, "running", event.message)
            self.status.setText(f"{event.message}…")
        elif event.kind == "step-done":
            self._set_row(event.step, "done", event.message)
        elif event.kind == "step-failed":
            self._set_row(event.step, "failed", event.message)
        elif event.kind == "stack-event":
            item = QListWidgetItem(event.message)
            item.setToolTip(event.message)
            self.stack_events.addItem(item)
            self.stack_events.scrollToBottom()
        self.log.append(event_text(event))

    def _applied(self, changes: list[Any]) -> None:
        made = len([c for c in changes if getattr(c, "action", "none") != "none"])
        self.ctx.state.applied = True
        self._applied_key = self.ctx.state.snapshot()
        self.progress.setValue(100)
        self.status.setText(f"Done: {count(made, 'change')} made; everything is in place. "
                            "Next: run the test query as the consumer.")
        self.log.append(f"apply: done, {count(made, 'change')}")

    def _rolled_back(self, changes: list[Any]) -> None:
        self.progress.setValue(100)
        self.ctx.state.applied = False
        for step_id in self._rows:
            self._set_row(step_id, "skipped", "rolled back")
        self.status.setText(f"Rolled back ({count(len(changes), 'undo action')}). Nothing of this "
                            "setup is left; go Back to change it, or Retry to apply again.")
        self.failure_text.show_message("Rolled back.", "info")
        self.rollback.setEnabled(False)
        self.failure.show()
        self.log.append("roll back: done")

    def _failed(self, exc: BaseException) -> None:
        text = shown(exc, "Apply")
        from wizard.errors import Cancelled

        cancelled = isinstance(exc, Cancelled)
        self.status.setText("Cancelled." if cancelled else "A step failed.")
        for step_id in self._rows:
            if self.step_status(step_id) == "running":
                self._set_row(step_id, "failed", "cancelled" if cancelled else text)
        self.failure_text.show_message(text, "warn" if cancelled else "error")
        self.rollback.setEnabled(True)
        self._rollback_to = getattr(exc, "rollback_to", None)
        upgrade = self._rollback_to is not None and not getattr(exc, "rolled_back", True)
        if upgrade:
            self.status.setText("The connector upgrade broke the test query.")
            self.rollback_upgrade.setText(f"Roll back to &{self._rollback_to}")
            self.rollback_upgrade.setToolTip("Return the connector to the version and "
                                             "parameters it had before, and test again.")
        self.rollback_upgrade.setVisible(upgrade)
        self.failure.show()
        self.log.append(text)

    def _finished(self) -> None:
        self._worker = None
        self.cancel.setEnabled(False)
        self.set_busy(False)
