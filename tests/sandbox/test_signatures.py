"""Bad credentials fail in the sandbox as in AWS (issue 11 part 4d): a wrong secret is a
signature mismatch, a key nobody issued is refused - each in the error of the service called -
while every correctly signed request (headers, presigned URLs, streaming uploads, assumed-role
sessions) keeps working."""

from __future__ import annotations

import io
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.sandbox.support import CONSUMER, REGION, RESULTS_BUCKET, Accounts, session
from wizard.sandbox import Sandbox

UNKNOWN_KEY = "AKIAZZZZZZZZZZZZZZZZ"


def _with_keys(access_key: str, secret: str, token: str | None = None) -> boto3.Session:
    return boto3.Session(aws_access_key_id=access_key, aws_secret_access_key=secret,
                         aws_session_token=token, region_name=REGION)


def _analyst_key() -> tuple[str, str]:
    creds = session("sandbox-analyst").get_credentials()
    assert creds is not None
    return creds.access_key, creds.secret_key


def _code(call: Callable[[], Any]) -> tuple[str, int]:
    with pytest.raises(ClientError) as err:
        call()
    resp = err.value.response
    return resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"]


def test_a_wrong_secret_is_a_signature_mismatch_in_every_protocol(sandbox: Sandbox) -> None:
    key, secret = _analyst_key()
    bad = _with_keys(key, secret[:-1] + ("0" if secret[-1] != "0" else "1"))
    assert _code(bad.client("sts").get_caller_identity) == ("SignatureDoesNotMatch", 403)
    assert _code(lambda: bad.client("iam").get_user()) == ("SignatureDoesNotMatch", 403)
    assert _code(bad.client("s3").list_buckets) == ("SignatureDoesNotMatch", 403)
    assert _code(lambda: bad.client("s3").put_object(
        Bucket=RESULTS_BUCKET, Key="queries/x.csv", Body=b"a,b\n")) == (
        "SignatureDoesNotMatch", 403)
    assert _code(bad.client("athena").list_data_catalogs) == ("InvalidSignatureException", 403)
    assert _code(bad.client("lambda").list_functions) == ("InvalidSignatureException", 403)
    assert _code(bad.client("dynamodb").list_tables) == ("InvalidSignatureException", 403)
    # The same key with its real secret is fine.
    good = _with_keys(key, secret)
    assert good.client("sts").get_caller_identity()["Account"] == CONSUMER


def test_a_key_nobody_issued_is_refused(sandbox: Sandbox) -> None:
    unknown = _with_keys(UNKNOWN_KEY, "x" * 40)
    assert _code(unknown.client("sts").get_caller_identity) == ("InvalidClientTokenId", 403)
    assert _code(unknown.client("s3").list_buckets) == ("InvalidAccessKeyId", 403)
    assert _code(unknown.client("athena").list_data_catalogs) == (
        "UnrecognizedClientException", 403)
    assert _code(unknown.client("dynamodb").list_tables) == ("UnrecognizedClientException", 403)


def test_a_deleted_or_deactivated_key_stops_working(sandbox: Sandbox, accounts: Accounts) -> None:
    iam = accounts.consumer.client("iam")
    new = iam.create_access_key(UserName="analyst")["AccessKey"]
    fresh = _with_keys(new["AccessKeyId"], new["SecretAccessKey"])
    assert fresh.client("sts").get_caller_identity()["Arn"].endswith(":user/analyst")
    iam.update_access_key(UserName="analyst", AccessKeyId=new["AccessKeyId"], Status="Inactive")
    assert _code(fresh.client("sts").get_caller_identity) == ("InvalidClientTokenId", 403)
    iam.delete_access_key(UserName="analyst", AccessKeyId=new["AccessKeyId"])
    assert _code(fresh.client("sts").get_caller_identity) == ("InvalidClientTokenId", 403)


def test_assumed_role_sessions_need_their_own_token(sandbox: Sandbox, accounts: Accounts) -> None:
    creds = accounts.consumer.get_credentials()
    assert creds is not None and creds.token
    frozen = creds.get_frozen_credentials()
    ok = _with_keys(frozen.access_key, frozen.secret_key, frozen.token)
    assert ":assumed-role/" in ok.client("sts").get_caller_identity()["Arn"]
    forged = _with_keys(frozen.access_key, frozen.secret_key, "not-the-session-token")
    assert _code(forged.client("sts").get_caller_identity) == ("InvalidClientTokenId", 403)


