"""Page 5, Review: the engine's plan - the same one ``xacct-wizard plan`` prints - grouped by
account, each change marked create/update/none, and every policy document as a JSON diff
against what is in the account now.

Nothing has been changed when this page shows; it is the last look before Apply.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWizard,
)

from ui.errors import shown
from ui.pages.base import BasePage
from ui.widgets.common import MessageLabel, tone
from ui.widgets.diff_view import PolicyDiffView
from wizard.plural import count

if TYPE_CHECKING:
    from wizard.changes import Change, Event, Plan

SYMBOL = {"create": "+ create", "update": "~ update", "delete": "- delete", "none": "= none"}
TONE = {"create": "add", "update": "warn", "delete": "del", "none": "muted"}


def account_title(account: str, profile: Any) -> str:
    """``owner`` / ``consumer:<id>`` as people read them."""
    if account == "owner":
        return f"Owner account A ({profile.owner.account_id})"
    if account.startswith("consumer:"):
        return f"Consumer account B ({account.split(':', 1)[1]})"
    return account


def account_group(tree: Any, groups: dict[str, QTreeWidgetItem], account: str, profile: Any,
                  *, span: bool = False) -> QTreeWidgetItem:
    """The bold, expanded top-level row of one account, made once per fill of ``tree``."""
    parent = groups.get(account)
    if parent is None:
        parent = QTreeWidgetItem([account_title(account, profile), "", ""])
        font = parent.font(0)
        font.setBold(True)
        parent.setFont(0, font)
        if span:
            parent.setFirstColumnSpanned(True)
        tree.addTopLevelItem(parent)
        parent.setExpanded(True)
        groups[account] = parent
    return parent


def add_lifecycle_rows(item: QTreeWidgetItem, change: Change) -> None:
    """Under the connector stack's row: its version drift and, for an upgrade or a parameter
    change, what CloudFormation will do to each resource (the change set's preview). Each is
    one line across the columns, as ``plan`` prints it."""
    from wizard.connector_versions import VersionStatus, lifecycle_lines

    lines = lifecycle_lines(change)
    if not lines:
        return
    versions = change.data.get("versions")
    withdrawn = bool(versions) and VersionStatus.from_json(versions).deployed_offered is False
    for line in lines:
        row = QTreeWidgetItem([line.strip()])
        if line.startswith("versions"):
            color = "warn" if withdrawn else "muted"
        elif "replacement: True" in line:
            color = "del"
        elif line.lstrip().startswith(("+", "-", "~")):
            color = {"+": "add", "-": "del"}.get(line.lstrip()[0], "warn")
        else:
            color = "muted"
        row.setForeground(0, tone(color))
        row.setToolTip(0, line.strip())
        item.addChild(row)
        row.setFirstColumnSpanned(True)
    item.setExpanded(True)


class ReviewPage(BasePage):
    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.setTitle("Review")
        self.setSubTitle("What Apply will do, read from both accounts just now. Nothing has "
                         "been changed yet. Select a change to see its policy document.")
        self.setButtonText(QWizard.WizardButton.NextButton, "&Apply >")
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 100)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(self.fontMetrics().height() // 2 + 2)
        self.recheck = QPushButton("Chec&k again", self)
        self.findings = QListWidget(self)
        self.findings.setAccessibleName("Problems found")
        self.findings.setWordWrap(True)
        self.findings.setResizeMode(QListView.ResizeMode.Adjust)  # re-wrap on resize
        self.findings.setVerticalScrollMode(QListView.ScrollMode.ScrollPerPixel)
        self.findings.setSpacing(2)
        self.findings.hide()
        self.error = MessageLabel(self)
        self.tree = QTreeWidget(self)
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["Action", "Resource", "What"])
        self.tree.setAccessibleName("Planned changes")
        self.tree.setRootIsDecorated(True)
        self.tree.setUniformRowHeights(True)
        # Resource names and summaries are cut in the middle: their ends say the most (the
        # account and the name); the full text is in each cell's tooltip.
        self.tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        hdr = self.tree.header()
        hdr.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        hdr.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        hdr.setStretchLastSection(True)
        self.diff = PolicyDiffView(self)

        top = QHBoxLayout()
        top.addWidget(self.status, 1)
        top.addWidget(self.recheck)
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(self.findings)  # resizable with the rest: every problem can be read
        split.addWidget(self.tree)
        split.addWidget(self.diff)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 2)
        split.setStretchFactor(2, 3)
        self.split = split
        split.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.progress)
        layout.addWidget(self.error)
        layout.addWidget(split, 1)

        self.recheck.clicked.connect(self.start_plan)
        self.tree.currentItemChanged.connect(self._selected)
        self._plan: Plan | None = None
        self._worker: Any = None

    def initializePage(self) -> None:
        self.start_plan()

    def cleanupPage(self) -> None:
        if self._worker is not None:
            self._worker.cancel()

    # ---------------------------------------------------------------- plan
    def start_plan(self) -> None:
        if self._worker is not None:
            return
        self._plan = None
        self.ctx.state.plan = None
        self.tree.clear()
        self.findings.clear()
        self.findings.hide()
        self.error.show_message(None)
        self.diff.show_change(None)
        self.progress.setValue(0)
        self.progress.show()
        self.status.setText("Reading both accounts…")
        self.recheck.setEnabled(False)
        state = self.ctx.state

        def work(job: Any) -> Plan:
            state.set_sink(job.progress)
            engine = state.engine(new_run=True)
            job.on_cancel(engine.cancel)
            return engine.plan()

        self.set_busy(True)
        self._worker = self.run(work, on_progress=self._event, on_returned=self._planned,
                                on_errored=self._failed, on_finished=self._finished)

    def _event(self, event: Event) -> None:
        if event.kind == "plan" and event.message:
            self.status.setText(event.message[:1].upper() + event.message[1:] + "…")
        if event.fraction is not None:
            self.progress.setValue(int(event.fraction * 100))

    def _failed(self, exc: BaseException) -> None:
        self.status.setText("The plan could not be made.")
        self.error.show_message(shown(exc, "Review"))

    def _finished(self) -> None:
        self._worker = None
        self.recheck.setEnabled(True)
        self.progress.hide()
        self.set_busy(False)

    def _planned(self, plan: Plan) -> None:
        self._plan = plan
        self.ctx.state.plan = plan
        self._show_findings(plan)
        groups: dict[str, QTreeWidgetItem] = {}
        first_doc: QTreeWidgetItem | None = None
        for change in plan.changes:
            parent = account_group(self.tree, groups, change.account, self.profile, span=True)
            item = QTreeWidgetItem([SYMBOL.get(change.action, change.action),
                                    change.resource, change.summary])
            item.setForeground(0, tone(TONE.get(change.action, "muted")))
            item.setToolTip(1, change.resource)
            item.setToolTip(2, change.summary)
            item.setData(0, Qt.ItemDataRole.UserRole, change)
            parent.addChild(item)
            add_lifecycle_rows(item, change)
            # open on the first policy that changes: that is what people need to read
            if first_doc is None and change.action != "none" and "policy" in change.kind:
                first_doc = item
        pending = len(plan.pending)
        kept = len(plan.changes) - pending
        blocking = len(plan.blocking)
        self.status.setText(
            (f"{count(blocking, 'problem')} must be fixed before Apply (listed below, each "
             "with its fix). " if blocking else "")
            + (f"{count(pending, 'change')} to make, {kept} already in place."
               if plan.changes else "Nothing to do."))
        self.tree.resizeColumnToContents(1)
        width = self.tree.header().sectionSize(1)
        self.tree.header().resizeSection(1, min(width, self.tree.width() // 2 or width))
        if first_doc is not None:
            self.tree.setCurrentItem(first_doc)
        elif self.tree.topLevelItemCount():
            self.tree.setCurrentItem(self.tree.topLevelItem(0))

    def _show_findings(self, plan: Plan) -> None:
        """Every finding, errors first, each with the account it is about and its fix."""
        self.findings.clear()
        order = {"error": 0, "warning": 1}
        for f in sorted(plan.findings, key=lambda f: order.get(f.severity, 2)):
            where = f" - {account_title(f.account, self.profile)}" if f.account else ""
            text = (f"{f.severity.upper()}{where}: {f.message}"
                    + (f"\nFix: {f.fix}" if f.fix else ""))
            item = QListWidgetItem(text)
            item.setToolTip(text)
            item.setForeground(tone({"error": "error", "warning": "warn"}.get(f.severity,
                                                                              "info")))
            self.findings.addItem(item)
        self.findings.setVisible(bool(plan.findings))
        if plan.findings:
            # Room for all of them up to half the page; the splitter and the scroll bar
            # take care of more.
            lines = sum(self.findings.item(i).text().count("\n") + 2
                        for i in range(self.findings.count()))
            want = self.fontMetrics().height() * (lines + 1)
            total = sum(self.split.sizes()) or self.height()
            top = min(want, total // 2)
            rest = max(total - top, 0)
            self.split.setSizes([top, rest * 2 // 5, rest * 3 // 5])

    def _selected(self, item: QTreeWidgetItem | None, _prev: Any = None) -> None:
        change: Change | None = item.data(0, Qt.ItemDataRole.UserRole) if item else None
        if change is None and item is not None and item.parent() is not None:
            change = item.parent().data(0, Qt.ItemDataRole.UserRole)  # a preview row
        self.diff.show_change(change)
        if change is not None:
            from wizard.connector_versions import lifecycle_lines

            extra = lifecycle_lines(change)
            if extra:
                self.diff.text.setPlainText(self.diff.text.toPlainText() + "\n\n"
                                            + "\n".join(extra))

    # ---------------------------------------------------------------- navigation
    def ready(self) -> bool:
        return self._plan is not None and not self._plan.blocking
