"""Small shared pieces: palette-aware colours, inline messages, badges, monospace fonts.

Colours are derived from the current palette (light or dark) instead of fixed, so the wizard
follows the OS theme; sizes come from font metrics so it stays readable at high DPI.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QFontDatabase, QGuiApplication, QPalette
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget


def is_dark(palette: QPalette | None = None) -> bool:
    pal = palette or QGuiApplication.palette()
    return pal.color(QPalette.ColorRole.Window).lightness() < 128


def tone(name: str) -> QColor:
    """A semantic colour readable on the current palette: ok, error, warn, muted, add, del."""
    dark = is_dark()
    table = {
        "ok": ("#1b7f3b", "#6fdc8c"),
        "error": ("#c62828", "#ff8a80"),
        "warn": ("#9a6700", "#f2cc60"),
        "info": ("#1f5fa8", "#8ab4f8"),
        "add": ("#1b7f3b", "#7ee787"),
        "del": ("#c62828", "#ffa198"),
        "hunk": ("#6f42c1", "#d2a8ff"),
        "add_bg": ("#e6ffec", "#12361f"),
        "del_bg": ("#ffebe9", "#3d1719"),
    }
    if name == "muted":
        return QGuiApplication.palette().color(QPalette.ColorGroup.Disabled,
                                               QPalette.ColorRole.WindowText)
    light, darkc = table[name]
    return QColor(darkc if dark else light)


def mono_font() -> QFont:
    font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    return font


class MessageLabel(QLabel):
    """An inline message under a field: hidden when empty, coloured by severity.

    ``reserve``: keep that many lines' height even when empty instead of hiding, so that a
    message coming and going does not move the widgets under the pointer.
    """

    def __init__(self, parent: QWidget | None = None, reserve: int = 0) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._reserve = reserve
        if reserve:
            self.setMinimumHeight(self.fontMetrics().lineSpacing() * reserve)
        else:
            self.hide()
        self._plain = ""

    @property
    def plain(self) -> str:
        return self._plain

    def show_message(self, text: str | None, level: str = "error") -> None:
        self._plain = text or ""
        if not text:
            self.clear()
            if not self._reserve:
                self.hide()
            return
        color = tone(level).name()
        body = html.escape(text).replace("\n", "<br>")  # keep Cause: / Fix: on their lines
        self.setText(f'<span style="color:{color}">{body}</span>')
        self.show()


class Badge(QLabel):
    """The result of a credentials check: account id + ARN, or what went wrong."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.state = "none"
        self.set_state("none", "Not checked yet")

    def set_state(self, state: str, text: str) -> None:
        """``state``: none | busy | ok | error | warn."""
        self.state = state
        symbol = {"none": "○", "busy": "…", "ok": "✓", "error": "✗", "warn": "!"}[state]
        color = tone("muted" if state in ("none", "busy") else
                     {"ok": "ok", "error": "error", "warn": "warn"}[state]).name()
        self.setText(f'<span style="color:{color}"><b>{symbol}</b> {html.escape(text)}</span>')
        self.setAccessibleDescription(f"{state}: {text}")
        self.setToolTip(text)


def heading(text: str) -> QLabel:
    label = QLabel(text)
    font = label.font()
    font.setBold(True)
    label.setFont(font)
    return label


def stacked(*widgets: QWidget) -> QWidget:
    """Widgets one above the other with no margins: a field and the message that explains it."""
    box = QWidget()
    lay = QVBoxLayout(box)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.setSpacing(2)
    for w in widgets:
        lay.addWidget(w)
    return box
