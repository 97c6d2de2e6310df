"""A plain moto server with two accounts reached by assuming roles, and the helpers the service
tests share. This is deliberately *not* the project's sandbox: the engine must work against a
bare emulator too (with ``existing_function_arn``, since moto has no Serverless App Repo), with
one exception: Athena. moto's Athena reads only the ``json`` protocol, and botocore 1.44.18
moved Athena to ``rest-json``; so Athena is answered by the sandbox's protocol-proof emulator,
which also checks the grants as AWS does (so a verify here really queries, as the analyst).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from wizard.aws import new_session
from wizard.profile import (
    ConnectorConfig,
    ConsumerConfig,
    CredentialRef,
    OwnerConfig,
    SetupProfile,
)

OWNER = "111111111111"
CONSUMER = "222222222222"
REGION = "us-east-1"
SPILL = "owner-spill-bucket"
RESULTS = "consumer-results-bucket"
CATALOG = "acct1dynamodb"


@dataclass
class _QuerySettings:
    """What the Athena emulator reads of its sandbox (defaults of a real one)."""

    spill_threshold_bytes: int = 6 * 1024 * 1024
    query_latency: float = 0.0


@contextmanager
def moto_server_on_loopback() -> Iterator[str]:
    """A moto server (plus the sandbox's Athena) on a free loopback port for the block; yields
    its endpoint URL."""
    import threading

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    from wizard.sandbox.athena import AthenaEmulator
    from wizard.sandbox.layer import SandboxLayer, ServiceHandlers

    athena = AthenaEmulator(_QuerySettings(),  # type: ignore[arg-type]
                            thread_prefix="moto-harness-athena-query")
    app = SandboxLayer(DomainDispatcherApplication(create_backend_app),
                       [ServiceHandlers("athena", athena.operations(), answer_all=True)])
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        athena.shutdown()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class MotoAccounts:
    endpoint: str
    config_file: Path
    analyst_keys: tuple[str, str]

    def session(self, profile: str) -> boto3.Session:
        return new_session(profile_name=profile, region_name=REGION)

    def client(self, profile: str, service: str):  # type: ignore[no-untyped-def]
        return self.session(profile).client(service, endpoint_url=self.endpoint)


def write_config(path: Path, endpoint: str | None, base_keys: tuple[str, str],
                 analyst: tuple[str, str] | None) -> None:
    """An AWS config file; without ``endpoint`` the profiles rely on AWS_ENDPOINT_URL."""
    ep = [f"endpoint_url = {endpoint}"] if endpoint else []
    lines = [
        "[profile base]", f"aws_access_key_id = {base_keys[0]}",
        f"aws_secret_access_key = {base_keys[1]}", f"region = {REGION}", *ep, "",
    ]
    for name, acct in (("owner", OWNER), ("consumer", CONSUMER)):
        lines += [f"[profile {name}]",
                  f"role_arn = arn:aws:iam::{acct}:role/OrganizationAccountAccessRole",
                  "source_profile = base", f"region = {REGION}", *ep, ""]
    if analyst:
        lines += ["[profile analyst]", f"aws_access_key_id = {analyst[0]}",
                  f"aws_secret_access_key = {analyst[1]}", f"region = {REGION}", *ep, ""]
    path.write_text("\n".join(lines))


def seed(endpoint: str, config_file: Path) -> tuple[str, str]:
    """Owner: spill bucket, Music table, a connector function; consumer: analyst, results."""
    import os

    os.environ["AWS_CONFIG_FILE"] = str(config_file)
    owner = new_session(profile_name="owner", region_name=REGION)
    consumer = new_session(profile_name="consumer", region_name=REGION)
    for session in (owner, consumer):  # the admin role the profiles assume, as in AWS Orgs
        admin_role(session.client("iam", endpoint_url=endpoint))
    s3 = owner.client("s3", endpoint_url=endpoint)
    s3.create_bucket(Bucket=SPILL)
    create_stub_function(owner.client("iam", endpoint_url=endpoint),
                         owner.client("lambda", endpoint_url=endpoint), CATALOG,
                         role_name="connector-exec",
                         environment={"spill_bucket": SPILL, "spill_prefix": "athena-spill"})
    ddb = owner.client("dynamodb", endpoint_url=endpoint)
    ddb.create_table(TableName="Music", BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "Artist", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "Artist", "KeyType": "HASH"}])
    ddb.put_item(TableName="Music", Item={"Artist": {"S": "Acme Band"},
                                          "SongTitle": {"S": "Happy Day"}})
    ciam = consumer.client("iam", endpoint_url=endpoint)
    ciam.create_user(UserName="analyst")
    key = ciam.create_access_key(UserName="analyst")["AccessKey"]
    consumer.client("s3", endpoint_url=endpoint).create_bucket(Bucket=RESULTS)
    return key["AccessKeyId"], key["SecretAccessKey"]


def example_profile(*, share_method: str = "assume-role", existing: bool = True,
                    with_query_credentials: bool = True) -> SetupProfile:
    return SetupProfile(
        region=REGION,
        owner=OwnerConfig(OWNER, CredentialRef(profile="owner")),
        connector=ConnectorConfig(
            catalog_name=CATALOG, spill_bucket=SPILL,
            existing_function_arn=(f"arn:aws:lambda:{REGION}:{OWNER}:function:{CATALOG}"
                                   if existing else None)),
        consumers=[ConsumerConfig(
            account_id=CONSUMER, credentials=CredentialRef(profile="consumer"),
            principal_arn=f"arn:aws:iam::{CONSUMER}:user/analyst",
            query_results=f"s3://{RESULTS}/queries/", catalog_name=CATALOG,
            share_method=share_method,
            query_credentials=CredentialRef(profile="analyst") if with_query_credentials
            else None)],
        test_query=f'SELECT * FROM "{CATALOG}"."default"."music" LIMIT 10',
    )


PROFILE_YAML = f"""\
version: 1
region: {REGION}
owner:
  account_id: "{OWNER}"
  credentials: {{profile: owner}}
connector:
  catalog_name: {CATALOG}
  spill_bucket: {SPILL}
  spill_prefix: athena-spill
  existing_function_arn: arn:aws:lambda:{REGION}:{OWNER}:function:{CATALOG}
consumers:
  - account_id: "{CONSUMER}"
    credentials: {{profile: consumer}}
    principal_arn: arn:aws:iam::{CONSUMER}:user/analyst
    query_credentials: {{profile: analyst}}
    catalog_name: {CATALOG}
    share_method: assume-role
    query_results: s3://{RESULTS}/queries/
    workgroup: primary
test_query: SELECT * FROM "{CATALOG}"."default"."music" LIMIT 10
"""


def admin_role(iam: Any) -> None:
    """OrganizationAccountAccessRole with AdministratorAccess, as AWS Organizations makes it."""
    iam.create_role(RoleName="OrganizationAccountAccessRole",
                    AssumeRolePolicyDocument=json.dumps({
                        "Version": "2012-10-17", "Statement": [{
                            "Effect": "Allow", "Principal": {"AWS": "*"},
                            "Action": "sts:AssumeRole"}]}))
    iam.put_role_policy(RoleName="OrganizationAccountAccessRole", PolicyName="admin",
                        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{
                            "Effect": "Allow", "Action": "*", "Resource": "*"}]}))


def create_stub_function(iam: Any, lam: Any, name: str, *, role_name: str,
                         environment: dict[str, str] | None = None) -> str:
    """A do-nothing Python Lambda function with its own execution role; returns its ARN.

    ``environment``: its variables (the connector's ``spill_bucket`` and ``spill_prefix``)."""
    import io
    import zipfile

    role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {
            "Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("handler.py", "def handler(event, context):\n    return {}\n")
    return lam.create_function(FunctionName=name, Runtime="python3.12", Role=role,
                               Handler="handler.handler", Code={"ZipFile": buf.getvalue()},
                               Environment={"Variables": environment or {}})["FunctionArn"]
