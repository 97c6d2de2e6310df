"""Diagnose: the doctor's chain for an existing setup, one row per link, green/amber/red.

Why a page of its own: most users arrive with a setup that exists and a query that fails. The
rows follow the path the analyst's query takes; each expands to its evidence (the statement
that allowed or denied) and its fix. When the profile's apply repairs a broken link, "Repair
with apply" goes on to the Review page, which shows exactly what apply would change. The AWS
reads run on a worker (``Backend.diagnose``); this page only renders the Report.
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ui.pages.base import REVIEW, BasePage
from ui.widgets.common import MessageLabel, tone
from wizard.plural import count

DIAGNOSE = 8  # the page id after the eight pages of ui.pages.base
APPLY_FIX = "`xacct-wizard apply` repairs this"
TONES = {"ok": "ok", "broken": "error", "warning": "warn", "unknown": "muted"}
MARKS = {"ok": "✓", "broken": "✗", "warning": "!", "unknown": "?"}


class LinkRow(QFrame):
    """One link: a coloured mark, its id and resource; a click shows evidence and fix."""

    def __init__(self, link: Any, account_label: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.link = link
        self.setFrameShape(QFrame.Shape.StyledPanel)
        color = tone(TONES.get(link.status, "muted")).name()
        self.strip = QFrame(self)  # the row's colour at a glance: green, amber, red, grey
        self.strip.setFixedWidth(5)
        self.strip.setStyleSheet(f"background-color: {color}; border: none;")
        self.toggle = QToolButton(self)
        self.toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.toggle.setAutoRaise(True)
        self.toggle.setAccessibleName(f"Details of {link.id}")
        self.mark = QLabel(f'<b style="color:{color}">{MARKS.get(link.status, "?")} '
                           f'{html.escape(link.status)}</b>', self)
        self.title = QLabel(f"<b>{html.escape(link.id)}</b> "
                            f'<span style="color:{tone("muted").name()}">'
                            f"{html.escape(account_label)}"
                            f"{' · ' + html.escape(link.resource) if link.resource else ''}"
                            "</span>", self)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details = QLabel(self)
        self.details.setWordWrap(True)
        self.details.setTextFormat(Qt.TextFormat.RichText)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        fix = (f"<br><b>Fix:</b> <code>{html.escape(link.fix)}</code>" if link.fix else "")
        self.details.setText(f"{html.escape(link.message)}{fix}")
        self.mark.setMinimumWidth(self.fontMetrics().horizontalAdvance("✗ unknown") + 12)
        head = QHBoxLayout()
        head.setSpacing(6)
        head.addWidget(self.toggle)
        head.addWidget(self.mark)
        head.addWidget(self.title, 1)
        body = QVBoxLayout()
        body.setContentsMargins(2, 2, 6, 2)
        body.addLayout(head)
        indent = QHBoxLayout()
        indent.setContentsMargins(self.fontMetrics().height() * 2, 0, 0, 4)
        indent.addWidget(self.details)
        body.addLayout(indent)
        outer = QHBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        outer.addWidget(self.strip)
        outer.addLayout(body, 1)
        self.toggle.clicked.connect(lambda: self.expand(not self.details.isVisible()))
        # A row that needs attention opens by itself; an ok one stays one line.
        self.expand(link.status in ("broken", "warning"))

    def expand(self, on: bool) -> None:
        self.details.setVisible(on)
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)

    def mousePressEvent(self, event: Any) -> None:
        self.expand(not self.details.isVisible())
        super().mousePressEvent(event)


class DiagnosePage(BasePage):
    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.setTitle("Diagnose an existing setup")
        self.setSubTitle("The chain an analyst's query takes, link by link. Nothing is "
                         "changed; the test query runs as each consumer's principal.")
        self.status = MessageLabel(self)
        self.rows = QWidget(self)
        self.rows_layout = QVBoxLayout(self.rows)
        self.rows_layout.setContentsMargins(0, 0, 0, 0)
        self.rows_layout.setSpacing(4)
        self.rows_layout.addStretch(1)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self.rows)
        self.again = QPushButton("Diagnose &again", self)
        self.repair = QPushButton("&Repair with apply…", self)
        self.repair.setToolTip("Review what apply would change to repair the broken links")
        self.repair.hide()
        buttons = QHBoxLayout()
        buttons.addWidget(self.again)
        buttons.addStretch(1)
        buttons.addWidget(self.repair)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(scroll, 1)
        layout.addLayout(buttons)
        self.report: Any = None
        self._repair = False
        self._worker: Any = None
        self.again.clicked.connect(self.diagnose)
        self.repair.clicked.connect(self._repair_clicked)

    # ---------------------------------------------------------------- running
    def initializePage(self) -> None:
        self._repair = False
        self.diagnose()

    def diagnose(self) -> None:
        if self.busy:
            return
        self.set_busy(True)
        self.again.setEnabled(False)
        self.repair.hide()
        self._clear()
        self.status.show_message("Reading both accounts and running the test query…", "info")
        backend, profile = self.ctx.backend, self.profile

        def work(job: Any) -> Any:
            return backend.diagnose(profile)

        self._worker = self.run(work, on_returned=self.show_report,
                                on_errored=self._failed, on_finished=self._done)

    def _done(self) -> None:
        self._worker = None
        self.again.setEnabled(True)
        self.set_busy(False)

    def _failed(self, exc: BaseException) -> None:
        explain = getattr(exc, "explain", None)
        self.status.show_message(explain() if callable(explain) else str(exc))

    def cleanupPage(self) -> None:
        if self._worker is not None:
            self._worker.cancel()

    # ---------------------------------------------------------------- rendering
    def _clear(self) -> None:
        while self.rows_layout.count() > 1:
            item = self.rows_layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()

    def show_report(self, report: Any) -> None:
        self.report = report
        self._clear()
        at = 0
        for consumer in report.consumers:
            header = QLabel(f"<b>{html.escape(consumer.account)}</b> - "
                            f"{html.escape(consumer.principal)}", self.rows)
            self.rows_layout.insertWidget(at, header)
            at += 1
            for link in consumer.links:
                label = "owner (A)" if link.account == "owner" else "consumer (B)"
                self.rows_layout.insertWidget(at, LinkRow(link, label, self.rows))
                at += 1
        broken = [x for c in report.consumers for x in c.links if x.status == "broken"]
        warnings = sum(1 for c in report.consumers for x in c.links if x.status == "warning")
        if broken:
            self.status.show_message(
                f"{count(len(broken), 'broken link')}: the analyst's query fails there.", "error")
        else:
            tail = f"; {count(warnings, 'warning')}." if warnings else "."
            self.status.show_message("No link is broken" + tail,
                                     "warn" if warnings else "ok")
        self.repair.setVisible(any(x.fix == APPLY_FIX for x in broken))

    def link_rows(self) -> list[LinkRow]:
        return [w for w in self.rows.findChildren(LinkRow)]

    # ---------------------------------------------------------------- navigation
    def _repair_clicked(self) -> None:
        self._repair = True
        wizard = self.wizard()
        if wizard is not None:
            wizard.next()

    def nextId(self) -> int:
        return REVIEW if self._repair else -1
