"""The engine's IAM evaluator (wizard.policy_eval): every rule the doctor and the sandbox rely
on, one table row per rule, plus the two properties IAM guarantees."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wizard.policy_eval import (
    Caller,
    Decision,
    authorize,
    conditions_match,
    evaluate_identity,
    evaluate_resource,
    explain_identity,
)

A, B = "111111111111", "222222222222"
FN = f"arn:aws:lambda:us-east-1:{A}:function:acct1dynamodb"
USER = f"arn:aws:iam::{B}:user/analyst"
ROLE = f"arn:aws:iam::{B}:role/Analyst"
OBJ = "arn:aws:s3:::spill/athena-spill/q1/part"
KEY = f"arn:aws:kms:us-east-1:{A}:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: Any = "*", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any = "*", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def user(*docs: dict[str, Any], boundary: dict[str, Any] | None = None,
         org: str = "") -> Caller:
    return Caller(B, USER, USER, "user", "analyst", tuple(docs), boundary, org)


def role(*docs: dict[str, Any], boundary: dict[str, Any] | None = None) -> Caller:
    return Caller(B, ROLE, f"arn:aws:sts::{B}:assumed-role/Analyst/s", "role", "Analyst",
                  tuple(docs), boundary)


# --------------------------------------------------------------------------- statements
@pytest.mark.parametrize(("statement", "action", "resource", "expected"), [
    (allow("lambda:InvokeFunction", FN), "lambda:InvokeFunction", FN, Decision.ALLOW),
    (allow("LAMBDA:invoke*", FN), "lambda:InvokeFunction", FN, Decision.ALLOW),  # actions: any case
    (allow("lambda:InvokeFunction", FN.upper()), "lambda:InvokeFunction", FN,
     Decision.IMPLICIT),  # resources: exact case
    (allow("lambda:Invoke?unction", FN), "lambda:InvokeFunction", FN, Decision.ALLOW),
    (allow("lambda:InvokeFunction", FN + ":*"), "lambda:InvokeFunction", FN,
     Decision.IMPLICIT),  # a qualified-ARN grant does not cover the bare function
    (allow("s3:GetObject", "arn:aws:s3:::spill/*"), "s3:GetObject", OBJ, Decision.ALLOW),
    (allow("s3:GetObject", "arn:aws:s3:::spill"), "s3:GetObject", OBJ, Decision.IMPLICIT),
    ({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, "s3:GetObject", OBJ,
     Decision.ALLOW),
    ({"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}, "s3:GetObject", OBJ,
     Decision.IMPLICIT),
    ({"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:s3:::other/*"}, "s3:GetObject",
     OBJ, Decision.ALLOW),
    ({"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:s3:::spill/*"}, "s3:GetObject",
     OBJ, Decision.IMPLICIT),
    ({"Effect": "Allow", "Action": "*"}, "s3:GetObject", OBJ, Decision.IMPLICIT),  # no Resource
    (deny("s3:*", "arn:aws:s3:::spill/*"), "s3:GetObject", OBJ, Decision.DENY),
    (allow("s3:GetObject", "arn:aws:s3:::${aws:username}/*"), "s3:GetObject",
     "arn:aws:s3:::analyst/x", Decision.ALLOW),  # policy variables
    (allow("s3:GetObject", "arn:aws:s3:::${aws:nosuchkey}/*"), "s3:GetObject",
     "arn:aws:s3:::analyst/x", Decision.IMPLICIT),
])
def test_statement_matching(statement: dict[str, Any], action: str, resource: str,
                            expected: Decision) -> None:
    ctx = {"aws:username": "analyst"}
    assert evaluate_identity([doc(statement)], action, resource, ctx) is expected


# --------------------------------------------------------------------------- conditions
CTX: dict[str, Any] = {
    "aws:principalarn": ROLE, "aws:principalaccount": B, "aws:principalorgid": "o-abc123",
    "aws:sourceaccount": A, "s3:prefix": "athena-spill/q1", "kms:viaservice":
    "s3.us-east-1.amazonaws.com", "aws:securetransport": "true", "aws:multifactorauthage": "30",
    "aws:calledvia": ["athena.amazonaws.com"], "aws:sourceip": "10.1.2.3",
    "aws:currenttime": "2026-01-01T00:00:00Z", "s3:x-amz-server-side-encryption": "AES256",
}


@pytest.mark.parametrize(("condition", "expected"), [
    ({"StringEquals": {"aws:PrincipalAccount": B}}, True),
    ({"StringEquals": {"aws:PrincipalAccount": [A, B]}}, True),  # values are ORed
    ({"StringEquals": {"aws:PrincipalAccount": A}}, False),
    ({"StringNotEquals": {"aws:PrincipalAccount": A}}, True),
    ({"StringNotEquals": {"aws:PrincipalAccount": [A, B]}}, False),
    ({"StringEqualsIgnoreCase": {"aws:PrincipalArn": ROLE.upper()}}, True),
    ({"StringNotEqualsIgnoreCase": {"aws:PrincipalArn": ROLE.upper()}}, False),
    ({"StringLike": {"s3:prefix": "athena-spill/*"}}, True),
    ({"StringNotLike": {"s3:prefix": "athena-spill/*"}}, False),
    ({"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}, True),
    ({"StringEquals": {"aws:PrincipalOrgID": "o-other"}}, False),
    ({"StringEquals": {"aws:SourceAccount": A}}, True),
    ({"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}, True),
    ({"StringEquals": {"kms:ViaService": "ec2.us-east-1.amazonaws.com"}}, False),
    ({"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{B}:role/*"}}, True),
    ({"ArnEquals": {"aws:PrincipalArn": USER}}, False),
    ({"ArnNotLike": {"aws:PrincipalArn": f"arn:aws:iam::{B}:role/*"}}, False),
    ({"Bool": {"aws:SecureTransport": "true"}}, True),
    ({"Bool": {"aws:SecureTransport": False}}, False),
    ({"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}}, True),
    ({"NumericGreaterThan": {"aws:MultiFactorAuthAge": "3600"}}, False),
    ({"NumericEquals": {"aws:MultiFactorAuthAge": "30"}}, True),
    ({"NumericNotEquals": {"aws:MultiFactorAuthAge": "30"}}, False),
    ({"NumericLessThanEquals": {"aws:MultiFactorAuthAge": "30"}}, True),
    ({"NumericGreaterThanEquals": {"aws:MultiFactorAuthAge": "31"}}, False),
    ({"DateGreaterThan": {"aws:CurrentTime": "2025-01-01T00:00:00Z"}}, True),
    ({"DateLessThan": {"aws:CurrentTime": "2025-01-01T00:00:00Z"}}, False),
    ({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, True),
    ({"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, False),
    ({"Null": {"aws:SourceVpc": "true"}}, True),  # absent
    ({"Null": {"aws:SourceVpc": "false"}}, False),
    ({"Null": {"s3:x-amz-server-side-encryption": "true"}}, False),
    ({"StringEquals": {"aws:SourceVpc": "vpc-1"}}, False),  # absent key fails positive ops
    ({"StringNotEquals": {"aws:SourceVpc": "vpc-1"}}, True),  # ...and satisfies negated ones
    ({"StringEqualsIfExists": {"aws:SourceVpc": "vpc-1"}}, True),
    ({"StringEqualsIfExists": {"aws:PrincipalAccount": A}}, False),  # present: checked
    ({"ForAnyValue:StringEquals": {"aws:CalledVia": ["athena.amazonaws.com", "x"]}}, True),
    ({"ForAnyValue:StringEquals": {"aws:CalledVia": "glue.amazonaws.com"}}, False),
    ({"ForAnyValue:StringEquals": {"aws:TagKeys": "x"}}, False),  # absent: no value matches
    ({"ForAllValues:StringEquals": {"aws:CalledVia": ["athena.amazonaws.com", "x"]}}, True),
    ({"ForAllValues:StringEquals": {"aws:TagKeys": "x"}}, True),  # absent: vacuously true
    ({"ForAllValues:StringEquals": {"aws:CalledVia": "glue.amazonaws.com"}}, False),
    ({"ForAnyValue:StringNotEquals": {"aws:CalledVia": "athena.amazonaws.com"}}, False),
    ({"StringEquals": {"aws:PrincipalAccount": B}, "Bool": {"aws:SecureTransport": "false"}},
     False),  # blocks are ANDed
    ({"StringEquals": {"aws:PrincipalAccount": "${aws:PrincipalAccount}"}}, True),
    ({"Frobnicate": {"aws:PrincipalAccount": B}}, False),  # unknown operator never grants
])
def test_condition_operators(condition: dict[str, Any], expected: bool) -> None:
    assert conditions_match({"Condition": condition}, CTX) is expected


# --------------------------------------------------------------------------- principals
@pytest.mark.parametrize(("principal", "caller", "expected"), [
    ("*", user(), True),
    ({"AWS": USER}, user(), True),
    ({"AWS": [f"arn:aws:iam::{B}:root"]}, user(), True),
    ({"AWS": B}, user(), True),
    ({"AWS": A}, user(), False),
    ({"AWS": ROLE}, role(), True),  # an assumed-role session is its role
    ({"AWS": ROLE.replace("Analyst", "analyst")}, role(), True),  # role names: any case
    ({"AWS": f"arn:aws:iam::{B}:user/other"}, user(), False),
    ({"Service": "athena.amazonaws.com"}, user(), False),
])
def test_resource_policy_principals(principal: Any, caller: Caller, expected: bool) -> None:
    policy = doc({"Effect": "Allow", "Principal": principal, "Action": "lambda:*",
                  "Resource": FN})
    got = evaluate_resource(policy, caller, "lambda:InvokeFunction", FN)
    assert (got is Decision.ALLOW) is expected


def test_not_principal() -> None:
    policy = doc({"Effect": "Deny", "NotPrincipal": {"AWS": USER}, "Action": "s3:*",
                  "Resource": "*"})
    assert evaluate_resource(policy, user(), "s3:GetObject", OBJ) is Decision.IMPLICIT
    assert evaluate_resource(policy, role(), "s3:GetObject", OBJ) is Decision.DENY


# --------------------------------------------------------------------------- authorize
GRANT = doc({"Sid": "Invoke", "Effect": "Allow", "Principal": {"AWS": USER},
             "Action": "lambda:InvokeFunction", "Resource": FN})
IDENTITY = doc(allow("lambda:InvokeFunction", FN, Sid="CallConnector"))


@pytest.mark.parametrize(("caller", "resource_policy", "resource_account", "reason"), [
    (user(IDENTITY), GRANT, A, ""),  # across accounts both sides allow
    (user(IDENTITY), None, A, "resource"),  # the owner never granted
    (user(), GRANT, A, "identity"),  # the consumer never granted
    (user(IDENTITY, doc(deny("lambda:*"))), GRANT, A, "identity-deny"),
    (user(IDENTITY), doc(GRANT["Statement"][0], {"Effect": "Deny", "Principal": "*",
                                                 "Action": "*", "Resource": "*"}), A,
     "resource-deny"),
    (user(IDENTITY, boundary=doc(allow("lambda:*"))), GRANT, A, ""),
    (user(IDENTITY, boundary=doc(allow("s3:*"))), GRANT, A, "boundary"),
    (user(IDENTITY, boundary=doc(allow("*"), deny("lambda:*"))), GRANT, A, "boundary-deny"),
    (user(IDENTITY), None, B, ""),  # same account: the identity policy alone suffices
    (user(), GRANT, B, ""),  # ...or the resource policy alone
    (user(), None, B, "identity"),
    (user(boundary=doc(allow("s3:*"))), GRANT, B, ""),  # a grant naming the user escapes it
    (user(boundary=doc(allow("s3:*"))),  # ...but not a "*" grant beside an unrelated one
     doc({"Effect": "Allow", "Principal": "*", "Action": "lambda:*", "Resource": "*"},
         {"Effect": "Allow", "Principal": {"AWS": USER}, "Action": "s3:GetObject",
          "Resource": "*"}), B, "boundary"),
    (role(boundary=doc(allow("s3:*"))), doc({"Effect": "Allow", "Principal": {"AWS": ROLE},
                                             "Action": "*", "Resource": "*"}), B, "boundary"),
    (user(IDENTITY), doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{B}:root"},
                          "Action": "lambda:*", "Resource": "*"}), A, ""),  # account grant
    (Caller(B, f"arn:aws:iam::{B}:root", f"arn:aws:iam::{B}:root", "root"), GRANT, A,
     "resource"),  # even a root needs the other account's grant
])
def test_authorize(caller: Caller, resource_policy: dict[str, Any] | None,
                   resource_account: str, reason: str) -> None:
    result = authorize(caller, "lambda:InvokeFunction", FN, resource_account=resource_account,
                       resource_policy=resource_policy)
    assert result.reason == reason
    assert result.allowed is (reason == "")


def test_principal_org_id_comes_from_the_caller() -> None:
    key_policy = doc({"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt",
                      "Resource": "*",
                      "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}})
    identity = doc(allow("kms:Decrypt", KEY))
    assert authorize(user(identity, org="o-abc123"), "kms:Decrypt", KEY, resource_account=A,
                     resource_policy=key_policy).allowed
    assert not authorize(user(identity), "kms:Decrypt", KEY, resource_account=A,
                         resource_policy=key_policy).allowed


def test_evidence_names_the_deciding_statement() -> None:
    out = explain_identity([IDENTITY], "lambda:InvokeFunction", FN, {}, ["inline policy p"])
    assert out.decision is Decision.ALLOW
    assert "'CallConnector' in inline policy p allows" in out.describe()
    denied = authorize(user(IDENTITY, doc(deny("lambda:*", Sid="NoLambda"))),
                       "lambda:InvokeFunction", FN, resource_account=A, resource_policy=GRANT)
    assert denied.identity.statement is not None
    assert denied.identity.statement["Sid"] == "NoLambda"
    assert "explicit deny in an identity-based policy" in denied.message


# --------------------------------------------------------------------------- properties
ACTIONS = ["lambda:InvokeFunction", "s3:GetObject", "s3:PutObject", "kms:Decrypt",
           "athena:StartQueryExecution"]
RESOURCES = [FN, OBJ, KEY, "arn:aws:s3:::results/q/x.csv", "*"]
action_patterns = st.sampled_from([*ACTIONS, "*", "s3:*", "lambda:Invoke*", "kms:*"])
resource_patterns = st.sampled_from([*RESOURCES, "arn:aws:s3:::spill/*", "arn:aws:lambda:*"])
conditions = st.one_of(st.none(), st.sampled_from([
    {"StringEquals": {"aws:PrincipalAccount": B}},
    {"StringEquals": {"aws:PrincipalAccount": A}},
    {"Bool": {"aws:SecureTransport": "true"}},
    {"StringLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/*"}},
    {"Null": {"aws:SourceVpc": "false"}},
]))


@st.composite
def statements(draw: st.DrawFn, principal: bool = False) -> dict[str, Any]:
    stmt: dict[str, Any] = {
        "Effect": draw(st.sampled_from(["Allow", "Deny"])),
        draw(st.sampled_from(["Action", "NotAction"])): draw(action_patterns),
        draw(st.sampled_from(["Resource", "NotResource"])): draw(resource_patterns),
    }
    cond = draw(conditions)
    if cond:
        stmt["Condition"] = cond
    if principal:
        stmt["Principal"] = draw(st.sampled_from(["*", {"AWS": USER}, {"AWS": B}, {"AWS": A}]))
    return stmt


documents = st.lists(st.lists(statements(), max_size=3).map(lambda s: doc(*s)), max_size=3)
resource_docs = st.one_of(st.none(), st.lists(statements(principal=True), max_size=3)
                          .map(lambda s: doc(*s)))
boundaries = st.one_of(st.none(), st.lists(statements(), max_size=2).map(lambda s: doc(*s)))
requests = st.tuples(st.sampled_from(ACTIONS), st.sampled_from(RESOURCES),
                     st.sampled_from([A, B]))
SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(documents, resource_docs, boundaries, requests, st.sampled_from(["identity", "resource",
                                                                         "boundary"]))
def test_an_explicit_deny_always_wins(docs: list[dict[str, Any]],
                                      resource_policy: dict[str, Any] | None,
                                      boundary: dict[str, Any] | None,
                                      request: tuple[str, str, str], where: str) -> None:
    action, resource, account = request
    blanket = {"Effect": "Deny", "Action": "*", "Resource": "*"}
    if where == "identity":
        docs = [*docs, doc(blanket)]
    elif where == "resource":
        resource_policy = doc(*(resource_policy or doc())["Statement"],
                              {**blanket, "Principal": "*"})
    else:
        boundary = doc(*(boundary or doc())["Statement"], blanket)
    caller = user(*docs, boundary=boundary)
    result = authorize(caller, action, resource, resource_account=account,
                       resource_policy=resource_policy)
    assert not result.allowed
    assert result.reason.endswith("-deny")


@SETTINGS
@given(documents, resource_docs, boundaries, requests, statements(principal=True),
       st.sampled_from(["identity", "resource", "boundary"]))
def test_an_unrelated_statement_never_changes_a_decision(
        docs: list[dict[str, Any]], resource_policy: dict[str, Any] | None,
        boundary: dict[str, Any] | None, request: tuple[str, str, str],
        extra: dict[str, Any], where: str) -> None:
    action, resource, account = request
    # Unrelated: an action of a service no request uses (never NotAction, which is broad).
    extra = {k: v for k, v in extra.items() if k not in ("Action", "NotAction")}
    extra["Action"] = "unrelated:DoSomething"
    before = authorize(user(*docs, boundary=boundary), action, resource,
                       resource_account=account, resource_policy=resource_policy)
    if where == "identity":
        extra.pop("Principal")
        docs = [*docs, doc(extra)]
    elif where == "resource":
        resource_policy = doc(*(resource_policy or doc())["Statement"], extra)
    elif boundary is not None:
        extra.pop("Principal")
        boundary = doc(*boundary["Statement"], extra)
    after = authorize(user(*docs, boundary=boundary), action, resource,
                      resource_account=account, resource_policy=resource_policy)
    assert (after.allowed, after.reason) == (before.allowed, before.reason)


# --------------------------------------------------------------------------- KMS
KEY_ADMIN = {"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:root"},
             "Action": "kms:*", "Resource": "*"}
ROLE_A = f"arn:aws:iam::{A}:role/connector"


def connector_role(*docs: dict[str, Any]) -> Caller:
    return Caller(A, ROLE_A, f"arn:aws:sts::{A}:assumed-role/connector/fn", "role",
                  "connector", tuple(docs))


@pytest.mark.parametrize(("caller", "key_policy", "reason"), [
    # same account: a root statement delegates to IAM, so the role's own policy decides
    (connector_role(doc(allow("kms:GenerateDataKey", KEY))), doc(KEY_ADMIN), ""),
    (connector_role(), doc(KEY_ADMIN), "identity"),
    # ...a statement naming the role itself needs no identity policy
    (connector_role(), doc(KEY_ADMIN, {"Effect": "Allow", "Principal": {"AWS": ROLE_A},
                                       "Action": "kms:GenerateDataKey", "Resource": "*"}), ""),
    # ...and an identity policy alone is not enough without the key policy
    (connector_role(doc(allow("kms:*"))), doc({"Effect": "Allow", "Principal": {
        "AWS": f"arn:aws:iam::{A}:role/other"}, "Action": "kms:*", "Resource": "*"}),
     "resource"),
    (connector_role(doc(allow("kms:*"))), None, "resource"),
    (connector_role(doc(allow("kms:*"))), doc(KEY_ADMIN, {
        "Effect": "Deny", "Principal": "*", "Action": "kms:GenerateDataKey", "Resource": "*"}),
     "resource-deny"),
])
def test_kms_key_policy_rules(caller: Caller, key_policy: dict[str, Any] | None,
                              reason: str) -> None:
    from wizard.policy_eval import authorize_kms

    result = authorize_kms(caller, "kms:GenerateDataKey", KEY, key_account=A,
                           key_policy=key_policy)
    assert (result.allowed, result.reason) == (reason == "", reason)


def test_kms_across_accounts_needs_both() -> None:
    from wizard.policy_eval import authorize_kms

    grant = doc(KEY_ADMIN, {"Effect": "Allow", "Principal": {"AWS": USER},
                            "Action": "kms:Decrypt", "Resource": "*"})
    assert authorize_kms(user(doc(allow("kms:Decrypt", KEY))), "kms:Decrypt", KEY,
                         key_account=A, key_policy=grant).allowed
    assert authorize_kms(user(), "kms:Decrypt", KEY, key_account=A,
                         key_policy=grant).reason == "identity"
    assert authorize_kms(user(doc(allow("kms:Decrypt", KEY))), "kms:Decrypt", KEY,
                         key_account=A, key_policy=doc(KEY_ADMIN)).reason == "resource"
