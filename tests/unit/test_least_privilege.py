"""Least privilege (issue 5 item 6): every document the builders produce names exact ARNs and
passes the IAM linter `parliament` with no findings.

Exact means: the set of resources of each document is computed here from the inputs and must
match exactly - no account, region or name wildcard, nothing broader than the one function,
workgroup, catalog, bucket and prefix the setup is about. Two kinds of `*` are allowed, each
asserted explicitly: the KMS key policy statement's, where a key policy's "Resource": "*" means
"this key" (a key policy cannot name anything else), including the finding parliament reports
for it; and the identity policy's browsing statement, whose actions (athena:ListDataCatalogs,
athena:ListWorkGroups) have no resource type in IAM at all - checked against parliament's copy
of the Service Authorization Reference, and named so in the statement's Sid.

parliament has no trust-policy mode (a statement without Resource is MALFORMED to it, see
parliament/statement.py: "IAM role trust policies ... don't have Resource elements, so that
would break other things"), so the trust document's shape is checked here by hand.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from parliament import analyze_policy_string

from wizard import policies as p

OWNER = "111111111111"
CONSUMER = "222222222222"


def findings(doc: dict[str, Any]) -> list[tuple[str, Any]]:
    policy = analyze_policy_string(json.dumps(doc), include_community_auditors=True)
    return [(f.issue, f.detail) for f in policy.findings]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def resources(doc: dict[str, Any]) -> set[str]:
    return {r for s in p.statements(doc) for r in as_list(s.get("Resource", []))}


def actions(doc: dict[str, Any]) -> list[str]:
    return [a for s in p.statements(doc) for a in as_list(s["Action"])]


def assert_no_broad_elements(doc: dict[str, Any]) -> None:
    """Only Allow, only Action/Resource/Principal (never the Not* forms), no wildcard action."""
    for s in p.statements(doc):
        assert s["Effect"] == "Allow"
        assert not {"NotAction", "NotResource", "NotPrincipal"} & set(s)
    for action in actions(doc):
        assert re.fullmatch(r"[a-z0-9-]+:[A-Za-z]+", action), f"not an exact action: {action}"


def assert_exact_arn(arn: str) -> None:
    """No wildcard anywhere, except the trailing /* of S3 objects under one exact prefix."""
    body = arn[:-2] if arn.startswith("arn:aws:s3:::") and arn.endswith("/*") else arn
    assert "*" not in body and "?" not in body, f"wildcard in {arn}"
    parts = body.split(":")
    assert parts[:2] == ["arn", "aws"] and len(parts) >= 6, arn
    if parts[2] == "iam":  # global service: no region
        assert re.fullmatch(r"[0-9]{12}", parts[4]), f"account must be named: {arn}"
    elif parts[2] != "s3":  # S3 ARNs carry neither
        assert parts[3] and re.fullmatch(r"[0-9]{12}", parts[4]), (
            f"region and account must be named: {arn}")


SETUPS = [
    pytest.param(dict(region="us-east-1", catalog="acct1dynamodb", workgroup="primary",
                      spill_bucket="example-spill-bucket", spill_prefix="athena-spill",
                      results="s3://example-athena-results/queries/",
                      principal=f"arn:aws:iam::{CONSUMER}:user/analyst"), id="design-example"),
    pytest.param(dict(region="eu-west-1", catalog="team_a-cat", workgroup="analysts.v2",
                      spill_bucket="spill.bucket-1", spill_prefix="deep/spill/path",
                      results="s3://results-b/",
                      principal=f"arn:aws:iam::{CONSUMER}:role/data/team/Analyst+1"),
                 id="role-with-path-and-bare-results-bucket"),
]


def resource_types(action: str) -> list[str]:
    """The resource types IAM defines for an action (parliament's copy of the Service
    Authorization Reference); ``[]`` when the action has none and only "*" can grant it."""
    import parliament

    service, name = action.split(":")
    path = Path(parliament.__file__).with_name("iam_definition.json")
    for svc in json.loads(path.read_text(encoding="utf-8")):
        if svc["prefix"] == service:
            for priv in svc["privileges"]:
                if priv["privilege"] == name:
                    return [r["resource_type"] for r in priv["resource_types"]
                            if r["resource_type"]]
    raise AssertionError(f"unknown action {action}")


BROWSING = ["athena:ListDataCatalogs", "athena:ListDatabases", "athena:ListTableMetadata",
            "athena:GetTableMetadata", "athena:GetDataCatalog", "athena:ListWorkGroups",
            "athena:GetWorkGroup"]


def build(setup: dict[str, str]) -> dict[str, dict[str, Any]]:
    fn = f"arn:aws:lambda:{setup['region']}:{OWNER}:function:{setup['catalog']}"
    sid = p.sid_for("Spill", CONSUMER, setup["catalog"])
    return {
        "identity": p.identity_policy(
            region=setup["region"], consumer_account=CONSUMER, function_arn=fn,
            spill_bucket=setup["spill_bucket"], spill_prefix=setup["spill_prefix"],
            workgroup=setup["workgroup"], catalog_name=setup["catalog"],
            results_uri=setup["results"]),
        "share_policy": p.share_role_policy(setup["region"], CONSUMER, setup["catalog"]),
        "share_trust": p.share_role_trust(OWNER),
        "bucket_policy": p.merge_statement(
            None, p.spill_grant_statement(sid, setup["principal"], setup["spill_bucket"])),
        "key_policy": p.merge_statement(
            None, p.kms_decrypt_statement(p.sid_for("Kms", CONSUMER, setup["catalog"]),
                                          setup["principal"])),
    }


@pytest.mark.parametrize("setup", SETUPS)
def test_identity_policy_names_exactly_what_the_setup_uses(setup: dict[str, str]) -> None:
    doc = build(setup)["identity"]
    region, bucket = setup["region"], setup["spill_bucket"]
    results_bucket, results_prefix = p.parse_s3_uri(setup["results"])
    assert resources(doc) == {
        f"arn:aws:lambda:{region}:{OWNER}:function:{setup['catalog']}",
        f"arn:aws:s3:::{bucket}",
        f"arn:aws:s3:::{bucket}/{setup['spill_prefix']}/*",
        f"arn:aws:athena:{region}:{CONSUMER}:workgroup/{setup['workgroup']}",
        f"arn:aws:athena:{region}:{CONSUMER}:datacatalog/{setup['catalog']}",
        f"arn:aws:s3:::{results_bucket}",
        f"arn:aws:s3:::{results_bucket}/{results_prefix}*",
        "*",  # only for the actions that have no resource type (next test)
    }
    for arn in resources(doc) - {"*"}:
        assert_exact_arn(arn)
    assert_no_broad_elements(doc)
    assert findings(doc) == []


@pytest.mark.parametrize("setup", SETUPS)
def test_identity_policy_grants_browsing_star_only_without_a_resource_type(
        setup: dict[str, str]) -> None:
    """BI tools and drivers browse before they query; every call they make is granted, on the
    setup's own catalog and workgroup where IAM can scope it, on "*" only where it cannot."""
    doc = build(setup)["identity"]
    granted = set(actions(doc))
    assert set(BROWSING) <= granted
    starred = [s for s in p.statements(doc) if "*" in as_list(s["Resource"])]
    assert len(starred) == 1
    (star,) = starred
    assert as_list(star["Resource"]) == ["*"]
    assert "NoResourceType" in star["Sid"] and "ListOnly" in star["Sid"]
    assert sorted(as_list(star["Action"])) == ["athena:ListDataCatalogs", "athena:ListWorkGroups"]
    for action in as_list(star["Action"]):
        assert resource_types(action) == [], f"{action} can be scoped: it must not get '*'"
    # Every other action has a resource type, and gets exactly the setup's ARN of that type.
    region = setup["region"]
    scoped = {"datacatalog*": f"arn:aws:athena:{region}:{CONSUMER}:datacatalog/"
                              f"{setup['catalog']}",
              "workgroup*": f"arn:aws:athena:{region}:{CONSUMER}:workgroup/{setup['workgroup']}"}
    for action in BROWSING:
        if action in as_list(star["Action"]):
            continue
        (kind,) = resource_types(action)
        holders = [s for s in p.statements(doc) if action in as_list(s["Action"])]
        assert [as_list(s["Resource"]) for s in holders] == [[scoped[kind]]], action


@pytest.mark.parametrize("setup", SETUPS)
def test_share_role_policy_creates_exactly_one_catalog(setup: dict[str, str]) -> None:
    doc = build(setup)["share_policy"]
    # Narrower than the runbook's datacatalog/*: the role exists for this one catalog.
    assert resources(doc) == {
        f"arn:aws:athena:{setup['region']}:{CONSUMER}:datacatalog/{setup['catalog']}"}
    assert actions(doc) == ["athena:CreateDataCatalog"]
    for arn in resources(doc):
        assert_exact_arn(arn)
    assert_no_broad_elements(doc)
    assert findings(doc) == []


@pytest.mark.parametrize("setup", SETUPS)
def test_spill_bucket_statement_grants_one_principal_one_bucket(setup: dict[str, str]) -> None:
    doc = build(setup)["bucket_policy"]
    (statement,) = p.statements(doc)
    bucket = setup["spill_bucket"]
    assert statement["Principal"] == {"AWS": [setup["principal"]]}
    assert resources(doc) == {f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"}
    assert sorted(actions(doc)) == ["s3:GetObject", "s3:ListBucket"]  # read only
    for arn in resources(doc):
        assert_exact_arn(arn)
    assert_no_broad_elements(doc)
    assert findings(doc) == []  # parliament also checks Principal in resource policies


@pytest.mark.parametrize("setup", SETUPS)
def test_kms_statement_star_is_the_key_itself(setup: dict[str, str]) -> None:
    """The single allowed '*': in a key policy it can only mean the key the policy is on."""
    doc = build(setup)["key_policy"]
    (statement,) = p.statements(doc)
    assert statement["Resource"] == "*"
    assert statement["Principal"] == {"AWS": [setup["principal"]]}
    assert actions(doc) == ["kms:Decrypt"]  # decrypt only: no Encrypt, no key administration
    assert_no_broad_elements(doc)
    # parliament lints it as an identity policy and flags exactly that '*', nothing else.
    assert findings(doc) == [("RESOURCE_STAR", ["kms:Decrypt"])]


def test_trust_document_shape() -> None:
    doc = p.share_role_trust(OWNER)
    assert doc["Version"] == "2012-10-17"
    (statement,) = p.statements(doc)
    assert statement == {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{OWNER}:root"},  # account A, as the console needs
        "Action": "sts:AssumeRole",
    }
    assert_exact_arn(statement["Principal"]["AWS"])
    # What parliament says about a trust policy is only that it is not an identity policy:
    assert findings(doc) == [("MALFORMED", "Statement contains neither Resource nor NotResource")]


def test_every_builder_is_covered() -> None:
    """A new builder in wizard/policies.py must get a least-privilege test here."""
    builders = {name for name in dir(p)
                if callable(getattr(p, name)) and (name.endswith(("_policy", "_statement",
                                                                  "_trust")))}
    assert builders == {"identity_policy", "share_role_policy", "share_role_trust",
                        "spill_grant_statement", "kms_decrypt_statement", "merge_statement",
                        "org_spill_grant_statement"}


@pytest.mark.parametrize(("is_root", "condition"), [
    (False, {"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": ["o-abcdefghij/r-ab12/"
                                                                  "ou-ab12-11111111/*"]}}),
    (True, {"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}}),
])
def test_org_spill_statement_is_read_only_and_never_unconditioned(
        is_root: bool, condition: dict[str, object]) -> None:
    """Principal '*' is only ever granted under the organization's (or the OU's) condition."""
    statement = p.org_spill_grant_statement("XacctWizardSpillOrg", "spill", "o-abcdefghij",
                                            "o-abcdefghij/r-ab12/ou-ab12-11111111/", is_root)
    assert statement["Condition"] == condition
    assert statement["Principal"] == {"AWS": "*"}
    assert sorted(statement["Action"]) == ["s3:GetObject", "s3:ListBucket"]
    assert set(statement["Resource"]) == {"arn:aws:s3:::spill", "arn:aws:s3:::spill/*"}
    doc = {"Version": "2012-10-17", "Statement": [statement]}
    assert_no_broad_elements(doc)
    assert findings(doc) == []


@pytest.mark.parametrize("setup", SETUPS)
def test_whole_documents_are_valid_json_policies(setup: dict[str, str]) -> None:
    for name, doc in build(setup).items():
        assert doc["Version"] == "2012-10-17", name
        assert json.loads(p.dumps(doc)) == doc
        sids = [s["Sid"] for s in p.statements(doc) if "Sid" in s]
        assert len(sids) == len(set(sids)), name
        assert all(re.fullmatch(r"[A-Za-z0-9]+", sid) for sid in sids), name
