"""The sandbox's accounts, seed data, config file and AssumeRole checks."""

from __future__ import annotations

import configparser
import json
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.sandbox.support import (
    CATALOG,
    CONSUMER,
    FUNCTION_ARN,
    OWNER,
    RESULTS_BUCKET,
    SPILL_BUCKET,
    Accounts,
)
from wizard.sandbox import Sandbox

REPO = Path(__file__).resolve().parents[2]


def test_profiles_reach_their_accounts(accounts: Accounts) -> None:
    def who(s: boto3.Session) -> str:
        return s.client("sts").get_caller_identity()["Arn"]

    assert who(accounts.owner).startswith(
        f"arn:aws:sts::{OWNER}:assumed-role/OrganizationAccountAccessRole/")
    assert who(accounts.consumer).startswith(
        f"arn:aws:sts::{CONSUMER}:assumed-role/OrganizationAccountAccessRole/")
    assert who(accounts.analyst) == f"arn:aws:iam::{CONSUMER}:user/analyst"
    assert who(accounts.base).endswith(":user/sandbox-base")


def test_config_file_profiles_all_point_at_the_sandbox(sandbox: Sandbox) -> None:
    cfg = configparser.ConfigParser()
    cfg.read(sandbox.config_file)
    names = {s.removeprefix("profile ") for s in cfg.sections()}
    assert {"sandbox-base", "sandbox-owner", "sandbox-consumer", "sandbox-analyst"} <= names
    for section in cfg.sections():
        assert cfg[section]["region"] == "us-east-1"
        assert cfg[section]["endpoint_url"] == sandbox.endpoint_url
    assert cfg["profile sandbox-owner"]["role_arn"] == \
        f"arn:aws:iam::{OWNER}:role/OrganizationAccountAccessRole"
    assert cfg["profile sandbox-consumer"]["source_profile"] == "sandbox-base"
    assert sandbox.endpoint_url.startswith("http://127.0.0.1:")
    env = sandbox.env()
    assert env["AWS_CONFIG_FILE"] == str(sandbox.config_file)
    assert env["AWS_ENDPOINT_URL"] == sandbox.endpoint_url
    assert Path(env["AWS_SHARED_CREDENTIALS_FILE"]).read_text() == ""
    assert env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_EC2_METADATA_DISABLED"] == "true"


def test_example_profile_is_the_shipped_example(sandbox: Sandbox) -> None:
    shipped = (REPO / "examples" / "sandbox.yaml").read_text()
    assert sandbox.example_profile.read_text() == shipped
    import yaml

    doc = yaml.safe_load(shipped)
    assert doc["owner"] == {"account_id": OWNER, "credentials": {"profile": "sandbox-owner"}}
    consumer = doc["consumers"][0]
    assert consumer["query_credentials"] == {"profile": "sandbox-analyst"}
    assert consumer["query_results"] == f"s3://{RESULTS_BUCKET}/queries/"
    assert doc["connector"]["spill_bucket"] == SPILL_BUCKET
    assert doc["test_query"] == f'SELECT * FROM "{CATALOG}"."default"."music" LIMIT 10'


def test_packaged_music_items_match_resources() -> None:
    packaged = REPO / "wizard" / "sandbox" / "data" / "music-items.json"
    assert json.loads(packaged.read_text()) == \
        json.loads((REPO / "resources" / "music-items.json").read_text())


def test_seed_data(accounts: Accounts) -> None:
    ddb = accounts.owner.client("dynamodb")
    table = ddb.describe_table(TableName="Music")["Table"]
    assert [k["AttributeName"] for k in table["KeySchema"]] == ["Artist", "SongTitle"]
    assert ddb.scan(TableName="Music")["Count"] == 4
    s3_owner = accounts.owner.client("s3")
    assert SPILL_BUCKET in [b["Name"] for b in s3_owner.list_buckets()["Buckets"]]
    s3_consumer = accounts.consumer.client("s3")
    assert RESULTS_BUCKET in [b["Name"] for b in s3_consumer.list_buckets()["Buckets"]]
    iam = accounts.consumer.client("iam")
    assert iam.list_user_policies(UserName="analyst")["PolicyNames"] == []
    assert iam.list_attached_user_policies(UserName="analyst")["AttachedPolicies"] == []


def test_reset_wipes_state_but_keeps_keys(sandbox: Sandbox, accounts: Accounts) -> None:
    accounts.owner.client("s3").create_bucket(Bucket="scratch-bucket-xyz")
    sandbox.reset()
    fresh = boto3.Session(profile_name="sandbox-owner")
    names = [b["Name"] for b in fresh.client("s3").list_buckets()["Buckets"]]
    assert "scratch-bucket-xyz" not in names
    assert SPILL_BUCKET in names
    analyst = boto3.Session(profile_name="sandbox-analyst")
    assert analyst.client("sts").get_caller_identity()["Account"] == CONSUMER


