"""Policy documents: the builders' exact output, and the promise made to admins about merging.

Issue 5 item 2 ("nothing lost"): over arbitrary existing bucket policies, Lambda policies, key
policies and role trust documents, merging our statement keeps every other statement as it was
and where it was, applying twice equals applying once, and removing ours again gives back a
document equivalent to the original. These are property tests (hypothesis) because the
documents that matter are the ones other teams wrote, which we cannot enumerate.
"""

from __future__ import annotations

import copy
import json
import os
import string
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wizard import policies as p

# XACCT_FUZZ_EXAMPLES=5000 for a deeper local run; the default keeps the unit suite fast.
PROPERTY = settings(max_examples=int(os.environ.get("XACCT_FUZZ_EXAMPLES", "40")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

OWNER = "111111111111"
CONSUMER = "222222222222"
REGION = "us-east-1"
PRINCIPAL = f"arn:aws:iam::{CONSUMER}:user/analyst"
FN_ARN = f"arn:aws:lambda:{REGION}:{OWNER}:function:acct1dynamodb"
OUR_SID = p.sid_for("Spill", CONSUMER, "acct1dynamodb")

# --------------------------------------------------------------------------- strategies
ALNUM = string.ascii_letters + string.digits
sids = st.text(alphabet=ALNUM, min_size=1, max_size=24).filter(
    lambda s: not s.startswith(p.SID_PREFIX)
)
accounts = st.text(alphabet=string.digits, min_size=12, max_size=12)
aws_principals = st.one_of(
    accounts,
    accounts.map(lambda a: f"arn:aws:iam::{a}:root"),
    st.builds(lambda a, n: f"arn:aws:iam::{a}:role/{n}", accounts,
              st.text(alphabet=ALNUM + "+=,.@_-", min_size=1, max_size=20)),
    st.just("*"),
)
services = st.sampled_from(["lambda.amazonaws.com", "s3.amazonaws.com",
                            "athena.amazonaws.com", "events.amazonaws.com"])


def one_or_many(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """IAM accepts a scalar or a list wherever a set of values goes: generate both."""
    return values | st.lists(values, min_size=1, max_size=4)


principals = st.one_of(
    st.just("*"),
    st.fixed_dictionaries({"AWS": one_or_many(aws_principals)}),
    st.fixed_dictionaries({"Service": one_or_many(services)}),
    st.fixed_dictionaries({"Federated": st.just("cognito-identity.amazonaws.com")}),
    st.fixed_dictionaries({"AWS": one_or_many(aws_principals),
                           "Service": one_or_many(services)}),
)
condition_values = one_or_many(st.text(alphabet=string.ascii_letters + string.digits + ":/*-",
                                       min_size=1, max_size=20))
conditions = st.dictionaries(
    st.sampled_from(["StringEquals", "StringLike", "ArnLike", "IpAddress", "Bool",
                     "ForAnyValue:StringEquals"]),
    st.dictionaries(st.sampled_from(["aws:SourceAccount", "aws:SourceArn", "aws:PrincipalOrgID",
                                     "s3:prefix", "aws:SourceIp", "aws:SecureTransport"]),
                    condition_values, min_size=1, max_size=2),
    min_size=1, max_size=2,
)

FLAVOURS: dict[str, dict[str, Any]] = {
    "bucket": {
        "actions": ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:*", "s3:DeleteObject",
                    "s3:GetBucketLocation"],
        "resources": ["arn:aws:s3:::example-spill-bucket", "arn:aws:s3:::example-spill-bucket/*",
                      "arn:aws:s3:::example-spill-bucket/reports/*", "*"],
        "resource": True,
    },
    "lambda": {
        "actions": ["lambda:InvokeFunction", "lambda:GetFunction", "lambda:*"],
        "resources": [FN_ARN, FN_ARN + ":prod", FN_ARN + ":*"],
        "resource": True,
    },
    "kms": {
        "actions": ["kms:*", "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*"],
        "resources": ["*"],
        "resource": True,
    },
    "trust": {
        "actions": ["sts:AssumeRole", "sts:TagSession", "sts:AssumeRoleWithWebIdentity"],
        "resources": [],
        "resource": False,
    },
}


@st.composite
def statements_(draw: st.DrawFn, flavour: str) -> dict[str, Any]:
    f = FLAVOURS[flavour]
    st_: dict[str, Any] = {}
    if draw(st.booleans()):
        st_["Sid"] = draw(sids)
    st_["Effect"] = draw(st.sampled_from(["Allow", "Deny"]))
    if draw(st.integers(0, 9)):  # nearly always: resource and trust policies name principals
        st_["NotPrincipal" if not draw(st.integers(0, 9)) else "Principal"] = draw(principals)
    st_["NotAction" if not draw(st.integers(0, 7)) else "Action"] = draw(
        one_or_many(st.sampled_from(f["actions"])))
    if f["resource"]:
        st_["NotResource" if not draw(st.integers(0, 7)) else "Resource"] = draw(
            one_or_many(st.sampled_from(f["resources"])))
    if draw(st.booleans()):
        st_["Condition"] = draw(conditions)
    keys = list(st_)
    order = draw(st.permutations(keys))  # other people's key order is theirs to keep
    return {k: st_[k] for k in order}


@st.composite
def documents(draw: st.DrawFn, flavour: str, version: bool | None = None,
              min_statements: int = 0, list_form: bool | None = None) -> dict[str, Any] | None:
    """An existing policy as AWS might return it (None: there is no policy yet)."""
    if min_statements == 0 and version is None and list_form is None and not draw(
            st.integers(0, 9)):
        return None
    stmts = draw(st.lists(statements_(flavour), min_size=min_statements, max_size=5))
    doc: dict[str, Any] = {}
    has_version = draw(st.booleans()) if version is None else version
    if has_version:
        doc["Version"] = draw(st.sampled_from(["2012-10-17", "2008-10-17"]))
    if draw(st.booleans()):
        doc["Id"] = draw(st.sampled_from(["default", "key-consolepolicy-3", "Policy1"]))
    single = len(stmts) == 1 and (draw(st.booleans()) if list_form is None else not list_form)
    doc["Statement"] = stmts[0] if single else stmts
    keys = list(doc)
    return {k: doc[k] for k in draw(st.permutations(keys))}


def ours_for(flavour: str) -> dict[str, Any]:
    """The statement this tool puts into a document of that kind."""
    if flavour == "bucket":
        return p.spill_grant_statement(OUR_SID, PRINCIPAL, "example-spill-bucket")
    if flavour == "kms":
        return p.kms_decrypt_statement(OUR_SID, PRINCIPAL)
    if flavour == "lambda":
        return {"Sid": OUR_SID, "Effect": "Allow", "Principal": {"AWS": PRINCIPAL},
                "Action": "lambda:InvokeFunction", "Resource": FN_ARN}
    return {"Sid": OUR_SID, "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{OWNER}:root"}, "Action": "sts:AssumeRole"}


flavours = st.sampled_from(sorted(FLAVOURS))


@st.composite
def doc_and_ours(draw: st.DrawFn, **kwargs: Any) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    flavour = draw(flavours)
    return draw(documents(flavour, **kwargs)), ours_for(flavour)


def others(doc: dict[str, Any] | None, sid: str = OUR_SID) -> list[dict[str, Any]]:
    return [s for s in p.statements(doc) if s.get("Sid") != sid]


def pretty_lines(statement: dict[str, Any], indent: int) -> list[str]:
    return [" " * indent + line for line in p.pretty(statement).splitlines()]


def no_comma(lines: list[str]) -> Counter[str]:
    """Line multiset, ignoring the JSON separator comma (it moves when a list grows)."""
    return Counter(line.rstrip(",") for line in lines)


# --------------------------------------------------------------------------- merge properties
@PROPERTY
@given(doc_and_ours())
def test_merge_keeps_every_other_statement_in_order(case: Any) -> None:
    doc, ours = case
    before = copy.deepcopy(doc)
    merged = p.merge_statement(doc, ours)
    assert doc == before, "the input document must not be modified"
    assert others(merged) == p.statements(doc), "same content, same order"
    assert p.statement_by_sid(merged, OUR_SID) == ours
    assert [s.get("Sid") for s in p.statements(merged)].count(OUR_SID) == 1
    for key, value in (doc or {}).items():
        if key not in {"Statement", "Version"}:
            assert merged[key] == value
    if doc and "Version" in doc:
        assert merged["Version"] == doc["Version"]
    assert json.loads(p.dumps(merged)) == merged


@PROPERTY
@given(doc_and_ours(), st.data())
def test_merge_replaces_our_stale_statement_in_place(case: Any, data: st.DataObject) -> None:
    doc, ours = case
    doc = copy.deepcopy(doc) or {"Version": "2012-10-17", "Statement": []}
    stmts = p.statements(doc)
    stale = {**ours, "Action": "s3:PutObject", "Resource": "*"}
    at = data.draw(st.integers(0, len(stmts)))
    stmts.insert(at, stale)
    doc["Statement"] = stmts
    merged = p.merge_statement(doc, ours)
    assert p.statements(merged)[at] == ours
    assert others(merged) == others(doc)


@PROPERTY
@given(doc_and_ours())
def test_merge_twice_equals_once(case: Any) -> None:
    doc, ours = case
    once = p.merge_statement(doc, ours)
    assert p.merge_statement(once, ours) == once


@PROPERTY
@given(doc_and_ours(version=True))
def test_remove_after_merge_restores_an_equivalent_document(case: Any) -> None:
    doc, ours = case
    restored = p.remove_statements(p.merge_statement(doc, ours), [OUR_SID])
    if not p.statements(doc):
        assert restored is None
    else:
        assert p.equivalent(restored, doc)
        assert p.statements(restored) == p.statements(doc)


@PROPERTY
@given(documents("bucket", version=True, min_statements=1), sids)
def test_remove_of_an_absent_sid_changes_nothing(doc: Any, sid: str) -> None:
    if any(s.get("Sid") == sid for s in p.statements(doc)):
        return
    assert p.equivalent(p.remove_statements(doc, {sid}), doc)


def test_remove_after_merge_when_there_was_no_policy() -> None:
    for empty in (None, {}):
        merged = p.merge_statement(empty, ours_for("bucket"))
        assert merged == {"Version": "2012-10-17", "Statement": [ours_for("bucket")]}
        assert p.remove_statements(merged, [OUR_SID]) is None
    assert p.remove_statements(None, [OUR_SID]) is None


def test_remove_after_merge_restores_a_versionless_document() -> None:
    theirs = {"Sid": "Reports", "Effect": "Allow",
              "Principal": {"AWS": "arn:aws:iam::444444444444:root"},
              "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/${aws:username}/*"}
    doc = {"Statement": [theirs]}
    merged = p.merge_statement(doc, ours_for("bucket"))
    assert "Version" not in merged
    assert p.equivalent(p.remove_statements(merged, [OUR_SID]), doc)


# --------------------------------------------------------------------------- equivalence
def _reshape(value: Any, data: st.DataObject) -> Any:
    """The same set, written differently: shuffled, and one element <-> scalar."""
    if isinstance(value, list):
        value = data.draw(st.permutations(value))
        if len(value) == 1 and data.draw(st.booleans()):
            return value[0]
        return value
    if isinstance(value, str) and data.draw(st.booleans()):
        return [value]
    return value


def reshaped(doc: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    stmts = []
    for s in p.statements(out):
        for key in ("Action", "NotAction", "Resource", "NotResource"):
            if key in s:
                s[key] = _reshape(s[key], data)
        for key in ("Principal", "NotPrincipal"):
            if isinstance(s.get(key), dict):
                s[key] = {k: _reshape(v, data) for k, v in s[key].items()}
        if "Condition" in s:
            s["Condition"] = {op: {k: _reshape(v, data) for k, v in block.items()}
                              for op, block in s["Condition"].items()}
        stmts.append({k: s[k] for k in data.draw(st.permutations(list(s)))})
    out["Statement"] = stmts[0] if len(stmts) == 1 and data.draw(st.booleans()) else stmts
    return out


@PROPERTY
@given(doc_and_ours(min_statements=1), st.data())
def test_equivalent_ignores_list_order_and_scalar_vs_list(case: Any, data: st.DataObject) -> None:
    doc, _ = case
    assert p.equivalent(doc, reshaped(doc, data))
    assert p.equivalent(reshaped(doc, data), doc)


@PROPERTY
@given(doc_and_ours(min_statements=1), st.data())
def test_equivalent_notices_a_real_change(case: Any, data: st.DataObject) -> None:
    doc, _ = case
    changed = copy.deepcopy(doc)
    stmts = p.statements(changed)
    i = data.draw(st.integers(0, len(stmts) - 1))
    stmts[i] = {**stmts[i], "Effect": "Deny" if stmts[i]["Effect"] == "Allow" else "Allow"}
    changed["Statement"] = stmts
    assert not p.equivalent(doc, changed)


def test_equivalent_examples() -> None:
    a = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["b", "a"],
                                                  "Resource": ["r"]}]}
    b = {"Version": "2012-10-17", "Statement": {"Resource": "r", "Action": ["a", "b"],
                                                "Effect": "Allow"}}
    assert p.equivalent(a, b)
    assert not p.equivalent(a, {**b, "Version": "2008-10-17"})
    assert not p.equivalent(a, None) and p.equivalent(None, None)
    assert p.statement_equivalent({"Action": "x"}, {"Action": ["x"]})
    assert not p.statement_equivalent({"Action": "x"}, None)
    assert p.statement_equivalent(None, None)


