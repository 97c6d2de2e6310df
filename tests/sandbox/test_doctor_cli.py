"""`xacct-wizard doctor` and the v1.1 `verify` as a script drives them: the JSON of the
contract (design.md, "Contract additions (v1.1)"), exit 0/1/2, and human output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.sandbox.support import (
    ANALYST_ARN,
    CATALOG,
    CONSUMER,
    FUNCTION_ARN,
    RESULTS_URI,
    Accounts,
    setup_federation,
)
from wizard.cli import main
from wizard.engine import Engine
from wizard.profile import load_profile
from wizard.sandbox import Sandbox

CONTRACT_LINKS = {"consumer-catalog", "catalog-function", "lambda-resource-policy",
                  "identity-invoke", "identity-athena", "results-location",
                  "spill-bucket-policy", "identity-spill", "spill-kms", "connector-version",
                  "test-query"}
ADHOC = ["--owner-profile", "sandbox-owner", "--consumer-profile", "sandbox-consumer",
         "--catalog", CATALOG, "--principal", ANALYST_ARN, "--query-results", RESULTS_URI]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def check_contract(doc: dict[str, Any]) -> None:
    """The JSON shape the contract promises, key by key and value by value."""
    assert set(doc) >= {"ok", "consumers"} and isinstance(doc["ok"], bool)
    for consumer in doc["consumers"]:
        assert consumer["account"].startswith("consumer:")
        assert consumer["principal"].startswith("arn:aws:iam::")
        ids = [link["id"] for link in consumer["links"]]
        assert set(ids) >= CONTRACT_LINKS and len(ids) == len(set(ids))
        for link in consumer["links"]:
            assert set(link) == {"id", "account", "resource", "status", "message", "fix"}
            assert link["status"] in ("ok", "broken", "warning", "unknown")
            assert link["account"] == "owner" or link["account"] == consumer["account"]
            assert isinstance(link["message"], str) and link["message"]
            assert isinstance(link["fix"], str)
            if link["status"] == "broken":
                assert link["fix"], link
    broken = [x for c in doc["consumers"] for x in c["links"] if x["status"] == "broken"]
    assert doc["ok"] is (not broken)


@pytest.fixture
def built(sandbox: Sandbox, accounts: Accounts) -> Accounts:
    setup_federation(accounts, spill_grant=True)
    sandbox.spill_threshold_bytes = 1
    return accounts


def test_adhoc_doctor_json_follows_the_contract_and_exits_0(built: Accounts, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run(capsys, "doctor", *ADHOC, "--query-profile", "sandbox-analyst",
                         "--json")
    doc = json.loads(out)
    check_contract(doc)
    assert code == 0, (doc, err)
    links = {x["id"]: x for x in doc["consumers"][0]["links"]}
    assert links["test-query"]["status"] == "ok"
    assert links["catalog-function"]["resource"] == FUNCTION_ARN


def test_adhoc_doctor_names_the_broken_link_and_exits_1(built: Accounts, capsys) -> None:  # type: ignore[no-untyped-def]
    built.owner.client("lambda").remove_permission(FunctionName=CATALOG,
                                                   StatementId="XacctWizardInvoke")
    code, out, _ = run(capsys, "doctor", *ADHOC, "--json")
    doc = json.loads(out)
    check_contract(doc)
    assert code == 1 and doc["ok"] is False
    broken = [x for x in doc["consumers"][0]["links"] if x["status"] == "broken"]
    assert [x["id"] for x in broken] == ["lambda-resource-policy"]
    assert "aws lambda add-permission" in broken[0]["fix"]  # no profile: a command, not apply
    test_query = next(x for x in doc["consumers"][0]["links"] if x["id"] == "test-query")
    assert test_query["status"] == "unknown"  # a user's keys are not at hand

    code, out, _ = run(capsys, "doctor", *ADHOC)
    assert code == 1
    line = next(ln for ln in out.splitlines() if "lambda-resource-policy" in ln)
    assert line.lstrip().startswith("✗ broken")
    assert "fix: aws lambda add-permission" in out
    assert "✓ ok      consumer-catalog" in out


def test_profile_doctor_offers_apply_and_apply_repairs(sandbox: Sandbox, capsys) -> None:  # type: ignore[no-untyped-def]
    profile = sandbox.example_profile
    Engine(load_profile(profile), poll_delay=0.05).apply()
    code, out, err = run(capsys, "doctor", str(profile), "--json")
    doc = json.loads(out)
    check_contract(doc)
    assert code == 0, (doc, err)

    iam = _session("sandbox-consumer").client("iam")
    iam.delete_user_policy(UserName="analyst", PolicyName=f"xacct-wizard-{CATALOG}")
    code, out, _ = run(capsys, "doctor", str(profile), "--json", "--consumer", CONSUMER)
    doc = json.loads(out)
    broken = {x["id"]: x for x in doc["consumers"][0]["links"] if x["status"] == "broken"}
    assert code == 1
    assert set(broken) == {"identity-invoke", "identity-athena", "results-location",
                           "identity-spill"}  # one policy held all four grants
    assert all(x["fix"] == "`xacct-wizard apply` repairs this" for x in broken.values())

    code, out, _ = run(capsys, "verify", str(profile), "--json")
    doc = json.loads(out)
    assert code == 1
    assert doc["state"] == "FAILED" and "findings" in doc and "columns" in doc
    assert doc["ok"] is False and doc["consumers"][0]["query"]["state"] == "FAILED"

    Engine(load_profile(profile), poll_delay=0.05).apply()
    code, out, _ = run(capsys, "doctor", str(profile))
    assert code == 0 and "No link is broken." in out


@pytest.mark.parametrize("argv", [
    ["doctor"],
    ["doctor", "--owner-profile", "a", "--catalog", "c"],
    ["doctor", "--owner-profile", "a", "--consumer-profile", "b", "--catalog", "c",
     "--principal", "not-an-arn"],
    ["doctor", "--owner-profile", "a", "--consumer-profile", "b", "--catalog", "c",
     "--principal", ANALYST_ARN, "--consumer", CONSUMER],
])
def test_invalid_input_exits_2(argv: list[str], capsys) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run(capsys, *argv)
    assert code == 2, err
    assert err.strip()


def test_unknown_consumer_and_mixed_modes_exit_2(sandbox: Sandbox, tmp_path: Path,
                                                 capsys) -> None:  # type: ignore[no-untyped-def]
    profile = str(sandbox.example_profile)
    code, _, err = run(capsys, "doctor", profile, "--consumer", "999999999999")
    assert code == 2 and "222222222222" in err
    code, _, err = run(capsys, "doctor", profile, "--catalog", CATALOG)
    assert code == 2 and "not both" in err


def _session(profile: str):  # type: ignore[no-untyped-def]
    from tests.sandbox.support import session

    return session(profile)


def test_without_a_results_location_nothing_is_called_broken(built: Accounts, capsys) -> None:  # type: ignore[no-untyped-def]
    argv = [a for a in ADHOC if a not in ("--query-results", RESULTS_URI)]
    code, out, _ = run(capsys, "doctor", *argv, "--query-profile", "sandbox-analyst", "--json")
    doc = json.loads(out)
    check_contract(doc)
    links = {x["id"]: x for x in doc["consumers"][0]["links"]}
    assert links["results-location"]["status"] == "unknown"
    assert links["test-query"]["status"] == "unknown"
    assert code == 0