def test_assume_role_needs_an_existing_role_that_trusts_the_caller(accounts: Accounts) -> None:
    sts = accounts.owner.client("sts")
    share_role = f"arn:aws:iam::{CONSUMER}:role/AthenaCrossAccountCreate-{OWNER}"
    with pytest.raises(ClientError) as err:
        sts.assume_role(RoleArn=share_role, RoleSessionName="share")
    assert err.value.response["Error"]["Code"] == "AccessDenied"
    assert "is not authorized to perform: sts:AssumeRole on resource: " + share_role \
        in str(err.value)

    iam_b = accounts.consumer.client("iam")
    trust_other = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
        "Action": "sts:AssumeRole"}]}
    iam_b.create_role(RoleName=f"AthenaCrossAccountCreate-{OWNER}",
                      AssumeRolePolicyDocument=json.dumps(trust_other))
    with pytest.raises(ClientError):
        sts.assume_role(RoleArn=share_role, RoleSessionName="share")

    trust_owner = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OWNER}:root"},
        "Action": "sts:AssumeRole"}]}
    iam_b.update_assume_role_policy(RoleName=f"AthenaCrossAccountCreate-{OWNER}",
                                    PolicyDocument=json.dumps(trust_owner))
    iam_b.put_role_policy(
        RoleName=f"AthenaCrossAccountCreate-{OWNER}", PolicyName="create-catalog",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": ["athena:CreateDataCatalog"],
            "Resource": [f"arn:aws:athena:us-east-1:{CONSUMER}:datacatalog/{CATALOG}"]}]}))
    creds = sts.assume_role(RoleArn=share_role, RoleSessionName="share")["Credentials"]
    shared = boto3.Session(aws_access_key_id=creds["AccessKeyId"],
                           aws_secret_access_key=creds["SecretAccessKey"],
                           aws_session_token=creds["SessionToken"], region_name="us-east-1")
    athena_b = shared.client("athena")
    athena_b.create_data_catalog(Name=CATALOG, Type="LAMBDA",
                                 Parameters={"function": FUNCTION_ARN})
    with pytest.raises(ClientError) as err:
        athena_b.create_data_catalog(Name="othername", Type="LAMBDA",
                                     Parameters={"function": FUNCTION_ARN})
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"
    got = accounts.consumer.client("athena").get_data_catalog(Name=CATALOG)["DataCatalog"]
    assert got["Parameters"]["function"] == FUNCTION_ARN


def test_resource_policies_need_existing_principals(accounts: Accounts) -> None:
    from tests.sandbox.support import deploy_connector

    deploy_connector(accounts.owner)
    ghost = f"arn:aws:iam::{CONSUMER}:user/ghost"
    s3 = accounts.owner.client("s3")
    with pytest.raises(ClientError) as err:
        s3.put_bucket_policy(Bucket=SPILL_BUCKET, Policy=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"AWS": [ghost]}, "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{SPILL_BUCKET}/*"}]}))
    assert err.value.response["Error"]["Code"] == "MalformedPolicy"
    assert err.value.response["Error"]["Message"] == "Invalid principal in policy"

    lam = accounts.owner.client("lambda")
    with pytest.raises(ClientError) as err:
        lam.add_permission(FunctionName=CATALOG, StatementId="g", Action="lambda:InvokeFunction",
                           Principal=ghost)
    assert err.value.response["Error"]["Code"] == "InvalidParameterValueException"

    analyst = f"arn:aws:iam::{CONSUMER}:user/analyst"
    lam.add_permission(FunctionName=CATALOG, StatementId="g", Action="lambda:InvokeFunction",
                       Principal=analyst)
    lam.add_permission(FunctionName=CATALOG, StatementId="acct", Action="lambda:InvokeFunction",
                       Principal=CONSUMER)
    with pytest.raises(ClientError) as err:
        lam.add_permission(FunctionName=CATALOG, StatementId="g",
                           Action="lambda:InvokeFunction", Principal=analyst)
    assert err.value.response["Error"]["Code"] == "ResourceConflictException"
    policy = json.loads(lam.get_policy(FunctionName=CATALOG)["Policy"])
    principals = {st["Sid"]: st["Principal"] for st in policy["Statement"]}
    assert principals == {"g": {"AWS": analyst},
                          "acct": {"AWS": f"arn:aws:iam::{CONSUMER}:root"}}


def test_example_profile_passes_the_wizards_validation() -> None:
    from wizard.profile import load_profile, validate

    assert validate(load_profile(REPO / "examples" / "sandbox.yaml")) == []
