"""The doctor on setups built by hand with boto3 (not by the wizard), each broken in one place:
it must name exactly that link, and the sandbox's own query result - enforced with the same
evaluator - must agree with its prediction."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.sandbox.support import (
    ANALYST_ARN,
    CATALOG,
    CONSUMER,
    FUNCTION_ARN,
    OWNER,
    REGION,
    RESULTS_URI,
    SPILL_BUCKET,
    Accounts,
    analyst_statements,
    run_query,
    setup_federation,
)
from wizard.doctor import Report, doctor_for_accounts
from wizard.sandbox import Sandbox

SQL = f'SELECT * FROM "{CATALOG}"."default"."music" LIMIT 10'
ROLE_NAME = "AnalystRole"
ROLE_ARN = f"arn:aws:iam::{CONSUMER}:role/{ROLE_NAME}"


def diagnose(acc: Accounts, principal: str = ANALYST_ARN, query: bool = True) -> Report:
    doctor = doctor_for_accounts(
        acc.owner, acc.consumer, catalog=CATALOG, principal_arn=principal, region=REGION,
        query_session=acc.analyst if query and principal == ANALYST_ARN else None, sql=SQL,
        query_results=RESULTS_URI)
    return doctor.run()


def sandbox_query(session: boto3.Session) -> str:
    """The query's final state in the sandbox, as the analyst (refused at start = FAILED)."""
    try:
        return run_query(session, SQL).state
    except ClientError:
        return "FAILED"


def broken(report: Report) -> set[str]:
    return {link.id for c in report.consumers for link in c.links if link.status == "broken"}


def put_identity(acc: Accounts, statements: list[dict[str, Any]]) -> None:
    acc.consumer.client("iam").put_user_policy(
        UserName="analyst", PolicyName="XacctWizardAnalyst",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}))


def without(sid: str) -> list[dict[str, Any]]:
    return [s for s in analyst_statements() if s["Sid"] != sid]


@pytest.fixture
def healthy(sandbox: Sandbox, accounts: Accounts) -> Accounts:
    """A complete hand-made setup whose every query spills (so the spill links matter)."""
    setup_federation(accounts, spill_grant=True)
    sandbox.spill_threshold_bytes = 1
    return accounts


# --------------------------------------------------------------------------- breakages
def drop_consumer_catalog(acc: Accounts) -> None:
    acc.consumer.client("athena").delete_data_catalog(Name=CATALOG)


def point_at_missing_function(acc: Accounts) -> None:
    acc.consumer.client("athena").update_data_catalog(
        Name=CATALOG, Type="LAMBDA", Parameters={"function": FUNCTION_ARN + "-gone"})


def point_at_other_region(acc: Accounts) -> None:
    acc.consumer.client("athena").update_data_catalog(
        Name=CATALOG, Type="LAMBDA",
        Parameters={"function": FUNCTION_ARN.replace(REGION, "eu-west-1")})


def drop_lambda_grant(acc: Accounts) -> None:
    acc.owner.client("lambda").remove_permission(FunctionName=CATALOG,
                                                 StatementId="XacctWizardInvoke")


def drop_identity_invoke(acc: Accounts) -> None:
    put_identity(acc, without("InvokeConnector"))


def deny_invoke(acc: Accounts) -> None:
    acc.consumer.client("iam").put_user_policy(
        UserName="analyst", PolicyName="NoLambda", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Sid": "NoConnector", "Effect": "Deny", "Action": "lambda:*",
                "Resource": "*"}]}))


def drop_identity_athena(acc: Accounts) -> None:
    put_identity(acc, without("RunQueries"))


def drop_results_access(acc: Accounts) -> None:
    put_identity(acc, without("Results"))


def drop_spill_bucket_policy(acc: Accounts) -> None:
    acc.owner.client("s3").delete_bucket_policy(Bucket=SPILL_BUCKET)


def drop_identity_spill(acc: Accounts) -> None:
    put_identity(acc, without("ReadSpill"))


def deny_unencrypted_spill_writes(acc: Accounts) -> None:
    s3 = acc.owner.client("s3")
    policy = json.loads(s3.get_bucket_policy(Bucket=SPILL_BUCKET)["Policy"])
    policy["Statement"].append({
        "Sid": "DenyUnencryptedObjectUploads", "Effect": "Deny", "Principal": "*",
        "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{SPILL_BUCKET}/*",
        "Condition": {"Null": {"s3:x-amz-server-side-encryption": "true"}}})
    s3.put_bucket_policy(Bucket=SPILL_BUCKET, Policy=json.dumps(policy))


