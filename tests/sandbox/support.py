"""Constants and helpers shared by the sandbox tests (runbook steps done with plain boto3)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import boto3

from wizard.sandbox import Sandbox

OWNER = Sandbox.OWNER_ACCOUNT
CONSUMER = Sandbox.CONSUMER_ACCOUNT
REGION = Sandbox.REGION
APP_ID = "arn:aws:serverlessrepo:us-east-1:292517598671:applications/AthenaDynamoDBConnector"
CATALOG = "acct1dynamodb"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{OWNER}:function:{CATALOG}"
SPILL_BUCKET = f"xacct-sandbox-spill-{OWNER}"
RESULTS_BUCKET = f"xacct-sandbox-results-{CONSUMER}"
RESULTS_URI = f"s3://{RESULTS_BUCKET}/queries/"
ANALYST_ARN = f"arn:aws:iam::{CONSUMER}:user/analyst"
DEFAULT_THRESHOLD = 6 * 1024 * 1024



_LOADER: Any = None


def session(profile: str) -> boto3.Session:
    """A boto3 session for a sandbox profile, sharing one model loader across tests.

    Every new botocore session would re-read the service model JSON for each client (tens of
    milliseconds per service); the suite creates hundreds of clients.
    """
    global _LOADER
    s = boto3.Session(profile_name=profile)
    if _LOADER is None:
        _LOADER = s._session.get_component("data_loader")
    else:
        s._session.register_component("data_loader", _LOADER)
    return s


@dataclass
class Accounts:
    """boto3 sessions for the sandbox's profiles."""

    owner: boto3.Session
    consumer: boto3.Session
    analyst: boto3.Session
    base: boto3.Session


# --------------------------------------------------------------------------- helpers
def deploy_connector(owner: boto3.Session, catalog: str = CATALOG,
                     spill_bucket: str = SPILL_BUCKET) -> dict[str, Any]:
    """Runbook steps 2-5 with boto3: SAR change set -> execute -> wait."""
    sar = owner.client("serverlessrepo")
    cfn = owner.client("cloudformation")
    cs = sar.create_cloud_formation_change_set(
        ApplicationId=APP_ID, StackName=catalog.replace("_", "-"),
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_RESOURCE_POLICY"],
        ParameterOverrides=[{"Name": "AthenaCatalogName", "Value": catalog},
                            {"Name": "SpillBucket", "Value": spill_bucket}])
    fast = {"Delay": 1, "MaxAttempts": 5}
    cfn.get_waiter("change_set_create_complete").wait(
        ChangeSetName=cs["ChangeSetId"], StackName=cs["StackId"], WaiterConfig=fast)
    cfn.execute_change_set(ChangeSetName=cs["ChangeSetId"], StackName=cs["StackId"])
    cfn.get_waiter("stack_create_complete").wait(StackName=cs["StackId"], WaiterConfig=fast)
    return cs


def grant_spill_bucket(acc: Accounts) -> None:
    """The spill bucket's policy lets the analyst read spilled results (runbook step 8)."""
    acc.owner.client("s3").put_bucket_policy(Bucket=SPILL_BUCKET, Policy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Sid": "XacctWizardSpill", "Effect": "Allow",
                       "Principal": {"AWS": [ANALYST_ARN]},
                       "Action": ["s3:GetObject", "s3:ListBucket"],
                       "Resource": [f"arn:aws:s3:::{SPILL_BUCKET}",
                                    f"arn:aws:s3:::{SPILL_BUCKET}/*"]}]}))


def setup_federation(acc: Accounts, *, lambda_grant: bool = True, identity_policy: bool = True,
                     spill_grant: bool = False, extra_statements: list[dict[str, Any]] | None = None
                     ) -> None:
    """Connector in A, catalogs in A and B, and the chosen grants for the analyst."""
    deploy_connector(acc.owner)
    acc.owner.client("athena").create_data_catalog(
        Name=CATALOG, Type="LAMBDA", Parameters={"function": FUNCTION_ARN})
    acc.consumer.client("athena").create_data_catalog(
        Name=CATALOG, Type="LAMBDA", Parameters={"function": FUNCTION_ARN})
    if lambda_grant:
        acc.owner.client("lambda").add_permission(
            FunctionName=CATALOG, StatementId="XacctWizardInvoke", Action="lambda:InvokeFunction",
            Principal=ANALYST_ARN)
    if spill_grant:
        grant_spill_bucket(acc)
    statements: list[dict[str, Any]] = []
    if identity_policy:
        statements += analyst_statements()
    statements += extra_statements or []
    if statements:
        acc.consumer.client("iam").put_user_policy(
            UserName="analyst", PolicyName="XacctWizardAnalyst",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}))


