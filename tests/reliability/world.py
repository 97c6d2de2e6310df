"""The world the reliability tests run in: a bare moto server with three accounts, seeded with
things that existed before the tool came, plus helpers to snapshot every place the setup can
touch and to build profiles.

Two setups share the server (they never touch each other's resources):

* ``existing`` - owner 111111111111 -> consumer 222222222222. The spill bucket exists and its
  policy has another team's statement; the connector Lambda has someone else's permission; the
  analyst has an inline policy of their own; the share role ``AthenaCrossAccountCreate-1111...``
  already exists (made by hand: trusting one admin role, with another inline policy); the spill
  bucket is encrypted with a customer-managed KMS key, whose key policy the tool must extend.
* ``fresh`` - owner 333333333333 -> the same consumer. Nothing exists: the tool creates the
  spill bucket, the principal (``newanalyst``) and the share role.

Each test starts from the baseline; tests that end elsewhere get the server reset and reseeded.
"""

from __future__ import annotations

import io
import json
import os
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import botocore.loaders
import requests

from tests.support.moto_accounts import (
    CONSUMER,
    OWNER,
    REGION,
    RESULTS,
    SPILL,
    admin_role,
    seed,
    write_config,
)
from wizard.credentials import make_session
from wizard.engine import Engine
from wizard.profile import (
    ConnectorConfig,
    ConsumerConfig,
    CredentialRef,
    OwnerConfig,
    SetupProfile,
)

OWNER3 = "333333333333"
CAT1 = "acct1dynamodb"
CAT3 = "acct3dynamodb"
FRESH_SPILL = "owner3-new-spill-bucket"
FN1 = f"arn:aws:lambda:{REGION}:{OWNER}:function:{CAT1}"
FN3 = f"arn:aws:lambda:{REGION}:{OWNER3}:function:{CAT3}"
ROLE1 = f"AthenaCrossAccountCreate-{OWNER}"
ROLE3 = f"AthenaCrossAccountCreate-{OWNER3}"
ANALYST = f"arn:aws:iam::{CONSUMER}:user/analyst"
NEWANALYST = f"arn:aws:iam::{CONSUMER}:user/newanalyst"

# What other people had before the tool came (item 2: never lost).
THEIR_BUCKET_STATEMENT = {
    "Sid": "DataTeamRead", "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::444444444444:root"},
    "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{SPILL}/reports/*"}
THEIR_LAMBDA_SID = "someone-else"
THEIR_ROLE_TRUST = {
    "Version": "2012-10-17", "Statement": [{
        "Sid": "OwnerAdminOnly", "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{OWNER}:role/OrganizationAccountAccessRole"},
        "Action": "sts:AssumeRole"}]}