def test_equivalent_condition_scalars_of_any_type() -> None:
    def doc(value: Any) -> dict[str, Any]:
        return {"Version": "2012-10-17", "Statement": [{
            "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*",
            "Condition": {"Bool": {"aws:SecureTransport": value}}}]}

    assert p.equivalent(doc(False), doc([False]))


# --------------------------------------------------------------------------- diff
@PROPERTY
@given(doc_and_ours(version=True, min_statements=1, list_form=True))
def test_diff_marks_only_our_statement_as_added(case: Any) -> None:
    doc, ours = case
    merged = p.merge_statement(doc, ours)
    lines = p.diff_documents(doc, merged)
    assert lines[0].startswith("---") and lines[1].startswith("+++")
    body = lines[2:]
    removed = [x[1:] for x in body if x.startswith("-")]
    added = [x[1:] for x in body if x.startswith("+")]
    assert removed == []
    assert no_comma(added) == no_comma(pretty_lines(ours, 4))
    assert p.diff_documents(merged, p.merge_statement(merged, ours)) == []


@PROPERTY
@given(doc_and_ours(version=True, list_form=True), st.data())
def test_diff_of_an_update_touches_only_our_lines(case: Any, data: st.DataObject) -> None:
    doc, ours = case
    doc = copy.deepcopy(doc) or {"Version": "2012-10-17", "Statement": []}
    stmts = p.statements(doc)
    stale = {**ours, "Action": ["s3:PutObject"], "Resource": "*"}
    stmts.insert(data.draw(st.integers(0, len(stmts))), stale)
    doc["Statement"] = stmts
    lines = p.diff_documents(doc, p.merge_statement(doc, ours))[2:]
    removed = [x[1:] for x in lines if x.startswith("-")]
    added = [x[1:] for x in lines if x.startswith("+")]
    assert removed and added
    assert not no_comma(removed) - no_comma(pretty_lines(stale, 4))
    assert not no_comma(added) - no_comma(pretty_lines(ours, 4))


