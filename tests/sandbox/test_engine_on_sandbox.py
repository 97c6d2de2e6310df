"""The real engine on the sandbox: the full flow with the connector deployed through the
Serverless Application Repository, and each missing grant failing verify the way AWS would,
translated into a cause and a fix."""

from __future__ import annotations

import json

import pytest

from tests.support.moto_accounts import create_stub_function
from wizard.engine import Engine
from wizard.profile import load_profile
from wizard.sandbox import Sandbox

CAT = "acct1dynamodb"
ANALYST = "arn:aws:iam::222222222222:user/analyst"


@pytest.fixture
def engine_factory(sandbox: Sandbox):  # type: ignore[no-untyped-def]
    profile = load_profile(sandbox.example_profile)

    def make(**kwargs: object) -> Engine:
        return Engine(profile, poll_delay=0.05, **kwargs)  # type: ignore[arg-type]

    return make


def test_full_flow_deploys_through_sar_and_the_analyst_reads_music(
        engine_factory, accounts) -> None:  # type: ignore[no-untyped-def]
    engine = engine_factory()
    changes = engine.apply()
    assert ("connector", "create") in {(c.step, c.action) for c in changes}
    stacks = accounts.owner.client("cloudformation").describe_stacks()["Stacks"]
    assert [s["StackName"] for s in stacks] == [f"serverlessrepo-{CAT}"]
    result = engine_factory().verify()
    assert result.ok, result
    q = result.query
    assert q is not None and q.state == "SUCCEEDED"
    assert q.columns[:2] == ["artist", "songtitle"]
    assert sorted(r[1] for r in q.rows) == ["Call Me Today", "Happy Day", "Howdy",
                                            "PartiQL Rocks"]
    assert {c.action for c in engine_factory().plan().changes} == {"none"}
    engine_factory().destroy()
    assert accounts.owner.client("cloudformation").describe_stacks()["Stacks"] == []
    left = accounts.consumer.client("athena").list_data_catalogs()["DataCatalogsSummary"]
    assert CAT not in {c["CatalogName"] for c in left}


def _sid_of_lambda_grant(accounts) -> str:  # type: ignore[no-untyped-def]
    policy = json.loads(accounts.owner.client("lambda").get_policy(FunctionName=CAT)["Policy"])
    return next(st["Sid"] for st in policy["Statement"] if st["Sid"].startswith("XacctWizard"))


def test_without_the_lambda_grant_verify_fails_with_cause_and_fix(
        engine_factory, accounts) -> None:  # type: ignore[no-untyped-def]
    engine_factory().apply()
    accounts.owner.client("lambda").remove_permission(FunctionName=CAT,
                                                      StatementId=_sid_of_lambda_grant(accounts))
    result = engine_factory().verify()
    q = result.query
    assert q is not None and q.state == "FAILED"
    assert "no resource-based policy allows the lambda:InvokeFunction action" in q.error
    assert "resource policy" in q.cause and "apply" in q.fix
    engine_factory().apply()  # repairs the drift
    assert engine_factory().verify().ok


def test_without_the_identity_policy_verify_fails_with_cause_and_fix(
        engine_factory, accounts) -> None:  # type: ignore[no-untyped-def]
    engine_factory().apply()
    accounts.consumer.client("iam").delete_user_policy(UserName="analyst",
                                                       PolicyName=f"xacct-wizard-{CAT}")
    q = engine_factory().verify().query
    # Athena itself refuses first: the analyst may no longer start queries in the workgroup.
    assert q is not None and q.state == "FAILED"
    assert "athena:StartQueryExecution" in q.error and "identity-based policy" in q.error
    assert "workgroup" in q.cause and "apply" in q.fix
    engine_factory().apply()
    assert engine_factory().verify().ok


def test_a_deny_beats_the_allow(engine_factory, accounts) -> None:  # type: ignore[no-untyped-def]
    engine_factory().apply()
    accounts.consumer.client("iam").put_user_policy(
        UserName="analyst", PolicyName="deny-connector", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Deny", "Action": "lambda:InvokeFunction", "Resource": "*"}]}))
    q = engine_factory().verify().query
    assert q is not None and q.state == "FAILED"
    assert "explicit deny" in q.error
    assert "Deny" in q.cause


def test_large_results_need_the_spill_grant_small_ones_do_not(
        engine_factory, accounts, sandbox: Sandbox) -> None:  # type: ignore[no-untyped-def]
    engine_factory().apply()
    s3 = accounts.owner.client("s3")
    bucket = "xacct-sandbox-spill-111111111111"
    s3.delete_bucket_policy(Bucket=bucket)
    sandbox.spill_threshold_bytes = 10**9
    assert engine_factory().verify().query.state == "SUCCEEDED"  # type: ignore[union-attr]
    sandbox.spill_threshold_bytes = 1  # every result spills
    q = engine_factory().verify().query
    assert q is not None and q.state == "FAILED"
    assert "spill" in q.error.lower()
    assert "spill" in q.cause.lower() and "apply" in q.fix
    engine_factory().apply()
    assert engine_factory().verify().query.state == "SUCCEEDED"  # type: ignore[union-attr]


def _legacy_function(accounts) -> str:  # type: ignore[no-untyped-def]
    return create_stub_function(accounts.owner.client("iam"), accounts.owner.client("lambda"),
                                "legacy", role_name="legacy-exec")


def test_a_catalog_pointing_elsewhere_needs_take_over_and_destroy_points_it_back(
        engine_factory, accounts, sandbox: Sandbox) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    legacy = _legacy_function(accounts)
    athena = accounts.owner.client("athena")
    athena.create_data_catalog(Name=CAT, Type="LAMBDA", Parameters={"function": legacy},
                               Description="the data team's")
    engine = engine_factory()
    assert any("take_over_catalog" in f.fix for f in engine.plan().blocking)
    with pytest.raises(Exception, match="Preflight"):
        engine.apply()
    assert engine.recorder.mutating() == []

    profile = load_profile(sandbox.example_profile)
    profile.connector = replace(profile.connector, take_over_catalog=True)
    Engine(profile, poll_delay=0.05).apply()
    now = athena.get_data_catalog(Name=CAT)["DataCatalog"]
    assert now["Parameters"]["function"].endswith(f":function:{CAT}")
    assert Engine(profile, poll_delay=0.05).verify().ok
    Engine(profile, poll_delay=0.05).destroy()
    back = athena.get_data_catalog(Name=CAT)["DataCatalog"]
    assert back["Parameters"] == {"function": legacy}
    assert back["Description"] == "the data team's"
