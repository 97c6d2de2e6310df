"""consumers_from in the GUI: the Access page's "Every account in an organizational unit"
with its OU picker (read on a worker), and the Apply page's per-account progress as a model
(no widget per account, 200 accounts without a stall)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QWidget

from tests.ui.fakes import FakeBackend
from tests.ui.helpers import advance_to, next_enabled
from ui.pages.base import ACCESS, APPLY
from wizard.changes import Event
from wizard.profile import load_profile


def open_at(qtbot: Any, make_window: Any, page: int,
            backend: FakeBackend | None = None) -> tuple[Any, Any, FakeBackend]:
    backend = backend or FakeBackend()
    window, ctx = make_window(backend, sandbox=True)
    start = window.currentPage()
    qtbot.waitUntil(lambda: start.isComplete(), timeout=15000)
    advance_to(qtbot, window, page)
    return window, ctx, backend


def test_access_page_every_account_of_an_ou_with_the_ou_picker(
        qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    window, ctx, backend = open_at(qtbot, make_window, ACCESS)
    page = window.currentPage()
    assert page.mode_accounts.isChecked()
    qtbot.waitUntil(lambda: next_enabled(window), timeout=15000)  # query credentials checked

    page.mode_org.click()
    assert page.stack.currentWidget() is page.org
    source = ctx.state.profile.consumers_from
    assert source is not None and source.principal_name == "role/AthenaAnalyst"
    assert not next_enabled(window)  # no credentials, no OU yet: both are named
    assert page.org.ou_msg.plain and page.org.credentials_msg.plain

    org = page.org
    org.list_ous.click()  # without credentials: says what to do, reads nothing
    assert "credentials first" in org.tree_status.text()
    org.credentials.setCurrentIndex(org.credentials.findData("profile:owner-admin"))
    org.list_ous.click()
    qtbot.waitUntil(lambda: org.tree_model.rowCount() == 1, timeout=15000)  # the root
    assert "ou_tree:owner-admin" in backend.checks
    root = org.tree_model.item(0)
    assert root.text() == "Root" and root.rowCount() == 2
    analytics = root.child(0)
    assert analytics.text() == "Analytics" and analytics.child(0).text() == "Reporting"
    org.tree.clicked.emit(analytics.index())  # pick it in the tree
    assert source.organizational_unit == "ou-ab12-11111111"
    org.results.setText("s3://results-{account_id}/queries/")
    assert next_enabled(window), [str(p) for p in page._problems]

    # What is applied and saved: the OU, not the listed accounts (kept aside for "These").
    effective = ctx.state.effective_profile()
    assert effective.consumers == [] and effective.consumers_from is source
    saved = tmp_path / "org.yaml"
    assert window.page(7).save_to(saved)
    assert load_profile(saved).consumers_from == source

    page.mode_accounts.click()  # back to listed accounts; the OU settings are remembered
    assert ctx.state.profile.consumers_from is None and next_enabled(window)
    page.mode_org.click()
    assert ctx.state.profile.consumers_from is source


def test_apply_page_shows_200_accounts_in_one_view_without_a_widget_each(
        qtbot: Any, make_window: Any) -> None:
    window, _ctx, _ = open_at(qtbot, make_window, APPLY)
    page = window.currentPage()
    qtbot.waitUntil(lambda: page.ctx.state.applied, timeout=15000)
    widgets = len(page.findChildren(QWidget))
    started = time.perf_counter()
    for n in range(200):
        account = f"{222222220001 + n}"
        message = (f"{account}: failed: Role with name X already exists" if n in (7, 150)
                   else f"{account}: deployed")
        page._progress(Event("progress", step="stackset", message=message,
                             account=f"consumer:{account}", fraction=(n + 1) / 200))
    elapsed = time.perf_counter() - started
    assert page.accounts_box.isVisibleTo(page)
    assert page.accounts_model.rowCount() == 200
    assert page.accounts_model.counts() == {"done": 198, "failed": 2}
    assert "198 accounts done, 2 failed" in page.accounts_summary.text()
    assert page.accounts_model.status_of("222222220008") == "failed"
    assert len(page.findChildren(QWidget)) == widgets  # rows are data, not widgets
    assert elapsed < 1.0, f"200 account events took {elapsed:.2f} s on the GUI thread"
    # A retry reports the failed account again: its row changes in place.
    page._progress(Event("progress", step="stackset", message="222222220008: retried",
                         account="consumer:222222220008"))
    assert page.accounts_model.rowCount() == 200
    assert page.accounts_model.status_of("222222220008") == "done"
