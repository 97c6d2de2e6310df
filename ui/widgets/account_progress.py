"""Per-account progress of a StackSet operation, as a table model.

An organizational unit may hold hundreds of accounts: one widget per account would make the
Apply page build (and lay out) hundreds of widgets while events stream in. Here each account is
one row of plain data in a model; the view paints only the rows it shows, and an event touches
one row (a dataChanged for that row, or one inserted row for an account seen the first time).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from ui.widgets.common import tone

COLUMNS = ("Account", "Status", "Detail")
_TONES = {"done": "ok", "failed": "error", "running": "info"}

Index = QModelIndex | QPersistentModelIndex


@dataclass
class AccountRow:
    account: str
    status: str  # "done" | "failed"
    detail: str


class AccountProgressModel(QAbstractTableModel):
    """Rows of (account, status, detail), updated in place by engine progress events."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[AccountRow] = []
        self._where: dict[str, int] = {}

    # ---------------------------------------------------------------- updates
    def clear(self) -> None:
        self.beginResetModel()
        self._rows.clear()
        self._where.clear()
        self.endResetModel()

    def update(self, account: str, status: str, detail: str) -> None:
        """Set one account's status (a new row the first time it is seen)."""
        row = self._where.get(account)
        if row is None:
            row = len(self._rows)
            self.beginInsertRows(QModelIndex(), row, row)
            self._rows.append(AccountRow(account, status, detail))
            self._where[account] = row
            self.endInsertRows()
            return
        self._rows[row] = AccountRow(account, status, detail)
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self._rows:
            out[r.status] = out.get(r.status, 0) + 1
        return out

    def status_of(self, account: str) -> str:
        row = self._where.get(account)
        return self._rows[row].status if row is not None else ""

    # ---------------------------------------------------------------- model
    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        r = self._rows[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return (r.account, {"done": "✓ done", "failed": "✗ failed"}.get(
                r.status, r.status), r.detail)[index.column()]
        if role == Qt.ItemDataRole.ForegroundRole and index.column() == 1:
            return tone(_TONES.get(r.status, "muted"))
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None


def progress_of(event: Any) -> tuple[str, str, str] | None:
    """(account id, status, detail) of a StackSet progress event, else None."""
    account = str(getattr(event, "account", "") or "")
    if getattr(event, "kind", "") != "progress" or not account.startswith("consumer:"):
        return None
    account_id = account.split(":", 1)[1]
    message = str(getattr(event, "message", ""))
    detail = message.split(": ", 1)[1] if ": " in message else message
    failed = detail.startswith(("failed", "cancelled"))
    return account_id, "failed" if failed else "done", detail
