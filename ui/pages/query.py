"""Page 7, Test query: run SQL as the consumer principal (as an analyst would) and preview the
rows, with the execution's state, runtime, data scanned, cost and query id.

Results are pulled page by page by a worker only as the grid needs them (see
``ui.widgets.results``): a 100 000-row answer neither freezes the window nor sits in memory
as widgets. CSV export reads the results again on its own worker, so it never touches the grid.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ui.errors import log_shown, shown
from ui.pages.base import BasePage
from ui.widgets.common import MessageLabel, heading, mono_font, tone
from ui.widgets.results import ResultsModel, ResultsView
from wizard.plural import count

if TYPE_CHECKING:
    from ui.backend import QueryPage as ResultPage
    from wizard.query import QueryResult

PAGE_SIZE = 1000


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{int(size)} bytes" if unit == "bytes" else f"{size:.2f} {unit}"
        size /= 1024
    return f"{n} bytes"


class QueryPage(BasePage):
    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.setTitle("Test query")
        self.setSubTitle("Runs in the consumer account as the principal you granted, exactly "
                         "as an analyst would. Change the SQL and run it again as you like.")
        self.sql = QPlainTextEdit(self)
        self.sql.setFont(mono_font())
        self.sql.setAccessibleName("SQL")
        self.sql.setTabChangesFocus(True)
        self.sql.setMaximumHeight(self.fontMetrics().height() * 6)
        self.sql.textChanged.connect(self._sql_edited)
        self.run_button = QPushButton("&Run", self)
        self.run_button.setToolTip("Run the query (Ctrl+Enter)")
        self.cancel_button = QPushButton("&Cancel", self)
        self.cancel_button.setEnabled(False)
        self.export_button = QPushButton("E&xport CSV…", self)
        self.export_button.setEnabled(False)

        self.state_label = QLabel("-", self)
        self.runtime = QLabel("-", self)
        self.scanned = QLabel("-", self)
        self.cost = QLabel("-", self)
        self.query_id = QLabel("-", self)
        self.query_id.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                              | Qt.TextInteractionFlag.TextSelectableByKeyboard)
        self.copy_id = QPushButton("Cop&y id", self)
        self.copy_id.setEnabled(False)
        self.rows_label = QLabel("", self)
        self.error = MessageLabel(self)

        self.model = ResultsModel()
        self.view = ResultsView(self)
        self.view.setModel(self.model)

        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        buttons.addWidget(self.export_button)
        info = QGridLayout()
        for col, (name, widget) in enumerate((("State", self.state_label),
                                              ("Runtime", self.runtime),
                                              ("Data scanned", self.scanned),
                                              ("Cost", self.cost))):
            info.addWidget(QLabel(f"{name}:", self), 0, col * 2)
            info.addWidget(widget, 0, col * 2 + 1)
        idrow = QHBoxLayout()
        idrow.addWidget(QLabel("Query id:", self))
        idrow.addWidget(self.query_id, 1)
        idrow.addWidget(self.copy_id)
        info.addLayout(idrow, 1, 0, 1, 8)
        for col in (1, 3, 5, 7):
            info.setColumnStretch(col, 1)

        top = QWidget(self)
        tl = QVBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        sql_label = QLabel("&SQL:", top)
        sql_label.setBuddy(self.sql)
        tl.addWidget(sql_label)
        tl.addWidget(self.sql)
        tl.addLayout(buttons)
        tl.addLayout(info)
        tl.addWidget(self.error)
        bottom = QWidget(self)
        bl = QVBoxLayout(bottom)
        bl.setContentsMargins(0, 0, 0, 0)
        rrow = QHBoxLayout()
        rrow.addWidget(heading("Preview"))
        rrow.addStretch(1)
        rrow.addWidget(self.rows_label)
        bl.addLayout(rrow)
        bl.addWidget(self.view, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(top)
        layout.addWidget(bottom, 1)

        self.run_button.clicked.connect(self.run_query)
        self.cancel_button.clicked.connect(self.cancel_query)
        self.export_button.clicked.connect(self.export_csv)
        self.copy_id.clicked.connect(
            lambda: QGuiApplication.clipboard().setText(self.query_id.text()))
        for seq in ("Ctrl+Return", "Ctrl+Enter"):
            QShortcut(QKeySequence(seq), self, activated=self.run_query)
        self.model.more_wanted.connect(self._more_wanted)
        self.model.rows_changed.connect(self._rows_changed)

        self._worker: Any = None
        self._pages: Iterator[ResultPage] | None = None
        self._fetch: Any = None
        self._generation = 0
        self._stats: QueryResult | None = None
        self._ran_for: Any = None
        self.export_path: Path | None = None

    def _sql_edited(self) -> None:
        """Remember the SQL for Finish's save; the default query is saved as no key."""
        import dataclasses

        text = self.sql.toPlainText().strip()
        default = dataclasses.replace(self.profile, test_query="").effective_test_query
        self.ctx.state.test_sql = "" if not text or text == default.strip() else text

    # ---------------------------------------------------------------- lifecycle
    def initializePage(self) -> None:
        if not self.sql.toPlainText().strip() or self._ran_for != self.ctx.state.snapshot():
            self.sql.setPlainText(self.profile.effective_test_query)
        if self.ctx.state.applied and self._ran_for != self.ctx.state.snapshot():
            self.run_query()  # the first visit shows rows without a click

    def cleanupPage(self) -> None:
        self.cancel_query()

    # ---------------------------------------------------------------- run
    def run_query(self) -> None:
        if self._worker is not None:
            return
        from wizard.profile import validate_field

        sql = self.sql.toPlainText()
        problem = validate_field("sql", sql)
        if problem:
            self.error.show_message(f"SQL {problem}")
            log_shown(f"SQL {problem}", "Test query")
            return
        self._stop_paging()
        self._ran_for = self.ctx.state.snapshot()
        self.error.show_message(None)
        self._stats = None
        for label in (self.runtime, self.scanned, self.cost, self.query_id):
            label.setText("-")
        self.copy_id.setEnabled(False)
        self.export_button.setEnabled(False)
        self._set_state("STARTING")
        self.model.start()
        self._generation += 1
        generation = self._generation
        self._pages = None
        state, backend = self.ctx.state, self.ctx.backend

        def work(job: Any) -> tuple[Iterator[ResultPage], ResultPage | None]:
            engine = state.engine()
            stats, pages = backend.run_query(
                engine, sql, job.cancel_event,
                on_started=lambda qid: job.progress(("id", qid)),
                on_state=lambda s: job.progress(("state", s)))
            job.progress(("stats", stats))
            return pages, next(pages, None)

        def first_page(result: tuple[Iterator[ResultPage], ResultPage | None]) -> None:
            if generation == self._generation:
                self._pages = result[0]
                self._page_arrived(generation, result[1])

        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.set_busy(True)
        worker = self.run(work, on_progress=self._progress, on_returned=first_page,
                          on_errored=self._failed, on_finished=lambda: self._finished(worker))
        self._worker = worker

    def cancel_query(self) -> None:
        if self._worker is not None:
            self._set_state("CANCELLING")
            self._worker.cancel()
        self._stop_paging()

    def _stop_paging(self) -> None:
        """No further pages for the current grid (a new query, a cancel, leaving the page)."""
        self._generation += 1
        self._pages = None
        if self._fetch is not None:
            self._fetch.cancel()
            self._fetch = None
        self.model.finish()

    def _more_wanted(self) -> None:
        """The grid's buffer runs low: read the next page on a worker (one at a time).

        Each page is its own short job, so no pool thread sits waiting while the user reads.
        """
        if self._pages is None or self._fetch is not None:
            return
        pages, generation = self._pages, self._generation

        def fetched(page: ResultPage | None) -> None:
            self._fetch = None
            self._page_arrived(generation, page)

        def failed(exc: BaseException) -> None:
            self._fetch = None
            if generation == self._generation:
                self.error.show_message(
                    f"Reading more rows failed: {shown(exc, 'Test query')}")
                self._stop_paging()

        self._fetch = self.run(lambda job: next(pages, None), on_returned=fetched,
                               on_errored=failed)

    def _page_arrived(self, generation: int, page: ResultPage | None) -> None:
        if generation != self._generation:
            return  # a page of a query the user has moved on from
        if page is None:
            self._pages = None
            self.model.finish()
            return
        self.model.add_page(page.columns, page.types, page.rows)

    def _set_state(self, state: str) -> None:
        self.state_label.setText(state)
        level = {"SUCCEEDED": "ok", "FAILED": "error", "CANCELLED": "warn"}.get(state)
        self.state_label.setStyleSheet(f"color: {tone(level).name()}" if level else "")

    def _progress(self, value: tuple[str, Any]) -> None:
        kind, data = value
        if kind == "id":
            self.query_id.setText(data)
            self.copy_id.setEnabled(True)
        elif kind == "state":
            self._set_state(data)
        elif kind == "stats":
            self._show_stats(data)

    def _show_stats(self, stats: QueryResult) -> None:
        self._stats = stats
        self._set_state(stats.state)
        total = stats.total_ms or stats.engine_ms
        self.runtime.setText(f"{total / 1000:.2f} s (engine {stats.engine_ms / 1000:.2f} s)")
        self.scanned.setText(human_bytes(stats.data_scanned_bytes))
        self.cost.setText(f"${stats.cost_usd:.6f}")
        self.cost.setToolTip("Athena bills $5 per TB scanned, at least 10 MB per query.")
        if stats.state != "SUCCEEDED":
            text = stats.error or stats.state
            if stats.cause:
                text += f"\nCause: {stats.cause}"
            if stats.fix:
                text += f"\nFix: {stats.fix}"
            self.error.show_message(text, "warn" if stats.state == "CANCELLED" else "error")
            self.model.finish()
        else:
            self.export_button.setEnabled(True)
        # the query itself is over: Next is free again while pages keep arriving
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self._worker = None
        self.set_busy(False)

    def _failed(self, exc: BaseException) -> None:
        self._set_state("FAILED")
        self.error.show_message(shown(exc, "Test query"))
        self.model.finish()

    def _finished(self, worker: Any) -> None:
        if self._worker is worker:
            self._worker = None
        if self._worker is None:
            self.run_button.setEnabled(True)
            self.cancel_button.setEnabled(False)
            if self.busy:
                self.set_busy(False)
        if self.state_label.text() in ("CANCELLING", "STARTING"):
            self._set_state("CANCELLED")

    def _rows_changed(self) -> None:
        m = self.model
        if m.complete:
            self.rows_label.setText(count(m.loaded, "row"))
        elif m.received:
            self.rows_label.setText(f"{count(m.loaded, 'row')} shown - scroll for more")
        else:
            self.rows_label.setText("")

    # ---------------------------------------------------------------- export
    def export_csv(self) -> None:
        if self._stats is None or not self._stats.query_id:
            return
        default = str(Path.home() / f"query-{self._stats.query_id[:8]}.csv")
        name, _ = QFileDialog.getSaveFileName(self, "Export results as CSV", default,
                                              "CSV files (*.csv)")
        if name:
            self.export_to(Path(name))

    def export_to(self, path: Path) -> None:
        """Write every row (read again from Athena on a worker) to ``path``."""
        assert self._stats is not None
        query_id = self._stats.query_id
        state, backend = self.ctx.state, self.ctx.backend

        def work(job: Any) -> int:
            engine = state.engine()
            written = 0
            tmp = path.with_name(f".{path.name}.partial")
            with open(tmp, "w", newline="", encoding="utf-8") as fh:
                writer = csv.writer(fh)
                header = False
                for page in backend.result_pages(engine, query_id):
                    if job.cancelled:
                        break
                    if not header:
                        writer.writerow(page.columns)
                        header = True
                    writer.writerows(["" if v is None else v for v in r] for r in page.rows)
                    written += len(page.rows)
            tmp.replace(path)
            return written

        def done(rows: int) -> None:
            self.export_path = path
            self.rows_label.setText(f"Exported {count(rows, 'row')} to {path.name}")

        self.export_button.setEnabled(False)
        self.run(work, on_returned=done,
                 on_errored=lambda exc: self.error.show_message(
                     f"Export failed: {shown(exc, 'Test query export')}"),
                 on_finished=lambda: self.export_button.setEnabled(True))
