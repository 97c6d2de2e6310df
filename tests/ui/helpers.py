"""Driving the wizard in tests: advance page by page, waiting for Next the way a user would."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QWizard

from ui.pages.base import START


def next_enabled(window: QWizard) -> bool:
    return window.button(QWizard.WizardButton.NextButton).isEnabled()


def advance_to(qtbot: Any, window: QWizard, target: int, timeout: int = 5000) -> None:
    """Press Next (when it is enabled) until ``target`` is the current page."""
    guard = 0
    while window.currentId() != target:
        page = window.currentPage()
        qtbot.waitUntil(lambda p=page: p.isComplete(), timeout=timeout)
        current = window.currentId()
        window.next()
        qtbot.waitUntil(lambda c=current: window.currentId() != c, timeout=timeout)
        guard += 1
        assert guard < 10, "never reached the page"


def start_with_example(qtbot: Any, window: QWizard) -> None:
    """From the Start page, pick the (fake) sandbox's example profile."""
    assert window.currentId() == START
    start = window.currentPage()
    start.sandbox.setChecked(True)
    qtbot.waitUntil(lambda: start.isComplete(), timeout=15000)
