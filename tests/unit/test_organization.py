"""consumers_from without AWS: the profile key, the StackSet template, the 20 KB budget,
the verify sample, and the sandbox's --accounts bounds."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from wizard.policies import POLICY_BUDGET_BYTES, policy_size, spill_grant_statement
from wizard.profile import (
    ConsumerConfig,
    CredentialRef,
    ProfileError,
    load_profile,
    profile_from_dict,
    profile_to_dict,
)

REPO = Path(__file__).resolve().parents[2]
ORG_EXAMPLE = REPO / "wizard" / "sandbox" / "data" / "sandbox-org.yaml"


def org_data() -> dict[str, Any]:
    return profile_to_dict(load_profile(ORG_EXAMPLE))


def problems(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ProfileError) as info:
        profile_from_dict(data)
    return {p.path: p.message for p in info.value.problems}


# --------------------------------------------------------------------------- profile
def test_the_shipped_org_profile_loads_and_round_trips() -> None:
    profile = load_profile(ORG_EXAMPLE)
    source = profile.consumers_from
    assert source is not None and profile.consumers == []
    assert source.organizational_unit == "ou-xact-analytic"
    assert source.principal_arn("222222220001") == "arn:aws:iam::222222220001:role/AthenaAnalyst"
    assert source.results_for("222222220001") == \
        "s3://xacct-sandbox-results-222222220001/queries/"
    assert profile_from_dict(profile_to_dict(profile)) == profile
    assert "consumers" not in profile_to_dict(profile)


def test_the_design_md_example_keys_are_enough() -> None:
    data = org_data()
    data["consumers_from"] = {"organizational_unit": "ou-abcd-12345678",
                              "principal_name": "role/AthenaAnalyst",
                              "credentials": {"profile": "org-management"},
                              "query_results": "s3://results-{account_id}/q/"}
    source = profile_from_dict(data).consumers_from
    assert source is not None
    assert (source.create_principal, source.catalog_name, source.workgroup) == (
        True, "acct1dynamodb", "primary")


@pytest.mark.parametrize(("key", "value", "path", "words"), [
    ("organizational_unit", "analytics", "consumers_from.organizational_unit", "ou-abcd"),
    ("principal_name", "arn:aws:iam::1:role/x", "consumers_from.principal_name", "role/NAME"),
    ("query_results", "s3://results-{account_id}/q", "consumers_from.query_results", "end with"),
    ("verify_sample", 0, "consumers_from.verify_sample", "1 to 500"),
    ("credentials", {"profile": "a", "keyring": "b"}, "consumers_from.credentials", "exactly one"),
])
def test_bad_consumers_from_values_are_named(key: str, value: object, path: str,
                                             words: str) -> None:
    data = org_data()
    data["consumers_from"][key] = value
    found = problems(data)
    assert path in found and words in found[path], found


def test_consumers_and_consumers_from_together_are_refused() -> None:
    data = org_data()
    data["consumers"] = [{"account_id": "222222222222", "credentials": {"profile": "b"},
                          "principal_arn": "arn:aws:iam::222222222222:user/analyst",
                          "query_results": "s3://r/q/"}]
    assert "not both" in problems(data)["consumers"]


def test_neither_consumers_nor_consumers_from_names_both() -> None:
    data = org_data()
    del data["consumers_from"]
    assert "consumers_from" in problems(data)["consumers"]


# --------------------------------------------------------------------------- template
def test_the_template_is_the_same_for_every_account() -> None:
    from wizard.stackset_template import body, build

    source = load_profile(ORG_EXAMPLE).consumers_from
    assert source is not None
    doc = build(owner_account="111111111111", region="us-east-1",
                function_arn="arn:aws:lambda:us-east-1:111111111111:function:acct1dynamodb",
                spill_bucket="spill", spill_prefix="athena-spill", source=source,
                catalog="acct1dynamodb")
    text = body(doc)
    assert "2222" not in text  # no account of the OU is written into it
    res = doc["Resources"]
    assert res["ShareRole"]["Properties"]["RoleName"] == "AthenaCrossAccountCreate-111111111111"
    assert res["Catalog"]["Properties"] == {
        "Name": "acct1dynamodb", "Type": "LAMBDA",
        "Description": "DynamoDB in account 111111111111 (xacct-wizard)",
        "Parameters": {"function": "arn:aws:lambda:us-east-1:111111111111:function:acct1dynamodb"}}
    principal = res["Principal"]["Properties"]
    assert principal["RoleName"] == "AthenaAnalyst"
    statements = principal["Policies"][0]["PolicyDocument"]["Statement"]
    queries = next(s for s in statements if s["Sid"] == "RunQueries")
    assert queries["Resource"] == [{"Fn::Sub": "arn:aws:athena:us-east-1:${AWS::AccountId}:"
                                               "workgroup/primary"}]
    results = next(s for s in statements if s["Sid"] == "QueryResultsObjects")
    assert results["Resource"] == [{"Fn::Sub": "arn:aws:s3:::xacct-sandbox-results-"
                                               "${AWS::AccountId}/queries/*"}]
    assert body(copy.deepcopy(doc)) == text  # stable: an unchanged setup plans `none`


def test_an_existing_principal_gets_a_policy_not_a_new_identity() -> None:
    from dataclasses import replace

    from wizard.stackset_template import build

    source = load_profile(ORG_EXAMPLE).consumers_from
    assert source is not None
    doc = build(owner_account="111111111111", region="us-east-1", function_arn="arn:fn",
                spill_bucket="spill", spill_prefix="p",
                source=replace(source, principal_name="user/analyst", create_principal=False),
                catalog="c")
    assert "Principal" not in doc["Resources"]
    assert doc["Resources"]["PrincipalPolicy"]["Properties"]["Users"] == ["analyst"]


# --------------------------------------------------------------------------- budget
class _Ctx:
    def __init__(self, n: int) -> None:
        profile = load_profile(ORG_EXAMPLE)
        profile.consumers = [ConsumerConfig(f"{222222220000 + i}", CredentialRef("x"),
                                            f"arn:aws:iam::{222222220000 + i}:user/analyst",
                                            "s3://r/q/") for i in range(n)]
        self.profile = profile


@pytest.mark.parametrize(("n", "severity"), [(10, "info"), (60, "warning"), (80, "error")])
def test_per_account_statements_against_the_20_kb_budget(n: int, severity: str) -> None:
    from wizard.steps.org_grants import per_account_budget

    one = policy_size(spill_grant_statement("XacctWizardSpill222222220001Acct1Dynamodb",
                                            "arn:aws:iam::222222220001:user/analyst",
                                            "xacct-sandbox-spill-111111111111"))
    assert 250 < one < 450  # ~380 bytes as the issue measured it (with whitespace)
    (finding,) = per_account_budget(_Ctx(n), "spill-grant", one, "spill bucket policy")  # type: ignore[arg-type]
    assert finding.severity == severity
    assert "KB of the 20 KB policy limit" in finding.message
    if severity == "error":
        assert n * one > POLICY_BUDGET_BYTES
        assert "would not fit" in finding.message and "consumers_from" in finding.fix


# --------------------------------------------------------------------------- verify sample
def test_the_verify_sample_spreads_over_the_accounts() -> None:
    from wizard.org_verify import sample

    accounts = [str(i) for i in range(200)]
    assert sample(accounts, 3) == ["0", "100", "199"]
    assert sample(accounts, 1) == ["0"]
    assert sample(accounts[:2], 5) == ["0", "1"]
    assert len(set(sample(accounts, 20))) == 20


# --------------------------------------------------------------------------- CLI
@pytest.mark.parametrize("n", ["0", "501"])
def test_sandbox_accounts_out_of_range_is_invalid_input(
        n: str, capsys: pytest.CaptureFixture[str]) -> None:
    from wizard.cli import main

    assert main(["sandbox", "--accounts", n]) == 2
    assert "--accounts must be from 1 to 500" in capsys.readouterr().err


def test_policy_size_counts_compact_json() -> None:
    doc = {"Statement": [{"Sid": "A"}]}
    assert policy_size(doc) == len(json.dumps(doc, separators=(",", ":")))