def customer_key(acc: Accounts, *, grant: bool) -> str:
    """Spill bucket default encryption with a customer managed key; the analyst's own policy
    allows kms:Decrypt, the key policy only when ``grant``."""
    kms = acc.owner.client("kms")
    statements: list[dict[str, Any]] = [{
        "Sid": "Admins", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OWNER}:root"},
        "Action": "kms:*", "Resource": "*"}]
    if grant:
        statements.append({"Sid": "AnalystDecrypt", "Effect": "Allow",
                           "Principal": {"AWS": ANALYST_ARN}, "Action": "kms:Decrypt",
                           "Resource": "*"})
    key = kms.create_key(Policy=json.dumps({"Version": "2012-10-17",
                                            "Statement": statements}))["KeyMetadata"]["Arn"]
    acc.owner.client("s3").put_bucket_encryption(
        Bucket=SPILL_BUCKET, ServerSideEncryptionConfiguration={"Rules": [{
            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
                                                   "KMSMasterKeyID": key}}]})
    put_identity(acc, [*analyst_statements(), {"Sid": "Decrypt", "Effect": "Allow",
                                               "Action": "kms:Decrypt", "Resource": key}])
    return key


def key_without_decrypt(acc: Accounts) -> None:
    customer_key(acc, grant=False)


SCENARIOS: list[tuple[str, Callable[[Accounts], None], str]] = [
    ("catalog missing in B", drop_consumer_catalog, "consumer-catalog"),
    ("catalog names a missing function", point_at_missing_function, "catalog-function"),
    ("catalog names a function in another region", point_at_other_region, "catalog-function"),
    ("no Lambda resource policy grant", drop_lambda_grant, "lambda-resource-policy"),
    ("identity policy lacks invoke", drop_identity_invoke, "identity-invoke"),
    ("an explicit Deny on lambda:*", deny_invoke, "identity-invoke"),
    ("identity policy lacks Athena", drop_identity_athena, "identity-athena"),
    ("results location not writable", drop_results_access, "results-location"),
    ("no spill bucket policy", drop_spill_bucket_policy, "spill-bucket-policy"),
    ("identity policy lacks spill read", drop_identity_spill, "identity-spill"),
    ("bucket policy denies writes without SSE", deny_unencrypted_spill_writes, "spill-write"),
    ("customer KMS key without decrypt grant", key_without_decrypt, "spill-kms"),
]


def test_a_healthy_hand_made_setup_has_no_broken_link(healthy: Accounts) -> None:
    report = diagnose(healthy)
    assert broken(report) == set(), report.to_json()
    links = {x.id: x for x in report.consumers[0].links}
    assert links["test-query"].status == "ok"
    assert links["spill-kms"].status == "ok" and "not used" in links["spill-kms"].message
    assert "InvokeConnector" in links["identity-invoke"].message  # the statement that allowed
    assert "XacctWizardInvoke" in links["lambda-resource-policy"].message
    assert run_query(healthy.analyst, SQL).state == "SUCCEEDED"
    # The seeded Music table has attributes Artist and SongTitle: flagged, not broken.
    assert links["table-names"].status == "warning"
    assert "column Music.Artist" in links["table-names"].message or \
        "table Music" in links["table-names"].message


@pytest.mark.parametrize(("name", "breakage", "link_id"), SCENARIOS,
                         ids=[s[0] for s in SCENARIOS])
def test_the_doctor_names_exactly_the_broken_link_and_the_sandbox_agrees(
        healthy: Accounts, name: str, breakage: Callable[[Accounts], None],
        link_id: str) -> None:
    breakage(healthy)
    report = diagnose(healthy)
    assert broken(report) == {link_id}, report.to_json()
    link = report.consumers[0].link(link_id)
    assert link is not None and link.message and link.fix
    # The prediction holds: the query as the analyst fails, in the sandbox and in the doctor.
    assert sandbox_query(healthy.analyst) == "FAILED"
    assert report.consumers[0].query is not None
    assert report.consumers[0].query.state == "FAILED"
    assert report.consumers[0].link("test-query").status == "unknown"  # explained, not echoed


def test_the_explicit_deny_is_named_as_evidence(healthy: Accounts) -> None:
    deny_invoke(healthy)
    link = diagnose(healthy).consumers[0].link("identity-invoke")
    assert link is not None
    assert "explicit Deny" in link.message and "NoConnector" in link.message
    assert "apply" not in link.fix  # apply never removes someone else's Deny