def _status(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def _tamper(url: str, param: str) -> str:
    """The same URL with one character of its signature changed."""
    head, _, tail = url.partition(f"{param}=")
    value, sep, rest = tail.partition("&")
    return f"{head}{param}={'A' if value[0] != 'A' else 'B'}{value[1:]}{sep}{rest}"


@pytest.mark.parametrize("version", ["s3", "s3v4"])  # boto3's default for S3 is still v2
def test_presigned_urls_are_verified(sandbox: Sandbox, accounts: Accounts, version: str) -> None:
    from botocore.config import Config

    cfg = Config(signature_version=version)
    accounts.consumer.client("s3").put_object(Bucket=RESULTS_BUCKET, Key="queries/shared.csv",
                                              Body=b"a,b\n1,2\n")
    params = {"Bucket": RESULTS_BUCKET, "Key": "queries/shared.csv"}
    url = accounts.consumer.client("s3", config=cfg).generate_presigned_url(
        "get_object", Params=params)
    assert _status(url) == (200, b"a,b\n1,2\n")
    param = "X-Amz-Signature" if version == "s3v4" else "Signature"
    status, body = _status(_tamper(url, param))
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in body
    key, _ = _analyst_key()
    forged = _with_keys(key, "not-the-secret").client("s3", config=cfg).generate_presigned_url(
        "get_object", Params=params)
    status, body = _status(forged)
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in body
    unknown = _with_keys(UNKNOWN_KEY, "x" * 40).client("s3", config=cfg).generate_presigned_url(
        "get_object", Params=params)
    status, body = _status(unknown)
    assert status == 403 and b"<Code>InvalidAccessKeyId</Code>" in body


def test_streaming_and_multipart_uploads_still_verify(sandbox: Sandbox,
                                                      accounts: Accounts) -> None:
    from boto3.s3.transfer import TransferConfig

    s3 = accounts.consumer.client("s3")
    data = bytes(range(256)) * (40 * 1024)  # 10 MiB: two multipart parts at 5 MiB
    s3.upload_fileobj(io.BytesIO(data), RESULTS_BUCKET, "queries/big.bin",
                      Config=TransferConfig(multipart_threshold=5 * 1024 * 1024,
                                            multipart_chunksize=5 * 1024 * 1024))
    assert s3.get_object(Bucket=RESULTS_BUCKET, Key="queries/big.bin")["Body"].read() == data
    s3.put_object(Bucket=RESULTS_BUCKET, Key="queries/a b+c%.txt", Body=b"odd key")
    assert s3.get_object(Bucket=RESULTS_BUCKET,
                         Key="queries/a b+c%.txt")["Body"].read() == b"odd key"
    listed = s3.list_objects_v2(Bucket=RESULTS_BUCKET, Prefix="queries/a b")["Contents"]
    assert [o["Key"] for o in listed] == ["queries/a b+c%.txt"]


def test_pyathena_with_a_wrong_secret_fails_to_connect_as_in_aws(sandbox: Sandbox) -> None:
    pyathena = pytest.importorskip("pyathena")
    key, _ = _analyst_key()
    conn = pyathena.connect(aws_access_key_id=key, aws_secret_access_key="not-the-secret",
                            region_name=REGION, s3_staging_dir=f"s3://{RESULTS_BUCKET}/queries/",
                            endpoint_url=sandbox.endpoint_url)
    with pytest.raises(pyathena.error.DatabaseError, match="InvalidSignatureException"):
        conn.cursor().execute("SELECT 1")


@pytest.mark.parametrize("form", ["json", "rest-json", "smithy-rpc-v2-cbor"])
def test_athena_refuses_bad_credentials_in_every_protocol_it_may_move_to(
        form: str, sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """AWS moves services between protocols: the refusal must stay readable in each of them."""
    from tests.support.protocol_variants import client_in
    from wizard.sandbox import protocol

    key, _ = _analyst_key()
    config = tmp_path / "aws-config"
    config.write_text(sandbox.config_file.read_text() + "\n".join([
        "", "[profile wrong-secret]", f"aws_access_key_id = {key}",
        "aws_secret_access_key = not-the-secret", f"region = {REGION}",
        f"endpoint_url = {sandbox.endpoint_url}", "",
        "[profile unknown-key]", f"aws_access_key_id = {UNKNOWN_KEY}",
        "aws_secret_access_key = whatever", f"region = {REGION}",
        f"endpoint_url = {sandbox.endpoint_url}", ""]))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    try:
        wrong = client_in(form, "athena", "wrong-secret", tmp_path)
        assert _code(wrong.list_data_catalogs) == ("InvalidSignatureException", 403)
        unknown = client_in(form, "athena", "unknown-key", tmp_path)
        assert _code(unknown.list_data_catalogs) == ("UnrecognizedClientException", 403)
        good = client_in(form, "athena", "sandbox-owner", tmp_path)
        assert "DataCatalogsSummary" in good.list_data_catalogs()
    finally:
        protocol.unregister_models("athena")
