"""Where the deployed connector stands (wizard.connector_versions): what plan, Review and doctor
show, and which version an apply deploys."""

from __future__ import annotations

import pytest

from wizard.connector_versions import VersionStatus, version_key

OFFERED = ("2026.33.1", "2026.21.1", "2026.8.1")


def test_dated_versions_compare_as_numbers() -> None:
    assert version_key("2026.33.1") > version_key("2026.4.10")
    assert sorted(["2026.8.1", "2025.45.1", "2026.33.1", "2026.21.1"], key=version_key) == [
        "2025.45.1", "2026.8.1", "2026.21.1", "2026.33.1"]


@pytest.mark.parametrize(("deployed", "requested", "target"), [
    ("2026.8.1", "latest", "2026.33.1"),  # latest moves up
    ("2026.33.1", "latest", "2026.33.1"),
    ("2027.1.1", "latest", "2027.1.1"),  # never down, even when the newest was withdrawn
    ("2026.8.1", "2026.21.1", "2026.21.1"),  # a pin is what is deployed
    ("2026.33.1", "2026.8.1", "2026.8.1"),
    (None, "latest", "2026.33.1"),
])
def test_target(deployed: str | None, requested: str, target: str) -> None:
    assert VersionStatus(deployed, OFFERED, requested).target == target


def test_a_withdrawn_deployed_version_is_said() -> None:
    status = VersionStatus("2025.45.1", OFFERED, "latest")
    assert status.deployed_offered is False
    assert status.summary().startswith("deployed 2025.45.1 (no longer offered), newest 2026.33.1")
    assert VersionStatus("2026.8.1", OFFERED, "2026.8.1").summary() == (
        "deployed 2026.8.1 (still offered), newest 2026.33.1; the profile pins 2026.8.1")
    assert VersionStatus("2026.8.1", (), "latest").deployed_offered is None


def test_json_round_trip_keeps_what_review_shows() -> None:
    status = VersionStatus("2026.8.1", OFFERED, "latest")
    doc = status.to_json()
    assert doc["newer_available"] and doc["target"] == "2026.33.1"
    assert VersionStatus.from_json(doc) == status
