"""The sandbox's IAM evaluator on its own (no server): the decisions AWS would make."""

from __future__ import annotations

from typing import Any

import pytest

from wizard.sandbox.iam_eval import (
    Caller,
    Decision,
    authorize,
    evaluate_identity,
    parse_document,
    principal_matches,
    wildcard_match,
)

FN = "arn:aws:lambda:us-east-1:111111111111:function:acct1dynamodb"
USER = "arn:aws:iam::222222222222:user/analyst"


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def analyst(*docs: dict[str, Any]) -> Caller:
    return Caller("222222222222", USER, USER, "user", "analyst", tuple(docs))


@pytest.mark.parametrize(("pattern", "value", "ignore_case", "expected"), [
    ("*", "anything", False, True),
    ("lambda:Invoke*", "lambda:InvokeFunction", False, True),
    ("LAMBDA:invoke?unction", "lambda:InvokeFunction", True, True),
    ("LAMBDA:invoke?unction", "lambda:InvokeFunction", False, False),
    ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket", False, False),
    ("arn:aws:s3:::bucket/[ab]", "arn:aws:s3:::bucket/a", False, False),  # no [] classes
    ("arn:aws:s3:::b.c/*", "arn:aws:s3:::bxc/k", False, False),  # '.' is literal
])
def test_wildcards(pattern: str, value: str, ignore_case: bool, expected: bool) -> None:
    assert wildcard_match(pattern, value, ignore_case=ignore_case) is expected


def test_identity_allow_deny_and_implicit() -> None:
    assert evaluate_identity([doc(allow("lambda:InvokeFunction", FN))],
                             "lambda:invokefunction", FN) is Decision.ALLOW
    assert evaluate_identity([doc(allow("lambda:InvokeFunction", FN + "x"))],
                             "lambda:InvokeFunction", FN) is Decision.IMPLICIT
    both = [doc(allow("*")), doc({"Effect": "Deny", "Action": "lambda:*", "Resource": FN})]
    assert evaluate_identity(both, "lambda:InvokeFunction", FN) is Decision.DENY
    assert evaluate_identity([doc(allow("s3:*"))], "lambda:InvokeFunction", FN) \
        is Decision.IMPLICIT


def test_not_action_and_not_resource() -> None:
    d = doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})
    assert evaluate_identity([d], "lambda:InvokeFunction", FN) is Decision.ALLOW
    assert evaluate_identity([d], "iam:CreateUser", "*") is Decision.IMPLICIT
    d = doc({"Effect": "Deny", "Action": "*", "NotResource": "arn:aws:s3:::*"})
    assert evaluate_identity([doc(allow("*")), d], "lambda:InvokeFunction", FN) is Decision.DENY
    assert evaluate_identity([doc(allow("*")), d], "s3:GetObject", "arn:aws:s3:::b/k") \
        is Decision.ALLOW


def test_conditions() -> None:
    ctx = {"aws:principalaccount": "222222222222", "aws:calledvia": ["athena.amazonaws.com"]}
    cond = allow("lambda:*", Condition={"StringEquals": {"aws:PrincipalAccount": "222222222222"},
                                        "ForAnyValue:StringEquals": {
                                            "aws:CalledVia": "athena.amazonaws.com"}})
    assert evaluate_identity([doc(cond)], "lambda:InvokeFunction", FN, ctx) is Decision.ALLOW
    absent = allow("lambda:*", Condition={"ArnLike": {"aws:SourceArn": "arn:aws:s3:::x"}})
    assert evaluate_identity([doc(absent)], "lambda:InvokeFunction", FN, ctx) \
        is Decision.IMPLICIT
    negated = allow("lambda:*", Condition={"StringNotEquals": {"aws:SourceVpc": "vpc-1"}})
    assert evaluate_identity([doc(negated)], "lambda:InvokeFunction", FN, ctx) is Decision.ALLOW
    if_exists = allow("lambda:*", Condition={"StringEqualsIfExists": {"aws:SourceVpc": "v"}})
    assert evaluate_identity([doc(if_exists)], "lambda:InvokeFunction", FN, ctx) \
        is Decision.ALLOW
    null = allow("lambda:*", Condition={"Null": {"aws:SourceVpc": "true"}})
    assert evaluate_identity([doc(null)], "lambda:InvokeFunction", FN, ctx) is Decision.ALLOW
    unknown_op = allow("lambda:*", Condition={"IpAddressish": {"aws:SourceIp": "10.0.0.0/8"}})
    assert evaluate_identity([doc(unknown_op)], "lambda:InvokeFunction", FN,
                             {"aws:sourceip": "10.1.1.1"}) is Decision.IMPLICIT


