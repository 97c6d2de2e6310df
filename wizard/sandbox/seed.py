"""What a fresh sandbox contains: accounts, admin roles, the analyst, the Music table, buckets.

Seeding writes straight into moto's backends (same process) instead of going through HTTP:
it is what keeps ``Sandbox.start()`` well under the 1.5 s budget, and it lets us give every
IAM access key a *deterministic* id and secret, so the AWS config file the sandbox writes stays
valid across :meth:`Sandbox.reset` (tests reuse one server and reset it between tests).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources
from typing import Any

OWNER_ACCOUNT = "111111111111"
CONSUMER_ACCOUNT = "222222222222"
REGION = "us-east-1"
ADMIN_ROLE = "OrganizationAccountAccessRole"
BASE_USER = "sandbox-base"
ANALYST_USER = "analyst"
MUSIC_TABLE = "Music"

ADMIN_POLICY = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Sid": "AdministratorAccess", "Effect": "Allow", "Action": "*",
                   "Resource": "*"}],
})


def spill_bucket(account_id: str) -> str:
    """The spill bucket the sandbox creates in the owner account."""
    return f"xacct-sandbox-spill-{account_id}"


def results_bucket(account_id: str) -> str:
    """The Athena query-results bucket the sandbox creates in each consumer account."""
    return f"xacct-sandbox-results-{account_id}"


def extra_consumer_account(n: int) -> str:
    """Account id of benchmark consumer ``n`` (1-based): 222222220001, 222222220002, ..."""
    return f"22222222{n:04d}"


@dataclass(frozen=True)
class StaticKey:
    """An IAM user's access key pair as written into the sandbox's AWS config file."""

    access_key_id: str
    secret_access_key: str


@dataclass
class SeedResult:
    """What the config-file writer needs to know about the seeded identities."""

    base_account: str
    base_key: StaticKey
    analyst_keys: dict[str, StaticKey] = field(default_factory=dict)  # account -> key


def deterministic_key(account_id: str, user: str) -> StaticKey:
    """Same account + user -> same key pair, on every start and after every reset."""
    digest = hashlib.sha256(f"xacct-sandbox:{account_id}:{user}".encode()).hexdigest().upper()
    secret = hashlib.sha256(f"secret:{account_id}:{user}".encode()).hexdigest()[:40]
    return StaticKey("AKIA" + digest[:16], secret)


def music_items() -> list[dict[str, Any]]:
    """The Music sample items shipped with the package (a copy of resources/music-items.json)."""
    text = resources.files("wizard.sandbox").joinpath("data/music-items.json").read_text("utf-8")
    return list(json.loads(text)["items"])


def to_attribute_value(value: Any) -> dict[str, Any]:
    """Plain JSON value -> DynamoDB AttributeValue (what moto's put_item expects)."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, (int, float, Decimal)):
        return {"N": str(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, list):
        return {"L": [to_attribute_value(v) for v in value]}
    if isinstance(value, dict):
        return {"M": {k: to_attribute_value(v) for k, v in value.items()}}
    raise TypeError(f"cannot store {type(value).__name__} in DynamoDB")


def _create_user_with_key(iam: Any, account_id: str, user_name: str) -> StaticKey:
    iam.create_user(region_name=REGION, user_name=user_name)
    key = iam.create_access_key(user_name=user_name)
    fixed = deterministic_key(account_id, user_name)
    # Re-key moto's record: it indexes keys by id in the backend and lists them on the user.
    iam.access_keys.pop(key.access_key_id, None)
    key.access_key_id = fixed.access_key_id
    key.secret_access_key = fixed.secret_access_key
    iam.access_keys[key.access_key_id] = key
    return fixed


def _create_admin_role(iam: Any, base_account: str) -> None:
    from wizard.sandbox.organizations import MANAGEMENT_ACCOUNT

    # The base user reaches every account through it; the organization's management account
    # too, as AWS Organizations sets the role up in its member accounts.
    trust = json.dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": [f"arn:aws:iam::{base_account}:root",
                                  f"arn:aws:iam::{MANAGEMENT_ACCOUNT}:root"]},
            "Action": "sts:AssumeRole",
        }],
    })
    iam.create_role(role_name=ADMIN_ROLE, assume_role_policy_document=trust, path="/",
                    permissions_boundary=None,
                    description="Sandbox administrator (as created by AWS Organizations)",
                    tags=[], max_session_duration="3600")
    iam.put_role_policy(ADMIN_ROLE, "AdministratorAccess", ADMIN_POLICY)


def seed(consumer_accounts: list[str]) -> SeedResult:
    """Create the sandbox's initial state in moto's (empty) backends."""
    from moto.backends import get_backend
    from moto.core import DEFAULT_ACCOUNT_ID

    from wizard.sandbox.ddb_items import create_table

    iam_backends = get_backend("iam")
    s3_backends = get_backend("s3")

    base_iam = iam_backends[DEFAULT_ACCOUNT_ID]["aws"]
    base_key = _create_user_with_key(base_iam, DEFAULT_ACCOUNT_ID, BASE_USER)
    base_iam.put_user_policy(BASE_USER, "AdministratorAccess", ADMIN_POLICY)
    result = SeedResult(DEFAULT_ACCOUNT_ID, base_key)

    # Owner account A: admin role, the Music table, the spill bucket.
    owner_iam = iam_backends[OWNER_ACCOUNT]["aws"]
    _create_admin_role(owner_iam, DEFAULT_ACCOUNT_ID)
    create_table(OWNER_ACCOUNT, REGION, MUSIC_TABLE, {"Artist": "S", "SongTitle": "S"},
                 ({k: to_attribute_value(v) for k, v in item.items()} for item in music_items()))
    s3_backends[OWNER_ACCOUNT]["aws"].create_bucket(spill_bucket(OWNER_ACCOUNT), REGION)

    # The organization (wizard/sandbox/organizations.py): its management account, and an
    # account outside the consumers' OU that a test (or user) can move into it.
    from wizard.sandbox import organizations

    _create_admin_role(iam_backends[organizations.MANAGEMENT_ACCOUNT]["aws"], DEFAULT_ACCOUNT_ID)
    # Consumer accounts B (and the member accounts): admin role, analyst user, results bucket.
    for account in [*consumer_accounts, organizations.NEWCOMER_ACCOUNT]:
        iam = iam_backends[account]["aws"]
        _create_admin_role(iam, DEFAULT_ACCOUNT_ID)
        result.analyst_keys[account] = _create_user_with_key(iam, account, ANALYST_USER)
        s3_backends[account]["aws"].create_bucket(results_bucket(account), REGION)
    organizations.seed_organization(OWNER_ACCOUNT, consumer_accounts[0], consumer_accounts[1:])
    return result
