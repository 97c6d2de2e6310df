"""Query results as a lazily filled table: pages arrive from a worker, rows reach the view in
chunks only when it scrolls near the end.

Why not QStandardItemModel: 100 000 rows would become millions of items built on the GUI
thread. Here rows are plain lists; ``canFetchMore``/``fetchMore`` hand the view a chunk at a
time, and when the buffer of received-but-unshown rows runs low the model asks the worker for
the next page (``more_wanted``), so reading never runs far ahead of what the user looks at.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from ui.widgets.common import tone

Index = QModelIndex | QPersistentModelIndex


class ResultsModel(QAbstractTableModel):
    """Rows of one query; ``add_page`` buffers, ``fetchMore`` shows, ``more_wanted`` pulls."""

    more_wanted = Signal()
    rows_changed = Signal()

    def __init__(self, chunk: int = 500, low_water: int = 1000) -> None:
        super().__init__()
        self.chunk = chunk
        self.low_water = low_water
        self.columns: list[str] = []
        self.types: list[str] = []
        self._rows: list[list[Any]] = []
        self._buffer: deque[list[Any]] = deque()
        self._exhausted = True
        self._requested = False
        self._starved = False

    # ---------------------------------------------------------------- feeding
    def start(self, columns: list[str] | None = None) -> None:
        """A new query: empty grid, expecting pages."""
        self.beginResetModel()
        self.columns = list(columns or [])
        self.types = []
        self._rows = []
        self._buffer.clear()
        self._exhausted = False
        self._requested = True  # the worker sends the first page without being asked
        self._starved = True
        self.endResetModel()
        self.rows_changed.emit()

    def add_page(self, columns: list[str], types: list[str], rows: list[list[Any]],
                 last: bool = False) -> None:
        """One page from the worker (GUI thread). Shows the first chunk at once."""
        if columns and columns != self.columns:
            if self._rows:
                # columns can only be known from the first page; keep the grid stable
                pass
            else:
                self.beginResetModel()
                self.columns = list(columns)
                self.types = list(types)
                self.endResetModel()
        self._buffer.extend(rows)
        self._requested = False
        if last:
            self._exhausted = True
        if self._starved:
            self._starved = False
            self.fetchMore(QModelIndex())
        self.rows_changed.emit()

    def finish(self) -> None:
        """No more pages will come (end of results, error or cancel)."""
        self._exhausted = True
        self._requested = False
        self.rows_changed.emit()

    @property
    def loaded(self) -> int:
        """Rows shown in the grid."""
        return len(self._rows)

    @property
    def received(self) -> int:
        """Rows received from the worker (shown + buffered)."""
        return len(self._rows) + len(self._buffer)

    @property
    def complete(self) -> bool:
        return self._exhausted and not self._buffer

    # ---------------------------------------------------------------- Qt model
    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.columns)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        value = row[index.column()] if index.column() < len(row) else None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return "NULL" if value is None else str(value)
        if role == Qt.ItemDataRole.ForegroundRole and value is None:
            return tone("muted")
        if role == Qt.ItemDataRole.FontRole and value is None:
            font = QFont()
            font.setItalic(True)
            return font
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            if role == Qt.ItemDataRole.ToolTipRole and orientation == Qt.Orientation.Horizontal \
                    and section < len(self.types):
                return self.types[section]
            return None
        if orientation == Qt.Orientation.Horizontal:
            return self.columns[section] if section < len(self.columns) else None
        return str(section + 1)

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:
        if parent.isValid():
            return False
        return bool(self._buffer) or not self._exhausted

    def fetchMore(self, parent: Index = QModelIndex()) -> None:
        if parent.isValid():
            return
        take = min(self.chunk, len(self._buffer))
        if take:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + take - 1)
            self._rows.extend(self._buffer.popleft() for _ in range(take))
            self.endInsertRows()
        else:
            self._starved = not self._exhausted  # show the next page as soon as it arrives
        if len(self._buffer) < self.low_water and not self._exhausted and not self._requested:
            self._requested = True
            self.more_wanted.emit()
        self.rows_changed.emit()

    def all_rows(self) -> list[list[Any]]:
        return list(self._rows)


class ResultsView(QTableView):
    """A table view tuned for big results: fixed row heights, no per-row resizing."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAlternatingRowColors(True)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectItems)
        self.setWordWrap(False)
        self.setAccessibleName("Query results")
        vh = self.verticalHeader()
        vh.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vh.setDefaultSectionSize(self.fontMetrics().height() + 8)
        hh = self.horizontalHeader()
        hh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        hh.setStretchLastSection(True)
        hh.setResizeContentsPrecision(200)
        self._fitted = False

    def setModel(self, model: Any) -> None:
        super().setModel(model)
        if isinstance(model, ResultsModel):
            model.modelReset.connect(self._unfit)
            model.rowsInserted.connect(self._fit_once)

    def _unfit(self) -> None:
        self._fitted = False

    def _fit_once(self) -> None:
        """Size columns to the first chunk only: resizing to 100 000 rows would freeze."""
        if self._fitted:
            return
        self._fitted = True
        QTimer.singleShot(0, self._fit)

    def _fit(self) -> None:
        hh = self.horizontalHeader()
        limit = max(120, self.fontMetrics().horizontalAdvance("M") * 30)
        for col in range(self.model().columnCount() if self.model() else 0):
            self.resizeColumnToContents(col)
            if hh.sectionSize(col) > limit:
                hh.resizeSection(col, limit)