@pytest.mark.parametrize(("principal", "expected"), [
    ("*", True),
    ({"AWS": "*"}, True),
    (USER, True),  # how Lambda's add_permission stores a single principal
    ({"AWS": [USER]}, True),
    ({"AWS": "222222222222"}, True),
    ({"AWS": "arn:aws:iam::222222222222:root"}, True),
    ({"AWS": "arn:aws:iam::333333333333:root"}, False),
    ({"AWS": "arn:aws:iam::222222222222:user/someone-else"}, False),
    ({"Service": "athena.amazonaws.com"}, False),
])
def test_principal_forms(principal: Any, expected: bool) -> None:
    assert principal_matches(principal, analyst()) is expected


def test_assumed_role_sessions_match_their_role() -> None:
    role = "arn:aws:iam::222222222222:role/Admin"
    session = Caller("222222222222", role, "arn:aws:sts::222222222222:assumed-role/Admin/s",
                     "role", "Admin")
    assert principal_matches({"AWS": role}, session)
    assert principal_matches({"AWS": session.display_arn}, session)


def test_cross_account_needs_both_sides() -> None:
    resource_policy = doc({"Sid": "g", "Effect": "Allow", "Principal": {"AWS": USER},
                           "Action": "lambda:InvokeFunction", "Resource": FN})
    granted = analyst(doc(allow("lambda:InvokeFunction", FN)))
    assert authorize(granted, "lambda:InvokeFunction", FN, resource_account="111111111111",
                     resource_policy=resource_policy).allowed
    no_resource = authorize(granted, "lambda:InvokeFunction", FN,
                            resource_account="111111111111")
    assert no_resource.reason == "resource"
    assert no_resource.message == (
        f"User: {USER} is not authorized to perform: lambda:InvokeFunction on resource: {FN} "
        "because no resource-based policy allows the lambda:InvokeFunction action")
    no_identity = authorize(analyst(), "lambda:InvokeFunction", FN,
                            resource_account="111111111111", resource_policy=resource_policy)
    assert no_identity.reason == "identity"
    deny_resource = doc({"Effect": "Deny", "Principal": "*", "Action": "lambda:*",
                         "Resource": "*"})
    assert authorize(granted, "lambda:InvokeFunction", FN, resource_account="111111111111",
                     resource_policy=deny_resource).reason == "resource-deny"


def test_same_account_needs_either_side() -> None:
    owner_user = Caller("111111111111", "arn:aws:iam::111111111111:user/u",
                        "arn:aws:iam::111111111111:user/u", "user", "u")
    policy = doc({"Effect": "Allow", "Principal": {"AWS": owner_user.arn},
                  "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"})
    assert authorize(owner_user, "s3:GetObject", "arn:aws:s3:::b/k",
                     resource_account="111111111111", resource_policy=policy).allowed
    assert not authorize(owner_user, "s3:GetObject", "arn:aws:s3:::b/k",
                         resource_account="111111111111").allowed
    root = Caller("111111111111", "arn:aws:iam::111111111111:root",
                  "arn:aws:iam::111111111111:root", "root")
    assert authorize(root, "s3:GetObject", "arn:aws:s3:::b/k",
                     resource_account="111111111111").allowed


def test_parse_document_accepts_what_moto_stores() -> None:
    assert parse_document('{"Statement": []}') == {"Statement": []}
    assert parse_document("%7B%22Statement%22%3A%20%5B%5D%7D") == {"Statement": []}
    assert parse_document("") is None and parse_document("not json") is None
