"""Item 3: someone edits or removes a grant by hand; ``plan`` shows exactly that drift (one
pending change, for that resource, with the live document as "before") and ``apply`` repairs
it (a plan after it is all "none"), keeping everyone else's statements."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tests.reliability.world import (
    ANALYST,
    CAT1,
    FN1,
    ROLE1,
    THEIR_BUCKET_STATEMENT,
    World,
    existing_profile,
    make_engine,
)
from tests.support.moto_accounts import CONSUMER, SPILL
from wizard.cli import main
from wizard.policies import sid_for, statement_by_sid

ROLE_ARN = f"arn:aws:iam::{CONSUMER}:role/{ROLE1}"
CK = f"consumer:{CONSUMER}"


def _edit_bucket_statement(world: World) -> None:
    s3 = world.client("owner", "s3")
    doc = json.loads(s3.get_bucket_policy(Bucket=SPILL)["Policy"])
    ours = statement_by_sid(doc, sid_for("Spill", CONSUMER, CAT1))
    assert ours is not None
    ours["Action"] = ["s3:GetObject", "s3:ListBucket", "s3:DeleteObject"]  # widened by hand
    s3.put_bucket_policy(Bucket=SPILL, Policy=json.dumps(doc))


def _remove_key_policy_statement(world: World) -> None:
    kms = world.client("owner", "kms")
    doc = json.loads(kms.get_key_policy(KeyId=world.kms_key_arn, PolicyName="default")["Policy"])
    doc["Statement"] = [st for st in doc["Statement"]
                        if st.get("Sid") != sid_for("Decrypt", CONSUMER, CAT1)]
    kms.put_key_policy(KeyId=world.kms_key_arn, PolicyName="default", Policy=json.dumps(doc))


def _remove_lambda_permission(world: World) -> None:
    world.client("owner", "lambda").remove_permission(
        FunctionName=CAT1, StatementId=sid_for("Invoke", CONSUMER, CAT1))


def _edit_identity_policy(world: World) -> None:
    iam = world.client("consumer", "iam")
    name = f"xacct-wizard-{CAT1}"
    doc = iam.get_user_policy(UserName="analyst", PolicyName=name)["PolicyDocument"]
    doc["Statement"] = [st for st in doc["Statement"] if st.get("Sid") != "InvokeConnector"]
    iam.put_user_policy(UserName="analyst", PolicyName=name, PolicyDocument=json.dumps(doc))


def _edit_share_role_trust(world: World) -> None:
    iam = world.client("consumer", "iam")
    doc = iam.get_role(RoleName=ROLE1)["Role"]["AssumeRolePolicyDocument"]
    doc["Statement"] = [st for st in doc["Statement"]
                        if not str(st.get("Sid", "")).startswith("XacctWizardTrust")]
    iam.update_assume_role_policy(RoleName=ROLE1, PolicyDocument=json.dumps(doc))


def _delete_share_role_policy(world: World) -> None:
    world.client("consumer", "iam").delete_role_policy(
        RoleName=ROLE1, PolicyName=f"xacct-wizard-share-{CAT1}")


def _delete_consumer_catalog(world: World) -> None:
    world.client("consumer", "athena").delete_data_catalog(Name=CAT1)


def _delete_owner_catalog(world: World) -> None:
    world.client("owner", "athena").delete_data_catalog(Name=CAT1)


# drift -> (step, account, resource, action) that plan must show, and nothing else
DRIFTS: dict[str, tuple[Callable[[World], None], tuple[str, str, str, str]]] = {
    "bucket policy statement edited": (_edit_bucket_statement, (
        "spill-grant", "owner", f"s3://{SPILL} (bucket policy)", "update")),
    "KMS key policy statement removed": (_remove_key_policy_statement, (
        "kms-grant", "owner", "@KEY@ (key policy)", "update")),
    "Lambda permission removed": (_remove_lambda_permission, (
        "lambda-grant", "owner", f"{FN1} (permission {sid_for('Invoke', CONSUMER, CAT1)})",
        "create")),
    "identity policy edited": (_edit_identity_policy, (
        "identity-policy", CK, f"{ANALYST} (inline policy xacct-wizard-{CAT1})", "update")),
    "share role trust edited": (_edit_share_role_trust, (
        "share-role", CK, ROLE_ARN, "update")),
    "share role permission deleted": (_delete_share_role_policy, (
        "share-role", CK, f"{ROLE_ARN} (inline policy xacct-wizard-share-{CAT1})", "create")),
    "catalog in B deleted": (_delete_consumer_catalog, (
        "catalog-consumer", CK, f"athena data catalog {CAT1}", "create")),
    "catalog in A deleted": (_delete_owner_catalog, (
        "catalog-owner", "owner", f"athena data catalog {CAT1}", "create")),
}


def _pending(world: World) -> list[tuple[str, str, str, str]]:
    plan = make_engine(existing_profile()).plan()
    assert not plan.blocking, plan.blocking
    return [(c.step, c.account, c.resource.replace(world.kms_key_arn, "@KEY@"), c.action)
            for c in plan.pending]


def test_each_hand_edit_is_planned_exactly_and_repaired(world: World) -> None:
    make_engine(existing_profile()).apply()
    applied = world.snapshot()
    assert _pending(world) == []
    for name, (edit, expected) in DRIFTS.items():
        edit(world)
        assert world.snapshot() != applied, name
        assert _pending(world) == [expected], f"{name}: the plan must show exactly this drift"
        engine = make_engine(existing_profile())
        engine.apply()
        assert engine.recorder.mutating(), name
        assert world.snapshot() == applied, f"{name}: apply did not repair it"
    make_engine(existing_profile()).destroy()
    assert world.at_baseline()


def test_all_drift_at_once_shows_in_the_cli_plan_and_one_apply_repairs_it(
        world: World, tmp_path: Any, capsys: Any) -> None:
    from wizard.profile import save_profile

    path = tmp_path / "p.yaml"
    save_profile(existing_profile(), path)
    assert main(["apply", str(path), "--yes"]) == 0
    applied = world.snapshot()
    for edit, _ in DRIFTS.values():
        edit(world)
    capsys.readouterr()
    assert main(["plan", str(path), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)["changes"]
    pending = sorted((c["step"], c["account"], c["resource"].replace(world.kms_key_arn, "@KEY@"),
                      c["action"]) for c in shown if c["action"] != "none")
    assert pending == sorted(expected for _, expected in DRIFTS.values())
    # the bucket policy's "before" is the live document: the hand edit, and the other team's
    bucket = next(c for c in shown if c["step"] == "spill-grant")
    assert THEIR_BUCKET_STATEMENT in bucket["before"]["Statement"]
    assert "s3:DeleteObject" in json.dumps(bucket["before"])
    assert "s3:DeleteObject" not in json.dumps(bucket["after"])
    assert THEIR_BUCKET_STATEMENT in bucket["after"]["Statement"]

    assert main(["apply", str(path), "--yes"]) == 0
    assert world.snapshot() == applied
    assert main(["destroy", str(path), "--yes"]) == 0
    assert world.at_baseline()
