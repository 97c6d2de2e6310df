"""consumers_from end to end on the sandbox's organization: an OU of 50 member accounts.

What a user would check: every account of the OU (and the OU below it) can query the Music
rows as its analyst role after one apply; an account moved into the OU later can too, without
another apply; a principal outside the OU is refused by the owner's grants; the owner's
policies grow by one statement, not fifty, and keep everyone else's; destroy returns every
member account to what it was; an account that fails is named with its cause, and the next
apply retries only that account.
"""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest

from tests.organization.conftest import MEMBERS, Org
from wizard.aws import CallRecorder
from wizard.engine import Engine
from wizard.errors import AwsOperationError
from wizard.sandbox.organizations import (
    ANALYTICS_OU,
    MANAGEMENT_ACCOUNT,
    NEWCOMER_ACCOUNT,
    ONBOARDING_OU,
    REPORTING_OU,
)
from wizard.sandbox.seed import extra_consumer_account

OWNER = "111111111111"
CATALOG = "acct1dynamodb"
SPILL = f"xacct-sandbox-spill-{OWNER}"
SHARE_ROLE = f"AthenaCrossAccountCreate-{OWNER}"
SQL = f'SELECT * FROM "{CATALOG}"."default"."music"'
FOREIGN = {"Sid": "OtherTeamReadsLogs", "Effect": "Allow",
           "Principal": {"AWS": "arn:aws:iam::222222222222:root"},
           "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{SPILL}/logs/*"}


def engine(org: Org, **kw: Any) -> Engine:
    return Engine(org.profile, poll_delay=0.02, **kw)


def account_state(session: boto3.Session) -> dict[str, Any]:
    """What the setup can leave in a member account, as plain data."""
    iam = session.client("iam")
    roles = sorted(r["RoleName"] for r in iam.list_roles()["Roles"])
    return {
        "roles": roles,
        "role_policies": {r: sorted(iam.list_role_policies(RoleName=r)["PolicyNames"])
                          for r in roles},
        "users": sorted(u["UserName"] for u in iam.list_users()["Users"]),
        "user_policies": sorted(iam.list_user_policies(UserName="analyst")["PolicyNames"]),
        "catalogs": sorted(c["CatalogName"] for c in session.client(
            "athena").list_data_catalogs()["DataCatalogsSummary"]),
        "stacks": [s["StackName"] for s in session.client(
            "cloudformation").describe_stacks()["Stacks"]],
    }


def analyst(admin: boto3.Session, account: str) -> boto3.Session:
    """The account's AthenaAnalyst role (the StackSet's principal), assumed by its admin."""
    creds = admin.client("sts").assume_role(RoleArn=f"arn:aws:iam::{account}:role/AthenaAnalyst",
                                            RoleSessionName="test")["Credentials"]
    return boto3.Session(aws_access_key_id=creds["AccessKeyId"],
                         aws_secret_access_key=creds["SecretAccessKey"],
                         aws_session_token=creds["SessionToken"], region_name="us-east-1")