def test_diff_from_nothing_is_all_added() -> None:
    merged = p.merge_statement(None, ours_for("bucket"))
    lines = p.diff_documents(None, merged, "bucket policy")
    assert lines[:2] == ["--- bucket policy (now)", "+++ bucket policy (after apply)"]
    assert all(x.startswith(("+", "@@")) for x in lines[2:])
    assert [x[1:] for x in lines if x.startswith("+") and not x.startswith("+++")] == (
        p.pretty(merged).splitlines())


def test_diff_of_a_single_statement_document_marks_only_ours() -> None:
    theirs = {"Sid": "Theirs", "Effect": "Allow",
              "Principal": {"AWS": "arn:aws:iam::444444444444:root"},
              "Action": "s3:GetObject", "Resource": "arn:aws:s3:::example-spill-bucket/*"}
    doc = {"Version": "2012-10-17", "Statement": theirs}
    lines = p.diff_documents(doc, p.merge_statement(doc, ours_for("bucket")))[2:]
    assert [x for x in lines if x.startswith("-")] == []


# --------------------------------------------------------------------------- documents
def test_loads_and_dumps() -> None:
    doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "x"}]}
    text = json.dumps(doc)
    assert p.loads(text) == doc
    assert p.loads(doc) is doc
    assert p.loads(None) is None and p.loads("") is None
    from urllib.parse import quote

    assert p.loads(quote(text)) == doc  # IAM returns URL-encoded documents
    assert p.dumps(doc) == '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"x"}]}'


