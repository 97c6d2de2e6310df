"""The Finish page's Export…: asks for a format and a folder, exports in a worker, and shows
the files written and the bucket-policy warning (the export itself: tests/sandbox/test_export)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QFileDialog, QInputDialog

from tests.ui.fakes import FakeBackend
from tests.ui.helpers import advance_to
from ui.pages.base import FINISH, REVIEW
from wizard.export import BUCKET_POLICY_WARNING, ExportResult


@dataclass
class ExportingBackend(FakeBackend):
    exports: list[tuple[str, Path, str, str]] = field(default_factory=list)

    def export(self, engine: Any, fmt: str, out: Path, profile_name: str) -> ExportResult:
        self.exports.append((fmt, out, profile_name, threading.current_thread().name))
        out.mkdir(parents=True, exist_ok=True)
        path = out / "setup.sh"
        path.write_text("#!/usr/bin/env bash\n", encoding="utf-8")
        return ExportResult(fmt, [path], [BUCKET_POLICY_WARNING])


def test_export_button_asks_format_and_folder_and_exports_off_the_gui_thread(
        qtbot: Any, make_window: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = ExportingBackend()
    window, _ctx = make_window(backend, sandbox=True)
    start = window.currentPage()
    qtbot.waitUntil(lambda: start.isComplete(), timeout=15000)
    advance_to(qtbot, window, REVIEW)
    advance_to(qtbot, window, FINISH)
    page = window.currentPage()
    qtbot.waitUntil(lambda: not page.busy, timeout=15000)
    monkeypatch.setattr(QInputDialog, "getItem",
                        staticmethod(lambda *a, **k: ("AWS CLI script", True)))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory",
                        staticmethod(lambda *a, **k: str(tmp_path / "iac")))
    page.export_button.click()
    qtbot.waitUntil(lambda: bool(backend.exports) and not page.busy, timeout=15000)
    fmt, out, name, thread = backend.exports[0]
    assert (fmt, out) == ("cli", tmp_path / "iac")
    assert "yaml" in name and "/" not in name  # the profile by name, never a path
    assert thread != threading.main_thread().name
    qtbot.waitUntil(lambda: "setup.sh" in page.exported.plain, timeout=5000)
    assert "WHOLE bucket policy" in page.exported.plain
    assert page.export_button.isEnabled()

    # cancelling the format question exports nothing
    monkeypatch.setattr(QInputDialog, "getItem", staticmethod(lambda *a, **k: ("", False)))
    page.export_button.click()
    assert len(backend.exports) == 1
