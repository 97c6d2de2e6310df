"""Item 2 (resources): what existed before the tool came is never deleted by destroy, what it
changed is put back as it was, and a catalog of the same name that points elsewhere is not
taken over. (The policy-document properties are tests/unit/test_policies*.py.)"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from tests.reliability.world import (
    ANALYST,
    CAT1,
    FN1,
    ROLE1,
    ROLE3,
    THEIR_ROLE_POLICY,
    World,
    existing_profile,
    fresh_profile,
    make_engine,
)
from tests.support.moto_accounts import CONSUMER, SPILL
from wizard.errors import WizardError
from wizard.policies import sid_for

OTHER_FN = "arn:aws:lambda:us-east-1:111111111111:function:somebody-elses-connector"


def test_what_existed_before_survives_apply_and_destroy(world: World) -> None:
    """The spill bucket, the function, both catalogs (registered by hand, pointing at the same
    function), the principal, someone's Lambda permission for the same principal, the share
    role with its other policy: the profile even asks to create bucket and principal."""
    world.client("owner", "athena").create_data_catalog(
        Name=CAT1, Type="LAMBDA", Parameters={"function": FN1})
    world.client("consumer", "athena").create_data_catalog(
        Name=CAT1, Type="LAMBDA", Parameters={"function": FN1})
    world.client("owner", "lambda").add_permission(
        FunctionName=CAT1, StatementId="analyst-by-hand", Action="lambda:InvokeFunction",
        Principal=ANALYST)
    before = world.snapshot()

    profile = existing_profile(create_principal=True)
    profile.connector = replace(profile.connector, create_spill_bucket=True)
    engine = make_engine(profile)
    plan = engine.plan()
    untouched = {c.step: c.action for c in plan.changes
                 if c.step in ("spill-bucket", "connector", "catalog-owner", "principal",
                               "catalog-consumer")}
    assert untouched == dict.fromkeys(untouched, "none") and len(untouched) == 5
    engine.apply()
    owned = {e.step for e in engine.journal.entries}
    assert owned.isdisjoint(untouched), "the journal claims something that was already there"

    make_engine(profile).destroy()
    assert world.snapshot() == before
    # and the pieces by name, for the reader
    assert SPILL in before["owner.buckets"] and CAT1 in before["owner.functions"]
    assert "analyst" in before["consumer.users"]
    assert THEIR_ROLE_POLICY[0] in before["consumer.roles"][ROLE1]["policies"]

    world.client("owner", "athena").delete_data_catalog(Name=CAT1)
    world.client("consumer", "athena").delete_data_catalog(Name=CAT1)
    world.client("owner", "lambda").remove_permission(FunctionName=CAT1,
                                                      StatementId="analyst-by-hand")
    assert world.at_baseline()


def test_what_destroy_changed_back_is_exactly_what_was_there(world: World) -> None:
    """Our Sid already in the bucket policy (with other content), an inline identity policy of
    our name on the principal, the share role trusting the owner already: apply rewrites the
    first two, destroy restores both documents exactly and never touches the trust."""
    mine = sid_for("Spill", CONSUMER, CAT1)
    old_statement = {"Sid": mine, "Effect": "Allow", "Principal": {"AWS": ANALYST},
                     "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{SPILL}/old/*"}
    s3 = world.client("owner", "s3")
    doc = json.loads(s3.get_bucket_policy(Bucket=SPILL)["Policy"])
    doc["Statement"].append(old_statement)
    s3.put_bucket_policy(Bucket=SPILL, Policy=json.dumps(doc))
    iam = world.client("consumer", "iam")
    old_identity = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "athena:ListWorkGroups", "Resource": "*"}]}
    iam.put_user_policy(UserName="analyst", PolicyName=f"xacct-wizard-{CAT1}",
                        PolicyDocument=json.dumps(old_identity))
    trusting = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
        "Action": "sts:AssumeRole"}]}
    iam.update_assume_role_policy(RoleName=ROLE1, PolicyDocument=json.dumps(trusting))
    before = world.snapshot()

    engine = make_engine(existing_profile())
    plan = {c.step: c.action for c in engine.plan().changes}
    assert plan["spill-grant"] == "update" and plan["identity-policy"] == "update"
    engine.apply()
    assert engine.recorder.mutating() and not [
        c for c in engine.recorder.mutating() if c.operation == "UpdateAssumeRolePolicy"]
    after = world.snapshot()
    assert after["owner.bucket-policy." + SPILL] != before["owner.bucket-policy." + SPILL]

    make_engine(existing_profile()).destroy()
    assert world.snapshot() == before

    s3.put_bucket_policy(Bucket=SPILL, Policy=json.dumps(world.baseline[  # type: ignore[index]
        "owner.bucket-policy." + SPILL]))
    iam.delete_user_policy(UserName="analyst", PolicyName=f"xacct-wizard-{CAT1}")
    iam.update_assume_role_policy(RoleName=ROLE1, PolicyDocument=json.dumps(
        world.baseline["consumer.roles"][ROLE1]["trust"]))  # type: ignore[index]
    assert world.at_baseline()


def test_a_role_we_created_is_kept_when_someone_else_started_using_it(world: World) -> None:
    make_engine(fresh_profile()).apply()
    iam = world.client("consumer", "iam")
    iam.put_role_policy(RoleName=ROLE3, PolicyName=THEIR_ROLE_POLICY[0],
                        PolicyDocument=json.dumps(THEIR_ROLE_POLICY[1]))
    make_engine(fresh_profile()).destroy()
    role = world.snapshot()["consumer.roles"][ROLE3]
    assert list(role["policies"]) == [THEIR_ROLE_POLICY[0]], "only our policy goes"
    iam.delete_role_policy(RoleName=ROLE3, PolicyName=THEIR_ROLE_POLICY[0])
    iam.delete_role(RoleName=ROLE3)
    assert world.at_baseline()


@pytest.mark.parametrize("side", ["owner", "consumer"])
def test_a_catalog_of_the_same_name_pointing_elsewhere_is_not_taken_over(
        world: World, side: str) -> None:
    athena = world.client(side, "athena")
    athena.create_data_catalog(Name=CAT1, Type="LAMBDA", Parameters={"function": OTHER_FN})
    before = world.snapshot()

    engine = make_engine(existing_profile())
    blocking = engine.plan().blocking
    assert len(blocking) == 1
    assert CAT1 in blocking[0].message and "somebody-elses-connector" in blocking[0].message
    assert blocking[0].fix
    with pytest.raises(WizardError, match="Preflight checks failed; nothing was changed"):
        engine.apply()
    assert engine.recorder.mutating() == []
    assert world.snapshot() == before
    assert make_engine(existing_profile()).destroy() == []
    assert world.snapshot() == before

    athena.delete_data_catalog(Name=CAT1)
    assert world.at_baseline()
