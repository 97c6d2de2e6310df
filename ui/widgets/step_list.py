"""The step list beside the pages: where the admin is and what is done, as installers show it.

Plain labels rather than a clickable list: the wizard decides which page may come next (a page
is complete or not), so the list only orients; it never navigates.
"""

from __future__ import annotations

import html

from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from ui.widgets.common import tone

MARKS = {"done": "✓", "current": "▶", "todo": "•"}


class StepList(QWidget):
    """One line per page; ``show_steps`` marks each done, current or still to do."""

    def __init__(self, steps: list[tuple[int, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Steps")
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Preferred)
        self._labels: dict[int, QLabel] = {}
        self._titles = dict(steps)
        self.states: dict[int, str] = {}
        layout = QVBoxLayout(self)
        spacing = self.fontMetrics().height() // 2
        layout.setContentsMargins(spacing, spacing * 2, spacing, spacing)
        layout.setSpacing(spacing)
        for page_id, title in steps:
            label = QLabel(self)
            label.setAccessibleName(title)
            self._labels[page_id] = label
            layout.addWidget(label)
        layout.addStretch(1)
        widest = max(self.fontMetrics().horizontalAdvance(f"{MARKS['done']}  {t}")
                     for _, t in steps)
        self.setMinimumWidth(widest + spacing * 2)

    def show_steps(self, current: int, done: set[int]) -> None:
        for page_id, label in self._labels.items():
            state = "current" if page_id == current else "done" if page_id in done else "todo"
            self.states[page_id] = state
            title = html.escape(self._titles[page_id])
            mark = MARKS[state]
            if state == "current":
                text = f"<b>{mark}&nbsp;&nbsp;{title}</b>"
            elif state == "done":
                text = (f'<span style="color:{tone("ok").name()}">{mark}</span>'
                        f"&nbsp;&nbsp;{title}")
            else:
                text = (f'<span style="color:{tone("muted").name()}">{mark}&nbsp;&nbsp;'
                        f"{title}</span>")
            label.setText(text)
            label.setToolTip({"current": "You are here", "done": "Done",
                              "todo": "Still to do"}[state])

    def state_of(self, page_id: int) -> str:
        return self.states.get(page_id, "todo")