def run_query(session: boto3.Session, account: str, catalog: str = CATALOG) -> dict[str, Any]:
    athena = session.client("athena")
    qid = athena.start_query_execution(
        QueryString=SQL, QueryExecutionContext={"Catalog": catalog, "Database": "default"},
        ResultConfiguration={"OutputLocation": f"s3://xacct-sandbox-results-{account}/queries/"},
    )["QueryExecutionId"]
    for _ in range(400):
        ex = athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
        if ex["Status"]["State"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            break
        time.sleep(0.02)
    out = {"state": ex["Status"]["State"], "reason": ex["Status"].get("StateChangeReason", "")}
    if out["state"] == "SUCCEEDED":
        out["rows"] = len(athena.get_query_results(QueryExecutionId=qid)["ResultSet"]["Rows"]) - 1
    return out


def bucket_policy(org: Org) -> dict[str, Any] | None:
    s3 = org.session("sandbox-owner").client("s3")
    try:
        return json.loads(s3.get_bucket_policy(Bucket=SPILL)["Policy"])
    except s3.exceptions.ClientError:
        return None


def lambda_statements(org: Org) -> list[dict[str, Any]]:
    lam = org.session("sandbox-owner").client("lambda")
    return json.loads(lam.get_policy(FunctionName=CATALOG)["Policy"])["Statement"]


def wait_for_operations(org: Org) -> None:
    cfn = org.session("sandbox-management").client("cloudformation")
    for _ in range(500):
        ops = cfn.list_stack_set_operations(StackSetName=f"xacct-wizard-{CATALOG}")["Summaries"]
        if all(o["Status"] not in ("QUEUED", "RUNNING") for o in ops):
            return
        time.sleep(0.02)
    raise AssertionError("the StackSet operation did not finish")


# --------------------------------------------------------------------------- tests
def test_every_account_of_an_ou_of_50_can_query_after_one_apply(org: Org) -> None:
    members = org.sandbox.member_accounts
    assert len(members) == MEMBERS
    plan = engine(org).plan()
    planned = {c.account for c in plan.changes if c.kind == "stack-instance"}
    assert planned == {f"consumer:{a}" for a in members}  # the OU and the OU below it
    assert not plan.blocking

    progress: list[str] = []
    engine(org, on_event=lambda e: progress.append(e.account) if e.kind == "progress"
           else None).apply()
    assert sorted(progress) == sorted(f"consumer:{a}" for a in members)  # streamed per account

    result = engine(org).verify(all_accounts=True)
    assert result.ok, [(a, q.state, q.error) for a, q in result.accounts]
    assert sorted(a for a, _q in result.accounts) == sorted(members)
    assert all(len(q.rows) == 4 for _a, q in result.accounts)  # the Music items, everywhere

    # A second apply changes nothing, and makes no mutating call anywhere.
    recorder = CallRecorder()
    again = engine(org, recorder=recorder)
    assert all(c.action == "none" for c in again.plan().changes)
    recorder.clear()
    again.apply()
    assert recorder.mutating() == []


def test_owner_policies_hold_one_statement_for_the_ou_and_keep_everyone_elses(org: Org) -> None:
    s3 = org.session("sandbox-owner").client("s3")
    s3.put_bucket_policy(Bucket=SPILL, Policy=json.dumps(
        {"Version": "2012-10-17", "Statement": [FOREIGN]}))
    engine(org).apply()
    lam = org.session("sandbox-owner").client("lambda")
    lam.add_permission(FunctionName=CATALOG, StatementId="OtherTeam", Action="lambda:GetFunction",
                       Principal="222222222222")

    statements = bucket_policy(org)["Statement"]  # type: ignore[index]
    assert FOREIGN in statements
    ours = [s for s in statements if s["Sid"] != FOREIGN["Sid"]]
    assert len(ours) == 1  # one statement for 50 accounts
    assert ours[0]["Condition"] == {"ForAnyValue:StringLike": {
        "aws:PrincipalOrgPaths": [f"o-xactsandbx/r-xact/{ANALYTICS_OU}/*"]}}
    fn = lambda_statements(org)
    assert len([s for s in fn if s["Sid"].startswith("XacctWizard")]) == 1
    assert any(s["Sid"] == "OtherTeam" for s in fn)

    engine(org).apply()  # re-applying keeps them too
    assert FOREIGN in bucket_policy(org)["Statement"]  # type: ignore[index]
    assert any(s["Sid"] == "OtherTeam" for s in lambda_statements(org))
    # Destroy removes our statement and puts the bucket policy back as it was (the function
    # itself goes with the connector this tool deployed).
    engine(org).destroy()
    assert bucket_policy(org) == {"Version": "2012-10-17", "Statement": [FOREIGN]}


def test_an_account_moved_into_the_ou_after_apply_can_query_without_another_apply(
        org: Org) -> None:
    engine(org).apply()
    newcomer_admin = org.session("sandbox-newcomer")
    assert "AthenaAnalyst" not in account_state(newcomer_admin)["roles"]

    org.session("sandbox-management").client("organizations").move_account(
        AccountId=NEWCOMER_ACCOUNT, SourceParentId=ONBOARDING_OU,
        DestinationParentId=REPORTING_OU)  # an OU below the profile's OU
    wait_for_operations(org)

    result = run_query(analyst(newcomer_admin, NEWCOMER_ACCOUNT), NEWCOMER_ACCOUNT)
    assert result == {"state": "SUCCEEDED", "reason": "", "rows": 4}
    # ... and verify now counts it among the OU's accounts, set up.
    assert engine(org).verify(all_accounts=True).ok


def _self_made_setup(admin: boto3.Session, account: str, catalog: str) -> None:
    """What someone outside the OU could build on their own: the same role, identity policy
    and catalog (a stack of the wizard's own template), pointing at A's connector."""
    from wizard.stackset_template import body, build

    template = json.loads(body(build(
        owner_account=OWNER, region="us-east-1",
        function_arn=f"arn:aws:lambda:us-east-1:{OWNER}:function:{CATALOG}",
        spill_bucket=SPILL, spill_prefix="athena-spill",
        source=__import__("wizard.profile", fromlist=["ConsumersFrom"]).ConsumersFrom(
            "ou-xact-analytic", "role/AthenaAnalyst",
            __import__("wizard.profile", fromlist=["CredentialRef"]).CredentialRef("x"),
            query_results="s3://xacct-sandbox-results-{account_id}/queries/"),
        catalog=catalog)))
    template["Resources"].pop("ShareRole")
    admin.client("cloudformation").create_stack(
        StackName="self-made", TemplateBody=json.dumps(template),
        Capabilities=["CAPABILITY_NAMED_IAM"])


def test_a_principal_outside_the_ou_is_denied_by_the_owner_side_grants(org: Org) -> None:
    engine(org).apply()
    # In the organization but outside the OU: the spill bucket's grant names the OU's path.
    org.sandbox.spill_threshold_bytes = 0  # every result goes through the spill bucket
    newcomer_admin = org.session("sandbox-newcomer")
    _self_made_setup(newcomer_admin, NEWCOMER_ACCOUNT, CATALOG)
    outside = run_query(analyst(newcomer_admin, NEWCOMER_ACCOUNT), NEWCOMER_ACCOUNT)
    assert outside["state"] == "FAILED"
    assert "s3:GetObject" in outside["reason"] and "resource-based policy" in outside["reason"]
    # ... while an account of the OU reads the same spilled result.
    inside = run_query(analyst(org.member_session(1), extra_consumer_account(1)),
                       extra_consumer_account(1))
    assert inside["state"] == "SUCCEEDED"

    # Outside the organization altogether: the connector's function policy refuses it.
    org.sandbox.spill_threshold_bytes = 6 * 1024 * 1024
    base = org.session("sandbox-base")
    base_account = base.client("sts").get_caller_identity()["Account"]
    base.client("s3").create_bucket(Bucket=f"xacct-sandbox-results-{base_account}")
    _self_made_setup(base, base_account, CATALOG)
    stranger = run_query(analyst(base, base_account), base_account)
    assert stranger["state"] == "FAILED"
    assert "lambda:InvokeFunction" in stranger["reason"]


def test_destroy_returns_every_member_account_to_its_prior_state(org: Org) -> None:
    sessions = {n: org.member_session(n) for n in range(1, MEMBERS + 1)}
    before = {n: account_state(s) for n, s in sessions.items()}
    bucket_before = bucket_policy(org)
    engine(org).apply()
    assert all(SHARE_ROLE in account_state(s)["roles"] for s in sessions.values())

    engine(org).destroy()
    after = {n: account_state(s) for n, s in sessions.items()}
    assert after == before
    assert bucket_policy(org) == bucket_before
    cfn = org.session("sandbox-management").client("cloudformation")
    assert [s["Status"] for s in cfn.list_stack_sets()["Summaries"]] == ["DELETED"]
    assert engine(org).plan_destroy().changes == []


def test_failed_accounts_are_named_with_their_cause_and_only_they_are_retried(
        org: Org) -> None:
    blocked = [extra_consumer_account(3), extra_consumer_account(8)]
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OWNER}:root"},
        "Action": "sts:AssumeRole"}]})
    for n in (3, 8):  # a share role made by hand before: the stack cannot create it
        org.member_session(n).client("iam").create_role(RoleName=SHARE_ROLE,
                                                        AssumeRolePolicyDocument=trust)
    with pytest.raises(AwsOperationError) as err:
        engine(org).apply()
    text = err.value.explain()
    assert "2 of 50 accounts" in text
    for account in blocked:
        assert f"- {account}: The account already has a role" in text
    assert "retries only these accounts" in text
    # The others are set up.
    ok = run_query(analyst(org.member_session(1), extra_consumer_account(1)),
                   extra_consumer_account(1))
    assert ok["state"] == "SUCCEEDED"
    plan = engine(org).plan()
    retry = [c for c in plan.changes if c.action != "none"]
    assert sorted(c.account for c in retry) == sorted(f"consumer:{a}" for a in blocked)
    assert all(c.summary.startswith("retry: The account already has a role") for c in retry)

    for n in (3, 8):
        org.member_session(n).client("iam").delete_role(RoleName=SHARE_ROLE)
    seen: list[str] = []
    engine(org, on_event=lambda e: seen.append(e.account) if e.kind == "progress"
           else None).apply()
    assert sorted(seen) == sorted(f"consumer:{a}" for a in blocked)  # only they ran again
    assert engine(org).verify(all_accounts=True).ok


def test_owner_side_calls_do_not_grow_with_the_number_of_accounts(org: Org) -> None:
    from dataclasses import replace

    def owner_calls(ou: str, catalog: str) -> int:
        source = replace(org.profile.consumers_from, organizational_unit=ou,  # type: ignore[arg-type]
                         catalog_name=catalog, stack_set_name=f"set-{catalog}")
        profile = replace(org.profile, consumers_from=source,
                          connector=replace(org.profile.connector, catalog_name=catalog))
        recorder = CallRecorder()
        Engine(profile, poll_delay=0.02, recorder=recorder).apply()
        count = sum(1 for c in recorder.calls if c.account == "owner")
        # The OUs overlap (Reporting is below Analytics): one setup at a time.
        Engine(profile, poll_delay=0.02).destroy()
        return count

    small = owner_calls(REPORTING_OU, "reportingdb")  # 12 accounts
    large = owner_calls(ANALYTICS_OU, "analyticsdb")  # 50 accounts
    assert small == large


def test_the_management_account_is_the_one_deploying(org: Org) -> None:
    eng = engine(org)
    eng.connect()
    assert eng.identities["organization"].account_id == MANAGEMENT_ACCOUNT
