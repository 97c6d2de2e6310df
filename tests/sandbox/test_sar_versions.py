"""The emulated repository's versions as an upgrade meets them: templates that differ, change
sets that say what CloudFormation will do to each resource, a withdrawn version and a release
whose function fails queries."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.sandbox.support import (
    APP_ID,
    CATALOG,
    SPILL_BUCKET,
    Accounts,
    run_query,
    setup_federation,
)
from wizard.sandbox import Sandbox

CAPS = ["CAPABILITY_IAM", "CAPABILITY_RESOURCE_POLICY"]
STACK = f"serverlessrepo-{CATALOG}"


def change_set(owner: boto3.Session, version: str, **params: str) -> dict[str, Any]:
    """Create a SAR change set for ``version`` and wait for it; returns DescribeChangeSet."""
    overrides = [{"Name": "AthenaCatalogName", "Value": CATALOG},
                 {"Name": "SpillBucket", "Value": SPILL_BUCKET}]
    overrides += [{"Name": k, "Value": v} for k, v in params.items()]
    cs = owner.client("serverlessrepo").create_cloud_formation_change_set(
        ApplicationId=APP_ID, StackName=CATALOG, SemanticVersion=version, Capabilities=CAPS,
        ParameterOverrides=overrides)
    cfn = owner.client("cloudformation")
    cfn.get_waiter("change_set_create_complete").wait(
        ChangeSetName=cs["ChangeSetId"], StackName=STACK, WaiterConfig={"Delay": 1})
    return cfn.describe_change_set(ChangeSetName=cs["ChangeSetId"], StackName=STACK)


def deploy(owner: boto3.Session, version: str, **params: str) -> dict[str, Any]:
    desc = change_set(owner, version, **params)
    cfn = owner.client("cloudformation")
    cfn.execute_change_set(ChangeSetName=desc["ChangeSetId"], StackName=STACK)
    waiter = "stack_update_complete" if desc["Changes"] and any(
        c["ResourceChange"]["Action"] != "Add" for c in desc["Changes"]) else \
        "stack_create_complete"
    cfn.get_waiter(waiter).wait(StackName=STACK, WaiterConfig={"Delay": 1})
    return desc


def resource_changes(desc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["ResourceChange"]["LogicalResourceId"]: c["ResourceChange"]
            for c in desc["Changes"]}


def test_withdrawn_version_is_listed_nowhere_and_not_deployable(accounts: Accounts) -> None:
    sar = accounts.owner.client("serverlessrepo")
    versions = [v["SemanticVersion"] for v in
                sar.list_application_versions(ApplicationId=APP_ID)["Versions"]]
    assert "2025.45.1" not in versions
    assert versions == ["2026.8.1", "2026.21.1", "2026.33.1"]
    with pytest.raises(ClientError) as err:
        sar.get_application(ApplicationId=APP_ID, SemanticVersion="2025.45.1")
    assert err.value.response["Error"]["Code"] == "NotFoundException"
    with pytest.raises(ClientError) as err:
        change_set(accounts.owner, "2025.45.1")
    assert err.value.response["Error"]["Code"] == "NotFoundException"


def test_versions_differ_in_their_parameters(accounts: Accounts) -> None:
    sar = accounts.owner.client("serverlessrepo")

    def names(version: str) -> list[str]:
        app = sar.get_application(ApplicationId=APP_ID, SemanticVersion=version)
        return [p["Name"] for p in app["Version"]["ParameterDefinitions"]]

    assert "PermissionsBoundaryARN" not in names("2026.8.1")
    assert "PermissionsBoundaryARN" in names("2026.21.1")
    with pytest.raises(ClientError, match="do not exist in the template"):
        change_set(accounts.owner, "2026.8.1", PermissionsBoundaryARN="arn:aws:iam::1:policy/b")


def test_upgrade_change_set_says_what_is_replaced_and_the_execute_does_it(
        accounts: Accounts) -> None:
    deploy(accounts.owner, "2026.8.1")
    iam, lam = accounts.owner.client("iam"), accounts.owner.client("lambda")
    cfn = accounts.owner.client("cloudformation")
    old_role = lam.get_function(FunctionName=CATALOG)["Configuration"]["Role"]
    old_env = lam.get_function(FunctionName=CATALOG)["Configuration"]["Environment"]["Variables"]
    assert old_env["athena_connector_log_level"] == "INFO"

    desc = change_set(accounts.owner, "2026.33.1")
    changes = resource_changes(desc)
    assert set(changes) == {"FunctionRole", "ConnectorConfig"}
    role = changes["FunctionRole"]
    assert (role["Action"], role["Replacement"]) == ("Modify", "True")
    assert {d["Target"]["Name"]: d["Target"]["RequiresRecreation"] for d in role["Details"]} \
        == {"Path": "Always"}
    fn = changes["ConnectorConfig"]
    assert (fn["Action"], fn["Replacement"]) == ("Modify", "False")
    assert fn["PhysicalResourceId"] == CATALOG
    by_name = {d["Target"]["Name"]: d for d in fn["Details"]}
    assert by_name["Environment"]["ChangeSource"] == "DirectModification"
    assert by_name["Role"]["Evaluation"] == "Dynamic"
    assert by_name["Role"]["CausingEntity"] == "FunctionRole.Arn"
    params = {p["ParameterKey"]: p["ParameterValue"] for p in desc["Parameters"]}
    assert params["PermissionsBoundaryARN"] == ""  # the new parameter takes its default

    cfn.execute_change_set(ChangeSetName=desc["ChangeSetId"], StackName=STACK)
    cfn.get_waiter("stack_update_complete").wait(StackName=STACK, WaiterConfig={"Delay": 1})
    stack = cfn.describe_stacks(StackName=STACK)["Stacks"][0]
    tags = {t["Key"]: t["Value"] for t in stack["Tags"]}
    assert tags["serverlessrepo:semanticVersion"] == "2026.33.1"
    config = lam.get_function(FunctionName=CATALOG)["Configuration"]
    assert config["Environment"]["Variables"]["athena_connector_log_level"] == "WARN"
    assert config["Role"] != old_role  # a new role, under the new path
    new_role = iam.get_role(RoleName=config["Role"].rsplit("/", 1)[-1])["Role"]
    assert new_role["Path"] == "/athena-federation/"
    with pytest.raises(ClientError):
        iam.get_role(RoleName=old_role.rsplit("/", 1)[-1])


def test_a_parameter_change_alone_is_a_modification(accounts: Accounts) -> None:
    deploy(accounts.owner, "2026.33.1")
    changes = resource_changes(change_set(accounts.owner, "2026.33.1", LambdaMemory="1024"))
    assert set(changes) == {"ConnectorConfig"}
    detail = changes["ConnectorConfig"]["Details"][0]
    assert (detail["ChangeSource"], detail["CausingEntity"]) == ("ParameterReference",
                                                                 "LambdaMemory")
    assert changes["ConnectorConfig"]["Replacement"] == "False"


def test_broken_release_deploys_but_its_function_fails_queries(
        accounts: Accounts, sandbox: Sandbox) -> None:
    setup_federation(accounts, spill_grant=True)
    sql = f'SELECT * FROM "{CATALOG}"."default"."music"'
    assert run_query(accounts.analyst, sql).state == "SUCCEEDED"
    deploy(accounts.owner, "2026.21.1")
    failed = run_query(accounts.analyst, sql)
    assert failed.state == "FAILED"
    assert "NoSuchMethodError" in failed.reason
    deploy(accounts.owner, "2026.8.1")
    assert run_query(accounts.analyst, sql).state == "SUCCEEDED"


def test_a_stack_may_stay_at_a_version_withdrawn_since(accounts: Accounts,
                                                      sandbox: Sandbox) -> None:
    sandbox.sar.withdrawn.discard("2025.45.1")
    deploy(accounts.owner, "2025.45.1")
    sandbox.sar.withdrawn.add("2025.45.1")
    stack = accounts.owner.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]
    assert {t["Key"]: t["Value"] for t in stack["Tags"]}[
        "serverlessrepo:semanticVersion"] == "2025.45.1"
    with pytest.raises(ClientError):
        change_set(accounts.owner, "2025.45.1", LambdaMemory="1024")