def test_a_granted_customer_key_is_ok(healthy: Accounts) -> None:
    key = customer_key(healthy, grant=True)
    report = diagnose(healthy)
    assert broken(report) == set(), report.to_json()
    link = report.consumers[0].link("spill-kms")
    assert link is not None and link.status == "ok" and key in link.resource
    assert run_query(healthy.analyst, SQL).state == "SUCCEEDED"


def _analyst_role(acc: Accounts, boundary_actions: list[str]) -> boto3.Session:
    """A role principal with the full grants but a permissions boundary allowing only
    ``boundary_actions``; returns a session as that role."""
    iam = acc.consumer.client("iam")
    boundary = iam.create_policy(PolicyName="AnalystBoundary", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": boundary_actions,
                                                "Resource": "*"}]}))["Policy"]["Arn"]
    iam.create_role(RoleName=ROLE_NAME, PermissionsBoundary=boundary,
                    AssumeRolePolicyDocument=json.dumps({
                        "Version": "2012-10-17", "Statement": [{
                            "Effect": "Allow", "Action": "sts:AssumeRole",
                            "Principal": {"AWS": f"arn:aws:iam::{CONSUMER}:root"}}]}))
    iam.put_role_policy(RoleName=ROLE_NAME, PolicyName="Analyst", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": analyst_statements()}))
    acc.owner.client("lambda").add_permission(
        FunctionName=CATALOG, StatementId="RoleInvoke", Action="lambda:InvokeFunction",
        Principal=ROLE_ARN)
    s3 = acc.owner.client("s3")
    policy = json.loads(s3.get_bucket_policy(Bucket=SPILL_BUCKET)["Policy"])
    policy["Statement"][0]["Principal"]["AWS"] = [ANALYST_ARN, ROLE_ARN]
    s3.put_bucket_policy(Bucket=SPILL_BUCKET, Policy=json.dumps(policy))
    creds = acc.consumer.client("sts").assume_role(RoleArn=ROLE_ARN,
                                                   RoleSessionName="test")["Credentials"]
    return boto3.Session(aws_access_key_id=creds["AccessKeyId"],
                         aws_secret_access_key=creds["SecretAccessKey"],
                         aws_session_token=creds["SessionToken"], region_name=REGION)


@pytest.mark.parametrize(("boundary", "expected"), [
    (["athena:*", "s3:*", "lambda:InvokeFunction"], set()),
    (["athena:*", "s3:*"], {"identity-invoke"}),
])
def test_a_permissions_boundary_caps_the_role(healthy: Accounts, boundary: list[str],
                                              expected: set[str]) -> None:
    session = _analyst_role(healthy, boundary)
    report = diagnose(healthy, principal=ROLE_ARN)  # the doctor assumes the role itself
    assert broken(report) == expected, report.to_json()
    state = sandbox_query(session)
    assert state == ("FAILED" if expected else "SUCCEEDED")
    if expected:
        link = report.consumers[0].link("identity-invoke")
        assert link is not None and "permissions boundary" in link.message
    assert report.consumers[0].link("test-query").status == ("unknown" if expected else "ok")


def test_without_query_credentials_the_test_query_is_unknown(healthy: Accounts) -> None:
    report = diagnose(healthy, query=False)
    link = report.consumers[0].link("test-query")
    assert link is not None and link.status == "unknown"
    assert broken(report) == set()


def test_an_old_connector_is_a_warning(healthy: Accounts, sandbox: Sandbox) -> None:
    cfn = healthy.owner.client("cloudformation")
    stack = cfn.describe_stacks()["Stacks"][0]
    deployed = {t["Key"]: t["Value"] for t in stack["Tags"]}["serverlessrepo:semanticVersion"]
    newest = healthy.owner.client("serverlessrepo").list_application_versions(
        ApplicationId="arn:aws:serverlessrepo:us-east-1:292517598671:applications/"
                      "AthenaDynamoDBConnector")["Versions"]
    link = diagnose(healthy).consumers[0].link("connector-version")
    assert link is not None
    newest_version = max((v["SemanticVersion"] for v in newest),
                         key=lambda v: [int(p) for p in v.split(".")])
    if deployed == newest_version:
        assert link.status == "ok" and deployed in link.message
    else:
        assert link.status == "warning" and newest_version in link.message


def test_the_doctor_changes_nothing(healthy: Accounts) -> None:
    from wizard.aws import is_mutating

    doctor = doctor_for_accounts(healthy.owner, healthy.consumer, catalog=CATALOG,
                                 principal_arn=ANALYST_ARN, region=REGION,
                                 query_session=healthy.analyst, sql=SQL,
                                 query_results=RESULTS_URI)
    doctor.run()
    recorder = doctor.owner.recorder
    assert recorder is not None and recorder.calls
    assert [c for c in recorder.calls if is_mutating(c.operation)] == []


def test_a_principal_that_does_not_exist_is_named(healthy: Accounts) -> None:
    ghost = f"arn:aws:iam::{CONSUMER}:user/ghost"
    report = diagnose(healthy, principal=ghost, query=False)
    assert broken(report) == {"identity-invoke"}, report.to_json()
    link = report.consumers[0].link("identity-invoke")
    assert link is not None and "does not exist" in link.message


def test_a_missing_workgroup_is_named(healthy: Accounts) -> None:
    doctor = doctor_for_accounts(healthy.owner, healthy.consumer, catalog=CATALOG,
                                 principal_arn=ANALYST_ARN, region=REGION,
                                 query_session=healthy.analyst, sql=SQL, workgroup="nosuch",
                                 query_results=RESULTS_URI)
    report = doctor.run()
    assert broken(report) == {"identity-athena"}, report.to_json()
    assert report.consumers[0].query is not None
    assert report.consumers[0].query.state == "FAILED"  # the sandbox agrees


def spill_bucket_elsewhere(acc: Accounts) -> None:
    acc.consumer.client("s3").create_bucket(Bucket="spill-in-the-wrong-account")
    set_env(acc, spill_bucket="spill-in-the-wrong-account")


def spill_bucket_star(acc: Accounts) -> None:
    set_env(acc, spill_bucket="*")


def set_env(acc: Accounts, **values: str) -> None:
    lam = acc.owner.client("lambda")
    env = lam.get_function_configuration(FunctionName=CATALOG)["Environment"]["Variables"]
    lam.update_function_configuration(FunctionName=CATALOG,
                                      Environment={"Variables": {**env, **values}})


def grant_only_with_source_account(acc: Accounts) -> None:
    """A grant Lambda only honours for service principals: aws:SourceAccount is absent."""
    lam = acc.owner.client("lambda")
    lam.remove_permission(FunctionName=CATALOG, StatementId="XacctWizardInvoke")
    lam.add_permission(FunctionName=CATALOG, StatementId="WithSource",
                       Action="lambda:InvokeFunction", Principal=ANALYST_ARN,
                       SourceAccount=CONSUMER)


def connector_key(acc: Accounts, *, role_grant: bool) -> str:
    """The connector's own kms_key_id (default key policy: the owner account's IAM decides);
    the analyst's policy allows kms:Decrypt, the key policy does not name the analyst."""
    key = acc.owner.client("kms").create_key()["KeyMetadata"]["Arn"]
    set_env(acc, kms_key_id=key)
    if role_grant:
        lam, iam = acc.owner.client("lambda"), acc.owner.client("iam")
        role = lam.get_function_configuration(FunctionName=CATALOG)["Role"].rsplit("/", 1)[-1]
        iam.put_role_policy(RoleName=role, PolicyName="DataKey", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "kms:GenerateDataKey", "Resource": key}]}))
    put_identity(acc, [*analyst_statements(), {"Sid": "Decrypt", "Effect": "Allow",
                                               "Action": "kms:Decrypt", "Resource": key}])
    return key