def test_statements_and_lookup() -> None:
    one = {"Sid": "A", "Effect": "Allow"}
    assert p.statements(None) == [] and p.statements({}) == []
    assert p.statements({"Statement": one}) == [one]
    assert p.statements({"Statement": [one, one]}) == [one, one]
    assert p.statement_by_sid({"Statement": [one]}, "A") is one
    assert p.statement_by_sid({"Statement": [one]}, "B") is None


def test_remove_keeps_single_statement_shape() -> None:
    a, b = {"Sid": "A", "Effect": "Allow"}, {"Sid": "B", "Effect": "Allow"}
    assert p.remove_statements({"Statement": a}, ["B"]) == {"Statement": a}
    assert p.remove_statements({"Statement": [a, b]}, ["B"]) == {"Statement": [a]}
    assert p.remove_statements({"Statement": [a, b]}, {"A", "B"}) is None


def test_normalize() -> None:
    doc = {"Statement": {"Action": ["b", "a"], "Resource": ["x"], "Effect": "Allow"}}
    assert p.normalize(doc) == {"Statement": [{"Action": ["a", "b"], "Effect": "Allow",
                                               "Resource": "x"}]}
    assert p.normalize(None) is None


# --------------------------------------------------------------------------- builders
def test_sid_for_is_stable_and_valid() -> None:
    sid = p.sid_for("Spill", CONSUMER, "acct1_dynamo-db")
    assert sid == "XacctWizardSpill222222222222Acct1DynamoDb"
    assert sid == p.sid_for("Spill", CONSUMER, "acct1_dynamo-db")
    assert sid.isalnum()  # IAM Sids are [0-9A-Za-z]
    assert p.sid_for("Spill", CONSUMER, "x" * 200) == p.sid_for("Spill", CONSUMER, "x" * 300)
    assert len(p.sid_for("Spill", CONSUMER, "x" * 200)) == 100
    assert p.sid_for("Kms", CONSUMER) == "XacctWizardKms222222222222"


