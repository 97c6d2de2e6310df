"""Query results and S3 as real clients see them (issue 11 part 4 a-c): Athena's two output
objects, GetQueryResults needing s3:GetObject on the result file, and S3 itself enforcing
identity and bucket policies - in the owner's account and across accounts, Deny winning."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.sandbox.support import (
    ANALYST_ARN,
    CATALOG,
    CONSUMER,
    REGION,
    RESULTS_BUCKET,
    RESULTS_URI,
    SPILL_BUCKET,
    Accounts,
    analyst_statements,
    run_query,
    setup_federation,
)
from wizard.sandbox import Sandbox

TEST_QUERY = f'SELECT * FROM "{CATALOG}"."default"."music" LIMIT 10'
NO_RESULTS_ACCESS = "You do not seem to have access to the S3 location of your query results."


def _user_with_policy(accounts: Accounts, name: str,
                      statements: list[dict[str, Any]] | None = None) -> boto3.Session:
    """A new IAM user in B (with these statements, or no policy at all) and its own keys."""
    iam = accounts.consumer.client("iam")
    iam.create_user(UserName=name)
    if statements:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": statements}))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return boto3.Session(aws_access_key_id=key["AccessKeyId"],
                         aws_secret_access_key=key["SecretAccessKey"], region_name=REGION)


def _denied(call: Callable[[], Any]) -> None:
    with pytest.raises(ClientError) as err:
        call()
    resp = err.value.response
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 403
    if resp["Error"]["Code"] != "403":  # HEAD answers carry no body
        assert (resp["Error"]["Code"], resp["Error"]["Message"]) == ("AccessDenied",
                                                                     "Access Denied")


def _analyst_results(accounts: Accounts) -> tuple[str, str]:
    """Run the test query as the analyst; (query id, key of its result file)."""
    out = run_query(accounts.analyst, TEST_QUERY)
    assert out.state == "SUCCEEDED", out.reason
    qid = out.execution["QueryExecutionId"]
    return qid, f"queries/{qid}.csv"


# --------------------------------------------------------------------------- a: output objects
def test_athena_writes_the_result_and_its_metadata_object(sandbox: Sandbox,
                                                          accounts: Accounts) -> None:
    setup_federation(accounts)
    _, key = _analyst_results(accounts)
    s3 = accounts.analyst.client("s3")
    listed = s3.list_objects_v2(Bucket=RESULTS_BUCKET, Prefix="queries/")["Contents"]
    assert sorted(o["Key"] for o in listed) == [key, f"{key}.metadata"]
    meta = s3.get_object(Bucket=RESULTS_BUCKET, Key=f"{key}.metadata")["Body"].read()
    assert meta[:1] == b"\x0a"  # protobuf field 1 (the engine's query id), as in Athena
    for column in (b"artist", b"songtitle", b"albumtitle", b"awards", b"varchar", b"bigint"):
        assert column in meta
    assert s3.get_object(Bucket=RESULTS_BUCKET, Key=key)["Body"].read().startswith(
        b'"artist","songtitle"')


# --------------------------------------------------------------------------- b: GetQueryResults
def test_get_query_results_needs_get_object_on_the_result_file(sandbox: Sandbox,
                                                               accounts: Accounts) -> None:
    statements = [s for s in analyst_statements() if s["Sid"] != "Results"] + [
        {"Sid": "WriteOnly", "Effect": "Allow", "Action": ["s3:PutObject"],
         "Resource": [f"arn:aws:s3:::{RESULTS_BUCKET}/queries/*"]}]
    setup_federation(accounts, identity_policy=False, extra_statements=statements)
    athena = accounts.analyst.client("athena")
    qid = athena.start_query_execution(
        QueryString=TEST_QUERY, WorkGroup="primary",
        ResultConfiguration={"OutputLocation": RESULTS_URI})["QueryExecutionId"]
    deadline = time.monotonic() + 10
    while (state := athena.get_query_execution(QueryExecutionId=qid)[
            "QueryExecution"]["Status"]["State"]) in ("QUEUED", "RUNNING"):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert state == "SUCCEEDED"  # the query ran and wrote its result: PutObject is allowed
    with pytest.raises(ClientError) as err:
        athena.get_query_results(QueryExecutionId=qid)
    e = err.value.response["Error"]
    assert e["Code"] == "InvalidRequestException"
    assert e["Message"].startswith(NO_RESULTS_ACCESS)


def test_get_query_results_honours_a_deny_in_the_bucket_policy(sandbox: Sandbox,
                                                               accounts: Accounts) -> None:
    setup_federation(accounts)
    qid, _ = _analyst_results(accounts)
    athena = accounts.analyst.client("athena")
    assert len(athena.get_query_results(QueryExecutionId=qid)["ResultSet"]["Rows"]) == 5
    accounts.consumer.client("s3").put_bucket_policy(Bucket=RESULTS_BUCKET, Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Deny", "Principal": {"AWS": ANALYST_ARN}, "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{RESULTS_BUCKET}/*"}]}))
    with pytest.raises(ClientError, match="do not seem to have access"):
        athena.get_query_results(QueryExecutionId=qid)


def test_pyathena_cursor_notices_missing_read_access(sandbox: Sandbox,
                                                     accounts: Accounts) -> None:
    pyathena = pytest.importorskip("pyathena")
    setup_federation(accounts)

    def fetch() -> list[tuple[Any, ...]]:
        conn = pyathena.connect(profile_name="sandbox-analyst", region_name=REGION,
                                s3_staging_dir=RESULTS_URI, work_group="primary",
                                endpoint_url=sandbox.endpoint_url)
        with conn.cursor() as cur:
            cur.execute(TEST_QUERY)
            return list(cur.fetchall())

    assert sorted(r[1] for r in fetch()) == ["Call Me Today", "Happy Day", "Howdy",
                                             "PartiQL Rocks"]
    accounts.consumer.client("s3").put_bucket_policy(Bucket=RESULTS_BUCKET, Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Deny", "Principal": {"AWS": ANALYST_ARN}, "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{RESULTS_BUCKET}/*"}]}))
    with pytest.raises(pyathena.error.DatabaseError, match="do not seem to have access"):
        fetch()


# --------------------------------------------------------------------------- c: S3 itself
def test_a_principal_without_s3_permissions_cannot_touch_query_results(
        sandbox: Sandbox, accounts: Accounts) -> None:
    setup_federation(accounts)
    _, key = _analyst_results(accounts)
    nobody = _user_with_policy(accounts, "nobody").client("s3")
    _denied(lambda: nobody.get_object(Bucket=RESULTS_BUCKET, Key=key))
    _denied(lambda: nobody.head_object(Bucket=RESULTS_BUCKET, Key=key))
    _denied(lambda: nobody.list_objects_v2(Bucket=RESULTS_BUCKET))
    _denied(lambda: nobody.put_object(Bucket=RESULTS_BUCKET, Key="queries/x.csv", Body=b"x"))
    _denied(lambda: nobody.delete_object(Bucket=RESULTS_BUCKET, Key=key))
    _denied(lambda: nobody.copy_object(Bucket=RESULTS_BUCKET, Key="queries/copy.csv",
                                       CopySource={"Bucket": RESULTS_BUCKET, "Key": key}))
    # ...and nothing happened: the analyst's file is still there, alone.
    listed = accounts.analyst.client("s3").list_objects_v2(Bucket=RESULTS_BUCKET)["Contents"]
    assert sorted(o["Key"] for o in listed) == [key, f"{key}.metadata"]


def test_the_identity_policy_scopes_s3_to_its_prefix(sandbox: Sandbox,
                                                     accounts: Accounts) -> None:
    setup_federation(accounts)
    accounts.consumer.client("s3").put_object(Bucket=RESULTS_BUCKET, Key="private/hr.csv",
                                              Body=b"secret")
    s3 = accounts.analyst.client("s3")
    s3.put_object(Bucket=RESULTS_BUCKET, Key="queries/mine.csv", Body=b"ok")
    assert s3.get_object(Bucket=RESULTS_BUCKET, Key="queries/mine.csv")["Body"].read() == b"ok"
    _denied(lambda: s3.get_object(Bucket=RESULTS_BUCKET, Key="private/hr.csv"))
    _denied(lambda: s3.put_object(Bucket=RESULTS_BUCKET, Key="private/x.csv", Body=b"x"))
    _denied(lambda: s3.delete_object(Bucket=RESULTS_BUCKET, Key="queries/mine.csv"))
    _denied(lambda: s3.list_buckets())  # no s3:ListAllMyBuckets for the analyst
    # Not the analyst's bucket at all: the consumer account's admin may, the analyst may not.
    accounts.consumer.client("s3").create_bucket(Bucket="other-team-bucket")
    _denied(lambda: s3.list_objects_v2(Bucket="other-team-bucket"))
    _denied(lambda: s3.create_bucket(Bucket="analyst-made-bucket"))


def test_cross_account_spill_reads_need_both_sides(sandbox: Sandbox,
                                                   accounts: Accounts) -> None:
    key = "athena-spill/q/part-0"
    accounts.owner.client("s3").put_object(Bucket=SPILL_BUCKET, Key=key, Body=b"spilled")
    setup_federation(accounts)  # identity policy allows reading spill, no bucket policy yet
    s3 = accounts.analyst.client("s3")
    _denied(lambda: s3.get_object(Bucket=SPILL_BUCKET, Key=key))
    setup_federation_spill = {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "XacctWizardSpill", "Effect": "Allow",
                       "Principal": {"AWS": [ANALYST_ARN]},
                       "Action": ["s3:GetObject", "s3:ListBucket"],
                       "Resource": [f"arn:aws:s3:::{SPILL_BUCKET}",
                                    f"arn:aws:s3:::{SPILL_BUCKET}/*"]}]}
    owner_s3 = accounts.owner.client("s3")
    owner_s3.put_bucket_policy(Bucket=SPILL_BUCKET, Policy=json.dumps(setup_federation_spill))
    assert s3.get_object(Bucket=SPILL_BUCKET, Key=key)["Body"].read() == b"spilled"
    # The bucket policy grants reading only: writing stays with A.
    _denied(lambda: s3.put_object(Bucket=SPILL_BUCKET, Key="athena-spill/evil", Body=b"x"))
    # Both sides: without the identity statement the bucket policy alone is not enough.
    accounts.consumer.client("iam").put_user_policy(
        UserName="analyst", PolicyName="XacctWizardAnalyst", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [s for s in analyst_statements() if s["Sid"] != "ReadSpill"]}))
    _denied(lambda: s3.get_object(Bucket=SPILL_BUCKET, Key=key))


def test_an_explicit_deny_in_the_bucket_policy_beats_the_admin(sandbox: Sandbox,
                                                               accounts: Accounts) -> None:
    consumer = accounts.consumer.client("s3")
    consumer.put_object(Bucket=RESULTS_BUCKET, Key="queries/a.csv", Body=b"a")
    consumer.put_bucket_policy(Bucket=RESULTS_BUCKET, Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject",
            "Resource": f"arn:aws:s3:::{RESULTS_BUCKET}/*"}]}))
    _denied(lambda: consumer.delete_object(Bucket=RESULTS_BUCKET, Key="queries/a.csv"))
    _denied(lambda: consumer.delete_objects(Bucket=RESULTS_BUCKET, Delete={
        "Objects": [{"Key": "queries/a.csv"}]}))
    assert consumer.get_object(Bucket=RESULTS_BUCKET, Key="queries/a.csv")["Body"].read() == b"a"


def test_unsigned_requests_are_anonymous(sandbox: Sandbox, accounts: Accounts) -> None:
    consumer = accounts.consumer.client("s3")
    consumer.put_object(Bucket=RESULTS_BUCKET, Key="queries/a.csv", Body=b"a")
    url = f"{sandbox.endpoint_url}/{RESULTS_BUCKET}/queries/a.csv"
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(url)
    assert err.value.code == 403 and b"<Code>AccessDenied</Code>" in err.value.read()
    consumer.put_bucket_policy(Bucket=RESULTS_BUCKET, Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{RESULTS_BUCKET}/queries/*"}]}))
    with urllib.request.urlopen(url) as resp:
        assert resp.read() == b"a"


def test_the_consumer_admin_still_manages_its_own_buckets(sandbox: Sandbox,
                                                          accounts: Accounts) -> None:
    s3 = accounts.consumer.client("s3")
    s3.create_bucket(Bucket="admin-scratch")
    s3.put_object(Bucket="admin-scratch", Key="k", Body=b"v")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="admin-scratch")["Contents"]] == ["k"]
    s3.delete_objects(Bucket="admin-scratch", Delete={"Objects": [{"Key": "k"}]})
    s3.delete_bucket(Bucket="admin-scratch")
    assert CONSUMER in accounts.consumer.client("sts").get_caller_identity()["Account"]
