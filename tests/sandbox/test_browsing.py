"""Browsing as BI tools and drivers do it (issue 11 part 5): list catalogs, databases, tables
and workgroups as the analyst the wizard set up - allowed by the identity policy it applies,
refused (as in AWS) when the statement that grants listing is missing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.sandbox.support import ANALYST_ARN, CATALOG, CONSUMER, REGION, RESULTS_URI, Accounts
from wizard.engine import Engine
from wizard.profile import load_profile
from wizard.sandbox import Sandbox
from wizard.steps.identity_policy import policy_name

BROWSE_SID = "BrowseListOnlyNoResourceType"


def _apply(sandbox: Sandbox) -> None:
    Engine(load_profile(sandbox.example_profile), poll_delay=0.05).apply()


def _wizard_policy(accounts: Accounts) -> dict[str, Any]:
    iam = accounts.consumer.client("iam")
    doc = iam.get_user_policy(UserName="analyst",
                              PolicyName=policy_name(CATALOG))["PolicyDocument"]
    return doc if isinstance(doc, dict) else json.loads(doc)


def _put_wizard_policy(accounts: Accounts, doc: dict[str, Any]) -> None:
    accounts.consumer.client("iam").put_user_policy(
        UserName="analyst", PolicyName=policy_name(CATALOG), PolicyDocument=json.dumps(doc))


def _denied(err: pytest.ExceptionInfo[ClientError], action: str) -> None:
    e = err.value.response["Error"]
    assert e["Code"] == "AccessDeniedException"
    assert e["Message"] == (f"User: {ANALYST_ARN} is not authorized to perform: {action} on "
                            f"resource: * because no identity-based policy allows the {action} "
                            "action")


def test_the_analyst_browses_with_boto3_after_a_wizard_apply(sandbox: Sandbox,
                                                             accounts: Accounts) -> None:
    _apply(sandbox)
    athena = accounts.analyst.client("athena")
    catalogs = {c["CatalogName"]: c["Type"]
                for c in athena.list_data_catalogs()["DataCatalogsSummary"]}
    assert catalogs[CATALOG] == "LAMBDA"
    assert athena.get_data_catalog(Name=CATALOG)["DataCatalog"]["Type"] == "LAMBDA"
    assert athena.list_databases(CatalogName=CATALOG)["DatabaseList"] == [{"Name": "default"}]
    tables = athena.list_table_metadata(CatalogName=CATALOG,
                                        DatabaseName="default")["TableMetadataList"]
    assert [t["Name"] for t in tables] == ["music"]
    music = athena.get_table_metadata(CatalogName=CATALOG, DatabaseName="default",
                                      TableName="music")["TableMetadata"]
    assert [c["Name"] for c in music["Columns"]][:2] == ["artist", "songtitle"]
    groups = [g["Name"] for g in athena.list_work_groups()["WorkGroups"]]
    assert "primary" in groups
    assert athena.get_work_group(WorkGroup="primary")["WorkGroup"]["Name"] == "primary"


def test_the_analyst_browses_with_pyathena_after_a_wizard_apply(sandbox: Sandbox,
                                                                accounts: Accounts) -> None:
    pyathena = pytest.importorskip("pyathena")
    _apply(sandbox)
    conn = pyathena.connect(profile_name="sandbox-analyst", region_name=REGION,
                            s3_staging_dir=RESULTS_URI, work_group="primary",
                            endpoint_url=sandbox.endpoint_url)
    with conn.cursor() as cur:
        assert [d.name for d in cur.list_databases(CATALOG)] == ["default"]
        tables = cur.list_table_metadata(catalog_name=CATALOG, schema_name="default")
        assert [t.name for t in tables] == ["music"]
        music = cur.get_table_metadata("music", catalog_name=CATALOG, schema_name="default")
        assert [c.name for c in music.columns][:2] == ["artist", "songtitle"]
    conn.close()


def test_without_the_list_statement_browsing_fails_as_in_aws(sandbox: Sandbox,
                                                             accounts: Accounts) -> None:
    _apply(sandbox)
    doc = _wizard_policy(accounts)
    doc["Statement"] = [s for s in doc["Statement"] if s.get("Sid") != BROWSE_SID]
    # Naming the catalog and workgroup cannot replace "*": these actions have no resource type.
    doc["Statement"].append({
        "Sid": "ScopedListing", "Effect": "Allow",
        "Action": ["athena:ListDataCatalogs", "athena:ListWorkGroups"],
        "Resource": [f"arn:aws:athena:{REGION}:{CONSUMER}:datacatalog/{CATALOG}",
                     f"arn:aws:athena:{REGION}:{CONSUMER}:workgroup/primary"]})
    _put_wizard_policy(accounts, doc)
    athena = accounts.analyst.client("athena")
    with pytest.raises(ClientError) as err:
        athena.list_data_catalogs()
    _denied(err, "athena:ListDataCatalogs")
    with pytest.raises(ClientError) as err:
        athena.list_work_groups()
    _denied(err, "athena:ListWorkGroups")
    # What is scoped to the catalog and workgroup still works.
    assert athena.list_databases(CatalogName=CATALOG)["DatabaseList"] == [{"Name": "default"}]
    assert athena.get_work_group(WorkGroup="primary")["WorkGroup"]["Name"] == "primary"


def test_catalog_and_workgroup_calls_are_scoped_to_the_setups_own(sandbox: Sandbox,
                                                                  accounts: Accounts) -> None:
    _apply(sandbox)
    accounts.consumer.client("athena").create_work_group(Name="other")
    athena = accounts.analyst.client("athena")
    with pytest.raises(ClientError) as err:
        athena.get_work_group(WorkGroup="other")
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"
    assert f"athena:GetWorkGroup on resource: arn:aws:athena:{REGION}:{CONSUMER}:workgroup/" \
           "other" in err.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as err:
        athena.list_databases(CatalogName="AwsDataCatalog")
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "athena:ListDatabases" in err.value.response["Error"]["Message"]
