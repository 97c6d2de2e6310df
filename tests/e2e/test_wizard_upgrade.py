"""Issue 14 in the GUI against the sandbox: a connector deployed at an older version is upgraded
with the change set's preview shown on Review, and an upgrade to a release that breaks queries
is rolled back from the Apply page, the test query passing again.

Set XW_SHOTS to a directory to keep screenshots of the pages (docs, and a look by eye).
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest
from PySide6.QtCore import Qt

from tests.e2e.test_wizard_sandbox import press_next
from ui.pages.base import APPLY, CONNECTOR, REVIEW
from wizard.engine import Engine
from wizard.profile import load_profile

OLD, BROKEN, NEWEST = "2026.8.1", "2026.21.1", "2026.33.1"
STACK = "serverlessrepo-acct1dynamodb"


def shot(widget: Any, name: str) -> None:
    where = os.environ.get("XW_SHOTS")
    if where:
        Path(where).mkdir(parents=True, exist_ok=True)
        widget.grab().save(str(Path(where) / name))


def deployed() -> str:
    cfn = boto3.Session(profile_name="sandbox-owner").client("cloudformation")
    stack = cfn.describe_stacks(StackName=STACK)["Stacks"][0]
    return {t["Key"]: t["Value"] for t in stack["Tags"]}["serverlessrepo:semanticVersion"]


def at_old_version(sandbox: Any) -> Any:
    profile = load_profile(sandbox.example_profile)
    old = replace(profile, connector=replace(profile.connector, application_version=OLD))
    Engine(old, poll_delay=0.05).apply()
    assert deployed() == OLD
    return profile


def stack_row(review: Any) -> Any:
    tree = review.tree
    for i in range(tree.topLevelItemCount()):
        group = tree.topLevelItem(i)
        for j in range(group.childCount()):
            change = group.child(j).data(0, Qt.ItemDataRole.UserRole)
            if change is not None and change.step == "connector":
                return group.child(j)
    raise AssertionError("no connector row on Review")


def children(item: Any) -> list[tuple[str, str, str]]:
    return [(item.child(k).text(0), item.child(k).text(1), item.child(k).text(2))
            for k in range(item.childCount())]


def to_review(qtbot: Any, window: Any, version: str | None = None) -> Any:
    for _ in range(4):
        if version is not None and window.currentId() == CONNECTOR:
            page = window.currentPage()
            qtbot.waitUntil(lambda p=page: p.version.findData(version) >= 0, timeout=60000)
            page.version.setCurrentIndex(page.version.findData(version))
        press_next(qtbot, window)
    assert window.currentId() == REVIEW
    review = window.currentPage()
    qtbot.waitUntil(lambda: review.tree.topLevelItemCount() >= 2, timeout=60000)
    return review


@pytest.mark.slow
def test_upgrade_to_the_newest_is_previewed_on_review_then_applied(
        qtbot: Any, open_wizard: Any, sandbox: Any) -> None:
    profile = at_old_version(sandbox)
    window, ctx = open_wizard()
    try:
        review = to_review(qtbot, window)
        row = stack_row(review)
        assert row.text(0) == "~ update"
        assert f"upgrade the connector from {OLD} to {NEWEST}" in row.text(2)
        rows = [r[0] for r in children(row)]
        assert rows[0].startswith(f"versions: deployed {OLD} (still offered), newest {NEWEST}")
        assert rows[1] == "preview (CloudFormation change set):"
        assert any(r.startswith("~ Modify FunctionRole (AWS::IAM::Role) replacement: True")
                   for r in rows)
        assert any(r.startswith("~ Modify ConnectorConfig (AWS::Lambda::Function) "
                                "replacement: False") for r in rows)
        review.tree.setCurrentItem(row.child(2))  # a preview row shows its stack's change
        assert "replacement: True" in review.diff.text.toPlainText()
        assert f'"version": "{NEWEST}"' in review.diff.text.toPlainText()
        review.tree.scrollToItem(row)
        shot(window, "review-upgrade-preview.png")
        press_next(qtbot, window)
        assert window.currentId() == APPLY
        apply = window.currentPage()
        qtbot.waitUntil(lambda: ctx.state.applied or apply.failure.isVisible(), timeout=120000)
        assert ctx.state.applied, apply.failure_text.plain
        assert deployed() == NEWEST
        assert "SUCCEEDED" in apply.log.text()  # the test query ran after the upgrade
    finally:
        Engine(profile, poll_delay=0.05).destroy()


@pytest.mark.slow
def test_a_broken_upgrade_is_rolled_back_from_the_apply_page(
        qtbot: Any, open_wizard: Any, sandbox: Any) -> None:
    profile = at_old_version(sandbox)
    window, ctx = open_wizard()
    try:
        review = to_review(qtbot, window, BROKEN)
        row = stack_row(review)
        assert f"from {OLD} to {BROKEN}" in row.text(2)
        press_next(qtbot, window)
        apply = window.currentPage()
        qtbot.waitUntil(lambda: apply.failure.isVisible(), timeout=120000)
        assert "NoSuchMethodError" in apply.failure_text.plain
        assert apply.rollback_upgrade.isVisible()
        assert apply.rollback_upgrade.text().replace("&", "") == f"Roll back to {OLD}"
        assert deployed() == BROKEN
        shot(window, "apply-rollback-offer.png")
        qtbot.waitUntil(lambda: not apply.busy, timeout=15000)  # the failed run has ended
        qtbot.mouseClick(apply.rollback_upgrade, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: ctx.state.applied, timeout=120000)
        assert deployed() == OLD
        assert "passes again" in apply.status.text()
        assert not apply.rollback_upgrade.isVisible()
        shot(window, "apply-rolled-back.png")
    finally:
        Engine(profile, poll_delay=0.05).destroy()
