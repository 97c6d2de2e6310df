"""A new admin's first hour (issue 16): errors they can act on, every problem listed, a
wizard they can leave at any point, and a step list that says where they are."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any

from PySide6.QtCore import QRect, Qt, QTimer
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox, QWizard

from tests.ui.fakes import CONSUMER, FakeBackend, example_profile
from tests.ui.helpers import advance_to, next_enabled
from tests.ui.test_pages import open_example
from ui.pages.base import ACCESS, ACCOUNTS, APPLY, CONNECTOR, FINISH, QUERY, REVIEW, START
from wizard.changes import Finding
from wizard.errors import NotAwsAnswer, from_exception
from wizard.profile import save_profile


def _log() -> str:
    path = Path(os.environ["XACCT_WIZARD_HOME"]) / "logs" / "xacct-wizard.log"
    return path.read_text(encoding="utf-8") if path.exists() else ""


# ------------------------------------------------------------------------------- review
def test_review_lists_every_problem_with_its_account_and_fix(qtbot: Any,
                                                              make_window: Any) -> None:
    backend = FakeBackend(findings=[
        Finding("error", "GetDataCatalog failed (owner): the catalog is unreadable.\n"
                "Cause: a long explanation that wraps over more than one line of the list "
                "because new admins need to read all of it before they can act on it.",
                "Check the owner credentials.", "catalog-owner", "owner"),
        Finding("error", "The principal does not exist.", "Create it first.", "principal",
                f"consumer:{CONSUMER}"),
        Finding("warning", "The spill bucket has no lifecycle rule.", "Add one.",
                "spill-bucket", "owner"),
    ])
    window, _, _ = open_example(qtbot, make_window, backend, page=ACCESS)
    window.resize(960, 700)
    advance_to(qtbot, window, REVIEW)
    page = window.currentPage()
    qtbot.waitUntil(lambda: page.findings.count() == 3, timeout=15000)
    assert page.status.text().startswith("2 problems must be fixed before Apply")
    texts = [page.findings.item(i).text() for i in range(3)]
    assert texts[0].startswith("ERROR - Owner account A (111111111111): GetDataCatalog")
    assert texts[1].startswith(f"ERROR - Consumer account B ({CONSUMER}): The principal")
    assert texts[2].startswith("WARNING - Owner account A")
    assert [t.rsplit("\n", 1)[-1] for t in texts] == [
        "Fix: Check the owner credentials.", "Fix: Create it first.", "Fix: Add one."]
    # both problems can be read on the page as it opens, without scrolling
    viewport = page.findings.viewport().rect()
    for i in range(2):
        rect: QRect = page.findings.visualItemRect(page.findings.item(i))
        assert viewport.contains(rect), (i, rect, viewport)
    assert not next_enabled(window)


def test_a_web_page_answer_is_shown_translated_and_logged(qtbot: Any,
                                                          make_window: Any) -> None:
    answer = NotAwsAnswer(endpoint="http://127.0.0.1:9", status=404, service="athena",
                          operation="GetDataCatalog",
                          body=b"<!doctype html><title>404 Not Found</title>")
    backend = FakeBackend(plan_error=from_exception(answer, account="owner"))
    window, _, _ = open_example(qtbot, make_window, backend, page=ACCESS)
    advance_to(qtbot, window, REVIEW)
    page = window.currentPage()
    qtbot.waitUntil(lambda: page.error.isVisibleTo(page), timeout=15000)
    shown = page.error.plain
    assert "<" not in shown
    assert "http://127.0.0.1:9 answered with an HTTP 404 web page" in shown
    assert "Fix: Check --endpoint-url" in shown
    errors = [line for line in _log().splitlines() if " ERROR " in line]
    assert any("GUI Review: GetDataCatalog failed (owner): http://127.0.0.1:9" in line
               for line in errors), _log()
    assert "Fix: Check --endpoint-url" in _log()


# ------------------------------------------------------------------------------- leaving
def _answer(button: str, seen: list[str]) -> None:
    """Once the question is up, note what it says and press ``button`` on it."""
    def press() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, press)
            return
        seen.append(f"{box.text()}\n{box.informativeText()}")
        for b in box.buttons():
            if b.text().replace("&", "") == button:
                b.click()
                return
        raise AssertionError(f"no {button!r} button on the question")

    QTimer.singleShot(20, press)


def test_every_page_has_cancel(qtbot: Any, make_window: Any) -> None:
    window, _, _ = open_example(qtbot, make_window, page=START)
    for target in (START, ACCOUNTS, CONNECTOR, ACCESS, REVIEW, APPLY, QUERY, FINISH):
        advance_to(qtbot, window, target)
        cancel = window.button(QWizard.WizardButton.CancelButton)
        assert cancel.isVisible() and cancel.text() == "Cancel", target


def test_escape_during_apply_asks_and_stay_keeps_it_running(qtbot: Any,
                                                            make_window: Any) -> None:
    backend = FakeBackend(step_delay=0.15)
    window, ctx, _ = open_example(qtbot, make_window, backend, page=REVIEW)
    advance_to(qtbot, window, APPLY)
    page = window.currentPage()
    qtbot.waitUntil(lambda: page.step_status("spill-bucket") == "done", timeout=5000)
    seen: list[str] = []
    _answer("Stay", seen)
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert seen, "Escape during Apply must ask"
    assert "Apply is still running" in seen[0]
    assert "applying the same profile again resumes" in seen[0]
    assert window.isVisible() and page.busy
    qtbot.waitUntil(lambda: ctx.state.applied, timeout=10000)  # it carried on to the end
    assert window.isVisible()


def test_cancel_during_apply_quit_stops_the_workers_then_closes(qtbot: Any,
                                                                make_window: Any) -> None:
    backend = FakeBackend(step_delay=0.15)
    window, ctx, _ = open_example(qtbot, make_window, backend, page=REVIEW)
    advance_to(qtbot, window, APPLY)
    page = window.currentPage()
    qtbot.waitUntil(lambda: page.step_status("spill-bucket") == "done", timeout=5000)
    seen: list[str] = []
    _answer("Quit", seen)
    window.button(QWizard.WizardButton.CancelButton).click()
    assert seen and "Apply is still running" in seen[0]
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=10000)
    assert ctx.pool.active == []  # every worker finished before the window closed
    assert not ctx.state.applied  # the run was stopped, not finished
    assert backend.done_steps and "catalog-consumer" not in backend.done_steps


def test_nothing_running_nothing_unsaved_closes_without_asking(qtbot: Any,
                                                               make_window: Any) -> None:
    window, _, _ = open_example(qtbot, make_window, page=CONNECTOR)
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=5000)


def test_unsaved_changes_ask_before_closing(qtbot: Any, make_window: Any) -> None:
    window, ctx, _ = open_example(qtbot, make_window, page=CONNECTOR)
    page = window.currentPage()
    page.catalog.setText("renamedcatalog")
    qtbot.waitUntil(lambda: ctx.state.unsaved, timeout=5000)
    seen: list[str] = []
    _answer("Stay", seen)
    window.close()
    assert seen and "not saved to a profile file" in seen[0]
    assert window.isVisible()


# ------------------------------------------------------------------------------- finish
def test_finish_is_the_last_page_with_a_finish_button_and_no_next(qtbot: Any,
                                                                   make_window: Any) -> None:
    window, _, _ = open_example(qtbot, make_window, page=REVIEW)
    advance_to(qtbot, window, FINISH)
    assert window.currentPage().isFinalPage() or window.currentPage().nextId() == -1
    assert not window.button(QWizard.WizardButton.NextButton).isVisible()
    assert window.button(QWizard.WizardButton.FinishButton).isVisible()


def test_finish_shows_the_command_that_works_with_copy(qtbot: Any, make_window: Any,
                                                       tmp_path: Path) -> None:
    window, _ctx, _ = open_example(qtbot, make_window, page=REVIEW)  # on the sandbox
    advance_to(qtbot, window, FINISH)
    page = window.currentPage()
    assert page.command.text() == "" and not page.copy_button.isEnabled()
    assert "Save the profile first" in page.command.placeholderText()
    out = tmp_path / "my setup.yaml"
    assert page.save_to(out)
    command = page.command.text()
    words = shlex.split(command)
    assert words[-3:] == ["apply", "--sandbox", str(out)]
    assert "`xacct-wizard apply" not in page.saved.plain  # no second, different command
    page.copy_button.click()
    assert QApplication.clipboard().text() == command


def test_finish_command_has_no_sandbox_flag_for_real_accounts(qtbot: Any, make_window: Any,
                                                              tmp_path: Path) -> None:
    path = tmp_path / "real.yaml"
    save_profile(example_profile(), path)
    window, _ctx = make_window(FakeBackend(), profile_path=str(path))
    start = window.currentPage()
    qtbot.waitUntil(lambda: start.isComplete(), timeout=15000)
    advance_to(qtbot, window, FINISH)
    page = window.currentPage()
    assert shlex.split(page.command.text())[-2:] == ["apply", str(path)]


def test_clean_up_is_disabled_when_nothing_is_left(qtbot: Any, make_window: Any,
                                                   monkeypatch: Any) -> None:
    window, _ctx, backend = open_example(qtbot, make_window, page=REVIEW)
    advance_to(qtbot, window, FINISH)  # through Apply: everything exists
    page = window.currentPage()
    qtbot.waitUntil(lambda: not page.busy and page.summary.topLevelItemCount() == 2,
                    timeout=15000)
    assert page.cleanup_button.isEnabled()
    monkeypatch.setattr(QMessageBox, "exec", lambda self: QMessageBox.StandardButton.Yes)
    page.cleanup_button.click()
    qtbot.waitUntil(lambda: backend.destroyed == 1 and not page.busy, timeout=15000)
    assert not page.cleanup_button.isEnabled()
    assert "Nothing to clean up" in page.cleanup_button.toolTip()
    assert page.refresh_button.isEnabled()


def test_save_dialog_opens_where_profiles_live_then_in_the_last_folder(
        qtbot: Any, make_window: Any, tmp_path: Path, monkeypatch: Any) -> None:
    from wizard.paths import profiles_dir

    window, ctx, _ = open_example(qtbot, make_window, page=REVIEW)
    advance_to(qtbot, window, FINISH)
    page = window.currentPage()
    asked: list[str] = []
    chosen = tmp_path / "elsewhere" / "team.yaml"
    chosen.parent.mkdir()

    def dialog(parent: Any, caption: str, where: str, filters: str) -> tuple[str, str]:
        asked.append(where)
        return str(chosen), filters

    monkeypatch.setattr(QFileDialog, "getSaveFileName", dialog)
    page.ask_save()
    assert Path(asked[0]).parent == profiles_dir()
    assert chosen.exists()
    ctx.state.profile_path = None  # a new setup: the dialog opens where the last one went
    page.ask_save()
    assert Path(asked[1]).parent == chosen.parent


# ------------------------------------------------------------------------------- steps
def test_step_list_shows_where_the_admin_is_and_what_is_done(qtbot: Any,
                                                             make_window: Any) -> None:
    window, ctx, _ = open_example(qtbot, make_window, page=START)
    steps = window.steps
    assert window.sideWidget() is steps and steps.isVisible()
    assert steps.state_of(START) == "current" and steps.state_of(FINISH) == "todo"
    advance_to(qtbot, window, CONNECTOR)
    assert [steps.state_of(p) for p in (START, ACCOUNTS, CONNECTOR, ACCESS)] == [
        "done", "done", "current", "todo"]
    window.back()
    assert steps.state_of(ACCOUNTS) == "current" and steps.state_of(CONNECTOR) == "todo"
    advance_to(qtbot, window, APPLY)
    assert steps.state_of(APPLY) == "current"
    qtbot.waitUntil(lambda: ctx.state.applied, timeout=10000)
    advance_to(qtbot, window, QUERY)
    assert steps.state_of(APPLY) == "done" and steps.state_of(QUERY) == "current"
    ctx.state.applied = False  # e.g. cleaned up: the setup no longer exists
    assert steps.state_of(APPLY) == "todo"


# ------------------------------------------------------------------------------- columns
def test_cut_text_is_elided_in_the_middle_with_the_full_text_in_a_tooltip(
        qtbot: Any, make_window: Any) -> None:
    window, _, _ = open_example(qtbot, make_window, page=REVIEW)
    window.resize(800, 600)
    review = window.currentPage()
    qtbot.waitUntil(lambda: review.tree.topLevelItemCount() == 2, timeout=15000)
    assert review.tree.textElideMode() == Qt.TextElideMode.ElideMiddle
    for group in range(2):
        parent = review.tree.topLevelItem(group)
        for i in range(parent.childCount()):
            item = parent.child(i)
            assert item.toolTip(1) == item.text(1) and item.toolTip(2) == item.text(2)
    advance_to(qtbot, window, APPLY)
    apply = window.currentPage()
    qtbot.waitUntil(lambda: apply.stack_events.count() >= 1, timeout=10000)
    assert apply.stack_events.textElideMode() == Qt.TextElideMode.ElideMiddle
    event = apply.stack_events.item(0)
    assert event.toolTip() == event.text() == "ConnectorConfig CREATE_COMPLETE"


# ------------------------------------------------------------------------------- keyring
def test_keyring_unavailable_is_said_on_the_page_with_the_fix(qtbot: Any,
                                                              make_window: Any) -> None:
    from wizard.errors import KeyringUnavailable

    backend = FakeBackend(keyring_error=KeyringUnavailable(
        "No OS keyring is available to keep access keys safely.",
        fix="Use an AWS named profile instead, or start a Secret Service such as "
            "gnome-keyring."))
    window, _, _ = open_example(qtbot, make_window, backend, page=ACCOUNTS)
    owner = window.currentPage().owner
    assert not owner.use_keyring.isEnabled()
    assert owner.keyring_note.isVisibleTo(window)
    note = owner.keyring_note.plain
    assert "No OS keyring is available" in note
    assert "Fix: Use an AWS named profile instead, or start a Secret Service" in note