@pytest.mark.parametrize(
    ("uri", "parts"),
    [("s3://bucket/a/b/", ("bucket", "a/b/")), ("s3://bucket/", ("bucket", "")),
     ("s3://bucket", ("bucket", "")), ("bucket/x", ("bucket", "x"))],
)
def test_parse_s3_uri(uri: str, parts: tuple[str, str]) -> None:
    assert p.parse_s3_uri(uri) == parts


def test_spill_grant_statement() -> None:
    assert p.spill_grant_statement("S1", PRINCIPAL, "example-spill-bucket") == {
        "Sid": "S1",
        "Effect": "Allow",
        "Principal": {"AWS": [PRINCIPAL]},
        "Action": ["s3:GetObject", "s3:ListBucket"],
        "Resource": ["arn:aws:s3:::example-spill-bucket", "arn:aws:s3:::example-spill-bucket/*"],
    }


def test_kms_decrypt_statement() -> None:
    assert p.kms_decrypt_statement("K1", PRINCIPAL) == {
        "Sid": "K1",
        "Effect": "Allow",
        "Principal": {"AWS": [PRINCIPAL]},
        "Action": ["kms:Decrypt"],
        "Resource": "*",
    }


def identity(**overrides: str) -> dict[str, Any]:
    kwargs = dict(region=REGION, consumer_account=CONSUMER, function_arn=FN_ARN,
                  spill_bucket="example-spill-bucket", spill_prefix="athena-spill",
                  workgroup="primary", catalog_name="acct1dynamodb",
                  results_uri="s3://example-athena-results/queries/")
    kwargs.update(overrides)
    return p.identity_policy(**kwargs)


