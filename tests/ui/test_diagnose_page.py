"""The Diagnose page: Start -> "Diagnose an existing setup" -> the chain as coloured rows that
expand to evidence and fix, and "Repair with apply" on to Review when apply covers the break."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.ui.fakes import CONSUMER, FakeBackend, example_profile
from tests.ui.helpers import next_enabled
from ui.pages.base import REVIEW
from ui.pages.diagnose import DIAGNOSE, LinkRow
from ui.settings import GuiSettings
from wizard.doctor import APPLY_FIX, ConsumerReport, Link, Report
from wizard.profile import save_profile

FN = "arn:aws:lambda:us-east-1:111111111111:function:acct1dynamodb"
B = f"consumer:{CONSUMER}"
ANALYST = f"arn:aws:iam::{CONSUMER}:user/analyst"


def sample_report() -> Report:
    """A report as the doctor makes it: the Lambda grant is gone, the rest holds."""
    links = [
        Link("consumer-catalog", B, "arn:aws:athena:us-east-1:222222222222:datacatalog/"
             "acct1dynamodb", "ok", "Catalog 'acct1dynamodb' exists, type LAMBDA."),
        Link("catalog-function", "owner", FN, "ok", "Function acct1dynamodb exists."),
        Link("lambda-resource-policy", "owner", FN, "broken",
             f"The function's resource policy does not let {ANALYST} invoke it: the function "
             "has no resource policy at all.", APPLY_FIX),
        Link("identity-invoke", B, ANALYST, "ok", "statement 'InvokeConnector' allows."),
        Link("identity-athena", B, "arn:aws:athena:us-east-1:222222222222:workgroup/primary",
             "ok", "statement 'RunQueries' allows."),
        Link("results-location", B, "s3://results-b/queries/", "ok",
             "statement 'QueryResultsObjects' allows."),
        Link("spill-bucket-policy", "owner", "s3://spill-a/athena-spill/", "ok",
             "statement 'XacctSpill222222222222' allows."),
        Link("identity-spill", B, ANALYST, "ok", "statement 'ReadSpill' allows."),
        Link("spill-kms", "owner", "", "ok", "not used: no customer managed key."),
        Link("connector-version", "owner", FN, "warning",
             "Deployed 2025.1.1, newest is 2026.33.1.", APPLY_FIX),
        Link("test-query", B, "SELECT 1", "unknown",
             "The query failed, as lambda-resource-policy predicts."),
    ]
    return Report([ConsumerReport(B, ANALYST, links)])


@dataclass
class DiagnosingBackend(FakeBackend):
    report: Report = field(default_factory=sample_report)
    diagnosed: int = 0
    threads: list[str] = field(default_factory=list)

    def diagnose(self, profile: Any) -> Report:
        self.diagnosed += 1
        self.threads.append(threading.current_thread().name)
        return self.report


def open_diagnose(qtbot: Any, make_window: Any, tmp_path: Path,
                  backend: DiagnosingBackend) -> Any:
    path = tmp_path / "setup.yaml"
    save_profile(example_profile(), path)
    window, _ = make_window(backend, settings=GuiSettings(recent=[str(path)],
                                                          last_profile=str(path)))
    start = window.currentPage()
    start.diagnose.setChecked(True)
    qtbot.waitUntil(lambda: next_enabled(window), timeout=15000)
    window.next()
    assert window.currentId() == DIAGNOSE
    page = window.currentPage()
    qtbot.waitUntil(lambda: page.report is not None and not page.busy, timeout=15000)
    return window, page


def test_diagnose_shows_the_chain_and_repairs_through_review(
        qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    backend = DiagnosingBackend()
    window, page = open_diagnose(qtbot, make_window, tmp_path, backend)
    assert backend.diagnosed == 1
    assert threading.main_thread().name not in backend.threads  # a worker did the reads
    rows = page.link_rows()
    assert [r.link.id for r in rows] == [x.id for x in backend.report.consumers[0].links]
    by_id = {r.link.id: r for r in rows}
    broken = by_id["lambda-resource-policy"]
    assert broken.details.isVisibleTo(page)  # opened by itself, with its evidence and fix
    assert "no resource policy at all" in broken.details.text()
    assert "apply" in broken.details.text()
    ok = by_id["consumer-catalog"]
    assert not ok.details.isVisibleTo(page)
    ok.toggle.click()
    assert ok.details.isVisibleTo(page) and "type LAMBDA" in ok.details.text()
    assert "1 broken link" in page.status.plain
    assert "#c62828" in broken.strip.styleSheet() or "#ff8a80" in broken.strip.styleSheet()
    assert "#1b7f3b" in ok.strip.styleSheet() or "#6fdc8c" in ok.strip.styleSheet()
    assert page.repair.isVisibleTo(page)

    if os.environ.get("XACCT_SCREENSHOTS"):
        window.resize(900, 720)
        qtbot.wait(50)
        window.grab().save(str(Path(__file__).resolve().parents[2] / "docs" /
                               "09-diagnose.png"))

    page.again.click()
    qtbot.waitUntil(lambda: backend.diagnosed == 2 and not page.busy, timeout=15000)
    page.repair.click()
    qtbot.waitUntil(lambda: window.currentId() == REVIEW, timeout=15000)


def test_a_healthy_setup_offers_no_repair(qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    report = sample_report()
    for link in report.consumers[0].links:
        if link.status != "warning":
            link.status, link.fix = "ok", ""
    backend = DiagnosingBackend(report=report)
    window, page = open_diagnose(qtbot, make_window, tmp_path, backend)
    assert "No link is broken; 1 warning" in page.status.plain
    assert not page.repair.isVisibleTo(page)
    assert window.button(window.WizardButton.FinishButton).isVisible()
    assert all(isinstance(r, LinkRow) for r in page.link_rows())


def test_a_failed_diagnosis_says_why(qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    from wizard.errors import CredentialsError

    class Failing(DiagnosingBackend):
        def diagnose(self, profile: Any) -> Report:
            raise CredentialsError("No credentials found for owner.", fix="Pick a profile.")

    _window, page = open_diagnose_failing(qtbot, make_window, tmp_path, Failing())
    assert "No credentials found" in page.status.plain and "Pick a profile" in page.status.plain
    assert page.link_rows() == []


def open_diagnose_failing(qtbot: Any, make_window: Any, tmp_path: Path,
                          backend: DiagnosingBackend) -> Any:
    path = tmp_path / "setup.yaml"
    save_profile(example_profile(), path)
    window, _ = make_window(backend, settings=GuiSettings(recent=[str(path)],
                                                          last_profile=str(path)))
    start = window.currentPage()
    start.diagnose.setChecked(True)
    qtbot.waitUntil(lambda: next_enabled(window), timeout=15000)
    window.next()
    page = window.currentPage()
    qtbot.waitUntil(lambda: not page.busy and page.status.plain.startswith("No"),
                    timeout=15000)
    return window, page
