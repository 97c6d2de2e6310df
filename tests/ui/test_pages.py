"""Each page: its fields, inline validation messages, and when Next is allowed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QDialog, QInputDialog, QLineEdit, QMessageBox

from tests.ui.fakes import CONSUMER, OWNER, FakeBackend, example_profile
from tests.ui.helpers import advance_to, next_enabled
from ui.pages.base import ACCESS, ACCOUNTS, APPLY, CONNECTOR, FINISH, QUERY, REVIEW, START
from ui.settings import GuiSettings
from ui.widgets.account_side import StoreKeysDialog
from ui.widgets.common import tone
from wizard.changes import Finding
from wizard.profile import CredentialRef, load_profile, save_profile


def open_example(qtbot: Any, make_window: Any, backend: FakeBackend | None = None,
                 page: int = ACCOUNTS) -> tuple[Any, Any, FakeBackend]:
    backend = backend or FakeBackend()
    window, ctx = make_window(backend, sandbox=True)
    start = window.currentPage()
    qtbot.waitUntil(lambda: start.isComplete(), timeout=15000)
    advance_to(qtbot, window, page)
    return window, ctx, backend


# ------------------------------------------------------------------------------- start
def test_start_page_defaults_to_a_new_setup(qtbot: Any, make_window: Any) -> None:
    window, ctx = make_window(FakeBackend())
    page = window.currentPage()
    assert window.currentId() == START
    assert page.new.isChecked()
    assert next_enabled(window)
    window.next()
    assert window.currentId() == ACCOUNTS
    assert ctx.state.profile.owner.account_id == ""
    page = window.currentPage()
    # a fresh page shows no red; Next reveals what is missing and does not go further
    assert page.owner.account_msg.plain == "" and page.consumer.cred_msg.plain == ""
    window.next()
    assert window.currentId() == ACCOUNTS, "a blank setup cannot go further"
    assert page.owner.account_msg.plain and page.consumer.account_msg.plain
    assert not next_enabled(window)


def test_start_page_opens_recent_profiles_and_rejects_broken_ones(
        qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    save_profile(example_profile(), good)
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nregion: mars-north-9\n")
    settings = GuiSettings(recent=[str(good), str(bad)], last_profile=str(good))
    window, ctx = make_window(FakeBackend(), settings=settings)
    page = window.currentPage()
    assert page.open.isChecked()
    assert page.recent.count() == 2
    qtbot.waitUntil(lambda: next_enabled(window), timeout=15000)
    page.recent.setCurrentRow(1)
    qtbot.waitUntil(lambda: "cannot be used" in page.open_msg.plain, timeout=15000)
    assert page.open_msg.isVisibleTo(page) and "region" in page.open_msg.plain
    assert not next_enabled(window)
    page.recent.setCurrentRow(0)
    qtbot.waitUntil(lambda: next_enabled(window), timeout=15000)
    window.next()
    assert ctx.state.profile_path == good
    assert ctx.state.profile.owner.account_id == OWNER


def test_start_page_highlights_the_file_given_on_the_command_line(
        qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    first, second = tmp_path / "first.yaml", tmp_path / "second.yaml"
    save_profile(example_profile(), first)
    other = example_profile()
    other.connector.catalog_name = "second"
    other.consumers[0].catalog_name = "second"
    save_profile(other, second)
    settings = GuiSettings(recent=[str(first), str(second)], last_profile=str(first))
    window, ctx = make_window(FakeBackend(), settings=settings, profile_path=str(second))
    page = window.currentPage()
    assert page.recent.currentRow() == 1
    assert [i.text() for i in page.recent.selectedItems()] == ["second.yaml"]
    qtbot.waitUntil(lambda: next_enabled(window), timeout=15000)
    window.grab().save("/tmp/gui17-start.png")
    window.next()
    assert ctx.state.profile_path == second
    assert ctx.state.profile.connector.catalog_name == "second"
    # a file not in the list: nothing highlighted
    third = tmp_path / "third.yaml"
    save_profile(example_profile(), third)
    window2, _ = make_window(FakeBackend(), settings=GuiSettings(
        recent=[str(first)], last_profile=str(first)), profile_path=str(third))
    assert window2.currentPage().recent.selectedItems() == []


def test_start_page_sandbox_failure_is_shown_and_blocks_next(
        qtbot: Any, make_window: Any) -> None:
    window, _ = make_window(FakeBackend())  # FakeBackend.start_sandbox raises
    page = window.currentPage()
    page.sandbox.setChecked(True)
    qtbot.waitUntil(lambda: page.sandbox_msg.plain != "", timeout=15000)
    assert "could not start" in page.sandbox_msg.plain
    assert not next_enabled(window)


# ------------------------------------------------------------------------------- accounts
def test_accounts_page_validates_inline_and_checks_identities(
        qtbot: Any, make_window: Any) -> None:
    window, ctx = make_window(FakeBackend())
    window.next()
    page = window.currentPage()
    assert window.currentId() == ACCOUNTS
    qtbot.keyClicks(page.owner.account, "12345")
    assert "12" in page.owner.account_msg.plain  # too short: the engine's message
    assert not next_enabled(window)
    page.owner.account.clear()
    qtbot.keyClicks(page.owner.account, OWNER)
    page.owner.profile.setCurrentIndex(page.owner.profile.findData("owner-admin"))
    qtbot.keyClicks(page.consumer.account, OWNER)
    page.consumer.profile.setCurrentIndex(page.consumer.profile.findData("consumer-admin"))
    assert "owner" in page.consumer.account_msg.plain  # owner == consumer refused inline
    assert not next_enabled(window)
    page.consumer.account.clear()
    qtbot.keyClicks(page.consumer.account, CONSUMER)
    assert page.consumer.account_msg.plain == ""
    assert next_enabled(window)
    # SSO marked in the picker
    assert "SSO" in page.consumer.profile.itemText(page.consumer.profile.findData(
        "consumer-admin"))
    qtbot.mouseClick(page.owner.check_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.owner.check_state == "ok", timeout=15000)
    assert OWNER in page.owner.badge.toolTip() and "arn:aws:iam::" in page.owner.badge.toolTip()
    # credentials of the wrong account: the badge says so and Next is held
    page.consumer.profile.setCurrentIndex(page.consumer.profile.findData("owner-admin"))
    page.consumer.check()
    qtbot.waitUntil(lambda: page.consumer.check_state == "error", timeout=15000)
    assert "belong to account 111111111111" in page.consumer.badge.toolTip()
    assert not next_enabled(window)
    assert ctx.state.profile.consumers[0].credentials.profile == "owner-admin"


def test_accounts_page_next_checks_unchecked_sides_and_waits_for_both(
        qtbot: Any, make_window: Any) -> None:
    backend = FakeBackend()
    window, _ = make_window(backend)
    window.next()
    page = window.currentPage()
    height = page.owner.account.y(), page.owner.profile.y()
    qtbot.keyClicks(page.owner.account, "12345")
    assert page.owner.account_msg.plain and page.consumer.account_msg.plain == ""
    assert page.owner.profile.y() == height[1]  # the message took its reserved lines
    window.grab().save("/tmp/gui17-accounts-error.png")
    page.owner.account.clear()
    qtbot.keyClicks(page.owner.account, OWNER)
    page.owner.profile.setCurrentIndex(page.owner.profile.findData("owner-admin"))
    qtbot.keyClicks(page.consumer.account, CONSUMER)
    # the consumer side uses the owner's credentials: unchecked, so Next is offered
    page.consumer.profile.setCurrentIndex(page.consumer.profile.findData("owner-admin"))
    assert page.consumer.check_state == "none" and next_enabled(window)
    backend.checks.clear()
    window.next()  # checks both sides on a worker instead of going on
    assert window.currentId() == ACCOUNTS
    qtbot.waitUntil(lambda: page.consumer.check_state == "error", timeout=15000)
    assert set(backend.checks) == {"owner-admin"}  # both sides checked with what they use
    assert "belong to account 111111111111" in page.consumer.badge.toolTip()
    assert window.currentId() == ACCOUNTS and not next_enabled(window)
    # fixed: Next checks the side again and goes on by itself once both pass
    page.consumer.profile.setCurrentIndex(page.consumer.profile.findData("consumer-admin"))
    assert next_enabled(window)
    window.next()
    qtbot.waitUntil(lambda: window.currentId() == CONNECTOR, timeout=15000)
    assert "consumer-admin" in backend.checks
    # messages reserve their line: the fields did not move when they came and went
    assert (page.owner.account.y(), page.owner.profile.y()) == height


def test_accounts_page_sso_sign_in_shows_the_code_and_checks_again(
        qtbot: Any, make_window: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from PySide6.QtGui import QDesktopServices

    opened: list[str] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toString()))
    backend = FakeBackend()
    del backend.identities["consumer-admin"]  # the SSO login has expired
    window, _, _ = open_example(qtbot, make_window, backend)
    page = window.currentPage()
    side = page.consumer
    qtbot.waitUntil(lambda: side.check_state == "error", timeout=15000)
    assert side.sign_in_button.isVisibleTo(page)  # consumer-admin is an SSO profile
    assert not page.owner.sign_in_button.isVisibleTo(page)  # owner-admin uses keys
    # cancelled: polling stops, nothing signed in
    qtbot.mouseClick(side.sign_in_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "WXYZ-1234" in side.sign_in_msg.text(), timeout=15000)
    window.grab().save("/tmp/gui17-accounts-sso-code.png")
    assert page.cross_msg.plain == ""  # signing in: no stale "fix the credentials" hint
    assert not side.check_button.isEnabled()
    assert opened == ["https://device.sso.us-east-1.amazonaws.com/?user_code=WXYZ-1234"]
    assert side.sign_in_cancel.isVisibleTo(page) and not next_enabled(window)
    qtbot.mouseClick(side.sign_in_cancel, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: side.check_state == "error", timeout=15000)
    assert "cancelled" in side.badge.toolTip()
    # approved: the side is checked again by itself and Next goes on
    qtbot.mouseClick(side.sign_in_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "WXYZ-1234" in side.sign_in_msg.text(), timeout=15000)
    backend.sso_approved.set()
    qtbot.waitUntil(lambda: side.check_state == "ok", timeout=15000)
    assert backend.sso_sign_ins == ["consumer-admin", "consumer-admin"]
    assert CONSUMER in side.badge.toolTip() and next_enabled(window)
    window.grab().save("/tmp/gui17-accounts-sso.png")


def test_accounts_page_warns_about_a_profile_in_another_region(
        qtbot: Any, make_window: Any) -> None:
    window, _, _ = open_example(qtbot, make_window)
    page = window.currentPage()
    page.owner.profile.setCurrentIndex(page.owner.profile.findData("paris"))
    assert "eu-west-3" in page.owner.cred_msg.plain
    page.region.setCurrentText("eu-west-3")
    assert page.owner.cred_msg.plain == ""
    page.region.setCurrentText("moon-1")
    assert "region" in page.region_msg.plain.lower() or page.region_msg.plain
    assert not next_enabled(window)


def test_accounts_page_loaded_profile_is_checked_at_once(qtbot: Any, make_window: Any) -> None:
    window, _, backend = open_example(qtbot, make_window)
    page = window.currentPage()
    qtbot.waitUntil(lambda: page.owner.check_state == "ok"
                    and page.consumer.check_state == "ok", timeout=15000)
    assert {"owner-admin", "consumer-admin"} <= set(backend.checks)
    assert next_enabled(window)


def test_mfa_code_is_asked_in_a_dialog(qtbot: Any, make_window: Any) -> None:
    window, _, _ = open_example(qtbot, make_window)
    page = window.currentPage()
    page.owner.profile.setCurrentIndex(page.owner.profile.findData("mfa-admin"))
    assert "MFA" in page.owner.profile.currentText()
    answered: list[str] = []

    def answer() -> None:
        for w in QApplication.topLevelWidgets():
            if isinstance(w, QInputDialog) and w.isVisible():
                answered.append(w.labelText())
                w.setTextValue("123456")
                w.accept()
                return
        QTimer.singleShot(20, answer)

    QTimer.singleShot(20, answer)
    page.owner.check()
    qtbot.waitUntil(lambda: page.owner.check_state == "ok", timeout=5000)
    assert answered and "MFA" in answered[0]


def test_store_new_keys_masks_the_secret_and_never_shows_it_again(
        qtbot: Any, make_window: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = FakeBackend()
    window, _, _ = open_example(qtbot, make_window, backend)
    page = window.currentPage()
    side = page.owner
    side.use_keyring.setChecked(True)
    assert side.store_new.isEnabled()
    seen: dict[str, Any] = {}

    def fake_exec(dialog: StoreKeysDialog) -> int:
        seen["echo"] = dialog.secret.echoMode()
        dialog.name.setText("owner-keys")
        dialog.key_id.setText("AKIAIOSFODNN7EXAMPLE")
        dialog.secret.setText("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
        dialog._accept()
        seen["dialog"] = dialog
        return dialog.result()

    original_take = StoreKeysDialog.take

    def take(dialog: StoreKeysDialog) -> tuple[str, str, str, str]:
        out = original_take(dialog)
        seen["after_take"] = dialog.secret.text()
        return out

    monkeypatch.setattr(StoreKeysDialog, "exec", fake_exec)
    monkeypatch.setattr(StoreKeysDialog, "take", take)
    side.store_new.click()
    qtbot.waitUntil(lambda: side.keyring.currentData() == "owner-keys", timeout=15000)
    assert seen["echo"] == QLineEdit.EchoMode.Password
    assert seen["after_take"] == ""  # wiped as soon as it is handed over
    assert backend.stored == [("owner-keys", "AKIAIOSFODNN7EXAMPLE")]
    assert window.ctx.state.profile.owner.credentials.keyring == "owner-keys"
    assert "EXAMPLEKEY" not in json.dumps(window.ctx.state.snapshot())


def test_store_keys_dialog_requires_both_keys(qtbot: Any) -> None:
    dialog = StoreKeysDialog(None, "x")
    qtbot.addWidget(dialog)
    dialog.key_id.setText("AKIA")
    dialog._accept()
    assert dialog.result() != QDialog.DialogCode.Accepted
    assert "secret" in dialog.message.plain


# ------------------------------------------------------------------------------- connector
def test_connector_page_versions_newest_first_and_inline_validation(
        qtbot: Any, make_window: Any) -> None:
    window, ctx, _ = open_example(qtbot, make_window, page=CONNECTOR)
    page = window.currentPage()
    qtbot.waitUntil(lambda: page.version.count() > 1, timeout=15000)
    assert page.version.currentData() == "latest"
    assert "2026.33.1" in page.version.currentText()
    assert page.version.itemData(1) == "2026.33.1"
    qtbot.waitUntil(lambda: page.bucket.count() == 2, timeout=15000)
    assert next_enabled(window)
    page.catalog.setText("Bad Name!")
    # said in words with an example, not as the template's raw pattern
    assert "lowercase letters, digits" in page.catalog_msg.plain
    assert "e.g. acct1dynamodb" in page.catalog_msg.plain
    assert "^" not in page.catalog_msg.plain and "{1,64}" not in page.catalog_msg.plain
    assert not next_enabled(window)
    page.catalog.setText("acct1dynamodb")
    assert next_enabled(window)
    page.bucket.setEditText("UPPER_case")
    assert page.bucket_msg.plain
    assert not next_enabled(window)
    page.bucket.setCurrentIndex(1)
    assert ctx.state.profile.connector.spill_bucket == "other-bucket"
    assert next_enabled(window)
    page.version.setCurrentIndex(2)
    assert ctx.state.profile.connector.application_version == "2026.20.0"
    page.existing.setChecked(True)
    page.function.setEditText("arn:aws:lambda:eu-west-1:111111111111:function:x")
    assert "region" in page.function_msg.plain
    assert not next_enabled(window)
    page.function.setEditText("arn:aws:lambda:us-east-1:111111111111:function:x")
    assert next_enabled(window)
    assert ctx.state.profile.connector.existing_function_arn.endswith(":function:x")
    page.memory.setValue(99999)
    assert page.memory.value() == 3008


def test_connector_page_keeps_the_versions_across_back_and_next(
        qtbot: Any, make_window: Any) -> None:
    window, ctx, _ = open_example(qtbot, make_window, page=CONNECTOR)
    page = window.currentPage()
    qtbot.waitUntil(lambda: page.version.count() == 4, timeout=15000)
    page.version.setCurrentIndex(page.version.findData("2026.20.0"))
    window.back()
    assert window.currentId() == ACCOUNTS
    advance_to(qtbot, window, CONNECTOR)
    # still every version, the pinned one chosen, and the count matches the list
    assert [page.version.itemData(i) for i in range(page.version.count())] == [
        "latest", "2026.33.1", "2026.20.0", "2025.48.2"]
    assert page.version.currentData() == "2026.20.0"
    assert page.version_status.text() == "3 versions"
    assert ctx.state.profile.connector.application_version == "2026.20.0"
    window.grab().save("/tmp/gui17-connector.png")


# ------------------------------------------------------------------------------- access
def test_access_page_principal_picker_and_consumers(qtbot: Any, make_window: Any) -> None:
    window, ctx, _ = open_example(qtbot, make_window, page=ACCESS)
    page = window.currentPage()
    qtbot.waitUntil(lambda: page.principal.count() == 2, timeout=15000)
    assert "user" in page.principal_status.text()
    assert next_enabled(window)
    page.principal.setEditText("arn:aws:iam::999999999999:user/analyst")
    assert "account" in page.principal_msg.plain
    assert not next_enabled(window)
    page.principal.setCurrentIndex(1)  # the role
    assert ctx.state.profile.consumers[0].principal_arn.endswith(":role/DataReader")
    assert next_enabled(window)
    assert page.query_as.currentText() == "profile analyst"  # the example's query_credentials
    page.query_as.setCurrentIndex(0)  # assume the role: fine for a role
    assert page.query_as_msg.plain == ""
    page.principal.setCurrentIndex(0)  # a user with no query credentials: held here
    assert "user" in page.query_as_msg.plain and not next_enabled(window)
    page.query_as.setCurrentIndex(page.query_as.findData("profile:analyst"))
    qtbot.waitUntil(lambda: next_enabled(window), timeout=15000)
    page.results.setText("not-an-s3-uri")
    assert page.results_msg.plain
    assert not next_enabled(window)
    page.results.setText("s3://results-b/queries/")
    # add a second consumer: its own account side; Next waits until it is complete
    page.add.click()
    assert page.list.count() == 2 and page.side.isVisible()
    assert not next_enabled(window)
    qtbot.keyClicks(page.side.account, "333333333333")
    page.side.profile.setCurrentIndex(page.side.profile.findData("analyst"))
    page.principal.setEditText("arn:aws:iam::333333333333:role/Reader")
    page.results.setText("s3://results-c/q/")
    assert next_enabled(window), [str(p) for p in page._problems]
    assert ctx.state.profile.consumers[1].account_id == "333333333333"
    # consumer 1's user principal loses its query credentials: Next is held on consumer 2 too
    ctx.state.profile.consumers[0].query_credentials = None
    page.refresh()
    assert not next_enabled(window)
    ctx.state.profile.consumers[0].query_credentials = CredentialRef(profile="analyst")
    page.refresh()
    qtbot.waitUntil(lambda: next_enabled(window), timeout=15000)
    page.remove.click()
    assert page.list.count() == 1 and len(ctx.state.profile.consumers) == 1


def test_access_page_offers_principals_only_of_the_declared_account(
        qtbot: Any, make_window: Any) -> None:
    backend = FakeBackend()
    window, _, _ = open_example(qtbot, make_window, backend, page=CONNECTOR)
    # the consumer's credentials now answer for the owner's account (a changed AWS config)
    backend.identities["consumer-admin"] = OWNER
    advance_to(qtbot, window, ACCESS)
    page = window.currentPage()
    qtbot.waitUntil(lambda: "could not list" in page.principal_status.text(), timeout=15000)
    assert page.principal.count() == 0  # no principal of another account is ever offered
    assert "belong to account 111111111111" in page.principal_status.text()


def test_access_page_checks_a_user_principals_query_credentials(
        qtbot: Any, make_window: Any) -> None:
    window, ctx, _ = open_example(qtbot, make_window, page=ACCESS)
    page = window.currentPage()
    qtbot.waitUntil(lambda: page.query_as_msg.plain.startswith("✓"), timeout=15000)
    assert "user/analyst" in page.query_as_msg.plain and next_enabled(window)
    # the keys of someone else: their ARN is not the principal, Next is held
    page.query_as.setCurrentIndex(page.query_as.findData("profile:consumer-admin"))
    qtbot.waitUntil(lambda: "not the principal" in page.query_as_msg.plain, timeout=15000)
    assert not next_enabled(window)
    window.grab().save("/tmp/gui17-access.png")
    # keys of another account: refused with the account named
    page.query_as.setCurrentIndex(page.query_as.findData("profile:owner-admin"))
    qtbot.waitUntil(lambda: "belong to account 111111111111" in page.query_as_msg.plain,
                    timeout=15000)
    assert not next_enabled(window)
    page.query_as.setCurrentIndex(page.query_as.findData("profile:analyst"))
    qtbot.waitUntil(lambda: next_enabled(window), timeout=15000)
    assert ctx.state.profile.consumers[0].query_credentials.profile == "analyst"


# ------------------------------------------------------------------------------- review
def test_review_page_groups_changes_and_shows_kept_statements(
        qtbot: Any, make_window: Any) -> None:
    window, _, _ = open_example(qtbot, make_window, page=REVIEW)
    page = window.currentPage()
    qtbot.waitUntil(lambda: page.tree.topLevelItemCount() == 2, timeout=15000)
    owner = page.tree.topLevelItem(0)
    assert owner.text(0).startswith("Owner account A (111111111111)")
    assert page.tree.topLevelItem(1).text(0).startswith("Consumer account B (222222222222)")
    actions = [owner.child(i).text(0) for i in range(owner.childCount())]
    assert actions == ["+ create", "~ update"]
    # the first change with a document is selected: the bucket policy
    assert "bucket policy" in page.diff.header.text()
    assert page.diff.kept.isVisibleTo(page) and "OtherTeamRead" in page.diff.kept.text()
    text = page.diff.text.toPlainText()
    assert '+      "Sid": "XacctSpill222222222222"' in text
    assert '       "Sid": "OtherTeamRead"' in text  # context: kept, no +/- mark
    assert page.status.text() == "3 changes to make, 0 already in place."
    qtbot.waitUntil(lambda: next_enabled(window), timeout=15000)
    assert window.button(window.WizardButton.NextButton).text().replace("&", "") == "Apply >"


def test_review_page_blocking_finding_holds_next(qtbot: Any, make_window: Any) -> None:
    backend = FakeBackend(findings=[Finding("error", "The principal does not exist.",
                                            "Create it first.", "principal")])
    window, _, _ = open_example(qtbot, make_window, backend, page=ACCESS)
    advance_to(qtbot, window, REVIEW)
    page = window.currentPage()
    qtbot.waitUntil(lambda: page.findings.count() == 1, timeout=15000)
    assert "ERROR: The principal does not exist." in page.findings.item(0).text()
    assert "must be fixed" in page.status.text()
    assert not next_enabled(window)


# ------------------------------------------------------------------------------- apply
def test_apply_page_statuses_progress_and_redacted_log(qtbot: Any, make_window: Any) -> None:
    window, ctx, _backend = open_example(qtbot, make_window, page=REVIEW)
    advance_to(qtbot, window, APPLY)
    page = window.currentPage()
    qtbot.waitUntil(lambda: ctx.state.applied, timeout=5000)
    assert all(page.step_status(s) == "done" for s in page._rows)
    assert page.steps.topLevelItemCount() == 9
    assert page.progress.value() == 100
    assert "ConnectorConfig CREATE_COMPLETE" in page.stack_events.item(0).text()
    log = page.log.text()
    assert "abcdEFGH1234" not in log and "secret_access_key=****" in log
    qtbot.waitUntil(lambda: next_enabled(window), timeout=15000)


def test_apply_page_cancel_stops_and_retry_resumes(qtbot: Any, make_window: Any) -> None:
    backend = FakeBackend(step_delay=0.05)
    window, ctx, _ = open_example(qtbot, make_window, backend, page=REVIEW)
    advance_to(qtbot, window, APPLY)
    page = window.currentPage()
    qtbot.waitUntil(lambda: page.step_status("connector") == "done", timeout=5000)
    assert not next_enabled(window)
    assert not window.button(window.WizardButton.BackButton).isEnabled()
    page.cancel.click()
    qtbot.waitUntil(lambda: page.failure.isVisible(), timeout=5000)
    assert "Cancelled" in page.status.text()
    assert not ctx.state.applied
    done_before = set(backend.done_steps)
    page.retry.click()
    qtbot.waitUntil(lambda: ctx.state.applied, timeout=5000)
    assert done_before < backend.done_steps


# ------------------------------------------------------------------------------- query
def test_query_page_runs_the_test_query_and_shows_stats(qtbot: Any, make_window: Any,
                                                       tmp_path: Path) -> None:
    window, ctx, _ = open_example(qtbot, make_window, page=REVIEW)
    advance_to(qtbot, window, QUERY)
    page = window.currentPage()
    assert page.sql.toPlainText() == ctx.state.profile.effective_test_query
    qtbot.waitUntil(lambda: page.model.complete and page.model.loaded == 10, timeout=15000)
    assert page.state_label.text() == "SUCCEEDED"
    assert page.query_id.text() == "qid-0123456789abcdef"
    assert page.scanned.text() == "2.00 KB"
    assert page.cost.text() == "$0.000048"
    assert page.model.headerData(0, Qt.Orientation.Horizontal) == "artist"
    assert page.model.data(page.model.index(0, 2)) == "NULL"
    assert page.rows_label.text() == "10 rows"
    out = tmp_path / "rows.csv"
    page.export_to(out)
    qtbot.waitUntil(lambda: page.export_path == out, timeout=15000)
    lines = out.read_text().splitlines()
    assert lines[0] == "artist,songtitle,albumtitle" and len(lines) == 11


def test_query_page_failure_shows_cause_and_fix(qtbot: Any, make_window: Any) -> None:
    window, _, backend = open_example(qtbot, make_window, page=REVIEW)
    backend.query_state = "FAILED"
    advance_to(qtbot, window, QUERY)
    page = window.currentPage()
    qtbot.waitUntil(lambda: page.state_label.text() == "FAILED", timeout=15000)
    assert "Catalog 'nope' does not exist" in page.error.plain
    assert "Cause: The data catalog is not registered" in page.error.plain
    page.sql.setPlainText("   ")
    page.run_query()
    assert "must not be empty" in page.error.plain


def test_query_page_cancel(qtbot: Any, make_window: Any) -> None:
    window, _, backend = open_example(qtbot, make_window, page=REVIEW)
    backend.query_delay = 5.0
    advance_to(qtbot, window, QUERY)
    page = window.currentPage()
    qtbot.waitUntil(lambda: page.query_id.text().startswith("qid"), timeout=15000)
    assert page.cancel_button.isEnabled()
    page.cancel_button.click()
    qtbot.waitUntil(lambda: page.state_label.text() == "CANCELLED", timeout=15000)
    assert page.run_button.isEnabled()


# ------------------------------------------------------------------------------- finish
def test_finish_page_saves_the_profile_and_cleans_up(qtbot: Any, make_window: Any,
                                                    tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    window, ctx, backend = open_example(qtbot, make_window, page=REVIEW)
    advance_to(qtbot, window, FINISH)
    page = window.currentPage()
    qtbot.waitUntil(lambda: page.summary.topLevelItemCount() == 2, timeout=15000)
    assert "3 of 3 resources" in page.status.text()
    owner = page.summary.topLevelItem(0)
    assert owner.child(0).text(1) == "exists"
    link = page.summary.itemWidget(owner.child(0), 2)
    assert "cloudformation/home?region=us-east-1" in link.text()
    out = tmp_path / "saved.yaml"
    assert page.save_to(out)
    assert load_profile(out) == ctx.state.profile
    assert ctx.settings.last_profile == str(out.resolve())
    monkeypatch.setattr(QMessageBox, "exec", lambda self: QMessageBox.StandardButton.Yes)
    page.cleanup_button.click()
    qtbot.waitUntil(lambda: backend.destroyed == 1 and not page.busy, timeout=5000)
    qtbot.waitUntil(lambda: page.summary.topLevelItemCount() == 2 and page.summary
                    .topLevelItem(0).child(0).text(1) == "not there", timeout=15000)
    assert "clean up: done" in page.log.text()
    # the spill bucket's policy is back as it was: restored, not "exists, differs"
    owner = page.summary.topLevelItem(0)
    rows = {owner.child(i).text(0): owner.child(i) for i in range(owner.childCount())}
    policy = rows["s3://spill-a (bucket policy)"]
    assert policy.text(1) == "restored as before"
    assert policy.foreground(1).color() == tone("ok")
    assert "0 of 3 resources" in page.status.text()
    window.grab().save("/tmp/gui17-finish.png")


def test_the_edited_test_query_is_saved_in_the_profile(qtbot: Any, make_window: Any,
                                                       tmp_path: Path) -> None:
    window, _, _ = open_example(qtbot, make_window, page=QUERY)
    page = window.currentPage()
    default = page.sql.toPlainText()
    assert default.strip()
    edited = 'SELECT artist FROM "acct1dynamodb"."default"."music" LIMIT 5'
    page.sql.setPlainText(edited)
    advance_to(qtbot, window, FINISH)
    out = tmp_path / "saved.yaml"
    assert window.currentPage().save_to(out)
    assert load_profile(out).test_query == edited
    # the default query is saved as no key at all (the default then follows the catalog)
    window.back()
    page.sql.setPlainText(default)
    advance_to(qtbot, window, FINISH)
    assert window.currentPage().save_to(out)
    assert load_profile(out).test_query == ""
    assert "test_query" not in out.read_text()


def test_finish_page_refuses_to_save_an_invalid_profile(qtbot: Any, make_window: Any,
                                                       tmp_path: Path) -> None:
    window, ctx, _ = open_example(qtbot, make_window, page=REVIEW)
    advance_to(qtbot, window, FINISH)
    page = window.currentPage()
    ctx.state.profile.region = "nowhere"
    assert not page.save_to(tmp_path / "x.yaml")
    assert "Not saved" in page.saved.plain and not (tmp_path / "x.yaml").exists()


# ------------------------------------------------------------------------------- window
def test_window_geometry_and_last_profile_are_remembered(qtbot: Any, make_window: Any,
                                                        tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    save_profile(example_profile(), path)
    window, _ctx = make_window(FakeBackend(), profile_path=str(path))
    window.resize(790, 560)  # within the offscreen screen (800x600), above the minimum
    size = window.size()
    start = window.currentPage()
    assert start.open.isChecked()
    qtbot.waitUntil(lambda: start.isComplete(), timeout=15000)
    window.next()
    window.close()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=15000)
    again = GuiSettings.load()
    assert again.last_profile == str(path.resolve())
    assert again.geometry
    window2, _ = make_window(FakeBackend(), settings=again)
    assert window2.size() == size
    assert window2.currentPage().open.isChecked()


def test_keyboard_only_navigation(qtbot: Any, make_window: Any) -> None:
    window, _, _ = open_example(qtbot, make_window, page=START)
    page = window.currentPage()
    qtbot.waitUntil(lambda: page.isComplete(), timeout=15000)
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(lambda: window.currentId() == ACCOUNTS, timeout=15000)
    accounts = window.currentPage()
    accounts.region.setFocus()
    qtbot.keyClick(accounts.region, Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is accounts.owner.account


def test_query_page_100k_rows_are_paged_lazily(qtbot: Any, make_window: Any) -> None:
    backend = FakeBackend(rows=100_000, page_size=1000)
    window, _, _ = open_example(qtbot, make_window, backend, page=REVIEW)
    advance_to(qtbot, window, QUERY)
    page = window.currentPage()
    qtbot.waitUntil(lambda: page.model.loaded > 0, timeout=15000)
    qtbot.wait(200)
    # one page shown in part, at most one more read ahead - not 100 000 rows
    assert page.model.loaded <= 1000
    assert page.model.received <= 2000
    assert backend.pages_served <= 2
    assert "scroll for more" in page.rows_label.text()
    for _ in range(6):  # the user scrolls to the end a few times
        before = page.model.loaded
        page.view.scrollToBottom()
        qtbot.waitUntil(lambda b=before: page.model.loaded > b, timeout=15000)
    assert page.model.loaded < 10_000
    assert backend.pages_served <= page.model.received // 1000 + 1
    page.model.fetchMore()
    assert page.model.rowCount() == page.model.loaded
