"""The sandbox answers each service it serves in every wire protocol a botocore may use.

botocore 1.44.18 moved Athena from ``json`` to ``rest-json`` and a fresh install broke. The
sandbox now reads the installed botocore's service models, so these tests drive every Athena
and Serverless Application Repository operation it emulates with real botocore clients in
``json``, ``rest-json`` and Smithy RPC v2 CBOR form (built from the installed model, see
tests/support/protocol_variants.py), the protocols AWS has moved services between.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError

from tests.sandbox.support import (
    APP_ID,
    CATALOG,
    FUNCTION_ARN,
    RESULTS_URI,
    Accounts,
    setup_federation,
)
from tests.support.protocol_variants import client_in
from wizard.sandbox import Sandbox, protocol

FORMS = ["json", "rest-json", "smithy-rpc-v2-cbor"]
# The services the sandbox answers or inspects (wizard/sandbox/server.py).
SERVED = ["athena", "serverlessrepo", "sts", "cloudformation", "s3", "lambda"]


@pytest.fixture(params=FORMS)
def form(request: pytest.FixtureRequest) -> Iterator[str]:
    yield request.param
    for service in ("athena", "serverlessrepo"):
        protocol.unregister_models(service)


@pytest.mark.parametrize("service", SERVED)
def test_the_installed_botocore_protocols_are_all_handled(service: str) -> None:
    model = botocore.session.get_session().get_service_model(service)
    offered = model.metadata.get("protocols") or [model.protocol]
    assert set(offered) <= set(protocol.SUPPORTED_PROTOCOLS), (
        f"botocore now offers {offered} for {service}: teach wizard/sandbox/protocol.py")


def test_both_forms_of_athena_really_differ_on_the_wire(tmp_path: Path, sandbox: Sandbox
                                                        ) -> None:
    """The test below would prove nothing if both clients sent the same requests."""
    sent: dict[str, dict[str, Any]] = {}
    for form in FORMS:
        client = client_in(form, "athena", "sandbox-owner", tmp_path)

        def record(request: Any, form: str = form, **_: Any) -> None:
            sent[form] = {"url": request.url, "target": request.headers.get("X-Amz-Target")}

        client.meta.events.register("before-send.athena.GetWorkGroup", record)
        client.get_work_group(WorkGroup="primary")
        protocol.unregister_models("athena")
    assert sent["json"]["target"] and sent["json"]["url"].endswith("/")
    assert not sent["rest-json"]["target"]
    assert sent["smithy-rpc-v2-cbor"]["url"].endswith("/operation/GetWorkGroup")
    assert len({s["url"] for s in sent.values()}) == 3


# Every operation the Athena emulator answers; the test below must drive each of them.
ATHENA_DRIVEN = {
    "CreateDataCatalog", "GetDataCatalog", "UpdateDataCatalog", "ListDataCatalogs",
    "DeleteDataCatalog", "ListDatabases", "GetDatabase", "ListTableMetadata",
    "GetTableMetadata", "GetWorkGroup", "ListWorkGroups", "CreateWorkGroup", "DeleteWorkGroup",
    "ListTagsForResource", "StartQueryExecution", "GetQueryExecution",
    "BatchGetQueryExecution", "GetQueryResults", "StopQueryExecution", "ListQueryExecutions",
}


def test_every_emulated_athena_operation_has_a_protocol_test(sandbox: Sandbox) -> None:
    assert set(sandbox.athena.operations()) == ATHENA_DRIVEN


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def test_every_athena_operation_in_every_form(form: str, accounts: Accounts, tmp_path: Path,
                                              sandbox: Sandbox) -> None:
    setup_federation(accounts)
    owner = client_in(form, "athena", "sandbox-owner", tmp_path)
    analyst = client_in(form, "athena", "sandbox-analyst", tmp_path)
    admin_b = client_in(form, "athena", "sandbox-consumer", tmp_path)

    # data catalogs: create, read, update, list, delete, and Athena's errors
    owner.create_data_catalog(Name="second", Type="LAMBDA", Description="d",
                              Parameters={"function": FUNCTION_ARN},
                              Tags=[{"Key": "team", "Value": "data"}])
    got = owner.get_data_catalog(Name="second")["DataCatalog"]
    assert (got["Type"], got["Parameters"], got["Description"]) == (
        "LAMBDA", {"function": FUNCTION_ARN}, "d")
    owner.update_data_catalog(Name="second", Type="LAMBDA", Description="changed",
                              Parameters={"function": FUNCTION_ARN})
    assert owner.get_data_catalog(Name="second")["DataCatalog"]["Description"] == "changed"
    names = [c["CatalogName"] for c in owner.list_data_catalogs()["DataCatalogsSummary"]]
    assert {"AwsDataCatalog", CATALOG, "second"} <= set(names)
    tags = owner.list_tags_for_resource(
        ResourceARN=f"arn:aws:athena:us-east-1:{Sandbox.OWNER_ACCOUNT}:datacatalog/second")
    assert tags["Tags"] == [{"Key": "team", "Value": "data"}]
    owner.delete_data_catalog(Name="second")
    with pytest.raises(ClientError) as err:
        owner.get_data_catalog(Name="second")
    assert _code(err) == "InvalidRequestException"
    assert err.value.response["Error"]["Message"] == "DataCatalog second was not found"
    with pytest.raises(ClientError) as err:
        owner.create_data_catalog(Name="hive", Type="LAMBDA",
                                  Parameters={"function": FUNCTION_ARN})
    assert _code(err) == "InvalidRequestException"

    # metadata of the shared LAMBDA catalog, as the analyst in B (invokes the connector)
    dbs = analyst.list_databases(CatalogName=CATALOG)["DatabaseList"]
    assert [d["Name"] for d in dbs] == ["default"]
    assert analyst.get_database(CatalogName=CATALOG, DatabaseName="default")[
        "Database"]["Name"] == "default"
    tables = analyst.list_table_metadata(CatalogName=CATALOG, DatabaseName="default")
    assert "music" in [t["Name"] for t in tables["TableMetadataList"]]
    music = analyst.get_table_metadata(CatalogName=CATALOG, DatabaseName="default",
                                       TableName="music")["TableMetadata"]
    assert {"artist", "songtitle"} <= {c["Name"] for c in music["Columns"]}
    with pytest.raises(ClientError) as err:
        analyst.get_database(CatalogName="nope", DatabaseName="default")
    assert _code(err) == "MetadataException"

    # workgroups
    owner.create_work_group(Name="etl", Description="nightly",
                            Configuration={"ResultConfiguration": {"OutputLocation": "s3://x/"}})
    wg = owner.get_work_group(WorkGroup="etl")["WorkGroup"]
    assert wg["Description"] == "nightly"
    assert wg["Configuration"]["ResultConfiguration"]["OutputLocation"] == "s3://x/"
    assert hasattr(wg["CreationTime"], "year")  # a timestamp, parsed by botocore
    assert {"primary", "etl"} <= {w["Name"] for w in owner.list_work_groups()["WorkGroups"]}
    owner.delete_work_group(WorkGroup="etl")
    with pytest.raises(ClientError) as err:
        owner.get_work_group(WorkGroup="etl")
    assert _code(err) == "InvalidRequestException"

    # a federated query as the analyst: start, poll, page the results, list, batch-get
    qid = analyst.start_query_execution(
        QueryString=f'SELECT artist, songtitle FROM "{CATALOG}"."default"."music" '
                    "ORDER BY artist, songtitle",
        WorkGroup="primary", ResultConfiguration={"OutputLocation": RESULTS_URI},
    )["QueryExecutionId"]
    state = ""
    for _ in range(500):
        execution = analyst.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
        state = execution["Status"]["State"]
        if state in ("SUCCEEDED", "FAILED", "CANCELLED"):
            break
    assert state == "SUCCEEDED", execution["Status"]
    assert hasattr(execution["Status"]["SubmissionDateTime"], "year")
    rows = [[d.get("VarCharValue") for d in r["Data"]]
            for page in analyst.get_paginator("get_query_results").paginate(
                QueryExecutionId=qid, PaginationConfig={"PageSize": 2})
            for r in page["ResultSet"]["Rows"]]
    assert rows[0] == ["artist", "songtitle"]
    assert ["Acme Band", "Happy Day"] in rows[1:]
    assert qid in admin_b.list_query_executions(WorkGroup="primary")["QueryExecutionIds"]
    batch = admin_b.batch_get_query_execution(QueryExecutionIds=[qid, "missing-id"])
    assert [q["QueryExecutionId"] for q in batch["QueryExecutions"]] == [qid]
    assert [u["QueryExecutionId"] for u in batch["UnprocessedQueryExecutionIds"]] == [
        "missing-id"]
    analyst.stop_query_execution(QueryExecutionId=qid)  # finished: a no-op, as in Athena

    # a DDL statement goes to moto's backend and makes a database in AwsDataCatalog
    ddl = owner.start_query_execution(QueryString="CREATE DATABASE lake",
                                      ResultConfiguration={"OutputLocation": RESULTS_URI})
    states = [owner.get_query_execution(QueryExecutionId=ddl["QueryExecutionId"])[
        "QueryExecution"]["Status"]["State"] for _ in range(3)]
    assert states[-1] == "SUCCEEDED", states
    assert owner.get_query_results(QueryExecutionId=ddl["QueryExecutionId"])[
        "ResultSet"]["Rows"] == []
    assert "lake" in [d["Name"] for d in owner.list_databases(
        CatalogName="AwsDataCatalog")["DatabaseList"]]
    owner.stop_query_execution(QueryExecutionId=ddl["QueryExecutionId"])

    # a denied call is an AccessDeniedException in either protocol
    with pytest.raises(ClientError) as err:
        analyst.create_data_catalog(Name="mine", Type="LAMBDA",
                                    Parameters={"function": FUNCTION_ARN})
    assert _code(err) == "AccessDeniedException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_an_athena_operation_the_sandbox_does_not_emulate_says_so(
        form: str, accounts: Accounts, tmp_path: Path) -> None:
    owner = client_in(form, "athena", "sandbox-owner", tmp_path)
    with pytest.raises(ClientError) as err:
        owner.list_named_queries()
    assert _code(err) == "NotImplemented"
    assert "does not emulate ListNamedQueries" in err.value.response["Error"]["Message"]


def test_every_serverless_repo_operation_in_every_form(form: str, accounts: Accounts,
                                                       tmp_path: Path) -> None:
    sar = client_in(form, "serverlessrepo", "sandbox-owner", tmp_path)
    app = sar.get_application(ApplicationId=APP_ID, SemanticVersion="2026.8.1")
    assert app["Version"]["SemanticVersion"] == "2026.8.1"
    assert "CAPABILITY_IAM" in app["Version"]["RequiredCapabilities"]
    versions = sar.list_application_versions(ApplicationId=APP_ID, MaxItems=2)
    assert len(versions["Versions"]) == 2 and versions["NextToken"]
    template = sar.create_cloud_formation_template(ApplicationId=APP_ID)
    got = sar.get_cloud_formation_template(ApplicationId=APP_ID,
                                           TemplateId=template["TemplateId"])
    assert got["Status"] == "ACTIVE" and got["TemplateUrl"].endswith(".json")
    cs = sar.create_cloud_formation_change_set(
        ApplicationId=APP_ID, StackName=CATALOG,
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_RESOURCE_POLICY"],
        ParameterOverrides=[{"Name": "AthenaCatalogName", "Value": CATALOG},
                            {"Name": "SpillBucket", "Value": "bucket"}],
        Tags=[{"Key": "team", "Value": "data"}])
    assert cs["StackId"] and cs["ChangeSetId"]
    cfn = accounts.owner.client("cloudformation")
    described = cfn.describe_change_set(ChangeSetName=cs["ChangeSetId"])
    params = {p["ParameterKey"]: p["ParameterValue"] for p in described["Parameters"]}
    assert params["AthenaCatalogName"] == CATALOG
    with pytest.raises(ClientError) as err:
        sar.create_cloud_formation_change_set(ApplicationId=APP_ID, StackName=CATALOG,
                                              Capabilities=[])
    assert _code(err) == "BadRequestException"
    assert "Requires capabilities" in err.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as err:
        sar.get_application(ApplicationId=APP_ID, SemanticVersion="0.0.1")
    assert _code(err) == "NotFoundException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_an_unknown_route_is_a_clear_aws_error_not_an_html_page(accounts: Accounts,
                                                                sandbox: Sandbox) -> None:
    """What broke first: a request moto cannot route came back as an HTML 404 page."""
    import requests
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    creds = accounts.owner.get_credentials().get_frozen_credentials()
    request = AWSRequest(method="GET", url=f"{sandbox.endpoint_url}/no-such-athena-route",
                         headers={"Content-Type": "application/json"})
    SigV4Auth(creds, "athena", "us-east-1").add_auth(request)
    resp = requests.get(request.url, headers=dict(request.headers), timeout=10)
    assert resp.status_code == 404
    body = json.loads(resp.text)
    assert resp.headers["x-amzn-ErrorType"] == "UnknownOperationException"
    assert "No athena operation answers GET /no-such-athena-route" in body["message"]
