"""The whole setup against a bare moto server with two accounts: apply, idempotency, verify,
destroy, other people's statements, resume after a failure."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from tests.support.moto_accounts import CATALOG, CONSUMER, OWNER, SPILL, example_profile
from wizard.engine import Engine
from wizard.errors import WizardError
from wizard.steps.lambda_grant import _principal_of

FN = f"arn:aws:lambda:us-east-1:{OWNER}:function:{CATALOG}"
ROLE = f"AthenaCrossAccountCreate-{OWNER}"


def snapshot(accounts) -> dict:  # type: ignore[no-untyped-def]
    """Everything the setup can touch, as plain data, to compare before/after destroy."""
    s3 = accounts.client("owner", "s3")
    try:
        bucket_policy = json.loads(s3.get_bucket_policy(Bucket=SPILL)["Policy"])
    except s3.exceptions.ClientError:
        bucket_policy = None
    lam = accounts.client("owner", "lambda")
    try:
        lambda_policy = json.loads(lam.get_policy(FunctionName=CATALOG)["Policy"])["Statement"]
    except lam.exceptions.ResourceNotFoundException:
        lambda_policy = []
    iam_b = accounts.client("consumer", "iam")
    return {
        "bucket_policy": bucket_policy,
        "lambda_policy": lambda_policy,
        "owner_catalogs": sorted(c["CatalogName"] for c in accounts.client(
            "owner", "athena").list_data_catalogs()["DataCatalogsSummary"]),
        "consumer_catalogs": sorted(c["CatalogName"] for c in accounts.client(
            "consumer", "athena").list_data_catalogs()["DataCatalogsSummary"]),
        "roles": sorted(r["RoleName"] for r in iam_b.list_roles()["Roles"]),
        "analyst_policies": iam_b.list_user_policies(UserName="analyst")["PolicyNames"],
    }


def test_apply_builds_everything_in_the_right_account(accounts) -> None:  # type: ignore[no-untyped-def]
    engine = Engine(example_profile())
    engine.apply()
    athena_a = accounts.client("owner", "athena")
    assert athena_a.get_data_catalog(Name=CATALOG)["DataCatalog"]["Parameters"]["function"] == FN
    athena_b = accounts.client("consumer", "athena")
    assert athena_b.get_data_catalog(Name=CATALOG)["DataCatalog"]["Type"] == "LAMBDA"
    lam = json.loads(accounts.client("owner", "lambda").get_policy(FunctionName=CATALOG)["Policy"])
    assert any(_principal_of(st) == f"arn:aws:iam::{CONSUMER}:user/analyst"
               for st in lam["Statement"])
    bucket = json.loads(accounts.client("owner", "s3").get_bucket_policy(Bucket=SPILL)["Policy"])
    assert bucket["Statement"][0]["Principal"]["AWS"] == [f"arn:aws:iam::{CONSUMER}:user/analyst"]
    iam_b = accounts.client("consumer", "iam")
    role = iam_b.get_role(RoleName=ROLE)["Role"]
    assert "111111111111:root" in json.dumps(role["AssumeRolePolicyDocument"])
    doc = iam_b.get_user_policy(UserName="analyst", PolicyName=f"xacct-wizard-{CATALOG}")
    assert FN in json.dumps(doc["PolicyDocument"])
    # nothing of B's landed in A and vice versa
    iam_a = accounts.client("owner", "iam")
    with pytest.raises(iam_a.exceptions.NoSuchEntityException):
        iam_a.get_role(RoleName=ROLE)


def test_second_apply_plans_none_and_writes_nothing(accounts) -> None:  # type: ignore[no-untyped-def]
    Engine(example_profile()).apply()
    engine = Engine(example_profile())
    plan = engine.plan()
    assert plan.changes and {c.action for c in plan.changes} == {"none"}
    engine.recorder.clear()
    engine.apply()
    assert engine.recorder.calls, "the second apply must still read live state"
    assert engine.recorder.mutating() == []


def test_destroy_restores_both_accounts_and_keeps_others_statements(accounts) -> None:  # type: ignore[no-untyped-def]
    s3 = accounts.client("owner", "s3")
    theirs = {"Sid": "DataTeamRead", "Effect": "Allow",
              "Principal": {"AWS": "arn:aws:iam::333333333333:root"},
              "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{SPILL}/reports/*"}
    s3.put_bucket_policy(Bucket=SPILL, Policy=json.dumps(
        {"Version": "2012-10-17", "Statement": [theirs]}))
    accounts.client("owner", "lambda").add_permission(
        FunctionName=CATALOG, StatementId="someone-else", Action="lambda:InvokeFunction",
        Principal="arn:aws:iam::444444444444:root")
    before = snapshot(accounts)

    Engine(example_profile()).apply()
    during = snapshot(accounts)
    assert theirs in during["bucket_policy"]["Statement"]
    assert len(during["bucket_policy"]["Statement"]) == 2
    assert any(st["Sid"] == "someone-else" for st in during["lambda_policy"])

    changes = Engine(example_profile()).destroy()
    assert changes
    assert snapshot(accounts) == before
    # the journal is empty afterwards: a second destroy does nothing
    assert Engine(example_profile()).destroy() == []


def test_verify_runs_the_query_as_the_principal(accounts) -> None:  # type: ignore[no-untyped-def]
    engine = Engine(example_profile())
    engine.apply()
    result = Engine(example_profile()).verify()
    assert result.findings == []
    assert result.query is not None and result.query.state == "SUCCEEDED"
    ident = [c for c in engine.recorder.calls if c.account.endswith(":query")]
    assert ident == [] or all(c.service == "athena" for c in ident)


def test_failure_in_the_middle_then_apply_again_completes(accounts) -> None:  # type: ignore[no-untyped-def]
    calls = {"n": 0}

    def boom(**_: object) -> None:
        calls["n"] += 1
        raise RuntimeError("injected: connection dropped")

    failing = Engine(example_profile(), hooks=[("before-call.iam.PutUserPolicy", boom)])
    with pytest.raises(WizardError) as err:
        failing.apply()
    assert "injected" in str(err.value)
    assert calls["n"] == 1
    # what was done before the failure is journaled, the rest is not there yet
    assert failing.journal.for_step("spill-grant") and not failing.journal.for_step(
        "catalog-consumer")
    resumed = Engine(example_profile())
    resumed.apply()
    assert {c.action for c in Engine(example_profile()).plan().changes} == {"none"}
    Engine(example_profile()).destroy()
    assert snapshot(accounts)["roles"].count(ROLE) == 0


def test_direct_share_needs_no_role(accounts) -> None:  # type: ignore[no-untyped-def]
    profile = example_profile(share_method="direct")
    Engine(profile).apply()
    assert ROLE not in snapshot(accounts)["roles"]
    assert CATALOG in snapshot(accounts)["consumer_catalogs"]
    Engine(profile).destroy()
    assert CATALOG not in snapshot(accounts)["consumer_catalogs"]


def test_drift_is_planned_and_repaired(accounts) -> None:  # type: ignore[no-untyped-def]
    Engine(example_profile()).apply()
    lam = accounts.client("owner", "lambda")
    sid = json.loads(lam.get_policy(FunctionName=CATALOG)["Policy"])["Statement"][0]["Sid"]
    lam.remove_permission(FunctionName=CATALOG, StatementId=sid)
    accounts.client("consumer", "iam").delete_user_policy(
        UserName="analyst", PolicyName=f"xacct-wizard-{CATALOG}")
    plan = Engine(example_profile()).plan()
    drift = {(c.step, c.action) for c in plan.pending}
    assert drift == {("lambda-grant", "create"), ("identity-policy", "create")}
    Engine(example_profile()).apply()
    assert Engine(example_profile()).plan().pending == []


def test_missing_principal_blocks_apply_before_any_change(accounts) -> None:  # type: ignore[no-untyped-def]
    profile = example_profile()
    profile.consumers[0] = replace(profile.consumers[0],
                                   principal_arn=f"arn:aws:iam::{CONSUMER}:user/nobody")
    engine = Engine(profile)
    plan = engine.plan()
    assert any("nobody" in f.message for f in plan.blocking)
    with pytest.raises(WizardError):
        engine.apply()
    assert engine.recorder.mutating() == []


def test_wrong_account_credentials_are_named(accounts) -> None:  # type: ignore[no-untyped-def]
    profile = example_profile()
    profile.owner = replace(profile.owner, account_id="999999999999")
    with pytest.raises(WizardError) as err:
        Engine(profile).plan()
    assert "111111111111" in str(err.value) and "999999999999" in str(err.value)


def test_customer_managed_key_gets_a_decrypt_grant_that_destroy_removes(accounts) -> None:  # type: ignore[no-untyped-def]
    kms = accounts.client("owner", "kms")
    key = kms.create_key(Description="spill key")["KeyMetadata"]
    original = json.loads(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"])
    accounts.client("owner", "s3").put_bucket_encryption(
        Bucket=SPILL, ServerSideEncryptionConfiguration={"Rules": [{
            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
                                                   "KMSMasterKeyID": key["Arn"]}}]})
    engine = Engine(example_profile())
    plan = engine.plan()
    assert any("kms:Decrypt" in f.message for f in plan.findings if f.severity == "warning")
    assert [c.action for c in plan.changes if c.step == "kms-grant"] == ["update"]
    engine.apply()
    policy = json.loads(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"])
    ours = [st for st in policy["Statement"] if st.get("Sid", "").startswith("XacctWizard")]
    assert ours and ours[0]["Action"] == ["kms:Decrypt"]
    assert all(st in policy["Statement"] for st in original["Statement"])
    assert {c.action for c in Engine(example_profile()).plan().changes} == {"none"}
    Engine(example_profile()).destroy()
    after = json.loads(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"])
    assert after["Statement"] == original["Statement"]


def test_aws_managed_s3_key_is_refused_before_any_change(accounts) -> None:  # type: ignore[no-untyped-def]
    accounts.client("owner", "s3").put_bucket_encryption(
        Bucket=SPILL, ServerSideEncryptionConfiguration={"Rules": [{
            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
                                                   "KMSMasterKeyID": "alias/aws/s3"}}]})
    engine = Engine(example_profile())
    assert any("aws/s3" in f.message for f in engine.plan().blocking)
    with pytest.raises(WizardError):
        engine.apply()
    assert engine.recorder.mutating() == []
