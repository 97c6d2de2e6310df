"""The wizard against the sandbox's organization: every account of an OU, clicked through.

The user switches the Access page to "Every account in an organizational unit", picks the
management account's credentials and the Analytics OU from the tree the sandbox's
Organizations returns, applies (the Apply page lists each member account as the StackSet
reports it), sees the Music rows queried as the principal of an account of the OU, and cleans
up from the Finish page.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from tests.e2e.test_wizard_sandbox import MUSIC, grid_rows, press_next
from ui.pages.base import ACCESS, APPLY, FINISH, QUERY, REVIEW

MEMBERS = 5  # `xacct-wizard sandbox`'s default --accounts


@pytest.mark.slow
def test_every_account_of_an_ou_clicked_through(qtbot: Any, open_wizard: Any,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    window, ctx = open_wizard()
    for _ in range(3):
        press_next(qtbot, window)
    access = window.currentPage()
    assert window.currentId() == ACCESS
    access.mode_org.click()
    org = access.org
    # The AWS config's profiles, as the credential sources list them on a machine.
    org.credentials.addItem("profile sandbox-management", "profile:sandbox-management")
    org.credentials.setCurrentIndex(org.credentials.findData("profile:sandbox-management"))
    org.list_ous.click()
    qtbot.waitUntil(lambda: org.tree_model.rowCount() == 1, timeout=30000)
    root = org.tree_model.item(0)
    names = {root.child(i).text(): root.child(i) for i in range(root.rowCount())}
    assert set(names) == {"Analytics", "Onboarding"}
    org.tree.clicked.emit(names["Analytics"].index())
    org.results.setText("s3://xacct-sandbox-results-{account_id}/queries/")
    press_next(qtbot, window)

    review = window.currentPage()
    assert window.currentId() == REVIEW
    qtbot.waitUntil(lambda: review.isComplete(), timeout=60000)
    plan = ctx.state.plan
    assert plan is not None
    accounts = {c.account for c in plan.changes if c.kind == "stack-instance"}
    assert len(accounts) == MEMBERS
    press_next(qtbot, window)

    apply = window.currentPage()
    assert window.currentId() == APPLY
    qtbot.waitUntil(lambda: ctx.state.applied, timeout=120000)
    assert apply.step_status("stackset") == "done", apply.log.text()
    assert apply.accounts_model.rowCount() == MEMBERS
    assert apply.accounts_model.counts() == {"done": MEMBERS}
    press_next(qtbot, window)

    query = window.currentPage()
    assert window.currentId() == QUERY
    qtbot.waitUntil(lambda: (query.model.complete and query.model.rowCount() > 0)
                    or bool(query.error.plain), timeout=60000)
    assert not query.error.plain, query.error.plain
    assert grid_rows(query) == MUSIC
    press_next(qtbot, window)

    finish = window.currentPage()
    assert window.currentId() == FINISH
    qtbot.waitUntil(lambda: not finish.busy, timeout=60000)
    monkeypatch.setattr(QMessageBox, "exec", lambda self: QMessageBox.StandardButton.Yes)
    qtbot.mouseClick(finish.cleanup_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: finish.cleaned and not finish.busy, timeout=120000)
    assert not finish.error.plain, finish.error.plain
    member = boto3.Session(profile_name="sandbox-consumer-1")
    roles = [r["RoleName"] for r in member.client("iam").list_roles()["Roles"]]
    assert roles == ["OrganizationAccountAccessRole"]  # nothing of the setup is left
