"""A policy document shown as a readable JSON diff against what is in the account now.

The Review page's promise is that nothing is a surprise: every statement we add is green, every
one we change shows both versions, and the statements other people put in a shared policy (a
bucket policy, a role's trust) are listed as kept and shown unchanged in full context.
"""

from __future__ import annotations

import difflib
import html
import json
from typing import Any

from PySide6.QtCore import QEvent
from PySide6.QtGui import QSyntaxHighlighter, QTextCharFormat, QTextDocument
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from ui.widgets.common import mono_font, tone
from wizard.changes import Change


def pretty(doc: Any) -> str:
    if doc is None:
        return ""
    if isinstance(doc, str):
        try:
            doc = json.loads(doc)
        except ValueError:
            return doc
    return json.dumps(doc, indent=2, sort_keys=False, default=str)


def statements(doc: Any) -> list[dict[str, Any]]:
    if not isinstance(doc, dict):
        return []
    st = doc.get("Statement", [])
    if isinstance(st, dict):
        st = [st]
    return [s for s in st if isinstance(s, dict)] if isinstance(st, list) else []


def kept_statements(before: Any, after: Any) -> list[str]:
    """Statements present before and identical after: other people's, which apply keeps."""
    after_st = statements(after)
    out = []
    for i, st in enumerate(statements(before)):
        if st in after_st:
            out.append(str(st.get("Sid") or f"statement #{i + 1} (no Sid)"))
    return out


def diff_lines(change: Change) -> list[str]:
    """A full-context unified diff of before/after, or the step's own diff when only it exists."""
    before, after = change.before, change.after
    if isinstance(before, dict | list) or isinstance(after, dict | list):
        a = pretty(before).splitlines()
        b = pretty(after).splitlines()
        if a == b:
            return ["  " + line for line in b]
        return list(difflib.unified_diff(a, b, "now", "after apply", lineterm="", n=100000))
    diff = change.data.get("diff")
    if isinstance(diff, list):
        return [str(x) for x in diff]
    if isinstance(diff, str):
        return diff.splitlines()
    return []


class DiffHighlighter(QSyntaxHighlighter):
    """Colours a unified diff: additions, removals and hunk headers; context stays plain."""

    def __init__(self, document: QTextDocument) -> None:
        super().__init__(document)
        self.refresh()

    def refresh(self) -> None:
        self.add = QTextCharFormat()
        self.add.setForeground(tone("add"))
        self.add.setBackground(tone("add_bg"))
        self.dele = QTextCharFormat()
        self.dele.setForeground(tone("del"))
        self.dele.setBackground(tone("del_bg"))
        self.hunk = QTextCharFormat()
        self.hunk.setForeground(tone("hunk"))
        self.rehighlight()

    def highlightBlock(self, text: str) -> None:
        if text.startswith(("+++", "---", "@@")):
            self.setFormat(0, len(text), self.hunk)
        elif text.startswith("+"):
            self.setFormat(0, len(text), self.add)
        elif text.startswith("-"):
            self.setFormat(0, len(text), self.dele)


class PolicyDiffView(QWidget):
    """Header (what and where, what is kept) above the coloured diff of one Change."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.header = QLabel(self)
        self.header.setWordWrap(True)
        self.kept = QLabel(self)
        self.kept.setWordWrap(True)
        self.kept.hide()
        self.text = QPlainTextEdit(self)
        self.text.setReadOnly(True)
        self.text.setFont(mono_font())
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setAccessibleName("Policy diff")
        self.text.setPlaceholderText("Select a change to see its document.")
        self.highlighter = DiffHighlighter(self.text.document())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.header)
        layout.addWidget(self.kept)
        layout.addWidget(self.text, 1)
        self.show_change(None)

    def changeEvent(self, event: QEvent) -> None:
        """The OS switched between light and dark: recolour the diff to stay readable."""
        if event.type() == QEvent.Type.PaletteChange:
            self.highlighter.refresh()
        super().changeEvent(event)

    def show_change(self, change: Change | None) -> None:
        if change is None:
            self.header.setText("Select a change to see what it does.")
            self.kept.hide()
            self.text.clear()
            return
        self.header.setText(f"<b>{change.action}</b> {html.escape(change.resource)}"
                            + (f"<br>{html.escape(change.summary)}" if change.summary else ""))
        kept = kept_statements(change.before, change.after) if change.action == "update" else []
        if kept:
            self.kept.setText(
                f'<span style="color:{tone("info").name()}">Kept unchanged: '
                + html.escape(", ".join(kept)) + " (shown below without a +/- mark)</span>")
            self.kept.show()
        else:
            self.kept.hide()
        lines = diff_lines(change)
        if not lines:
            lines = ["(no document for this change)"]
        self.text.setPlainText("\n".join(lines))
