"""What of a setup exists right now, in the journal's own terms, and what the journal says.

``footprint`` reads the live accounts and names every resource the tool makes (or changes) that
is there now, as the (step, account, resource) key the journal uses for it. Then "the journal
matches what exists" is checkable: everything that exists is journaled (so destroy can remove it)
and everything the journal calls done exists.
"""

from __future__ import annotations

from pathlib import Path

from tests.reliability.world import (
    ANALYST,
    CAT1,
    CAT3,
    FN1,
    FN3,
    FRESH_SPILL,
    NEWANALYST,
    OWNER,
    OWNER3,
    ROLE1,
    ROLE3,
    World,
)
from tests.support.moto_accounts import CONSUMER, SPILL
from wizard.journal import Journal
from wizard.policies import sid_for, statement_by_sid

Key = tuple[str, str, str]
CK = f"consumer:{CONSUMER}"

SCENARIOS = {
    # name: (owner profile, owner id, catalog, function arn, spill bucket, principal, role)
    "existing": ("owner", OWNER, CAT1, FN1, SPILL, ANALYST, ROLE1),
    "fresh": ("owner3", OWNER3, CAT3, FN3, FRESH_SPILL, NEWANALYST, ROLE3),
}


def footprint(world: World, scenario: str) -> set[Key]:
    prof, _owner, cat, fn, bucket, principal, role = SCENARIOS[scenario]
    snap = world.snapshot()
    base = world.baseline or {}
    out: set[Key] = set()
    if bucket in snap[f"{prof}.buckets"] and bucket not in base.get(f"{prof}.buckets", []):
        out.add(("spill-bucket", "owner", f"s3://{bucket}"))
    if cat in snap[f"{prof}.catalogs"]:
        out.add(("catalog-owner", "owner", f"athena data catalog {cat}"))
    user = principal.rsplit("/", 1)[1]
    if user in snap["consumer.users"] and user not in base["consumer.users"]:
        out.add(("principal", CK, principal))
    sid = sid_for("Invoke", CONSUMER, cat)
    if any(st["Sid"] == sid for st in snap[f"{prof}.lambda-policy"]):
        out.add(("lambda-grant", "owner", f"{fn} (permission {sid})"))
    policy = snap.get(f"{prof}.bucket-policy.{bucket}")
    if statement_by_sid(policy, sid_for("Spill", CONSUMER, cat)) is not None:
        out.add(("spill-grant", "owner", f"s3://{bucket} (bucket policy)"))
    if scenario == "existing" and statement_by_sid(
            snap["owner.key-policy"], sid_for("Decrypt", CONSUMER, cat)) is not None:
        out.add(("kms-grant", "owner", f"{world.kms_key_arn} (key policy)"))
    name = f"xacct-wizard-{cat}"
    if name in snap["consumer.users"].get(user, {}):
        out.add(("identity-policy", CK, f"{principal} (inline policy {name})"))
    arn = f"arn:aws:iam::{CONSUMER}:role/{role}"
    roles, base_roles = snap["consumer.roles"], base["consumer.roles"]
    if role in roles and role not in base_roles:
        out.add(("share-role", CK, arn))
    if role in roles and role in base_roles and roles[role]["trust"] != base_roles[role]["trust"]:
        out.add(("share-role", CK, f"{arn} (trust)"))
    share_policy = f"xacct-wizard-share-{cat}"
    if role in roles and share_policy in roles[role]["policies"]:
        out.add(("share-role", CK, f"{arn} (inline policy {share_policy})"))
    if cat in snap["consumer.catalogs"]:
        out.add(("catalog-consumer", CK, f"athena data catalog {cat}"))
    return out


def journal_entries(path: Path) -> dict[Key, str]:
    """(step, account, resource) -> "pending"/"done", as a new process would read the file."""
    if not path.exists():
        return {}
    return {(e.step, e.account, e.resource): e.state for e in Journal(path).entries}


def assert_journal_matches(world: World, scenario: str, path: Path) -> dict[Key, str]:
    """Everything that exists is journaled (so destroy can remove it); every entry marked done
    exists. A pending entry may or may not have happened in AWS: both are fine."""
    live = footprint(world, scenario)
    journal = journal_entries(path)
    unjournaled = live - set(journal)
    assert not unjournaled, f"exists but the journal does not know it: {sorted(unjournaled)}"
    ghosts = {k for k, state in journal.items() if state == "done" and k not in live}
    assert not ghosts, f"journal says done but it does not exist: {sorted(ghosts)}"
    return journal
