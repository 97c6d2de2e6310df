"""Athena data catalogs and LAMBDA-catalog metadata in the sandbox."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.sandbox.support import (
    CATALOG,
    FUNCTION_ARN,
    Accounts,
    analyst_statements,
    deploy_connector,
    setup_federation,
)


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    e = exc.value.response["Error"]
    return e["Code"], e["Message"]


def test_catalog_lifecycle_and_not_found_errors(accounts: Accounts) -> None:
    athena = accounts.owner.client("athena")
    created = athena.create_data_catalog(Name=CATALOG, Type="LAMBDA", Description="ddb",
                                         Parameters={"function": FUNCTION_ARN})
    assert created["DataCatalog"]["Name"] == CATALOG
    got = athena.get_data_catalog(Name=CATALOG)["DataCatalog"]
    assert (got["Type"], got["Parameters"], got["Description"]) == \
        ("LAMBDA", {"function": FUNCTION_ARN}, "ddb")
    summaries = athena.list_data_catalogs()["DataCatalogsSummary"]
    assert {"CatalogName": "AwsDataCatalog", "Type": "GLUE"} in summaries
    assert {"CatalogName": CATALOG, "Type": "LAMBDA"} in summaries

    with pytest.raises(ClientError) as err:
        athena.create_data_catalog(Name=CATALOG, Type="LAMBDA",
                                   Parameters={"function": FUNCTION_ARN})
    assert _error(err) == ("InvalidRequestException", f"DataCatalog {CATALOG} already exists")

    other = FUNCTION_ARN.replace(CATALOG, "other")
    athena.update_data_catalog(Name=CATALOG, Type="LAMBDA", Parameters={"function": other})
    assert athena.get_data_catalog(Name=CATALOG)["DataCatalog"]["Parameters"] == \
        {"function": other}

    athena.delete_data_catalog(Name=CATALOG)
    for call in (lambda: athena.get_data_catalog(Name=CATALOG),
                 lambda: athena.delete_data_catalog(Name=CATALOG),
                 lambda: athena.update_data_catalog(Name=CATALOG, Type="LAMBDA",
                                                    Parameters={"function": other})):
        with pytest.raises(ClientError) as err:
            call()
        assert _error(err) == ("InvalidRequestException",
                               f"DataCatalog {CATALOG} was not found")


def test_catalog_input_validation(accounts: Accounts) -> None:
    athena = accounts.owner.client("athena")
    with pytest.raises(ClientError, match="reserved"):
        athena.create_data_catalog(Name="hive", Type="LAMBDA",
                                   Parameters={"function": FUNCTION_ARN})
    with pytest.raises(ClientError, match="function"):
        athena.create_data_catalog(Name="nofn", Type="LAMBDA", Parameters={})
    with pytest.raises(ClientError, match="Invalid catalog name"):
        athena.create_data_catalog(Name="bad name!", Type="LAMBDA",
                                   Parameters={"function": FUNCTION_ARN})
    with pytest.raises(ClientError, match="was not found"):
        athena.get_data_catalog(Name="AwsDataCatalog")  # as in AWS: listed, not gettable


def test_catalogs_are_per_account(accounts: Accounts) -> None:
    accounts.owner.client("athena").create_data_catalog(
        Name=CATALOG, Type="LAMBDA", Parameters={"function": FUNCTION_ARN})
    with pytest.raises(ClientError, match="was not found"):
        accounts.consumer.client("athena").get_data_catalog(Name=CATALOG)


def test_lambda_catalog_metadata(accounts: Accounts) -> None:
    deploy_connector(accounts.owner)
    athena = accounts.owner.client("athena")
    athena.create_data_catalog(Name=CATALOG, Type="LAMBDA", Parameters={"function": FUNCTION_ARN})
    assert athena.list_databases(CatalogName=CATALOG)["DatabaseList"] == [{"Name": "default"}]
    assert athena.get_database(CatalogName=CATALOG, DatabaseName="default")["Database"] == \
        {"Name": "default"}
    tables = athena.list_table_metadata(CatalogName=CATALOG,
                                        DatabaseName="default")["TableMetadataList"]
    assert [t["Name"] for t in tables] == ["music"]
    assert tables[0]["Columns"] == [
        {"Name": "artist", "Type": "varchar"}, {"Name": "songtitle", "Type": "varchar"},
        {"Name": "albumtitle", "Type": "varchar"}, {"Name": "awards", "Type": "bigint"}]
    one = athena.get_table_metadata(CatalogName=CATALOG, DatabaseName="default",
                                    TableName="music")["TableMetadata"]
    assert one["Name"] == "music" and one["Parameters"]["sourceTable"] == "Music"
    with pytest.raises(ClientError) as err:
        athena.get_table_metadata(CatalogName=CATALOG, DatabaseName="default", TableName="nope")
    assert err.value.response["Error"]["Code"] == "MetadataException"
    assert "Requested resource not found: Table: nope not found" in str(err.value)


def test_list_databases_invokes_the_connector_with_cross_account_checks(
        accounts: Accounts) -> None:
    setup_federation(accounts, lambda_grant=False)
    athena = accounts.analyst.client("athena")
    with pytest.raises(ClientError) as err:
        athena.list_databases(CatalogName=CATALOG)
    code, message = _error(err)
    assert code == "MetadataException"
    assert message.endswith(
        f"is not authorized to perform: lambda:InvokeFunction on resource: {FUNCTION_ARN} "
        "because no resource-based policy allows the lambda:InvokeFunction action")
    accounts.owner.client("lambda").add_permission(
        FunctionName=CATALOG, StatementId="grant", Action="lambda:InvokeFunction",
        Principal="arn:aws:iam::222222222222:user/analyst")
    assert athena.list_databases(CatalogName=CATALOG)["DatabaseList"] == [{"Name": "default"}]


def test_catalog_calls_need_the_identity_policy(accounts: Accounts) -> None:
    setup_federation(accounts, identity_policy=False,
                     extra_statements=[s for s in analyst_statements()
                                       if s["Sid"] != "UseCatalog"])
    with pytest.raises(ClientError) as err:
        accounts.analyst.client("athena").get_data_catalog(Name=CATALOG)
    code, message = _error(err)
    assert code == "AccessDeniedException"
    assert "athena:GetDataCatalog" in message and "no identity-based policy" in message