THEIR_ROLE_POLICY = ("other-team-policy", {
    "Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "athena:ListDataCatalogs", "Resource": "*"}]})
ANALYST_OWN_POLICY = ("analyst-own-policy", {
    "Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]})

_LOADER: botocore.loaders.Loader | None = None


def shared_loader() -> botocore.loaders.Loader:
    """One botocore data loader for every session the tests make: service models are parsed
    once per test run instead of once per Engine (which is most of an Engine's start-up)."""
    global _LOADER
    if _LOADER is None:
        _LOADER = boto3.Session()._session.get_component("data_loader")
    return _LOADER


_SESSIONS: dict[tuple[str, str, str, str], boto3.Session] = {}


def fast_session(ref: CredentialRef, region: str) -> boto3.Session:
    """The engine's own make_session, with the shared model loader, and one session per
    credential reference for the whole world: a new Engine (a new run) makes its own clients
    and hooks as always, but does not assume the account's admin role again every time."""
    key = (ref.profile or "", ref.keyring or "", region, os.environ.get("AWS_CONFIG_FILE", ""))
    if ref.keyring or key not in _SESSIONS:
        session = make_session(ref, region)
        session._session.register_component("data_loader", shared_loader())
        if ref.keyring:
            return session
        _SESSIONS[key] = session
    return _SESSIONS[key]


def make_engine(profile: SetupProfile, **kwargs: Any) -> Engine:
    """An Engine as the CLI makes one, with the shared model loader and no real sleeping."""
    kwargs.setdefault("session_factory", fast_session)
    kwargs.setdefault("sleep", lambda s: None)
    kwargs.setdefault("poll_delay", 0.0)
    return Engine(profile, **kwargs)


def _or_none(read: Any) -> Any:
    from botocore.exceptions import ClientError

    try:
        return read()
    except ClientError:
        return None


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("handler.py", "def handler(event, context):\n    return {}\n")
    return buf.getvalue()


@dataclass
class World:
    endpoint: str
    config_file: Path
    analyst_keys: tuple[str, str] = ("", "")
    _clients: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False)
    baseline: dict[str, Any] | None = None
    _applied: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    verified: bool = False  # the last check found the baseline (and nothing ran since)
    marker: str = ""  # a bucket only this seeding made: gone if anyone reset moto since
    kms_key_arn: str = ""  # the existing spill bucket's customer-managed key

    # ------------------------------------------------------------------ clients
    def session(self, profile: str) -> boto3.Session:
        s = boto3.Session(profile_name=profile, region_name=REGION)
        s._session.register_component("data_loader", shared_loader())
        return s

    def client(self, profile: str, service: str) -> Any:
        key = (profile, service)
        if key not in self._clients:
            self._clients[key] = self.session(profile).client(service, endpoint_url=self.endpoint)
        return self._clients[key]

    # ------------------------------------------------------------------ seeding
    def write_config(self, analyst: tuple[str, str] | None) -> None:
        base = ("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
        write_config(self.config_file, self.endpoint, base, analyst)
        with open(self.config_file, "a") as f:
            f.write(f"[profile owner3]\nrole_arn = arn:aws:iam::{OWNER3}:role/"
                    f"OrganizationAccountAccessRole\nsource_profile = base\nregion = {REGION}\n"
                    f"endpoint_url = {self.endpoint}\n")

    def reset(self) -> None:
        """Wipe the server and seed the baseline again."""
        requests.post(f"{self.endpoint}/moto-api/reset", timeout=10)
        self._clients.clear()
        self._applied.clear()
        _SESSIONS.clear()  # assumed-role keys die with moto's state
        self.write_config(None)
        self.analyst_keys = seed(self.endpoint, self.config_file)
        self.write_config(self.analyst_keys)
        self._seed_extras()
        self.marker = f"xw-world-{uuid.uuid4().hex[:12]}"
        self.client("owner3", "s3").create_bucket(Bucket=self.marker)
        self.baseline = self.snapshot()

    def alive(self) -> bool:
        """Is this still our seeding? moto's state is process-global: the embedded sandbox and
        other suites' servers reset it (their tests may run between ours)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client("owner3", "s3").head_bucket(Bucket=self.marker)
            return True
        except (ClientError, BotoCoreError):
            return False

    def _seed_extras(self) -> None:
        admin_role(self.client("owner3", "iam"))
        s3 = self.client("owner", "s3")
        s3.put_bucket_policy(Bucket=SPILL, Policy=json.dumps(
            {"Version": "2012-10-17", "Statement": [THEIR_BUCKET_STATEMENT]}))
        self.kms_key_arn = self.client("owner", "kms").create_key(
            Description="spill data key (customer-managed)")["KeyMetadata"]["Arn"]
        s3.put_bucket_encryption(Bucket=SPILL, ServerSideEncryptionConfiguration={"Rules": [{
            "ApplyServerSideEncryptionByDefault": {
                "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": self.kms_key_arn}}]})
        self.client("owner", "lambda").add_permission(
            FunctionName=CAT1, StatementId=THEIR_LAMBDA_SID, Action="lambda:InvokeFunction",
            Principal="arn:aws:iam::444444444444:root")
        iam_b = self.client("consumer", "iam")
        iam_b.put_user_policy(UserName="analyst", PolicyName=ANALYST_OWN_POLICY[0],
                              PolicyDocument=json.dumps(ANALYST_OWN_POLICY[1]))
        iam_b.create_role(RoleName=ROLE1, AssumeRolePolicyDocument=json.dumps(THEIR_ROLE_TRUST))
        iam_b.put_role_policy(RoleName=ROLE1, PolicyName=THEIR_ROLE_POLICY[0],
                              PolicyDocument=json.dumps(THEIR_ROLE_POLICY[1]))
        # owner 3: only a deployed connector function (used through existing_function_arn)
        iam3 = self.client("owner3", "iam")
        role = iam3.create_role(RoleName="connector-exec", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {
                "Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
        self.client("owner3", "lambda").create_function(
            FunctionName=CAT3, Runtime="python3.12", Role=role, Handler="handler.handler",
            Code={"ZipFile": _zip()})

    # ------------------------------------------------------------------ observing
    def snapshot(self) -> dict[str, Any]:
        """Every place either setup can touch, as plain data."""
        out: dict[str, Any] = {}
        for prof, fn in (("owner", CAT1), ("owner3", CAT3)):
            s3 = self.client(prof, "s3")
            buckets = sorted(b["Name"] for b in s3.list_buckets().get("Buckets", [])
                             if b["Name"] != self.marker)
            out[f"{prof}.buckets"] = buckets
            for b in buckets:
                out[f"{prof}.bucket-policy.{b}"] = _or_none(
                    lambda s3=s3, b=b: json.loads(s3.get_bucket_policy(Bucket=b)["Policy"]))
                if b != FRESH_SPILL:  # the only bucket whose settings the tool makes
                    continue
                out[f"{prof}.bucket-config.{b}"] = {
                    "public-access-block": _or_none(
                        lambda s3=s3, b=b: s3.get_public_access_block(
                            Bucket=b)["PublicAccessBlockConfiguration"]),
                    "encryption": _or_none(lambda s3=s3, b=b: s3.get_bucket_encryption(
                        Bucket=b)["ServerSideEncryptionConfiguration"]["Rules"]),
                    "lifecycle": _or_none(
                        lambda s3=s3, b=b: s3.get_bucket_lifecycle_configuration(
                            Bucket=b)["Rules"])}
            lam = self.client(prof, "lambda")
            out[f"{prof}.functions"] = sorted(
                f["FunctionName"] for f in lam.list_functions()["Functions"])
            try:
                out[f"{prof}.lambda-policy"] = sorted(
                    json.loads(lam.get_policy(FunctionName=fn)["Policy"])["Statement"],
                    key=lambda s: s["Sid"])
            except lam.exceptions.ResourceNotFoundException:
                out[f"{prof}.lambda-policy"] = []
            out[f"{prof}.catalogs"] = self.catalogs(prof)
        kms = self.client("owner", "kms")
        out["owner.key-policy"] = json.loads(kms.get_key_policy(
            KeyId=self.kms_key_arn, PolicyName="default")["Policy"])
        iam = self.client("consumer", "iam")
        users = {}
        for u in iam.list_users()["Users"]:
            name = u["UserName"]
            users[name] = {p: iam.get_user_policy(UserName=name, PolicyName=p)["PolicyDocument"]
                           for p in iam.list_user_policies(UserName=name)["PolicyNames"]}
        out["consumer.users"] = users
        roles = {}
        for r in iam.list_roles()["Roles"]:
            name = r["RoleName"]
            if name == "OrganizationAccountAccessRole":
                continue
            roles[name] = {
                "trust": r["AssumeRolePolicyDocument"],
                "policies": {p: iam.get_role_policy(RoleName=name, PolicyName=p)["PolicyDocument"]
                             for p in iam.list_role_policies(RoleName=name)["PolicyNames"]}}
        out["consumer.roles"] = roles
        out["consumer.catalogs"] = self.catalogs("consumer")
        return out

    def catalogs(self, profile: str) -> dict[str, Any]:
        athena = self.client(profile, "athena")
        out = {}
        for c in athena.list_data_catalogs()["DataCatalogsSummary"]:
            name = c["CatalogName"]
            if name == "AwsDataCatalog":
                continue
            cat = athena.get_data_catalog(Name=name)["DataCatalog"]
            out[name] = {"Type": cat.get("Type"), "Parameters": cat.get("Parameters")}
        return out

    def applied(self, scenario: str) -> dict[str, Any]:
        """The snapshot after a clean apply of a scenario (made once per server, then undone)."""
        if scenario not in self._applied:
            make_engine(PROFILES[scenario]()).apply()
            self._applied[scenario] = self.snapshot()
            make_engine(PROFILES[scenario]()).destroy()
            assert self.at_baseline()
        return self._applied[scenario]

    def at_baseline(self) -> bool:
        self.verified = self.snapshot() == self.baseline
        return self.verified


# ---------------------------------------------------------------------- profiles
def existing_profile(**consumer: Any) -> SetupProfile:
    """Owner 1111 -> consumer 2222, over resources that already exist (see module doc)."""
    return SetupProfile(
        region=REGION,
        owner=OwnerConfig(OWNER, CredentialRef(profile="owner")),
        connector=ConnectorConfig(catalog_name=CAT1, spill_bucket=SPILL,
                                  existing_function_arn=FN1),
        consumers=[ConsumerConfig(
            account_id=CONSUMER, credentials=CredentialRef(profile="consumer"),
            principal_arn=ANALYST, query_results=f"s3://{RESULTS}/queries/", catalog_name=CAT1,
            query_credentials=CredentialRef(profile="analyst"), **consumer)],
        test_query=f'SELECT * FROM "{CAT1}"."default"."music" LIMIT 10',
    )


def fresh_profile() -> SetupProfile:
    """Owner 3333 -> consumer 2222: the tool creates the spill bucket, principal and role."""
    return SetupProfile(
        region=REGION,
        owner=OwnerConfig(OWNER3, CredentialRef(profile="owner3")),
        connector=ConnectorConfig(catalog_name=CAT3, spill_bucket=FRESH_SPILL,
                                  existing_function_arn=FN3, create_spill_bucket=True),
        consumers=[ConsumerConfig(
            account_id=CONSUMER, credentials=CredentialRef(profile="consumer"),
            principal_arn=NEWANALYST, query_results=f"s3://{RESULTS}/queries/",
            catalog_name=CAT3, create_principal=True)],
    )


PROFILES = {"existing": existing_profile, "fresh": fresh_profile}
