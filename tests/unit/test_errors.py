"""Known AWS/Athena failures become a cause and a fix; secrets never survive into messages."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from wizard.errors import AwsOperationError, from_exception, redact, register_secret, translate

RUNBOOK_ERRORS = [
    ("GENERIC_INTERNAL_ERROR: User: arn:aws:iam::222222222222:user/analyst is not authorized to "
     "perform: lambda:InvokeFunction on resource: arn:aws:lambda:us-east-1:111111111111:function:"
     "acct1dynamodb because no identity-based policy allows the lambda:InvokeFunction action",
     "identity policy"),
    ("User: arn:aws:iam::222222222222:user/analyst is not authorized to perform: "
     "lambda:InvokeFunction on resource: arn:aws:lambda:us-east-1:111111111111:function:x "
     "because no resource-based policy allows the lambda:InvokeFunction action",
     "resource policy"),
    ('spill_bucket: "my-bucket" not found under your account. Please make sure you have '
     "no trailing '/'", "spill bucket"),
    ("GENERIC_USER_ERROR: Error while checking bucket ownership for my-bucket", "spill bucket"),
    ("Access denied reading spill data from s3://spill/athena-spill/abc", "spill data"),
    ("Account 111111111111 does not have the permissions to assume a role in Account "
     "222222222222", "share role"),
    ("SYNTAX_ERROR: line 1:15: Catalog 'acct1dynamodb' does not exist", "not registered"),
    ("Requested resource not found: Table: music not found", "DynamoDB table"),
    ("User: arn:aws:iam::222222222222:user/analyst is not authorized to perform: "
     "athena:StartQueryExecution on resource: arn:aws:athena:us-east-1:222222222222:"
     "workgroup/primary", "workgroup"),
    ("Requires capabilities : [CAPABILITY_IAM]", "capabilities"),
    ("No output location provided. An output location is required", "results"),
]


@pytest.mark.parametrize(("message", "expected"), RUNBOOK_ERRORS)
def test_every_runbook_error_gets_a_cause_and_a_fix(message: str, expected: str) -> None:
    cause, fix = translate(message)
    assert expected.lower() in cause.lower()
    assert fix


def test_unknown_errors_are_passed_through_untranslated() -> None:
    assert translate("something nobody has seen") == ("", "")


def test_client_error_becomes_a_translated_operation_error() -> None:
    exc = ClientError({"Error": {"Code": "AccessDeniedException", "Message":
                                 "not authorized to perform: iam:PutUserPolicy"}},
                      "PutUserPolicy")
    err = from_exception(exc, operation="PutUserPolicy", account="consumer:222222222222")
    assert isinstance(err, AwsOperationError)
    assert err.exit_code == 1
    assert "consumer:222222222222" in str(err) and "iam:PutUserPolicy" in str(err)
    assert "permission" in err.cause


SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.mark.parametrize("text", [
    f"aws_secret_access_key = {SECRET}",
    f'{{"SecretAccessKey": "{SECRET}"}}',
    f"failed with key {SECRET} in it",
    "aws_session_token=IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQ" + "A" * 120,
])
def test_redact_removes_secret_shapes(text: str) -> None:
    out = redact(text)
    assert SECRET not in out
    assert "IQoJb3JpZ2luX2Vj" not in out


def test_redact_keeps_arns_ids_and_messages_readable() -> None:
    text = ("arn:aws:iam::222222222222:user/analyst AKIAIOSFODNN7EXAMPLE "
            "arn:aws:lambda:us-east-1:111111111111:function:acct1dynamodb")
    assert redact(text) == text


@pytest.mark.parametrize("prefix", [
    "arn:aws:iam::222222222222:role/", "arn:aws:iam::222222222222:user/teams/",
    "arn:aws:s3:::xacct-spill/", "arn:aws:iam::aws:policy/",
])
def test_redact_keeps_arns_whose_resource_looks_like_a_secret_key(prefix: str) -> None:
    """A resource name whose run of letters, digits and '/' is 40 long, as a secret key is."""
    head = prefix.rsplit(":", 1)[1].rsplit("-", 1)[-1]  # what the run starts with
    arn = prefix + ("AnalystsOfTheMusicTable" + "x" * 40)[:40 - len(head)]
    text = f"AccessDenied for {arn} on GetRole"
    assert redact(text) == text
    assert SECRET not in redact(f"{text}; key {SECRET}")
    assert SECRET not in redact(f"arn {SECRET}")


def test_registered_secrets_are_removed_whatever_their_shape() -> None:
    register_secret("short-but-secret-value")
    assert "short-but-secret-value" not in redact("x short-but-secret-value y")
    err = AwsOperationError("boom short-but-secret-value", fix="use short-but-secret-value")
    assert "short-but-secret-value" not in err.explain()