def connector_key_without_decrypt(acc: Accounts) -> None:
    connector_key(acc, role_grant=True)


def connector_role_without_data_key(acc: Accounts) -> None:
    connector_key(acc, role_grant=False)


MORE: list[tuple[str, Callable[[Accounts], None], str]] = [
    ("spill bucket in the consumer account", spill_bucket_elsewhere, "spill-bucket-policy"),
    ("SpillBucket of '*'", spill_bucket_star, "spill-bucket-policy"),
    ("Lambda grant conditioned on aws:SourceAccount", grant_only_with_source_account,
     "lambda-resource-policy"),
    ("connector kms_key_id without decrypt grant", connector_key_without_decrypt, "spill-kms"),
    ("connector role may not make data keys", connector_role_without_data_key, "spill-kms"),
]


@pytest.mark.parametrize(("name", "breakage", "link_id"), MORE, ids=[s[0] for s in MORE])
def test_more_breakages_name_their_link_and_the_sandbox_agrees(
        healthy: Accounts, name: str, breakage: Callable[[Accounts], None],
        link_id: str) -> None:
    breakage(healthy)
    report = diagnose(healthy)
    assert broken(report) == {link_id}, report.to_json()
    assert sandbox_query(healthy.analyst) == "FAILED"


@pytest.mark.parametrize(("role_grant", "words"), [
    (True, ["kms:Decrypt", "The key policy"]),  # the analyst is not in the key policy
    (False, ["kms:GenerateDataKey", "connector's role"]),  # the connector cannot encrypt
])
def test_the_spill_kms_link_says_who_lacks_what(healthy: Accounts, role_grant: bool,
                                                words: list[str]) -> None:
    connector_key(healthy, role_grant=role_grant)
    link = diagnose(healthy).consumers[0].link("spill-kms")
    assert link is not None and link.status == "broken"
    assert all(w in link.message for w in words), link.message


