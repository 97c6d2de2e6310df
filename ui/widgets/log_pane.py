"""A read-only, copyable log of what the engine reports, with every line redacted first.

Why redacted here and not only in the engine: the pane is what users paste into tickets, so it
is the last place a secret could leak; ``wizard.errors.redact`` also knows the secrets this
process has handled (``register_secret``), such as keys typed on the Accounts page.
"""

from __future__ import annotations

import time

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QHBoxLayout,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ui.widgets.common import heading, mono_font
from wizard.errors import redact

MAX_LINES = 5000


class LogPane(QWidget):
    """Timestamped lines, newest at the bottom, with a Copy button for the whole log."""

    def __init__(self, title: str = "Log", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = QPlainTextEdit(self)
        self.view.setReadOnly(True)
        self.view.setFont(mono_font())
        self.view.setMaximumBlockCount(MAX_LINES)
        self.view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.view.setAccessibleName(title)
        self.view.setPlaceholderText("Nothing yet.")
        self.copy_button = QPushButton("Cop&y log", self)
        self.copy_button.setToolTip("Copy the whole log (secrets are already removed)")
        self.copy_button.clicked.connect(self.copy_all)
        top = QHBoxLayout()
        top.addWidget(heading(title))
        top.addStretch(1)
        top.addWidget(self.copy_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)

    def append(self, text: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        for line in redact(str(text)).splitlines() or [""]:
            self.view.appendPlainText(f"{stamp}  {line}")

    def text(self) -> str:
        return self.view.toPlainText()

    def clear(self) -> None:
        self.view.clear()

    def copy_all(self) -> None:
        QGuiApplication.clipboard().setText(redact(self.text()))