def test_identity_policy_exact() -> None:
    assert identity() == {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "InvokeConnector", "Effect": "Allow", "Action": ["lambda:InvokeFunction"],
             "Resource": [FN_ARN]},
            {"Sid": "ReadSpill", "Effect": "Allow",
             "Action": ["s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation"],
             "Resource": ["arn:aws:s3:::example-spill-bucket",
                          "arn:aws:s3:::example-spill-bucket/athena-spill/*"]},
            {"Sid": "RunQueries", "Effect": "Allow",
             "Action": ["athena:StartQueryExecution", "athena:GetQueryExecution",
                        "athena:GetQueryResults", "athena:StopQueryExecution",
                        "athena:GetWorkGroup"],
             "Resource": [f"arn:aws:athena:{REGION}:{CONSUMER}:workgroup/primary"]},
            {"Sid": "UseCatalog", "Effect": "Allow",
             "Action": ["athena:GetDataCatalog", "athena:ListDatabases", "athena:GetDatabase",
                        "athena:ListTableMetadata", "athena:GetTableMetadata"],
             "Resource": [f"arn:aws:athena:{REGION}:{CONSUMER}:datacatalog/acct1dynamodb"]},
            {"Sid": "BrowseListOnlyNoResourceType", "Effect": "Allow",
             "Action": ["athena:ListDataCatalogs", "athena:ListWorkGroups"], "Resource": "*"},
            {"Sid": "QueryResultsBucket", "Effect": "Allow",
             "Action": ["s3:GetBucketLocation", "s3:ListBucket"],
             "Resource": ["arn:aws:s3:::example-athena-results"]},
            {"Sid": "QueryResultsObjects", "Effect": "Allow",
             "Action": ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload",
                        "s3:ListMultipartUploadParts"],
             "Resource": ["arn:aws:s3:::example-athena-results/queries/*"]},
        ],
    }


def test_identity_policy_prefix_variants() -> None:
    doc = identity(spill_prefix="/a/b/", results_uri="s3://results/")
    by_sid = {s["Sid"]: s for s in doc["Statement"]}
    assert by_sid["ReadSpill"]["Resource"][1] == "arn:aws:s3:::example-spill-bucket/a/b/*"
    assert by_sid["QueryResultsObjects"]["Resource"] == ["arn:aws:s3:::results/*"]
    doc = identity(spill_prefix="")
    assert {s["Sid"]: s for s in doc["Statement"]}["ReadSpill"]["Resource"][1] == (
        "arn:aws:s3:::example-spill-bucket/*")


def test_share_role_documents() -> None:
    assert p.share_role_name(OWNER) == "AthenaCrossAccountCreate-111111111111"
    assert p.share_role_trust(OWNER) == {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
                       "Action": "sts:AssumeRole"}],
    }
    assert p.share_role_policy(REGION, CONSUMER, "acct1dynamodb") == {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": ["athena:CreateDataCatalog"],
            "Resource": [f"arn:aws:athena:{REGION}:{CONSUMER}:datacatalog/acct1dynamodb"],
        }],
    }


def test_builders_return_fresh_documents() -> None:
    """Callers merge and mutate what they get; shared module-level lists must not leak."""
    a = identity()
    a["Statement"][2]["Action"].append("athena:*")
    assert "athena:*" not in identity()["Statement"][2]["Action"]
    assert "athena:*" not in p.ATHENA_QUERY_ACTIONS
