"""Serverless Application Repository emulation -> real moto CloudFormation stacks."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.sandbox.support import APP_ID, CATALOG, OWNER, SPILL_BUCKET, Accounts, deploy_connector

CAPS = ["CAPABILITY_IAM", "CAPABILITY_RESOURCE_POLICY"]
PARAMS = [{"Name": "AthenaCatalogName", "Value": CATALOG},
          {"Name": "SpillBucket", "Value": SPILL_BUCKET}]


def test_get_application_has_the_real_parameters(accounts: Accounts) -> None:
    sar = accounts.owner.client("serverlessrepo")
    app = sar.get_application(ApplicationId=APP_ID)
    version = app["Version"]
    assert version["SemanticVersion"] == "2026.33.1"
    assert version["RequiredCapabilities"] == CAPS
    defs = {p["Name"]: p for p in version["ParameterDefinitions"]}
    assert list(defs) == ["AthenaCatalogName", "SpillBucket", "SpillPrefix", "LambdaTimeout",
                          "LambdaMemory", "DisableSpillEncryption", "KMSKeyId", "LambdaRole",
                          "PermissionsBoundaryARN"]
    assert defs["SpillPrefix"]["DefaultValue"] == "athena-spill"
    assert defs["LambdaTimeout"]["DefaultValue"] == "900"
    assert defs["LambdaMemory"]["DefaultValue"] == "3008"
    assert defs["DisableSpillEncryption"]["DefaultValue"] == "false"
    assert "DefaultValue" not in defs["AthenaCatalogName"]
    assert defs["AthenaCatalogName"]["AllowedPattern"] == "^[a-z0-9-_]{1,64}$"

    older = sar.get_application(ApplicationId=APP_ID, SemanticVersion="2026.8.1")
    assert older["Version"]["SemanticVersion"] == "2026.8.1"
    with pytest.raises(ClientError) as err:
        sar.get_application(ApplicationId=APP_ID, SemanticVersion="1.0.0")
    assert err.value.response["Error"]["Code"] == "NotFoundException"
    with pytest.raises(ClientError) as err:
        sar.get_application(ApplicationId=APP_ID.replace("Dynamo", "Nope"))
    assert err.value.response["Error"]["Code"] == "NotFoundException"


def test_list_application_versions_pages(accounts: Accounts) -> None:
    sar = accounts.owner.client("serverlessrepo")
    versions = [v["SemanticVersion"]
                for page in sar.get_paginator("list_application_versions").paginate(
                    ApplicationId=APP_ID, PaginationConfig={"PageSize": 2})
                for v in page["Versions"]]
    assert len(versions) >= 3
    assert versions[-1] == "2026.33.1"


@pytest.mark.parametrize(("caps", "message"), [
    ([], "Requires capabilities : [CAPABILITY_IAM, CAPABILITY_RESOURCE_POLICY]"),
    (["CAPABILITY_RESOURCE_POLICY"], "Requires capabilities : [CAPABILITY_IAM]"),
])
def test_change_set_needs_the_capabilities(accounts: Accounts, caps: list[str],
                                           message: str) -> None:
    sar = accounts.owner.client("serverlessrepo")
    with pytest.raises(ClientError) as err:
        sar.create_cloud_formation_change_set(ApplicationId=APP_ID, StackName=CATALOG,
                                              Capabilities=caps, ParameterOverrides=PARAMS)
    assert err.value.response["Error"]["Code"] == "BadRequestException"
    assert err.value.response["Error"]["Message"] == message


def test_change_set_validates_version_and_parameters(accounts: Accounts) -> None:
    sar = accounts.owner.client("serverlessrepo")
    with pytest.raises(ClientError) as err:
        sar.create_cloud_formation_change_set(ApplicationId=APP_ID, StackName=CATALOG,
                                              SemanticVersion="1.0.0", Capabilities=CAPS,
                                              ParameterOverrides=PARAMS)
    assert err.value.response["Error"]["Code"] == "NotFoundException"
    with pytest.raises(ClientError, match=r"\[SpillBucket\] must have values"):
        sar.create_cloud_formation_change_set(ApplicationId=APP_ID, StackName=CATALOG,
                                              Capabilities=CAPS, ParameterOverrides=PARAMS[:1])
    with pytest.raises(ClientError, match="must match pattern"):
        sar.create_cloud_formation_change_set(
            ApplicationId=APP_ID, StackName="Bad", Capabilities=CAPS,
            ParameterOverrides=[{"Name": "AthenaCatalogName", "Value": "Bad_Name"},
                                PARAMS[1]])
    with pytest.raises(ClientError, match="stackName"):
        sar.create_cloud_formation_change_set(ApplicationId=APP_ID, StackName="with_underscore",
                                              Capabilities=CAPS, ParameterOverrides=PARAMS)


def test_change_set_deploys_a_stack_with_the_connector_function(accounts: Accounts) -> None:
    cs = deploy_connector(accounts.owner)
    assert cs["StackId"].startswith(
        f"arn:aws:cloudformation:us-east-1:{OWNER}:stack/serverlessrepo-{CATALOG}/")
    assert cs["SemanticVersion"] == "2026.33.1"
    cfn = accounts.owner.client("cloudformation")
    stack = cfn.describe_stacks(StackName=f"serverlessrepo-{CATALOG}")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    events = cfn.describe_stack_events(StackName=f"serverlessrepo-{CATALOG}")["StackEvents"]
    assert any(e["ResourceStatus"] == "CREATE_COMPLETE" for e in events)
    res = cfn.describe_stack_resource(StackName=f"serverlessrepo-{CATALOG}",
                                      LogicalResourceId="ConnectorConfig")
    assert res["StackResourceDetail"]["PhysicalResourceId"] == CATALOG
    fn = accounts.owner.client("lambda").get_function(FunctionName=CATALOG)["Configuration"]
    assert fn["FunctionArn"] == f"arn:aws:lambda:us-east-1:{OWNER}:function:{CATALOG}"
    assert fn["Environment"]["Variables"] == {
        "disable_spill_encryption": "false", "spill_bucket": SPILL_BUCKET,
        "spill_prefix": "athena-spill", "athena_connector_log_level": "WARN"}
    assert fn["Timeout"] == 900 and fn["MemorySize"] == 3008

    # Same parameters again: CloudFormation's "no changes" change set.
    sar = accounts.owner.client("serverlessrepo")
    again = sar.create_cloud_formation_change_set(ApplicationId=APP_ID, StackName=CATALOG,
                                                  Capabilities=CAPS, ParameterOverrides=PARAMS)
    described = cfn.describe_change_set(ChangeSetName=again["ChangeSetId"],
                                        StackName=again["StackId"])
    assert described["Status"] == "FAILED"
    assert "didn't contain changes" in described["StatusReason"]

    cfn.delete_stack(StackName=f"serverlessrepo-{CATALOG}")
    cfn.get_waiter("stack_delete_complete").wait(StackName=cs["StackId"],
                                                 WaiterConfig={"Delay": 1, "MaxAttempts": 5})
    with pytest.raises(ClientError):
        accounts.owner.client("lambda").get_function(FunctionName=CATALOG)


def test_change_set_runs_in_the_callers_account(accounts: Accounts) -> None:
    cs = deploy_connector(accounts.consumer, spill_bucket="any-bucket")
    assert ":222222222222:stack/" in cs["StackId"]
    accounts.consumer.client("lambda").get_function(FunctionName=CATALOG)
    with pytest.raises(ClientError):
        accounts.owner.client("lambda").get_function(FunctionName=CATALOG)


def test_a_change_set_executes_once_as_in_aws(accounts: Accounts) -> None:
    """A re-sent ExecuteChangeSet (a lost response, retried) is refused with AWS's code, and
    the stack is not applied twice."""
    cs = deploy_connector(accounts.owner)
    cfn = accounts.owner.client("cloudformation")
    with pytest.raises(ClientError) as err:
        cfn.execute_change_set(ChangeSetName=cs["ChangeSetId"], StackName=cs["StackId"])
    assert err.value.response["Error"]["Code"] == "InvalidChangeSetStatus"
    assert "EXECUTE_COMPLETE" in err.value.response["Error"]["Message"]
    events = cfn.describe_stack_events(StackName=cs["StackId"])["StackEvents"]
    stack_events = [e["ResourceStatus"] for e in events if e["ResourceType"] ==
                    "AWS::CloudFormation::Stack"]
    assert stack_events.count("CREATE_COMPLETE") == 1
