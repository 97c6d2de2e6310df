"""Which operation a request is, read from the installed botocore's models (no AWS, no server).

The sandbox's checks hang on these answers: S3's PutBucketPolicy must not be mistaken for
CreateBucket or PutObject, Lambda's AddPermission is found under an encoded function ARN, and a
query-protocol call is found by its Action whatever its path.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from wizard.sandbox import protocol


def wire(method: str, path: str, query: Mapping[str, list[str]] | None = None,
         headers: Mapping[str, str] | None = None, body: bytes = b"") -> protocol.WireRequest:
    return protocol.WireRequest(method, path, query or {}, dict(headers or {}), lambda: body)


@pytest.mark.parametrize(("method", "path", "query", "operation"), [
    ("PUT", "/spill", {"policy": [""]}, "PutBucketPolicy"),
    ("GET", "/spill", {"policy": [""]}, "GetBucketPolicy"),
    ("PUT", "/spill", {}, "CreateBucket"),
    ("PUT", "/spill/athena-spill/a/b.parquet", {}, "PutObject"),
    ("GET", "/spill/athena-spill/a/b.parquet", {}, "GetObject"),
    ("GET", "/spill", {"list-type": ["2"]}, "ListObjectsV2"),
    ("PUT", "/spill/k", {"partNumber": ["1"], "uploadId": ["u"]}, "UploadPart"),
])
def test_s3_operations_are_told_apart_by_path_and_query(method: str, path: str,
                                                         query: dict[str, list[str]],
                                                         operation: str) -> None:
    found = protocol.codec_for("s3").match(wire(method, path, query))
    assert found is not None and found.name == operation
    assert found.protocol == "rest-xml"


def test_a_required_header_tells_copy_object_from_put_object() -> None:
    codec = protocol.codec_for("s3")
    found = codec.match(wire("PUT", "/spill/k", headers={"x-amz-copy-source": "/src/k"}))
    assert found is not None and found.name == "CopyObject"


def test_lambda_add_permission_under_an_encoded_arn() -> None:
    codec = protocol.codec_for("lambda")
    arn = "arn%3Aaws%3Alambda%3Aus-east-1%3A111111111111%3Afunction%3Aacct1dynamodb"
    req = wire("POST", f"/2015-03-31/functions/{arn}/policy",
               headers={"content-type": "application/json"},
               body=b'{"StatementId": "s1", "Action": "lambda:InvokeFunction", '
                    b'"Principal": "222222222222"}')
    found = codec.match(req)
    assert found is not None and found.name == "AddPermission"
    params = codec.parse(found, req)
    assert params["FunctionName"] == arn.replace("%3A", ":")
    assert params["Principal"] == "222222222222" and params["StatementId"] == "s1"


def test_query_protocol_operations_are_found_by_action() -> None:
    codec = protocol.codec_for("sts")
    req = wire("POST", "/", headers={"content-type": "application/x-www-form-urlencoded"},
               body=b"Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A2"
                    b"22222222222%3Arole%2Fx&RoleSessionName=s&Tags.member.1.Key=k"
                    b"&Tags.member.1.Value=v")
    found = codec.match(req)
    assert found is not None and (found.name, found.protocol) == ("AssumeRole", "query")
    params = codec.parse(found, req)
    assert params["RoleArn"] == "arn:aws:iam::222222222222:role/x"
    assert params["Tags"] == [{"Key": "k", "Value": "v"}]


def test_a_request_no_operation_matches_is_none() -> None:
    assert protocol.codec_for("lambda").match(wire("GET", "/nothing/here")) is None
    assert protocol.codec_for("sts").match(
        wire("POST", "/", headers={"content-type": "application/x-www-form-urlencoded"},
             body=b"Action=NoSuchThing")) is None


def test_errors_are_written_in_each_protocol() -> None:
    codec = protocol.codec_for("s3")
    xml = codec.error("rest-xml", "AccessDenied", "Access Denied", 403)
    assert xml.status == 403 and b"<Code>AccessDenied</Code>" in xml.body
    sts = protocol.codec_for("sts").error("query", "AccessDenied", "no", 403)
    assert b'xmlns="https://sts.amazonaws.com/doc/2011-06-15/"' in sts.body
    rest = protocol.codec_for("athena").error("rest-json", "X", "m", 400)
    assert ("x-amzn-ErrorType", "X") in rest.headers