def test_grants_through_a_group_count(healthy: Accounts) -> None:
    iam = healthy.consumer.client("iam")
    iam.delete_user_policy(UserName="analyst", PolicyName="XacctWizardAnalyst")
    iam.create_group(GroupName="analysts")
    iam.add_user_to_group(GroupName="analysts", UserName="analyst")
    managed = iam.create_policy(PolicyName="AthenaFederation", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": analyst_statements()}))["Policy"]["Arn"]
    iam.attach_group_policy(GroupName="analysts", PolicyArn=managed)
    report = diagnose(healthy)
    assert broken(report) == set(), report.to_json()
    link = report.consumers[0].link("identity-invoke")
    assert link is not None and "group analysts" in link.message
    assert sandbox_query(healthy.analyst) == "SUCCEEDED"


@pytest.mark.parametrize("same_org", [True, False])
def test_an_organization_wide_lambda_grant(healthy: Accounts, same_org: bool) -> None:
    """Principal "*" limited by aws:PrincipalOrgID: holds for members of that organization."""
    orgs = healthy.consumer.client("organizations")
    try:  # the sandbox's consumer is a member of its organization
        org = orgs.describe_organization()["Organization"]["Id"]
    except orgs.exceptions.AWSOrganizationsNotInUseException:
        org = orgs.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    lam = healthy.owner.client("lambda")
    lam.remove_permission(FunctionName=CATALOG, StatementId="XacctWizardInvoke")
    lam.add_permission(FunctionName=CATALOG, StatementId="OrgInvoke",
                       Action="lambda:InvokeFunction", Principal="*",
                       PrincipalOrgID=org if same_org else "o-someoneelse")
    report = diagnose(healthy)
    assert broken(report) == (set() if same_org else {"lambda-resource-policy"}), \
        report.to_json()
    assert sandbox_query(healthy.analyst) == ("SUCCEEDED" if same_org else "FAILED")


def test_a_bare_function_name_means_the_consumer_account(healthy: Accounts) -> None:
    healthy.consumer.client("athena").update_data_catalog(
        Name=CATALOG, Type="LAMBDA", Parameters={"function": CATALOG})
    report = diagnose(healthy)
    assert broken(report) == {"catalog-function"}, report.to_json()
    link = report.consumers[0].link("catalog-function")
    assert link is not None and CONSUMER in link.message
    assert sandbox_query(healthy.analyst) == "FAILED"


def test_a_wizard_setup_with_a_customer_key_reads_its_spill(sandbox: Sandbox,
                                                            accounts: Accounts) -> None:
    """The spill bucket encrypts with a customer key: the wizard grants kms:Decrypt on both
    sides (key policy and the analyst's own policy), so spilled results read back."""
    from wizard.engine import Engine
    from wizard.profile import load_profile

    key = accounts.owner.client("kms").create_key()["KeyMetadata"]["Arn"]
    accounts.owner.client("s3").put_bucket_encryption(
        Bucket=SPILL_BUCKET, ServerSideEncryptionConfiguration={"Rules": [{
            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
                                                   "KMSMasterKeyID": key}}]})
    profile = load_profile(sandbox.example_profile)
    Engine(profile, poll_delay=0.05).apply()
    sandbox.spill_threshold_bytes = 1
    result = Engine(profile, poll_delay=0.05).verify()
    assert result.ok, (result.findings, result.query)
    link = result.doctor.consumers[0].link("spill-kms")
    assert link is not None and link.status == "ok" and key in link.resource