def analyst_statements(*, invoke: bool = True) -> list[dict[str, Any]]:
    """What the wizard's identity policy gives the analyst (runbook step 10)."""
    out: list[dict[str, Any]] = [
        {"Sid": "ReadSpill", "Effect": "Allow",
         "Action": ["s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation"],
         "Resource": [f"arn:aws:s3:::{SPILL_BUCKET}",
                      f"arn:aws:s3:::{SPILL_BUCKET}/athena-spill/*"]},
        {"Sid": "RunQueries", "Effect": "Allow",
         "Action": ["athena:StartQueryExecution", "athena:GetQueryExecution",
                    "athena:GetQueryResults", "athena:StopQueryExecution", "athena:GetWorkGroup"],
         "Resource": [f"arn:aws:athena:{REGION}:{CONSUMER}:workgroup/primary"]},
        {"Sid": "UseCatalog", "Effect": "Allow",
         "Action": ["athena:GetDataCatalog", "athena:ListDatabases", "athena:GetDatabase",
                    "athena:ListTableMetadata", "athena:GetTableMetadata"],
         "Resource": [f"arn:aws:athena:{REGION}:{CONSUMER}:datacatalog/{CATALOG}"]},
        {"Sid": "BrowseListOnlyNoResourceType", "Effect": "Allow",
         "Action": ["athena:ListDataCatalogs", "athena:ListWorkGroups"], "Resource": "*"},
        {"Sid": "Results", "Effect": "Allow",
         "Action": ["s3:GetBucketLocation", "s3:ListBucket", "s3:GetObject", "s3:PutObject"],
         "Resource": [f"arn:aws:s3:::{RESULTS_BUCKET}",
                      f"arn:aws:s3:::{RESULTS_BUCKET}/queries/*"]},
    ]
    if invoke:
        out.insert(0, {"Sid": "InvokeConnector", "Effect": "Allow",
                       "Action": ["lambda:InvokeFunction"], "Resource": [FUNCTION_ARN]})
    return out


@dataclass
class QueryOutcome:
    """A finished query: its execution record and (when it succeeded) all result rows."""

    execution: dict[str, Any]
    rows: list[list[str | None]]
    columns: list[tuple[str, str]]

    @property
    def state(self) -> str:
        return str(self.execution["Status"]["State"])

    @property
    def reason(self) -> str:
        return str(self.execution["Status"].get("StateChangeReason", ""))


def run_query(session: boto3.Session, sql: str, *, context: dict[str, str] | None = None,
              output: str = RESULTS_URI, timeout: float = 10.0) -> QueryOutcome:
    """Start, poll to a final state, fetch every page (header row included)."""
    athena = session.client("athena")
    kwargs: dict[str, Any] = {"QueryString": sql, "WorkGroup": "primary",
                              "ResultConfiguration": {"OutputLocation": output}}
    if context:
        kwargs["QueryExecutionContext"] = context
    qid = athena.start_query_execution(**kwargs)["QueryExecutionId"]
    deadline = time.monotonic() + timeout
    while True:
        ex = athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
        if ex["Status"]["State"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            break
        assert time.monotonic() < deadline, f"query still {ex['Status']['State']}"
        time.sleep(0.01)
    rows: list[list[str | None]] = []
    columns: list[tuple[str, str]] = []
    if ex["Status"]["State"] == "SUCCEEDED":
        for page in athena.get_paginator("get_query_results").paginate(QueryExecutionId=qid):
            rs = page["ResultSet"]
            columns = [(c["Name"], c["Type"]) for c in rs["ResultSetMetadata"]["ColumnInfo"]]
            rows += [[d.get("VarCharValue") for d in r["Data"]] for r in rs["Rows"]]
    return QueryOutcome(ex, rows, columns)
