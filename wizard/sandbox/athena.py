"""Athena in the sandbox: data catalogs, LAMBDA-catalog metadata, and federated queries.

moto's Athena stores catalogs but cannot delete or update them, answers missing ones with
``null`` instead of an error, and never runs a query. Here:

* catalog CRUD with Athena's errors (stored in moto's Athena backend, so resets and tagging
  keep working);
* ListDatabases/GetDatabase/ListTableMetadata/GetTableMetadata for LAMBDA catalogs: database
  ``default`` holding the owner's DynamoDB tables, as the DynamoDB connector presents them;
* query execution for LAMBDA catalogs, with the checks AWS makes across accounts: the caller's
  identity policy must allow ``athena:StartQueryExecution`` on the workgroup and
  ``lambda:InvokeFunction`` on the connector, the function's resource policy must allow the
  caller, a spilled (large) result must be readable by the caller under the spill bucket's
  policy, and the caller must be able to write the result file. A failure leaves the query
  FAILED with Athena's wording - which is the point: a wizard run that skipped a grant fails
  here exactly as it would in AWS.

Anything else (non-LAMBDA catalogs, workgroups, named queries...) goes on to moto.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from wizard.sandbox.ddb_items import plain_items
from wizard.sandbox.iam_eval import (
    Caller,
    authorize,
    authorize_kms,
    caller_for_role,
    parse_document,
)
from wizard.sandbox.layer import ApiRequest, ServiceError
from wizard.sandbox.query import (
    Column,
    ParsedQuery,
    QueryCancelled,
    QueryError,
    QueryResult,
    Runner,
    TableData,
    TableRef,
    infer_columns,
    table_data,
)

if TYPE_CHECKING:
    from wizard.sandbox.server import Sandbox

RESERVED_CATALOGS = {"awsdatacatalog", "hive", "jmx", "system"}
_CATALOG_NAME_RE = re.compile(r"^[A-Za-z0-9_@-]{1,127}$")
_FUNCTION_ARN_RE = re.compile(
    r"^arn:aws[\w-]*:lambda:([a-z0-9-]+):(\d{12}):function:([A-Za-z0-9_-]+)(?::[^:]+)?$")
NO_OUTPUT = ("No output location provided. An output location is required either through the "
             "Workgroup result configuration setting or as an API input.")
FAILED_STATES = {"FAILED", "CANCELLED"}
NO_RESULTS_ACCESS = (
    "You do not seem to have access to the S3 location of your query results. Please confirm "
    "your account has access to the S3 location where your query results are saved and try "
    "again. If specifying an expected bucket owner, confirm the bucket is owned by the expected "
    "account. If you are using KMS to encrypt query results, please ensure you have permission "
    "to access your KMS key. If you continue to see this issue, please contact customer support.")


def invalid(message: str, code: str = "INVALID_INPUT") -> ServiceError:
    return ServiceError("InvalidRequestException", message, extra={"AthenaErrorCode": code})


def metadata_error(message: str) -> ServiceError:
    return ServiceError("MetadataException", message)


def access_denied(message: str) -> ServiceError:
    return ServiceError("AccessDeniedException", message)


# --------------------------------------------------------------------------- connector model
@dataclass
class Connector:
    """A LAMBDA catalog resolved to the function behind it and what that function reads."""

    catalog_name: str
    function_arn: str
    region: str
    account_id: str
    function_name: str
    spill_bucket: str = ""
    spill_prefix: str = "athena-spill"
    kms_key_id: str = ""  # the connector's own spill key (unless encryption is disabled)
    role_arn: str = ""  # the function's execution role: who writes the spill objects


@dataclass
class LoadedTable:
    """One DynamoDB table as the connector hands it to Athena."""

    source_name: str
    columns: list[Column]
    items: list[dict[str, Any]]
    key_attributes: list[str]
    scanned_bytes: int


@dataclass
class Execution:
    """One query execution (ours, i.e. against a LAMBDA catalog)."""

    id: str
    query: str
    account_id: str
    region: str
    workgroup: str
    context: dict[str, str]
    output_location: str
    caller: Caller
    submitted: float = field(default_factory=time.time)
    state: str = "QUEUED"
    reason: str = ""
    category: int = 0
    started: float = 0.0
    completed: float = 0.0
    scanned_bytes: int = 0
    result: QueryResult | None = None
    statement_type: str = "DML"
    runner: Runner = field(default_factory=Runner)
    future: Future[None] | None = None

    def to_json(self) -> dict[str, Any]:
        status: dict[str, Any] = {"State": self.state, "SubmissionDateTime": self.submitted}
        if self.completed:
            status["CompletionDateTime"] = self.completed
        if self.reason:
            status["StateChangeReason"] = self.reason
        if self.state == "FAILED":
            status["AthenaError"] = {"ErrorCategory": self.category or 2, "ErrorType": 1000,
                                     "Retryable": False, "ErrorMessage": self.reason}
        end = self.completed or time.time()
        engine_ms = int(((self.completed or end) - self.started) * 1000) if self.started else 0
        queue_ms = int(((self.started or end) - self.submitted) * 1000)
        return {
            "QueryExecutionId": self.id,
            "Query": self.query,
            "StatementType": self.statement_type,
            "ResultConfiguration": {"OutputLocation": self.output_location},
            "ResultReuseConfiguration": {"ResultReuseByAgeConfiguration": {"Enabled": False}},
            "QueryExecutionContext": dict(self.context),
            "Status": status,
            "Statistics": {
                "EngineExecutionTimeInMillis": engine_ms,
                "DataScannedInBytes": self.scanned_bytes,
                "TotalExecutionTimeInMillis": int((end - self.submitted) * 1000),
                "QueryQueueTimeInMillis": queue_ms,
                "ServicePreProcessingTimeInMillis": 0,
                "QueryPlanningTimeInMillis": 0,
                "ServiceProcessingTimeInMillis": 0,
                "ResultReuseInformation": {"ReusedPreviousResult": False},
            },
            "WorkGroup": self.workgroup,
            "EngineVersion": {"SelectedEngineVersion": "AUTO",
                              "EffectiveEngineVersion": "Athena engine version 3"},
            "SubstatementType": "SELECT",
        }


# --------------------------------------------------------------------------- the emulator
class AthenaEmulator:
    """Answers every Athena operation the sandbox emulates (see ``operations``).

    ``thread_prefix`` names the query threads (a test harness that is not the sandbox uses its
    own, so the sandbox's "no thread left after stop()" check is about the sandbox alone)."""

    def __init__(self, sandbox: Sandbox, thread_prefix: str = "xacct-sandbox-query") -> None:
        self.sandbox = sandbox
        self._thread_prefix = thread_prefix
        self._created = time.time()  # when the emulated workgroups "were made"
        self._lock = threading.RLock()
        self._executions: dict[str, Execution] = {}
        self._tokens: dict[tuple[str, str], str] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._ops: dict[str, Callable[[ApiRequest, dict[str, Any]], dict[str, Any]]] = {
            "CreateDataCatalog": self.create_data_catalog,
            "GetDataCatalog": self.get_data_catalog,
            "DeleteDataCatalog": self.delete_data_catalog,
            "UpdateDataCatalog": self.update_data_catalog,
            "ListDataCatalogs": self.list_data_catalogs,
            "ListDatabases": self.list_databases,
            "GetDatabase": self.get_database,
            "ListTableMetadata": self.list_table_metadata,
            "GetTableMetadata": self.get_table_metadata,
            "StartQueryExecution": self.start_query_execution,
            "GetQueryExecution": self.get_query_execution,
            "BatchGetQueryExecution": self.batch_get_query_execution,
            "GetQueryResults": self.get_query_results,
            "StopQueryExecution": self.stop_query_execution,
            "ListQueryExecutions": self.list_query_executions,
            "GetWorkGroup": self.get_work_group,
            "ListWorkGroups": self.list_work_groups,
            "CreateWorkGroup": self.create_work_group,
            "DeleteWorkGroup": self.delete_work_group,
            "ListTagsForResource": self.list_tags_for_resource,
        }

    # ----------------------------------------------------------------- lifecycle
    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=4,
                                                thread_name_prefix=self._thread_prefix)
            return self._pool

    def _cancel_all(self) -> list[Future[None]]:
        with self._lock:
            futures = []
            for ex in self._executions.values():
                if ex.state in ("QUEUED", "RUNNING"):
                    ex.runner.cancel()
                if ex.future is not None:
                    futures.append(ex.future)
            return futures

    def reset(self) -> None:
        """Forget every execution (cancelling the ones still in flight)."""
        for fut in self._cancel_all():
            try:
                fut.result(timeout=10)
            except Exception:
                pass
        with self._lock:
            self._executions.clear()
            self._tokens.clear()

    def shutdown(self) -> None:
        """Cancel in-flight queries and stop the worker threads."""
        self._cancel_all()
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    # ----------------------------------------------------------------- routing
    def operations(self) -> dict[str, Callable[[ApiRequest], dict[str, Any]]]:
        """Operation name -> handler, for the sandbox layer (which finds the operation and its
        parameters in whatever protocol the client speaks, and writes the answer in it)."""
        return {name: (lambda req, fn=fn: fn(req, req.params)) for name, fn in self._ops.items()}

    # ----------------------------------------------------------------- helpers
    @staticmethod
    def _backend(account: str, region: str) -> Any:
        from moto.backends import get_backend

        return get_backend("athena")[account][region]

    @staticmethod
    def _arn(region: str, account: str, kind: str, name: str) -> str:
        return f"arn:aws:athena:{region}:{account}:{kind}/{name}"

    def _require(self, req: ApiRequest, action: str, resource: str) -> None:
        """The caller's own identity policy must allow an Athena action (same-account check)."""
        caller = req.caller
        result = authorize(caller, action, resource, resource_account=caller.account_id)
        if not result.allowed:
            raise access_denied(result.message)

    def _find_catalog(self, account: str, region: str, name: str) -> Any:
        catalogs = self._backend(account, region).data_catalogs
        if name in catalogs:
            return catalogs[name]
        lowered = name.lower()
        return next((c for n, c in catalogs.items() if n.lower() == lowered), None)

    @staticmethod
    def _catalog_json(dc: Any, status: str | None = "CREATE_COMPLETE") -> dict[str, Any]:
        out: dict[str, Any] = {"Name": dc.name, "Type": dc.type,
                               "Parameters": dict(dc.parameters or {})}
        if dc.description:
            out["Description"] = dc.description
        if status:
            out["Status"] = status
        return out

    # ----------------------------------------------------------------- catalogs
    def create_data_catalog(self, req: ApiRequest, body: dict[str, Any]) -> dict[str, Any]:
        name = str(body.get("Name", ""))
        ctype = str(body.get("Type", ""))
        account, region = req.caller.account_id, req.region
        self._require(req, "athena:CreateDataCatalog",
                      self._arn(region, account, "datacatalog", name))
        if not _CATALOG_NAME_RE.match(name):
            raise invalid(f"Invalid catalog name: {name}. A catalog name must be 1-127 "
                          "characters of A-Z, a-z, 0-9, _, @ and -")
        if name.lower() in RESERVED_CATALOGS:
            raise invalid(f"Catalog name {name} is reserved")
        if ctype not in ("LAMBDA", "GLUE", "HIVE", "FEDERATED"):
            raise invalid(f"Invalid catalog type: {ctype}")
        params = {str(k): str(v) for k, v in (body.get("Parameters") or {}).items()}
        if ctype == "LAMBDA" and not (
                "function" in params
                or ("metadata-function" in params and "record-function" in params)):
            raise invalid("Parameters for a LAMBDA catalog must contain 'function', or both "
                          "'metadata-function' and 'record-function'")
        with self._lock:
            if self._find_catalog(account, region, name) is not None:
                raise invalid(f"DataCatalog {name} already exists", "ALREADY_EXISTS")
            dc = self._backend(account, region).create_data_catalog(
                name=name, catalog_type=ctype, description=str(body.get("Description") or ""),
                parameters=params, tags=body.get("Tags") or [])
        return {"DataCatalog": self._catalog_json(dc)}

    def _existing_catalog(self, req: ApiRequest, name: str, action: str) -> Any:
        account, region = req.caller.account_id, req.region
        self._require(req, action, self._arn(region, account, "datacatalog", name))
        dc = self._find_catalog(account, region, name)
        if dc is None:
            raise invalid(f"DataCatalog {name} was not found", "RESOURCE_NOT_FOUND")
        return dc

    def get_data_catalog(self, req: ApiRequest, body: dict[str, Any]) -> dict[str, Any]:
        dc = self._existing_catalog(req, str(body.get("Name", "")), "athena:GetDataCatalog")
        return {"DataCatalog": self._catalog_json(dc)}

    def delete_data_catalog(self, req: ApiRequest, body: dict[str, Any]) -> dict[str, Any]:
        name = str(body.get("Name", ""))
        dc = self._existing_catalog(req, name, "athena:DeleteDataCatalog")
        backend = self._backend(req.caller.account_id, req.region)
        with self._lock:
            backend.data_catalogs.pop(dc.name, None)
            try:
                backend.tagger.delete_all_tags_for_resource(dc.arn)
            except Exception:
                pass
        return {"DataCatalog": self._catalog_json(dc, "DELETE_COMPLETE")}

    def update_data_catalog(self, req: ApiRequest, body: dict[str, Any]) -> dict[str, Any]:
        dc = self._existing_catalog(req, str(body.get("Name", "")), "athena:UpdateDataCatalog")
        ctype = str(body.get("Type") or dc.type)
        if ctype not in ("LAMBDA", "GLUE", "HIVE", "FEDERATED"):
            raise invalid(f"Invalid catalog type: {ctype}")
        with self._lock:
            dc.type = ctype
            if "Description" in body:
                dc.description = str(body.get("Description") or "")
            if "Parameters" in body:
                dc.parameters = {str(k): str(v) for k, v in (body["Parameters"] or {}).items()}
        return {}

    def list_data_catalogs(self, req: ApiRequest, body: dict[str, Any]) -> dict[str, Any]:
        account, region = req.caller.account_id, req.region
        # No resource type in IAM: only a statement on "*" grants it, as in AWS.
        self._require(req, "athena:ListDataCatalogs", "*")
        summaries = [{"CatalogName": "AwsDataCatalog", "Type": "GLUE"}]
        summaries += [{"CatalogName": dc.name, "Type": dc.type}
                      for dc in list(self._backend(account, region).data_catalogs.values())]
        return _page(summaries, "DataCatalogsSummary", body, 50)

    # ----------------------------------------------------------------- connector access
    def _connector(self, dc: Any, catalog_account: str, catalog_region: str) -> list[Connector]:
        params = dc.parameters or {}
        fns = [params[k] for k in ("function", "metadata-function", "record-function")
               if params.get(k)]
        connectors = []
        for fn in dict.fromkeys(fns):
            m = _FUNCTION_ARN_RE.match(fn)
            if m:
                region, account, name = m.group(1), m.group(2), m.group(3)
            else:
                region, account, name = catalog_region, catalog_account, fn
            arn = f"arn:aws:lambda:{region}:{account}:function:{name}"
            connectors.append(Connector(dc.name, arn, region, account, name))
        return connectors

    def invoke_connector(self, caller: Caller, dc: Any, catalog_region: str) -> Connector:
        """What happens when Athena invokes the catalog's Lambda as ``caller``; raises
        QueryError with Athena's wording when AWS would refuse."""
        from moto.backends import get_backend

        connectors = self._connector(dc, caller.account_id, catalog_region)
        if not connectors:
            raise QueryError(f"GENERIC_INTERNAL_ERROR: Catalog {dc.name.lower()} has no "
                             "Lambda function configured")
        for conn in connectors:
            if conn.region != catalog_region:
                raise QueryError(
                    f"GENERIC_INTERNAL_ERROR: Lambda function {conn.function_arn} is in region "
                    f"{conn.region}, but the query runs in {catalog_region}: cross-region "
                    "federated queries are not supported")
            try:
                fn = get_backend("lambda")[conn.account_id][conn.region].get_function(
                    conn.function_name)
            except Exception:
                # AWS checks authorisation before existence: a caller without the grant
                # learns nothing about the function.
                denied = authorize(caller, "lambda:InvokeFunction", conn.function_arn,
                                   resource_account=conn.account_id,
                                   extra_context=_via_athena())
                if not denied.allowed:
                    raise QueryError(f"GENERIC_INTERNAL_ERROR: {denied.message}") from None
                raise QueryError(
                    "GENERIC_INTERNAL_ERROR: Function not found: "
                    f"{conn.function_arn} (Service: AWSLambda; Status Code: 404; Error Code: "
                    "ResourceNotFoundException)") from None
            policy = None
            try:
                policy = fn.policy.get_policy().get("Policy")
            except Exception:
                policy = None
            result = authorize(caller, "lambda:InvokeFunction", conn.function_arn,
                               resource_account=conn.account_id, resource_policy=policy,
                               extra_context=_via_athena())
            if not result.allowed:
                raise QueryError(f"GENERIC_INTERNAL_ERROR: {result.message}")
            env = getattr(fn, "environment_vars", None) or {}
            _check_defect(conn, env)
            conn.spill_bucket = str(env.get("spill_bucket", ""))
            conn.spill_prefix = str(env.get("spill_prefix", "athena-spill"))
            if str(env.get("disable_spill_encryption", "false")).lower() != "true":
                conn.kms_key_id = str(env.get("kms_key_id", ""))
            conn.role_arn = str(getattr(fn, "role", "") or "")
            self._check_spill_bucket(conn)
        # With separate metadata/record functions, the record function reads and spills.
        return connectors[-1]

    @staticmethod
    def _check_spill_bucket(conn: Connector) -> None:
        """The connector refuses to work when its spill bucket is not in its own account."""
        from moto.backends import get_backend

        bucket = conn.spill_bucket
        s3 = get_backend("s3")
        owner = s3.bucket_accounts.get(bucket) if bucket else None
        if owner is None or owner[1] != conn.account_id:
            raise QueryError(
                "GENERIC_USER_ERROR: Encountered an exception[java.lang.RuntimeException] from "
                f"your LambdaFunction[{conn.function_arn}] executed in context[retrieving "
                f"meta-data] with message[spill_bucket: \"{bucket}\" not found under your "
                "account. Please make sure you have the right bucket name and there is no "
                "trailing '/']")

    @staticmethod
    def _ddb(conn: Connector) -> Any:
        from moto.backends import get_backend

        return get_backend("dynamodb")[conn.account_id][conn.region]

    def resolve_table(self, conn: Connector, name: str) -> Any:
        """The DynamoDB connector's resolution: exact name, else a unique case-insensitive one."""
        tables = dict(self._ddb(conn).tables)
        if name in tables:
            return tables[name]
        matches = [n for n in tables if n.lower() == name.lower()]
        if len(matches) > 1:
            raise QueryError(
                "GENERIC_USER_ERROR: Encountered an exception[java.lang.IllegalStateException] "
                f"from your LambdaFunction[{conn.function_arn}] executed in context[retrieving "
                f"meta-data] with message[Multiple tables resolved from case insensitive name "
                f"{name}: [{', '.join(sorted(matches))}]]")
        if not matches:
            raise QueryError(
                "GENERIC_USER_ERROR: Encountered an exception[software.amazon.awssdk.services."
                "dynamodb.model.ResourceNotFoundException] from your "
                f"LambdaFunction[{conn.function_arn}] executed in context[retrieving meta-data] "
                f"with message[Requested resource not found: Table: {name} not found (Service: "
                "DynamoDb, Status Code: 400)]")
        return tables[matches[0]]

    @staticmethod
    def load_table(table: Any) -> LoadedTable:
        """Scan the whole table (every page) into plain items with the inferred schema."""
        plain, scanned = plain_items(table)
        keys = [k for k in (table.hash_key_attr, table.range_key_attr) if k]
        return LoadedTable(table.name, infer_columns(plain, keys), plain, keys, scanned)

    # ----------------------------------------------------------------- metadata calls
    def _lambda_catalog(self, req: ApiRequest, body: dict[str, Any], action: str
                        ) -> tuple[Any, Connector] | None:
        """The LAMBDA catalog a metadata call names, after the connector checks; None: a
        catalog of another type (AwsDataCatalog, GLUE, HIVE), whose databases are moto's."""
        name = str(body.get("CatalogName", ""))
        account, region = req.caller.account_id, req.region
        dc = self._find_catalog(account, region, name)
        if dc is None and name.lower() != "awsdatacatalog":
            raise metadata_error(f"Catalog {name} does not exist")
        self._require(req, action, self._arn(region, account, "datacatalog",
                                             dc.name if dc is not None else name))
        if dc is None or dc.type != "LAMBDA":
            return None
        self._require(req, action, self._arn(region, account, "datacatalog", dc.name))
        try:
            conn = self.invoke_connector(req.caller, dc, region)
        except QueryError as err:
            raise metadata_error(err.message) from None
        return dc, conn

    def list_databases(self, req: ApiRequest, body: dict[str, Any]) -> dict[str, Any]:
        found = self._lambda_catalog(req, body, "athena:ListDatabases")
        if found is None:
            return _page(self._other_databases(req, body), "DatabaseList", body, 50)
        return _page([{"Name": "default"}], "DatabaseList", body, 50)

    def get_database(self, req: ApiRequest, body: dict[str, Any]) -> dict[str, Any]:
        found = self._lambda_catalog(req, body, "athena:GetDatabase")
        db = str(body.get("DatabaseName", ""))
        if found is None:
            match = [d for d in self._other_databases(req, body) if d["Name"] == db.lower()]
            if not match:
                raise metadata_error(f"Database {db} not found.")
            return {"Database": match[0]}
        if db.lower() != "default":
            raise metadata_error(f"Database {db} not found.")
        return {"Database": {"Name": "default"}}

    def _other_databases(self, req: ApiRequest, body: dict[str, Any]) -> list[dict[str, Any]]:
        """Databases of a non-LAMBDA catalog: the ones DDL created in moto's Athena backend."""
        name = str(body.get("CatalogName", ""))
        backend = self._backend(req.caller.account_id, req.region)
        out = []
        for (catalog, _), db in sorted(backend.databases.items()):
            if catalog.lower() == name.lower():
                entry: dict[str, Any] = {"Name": db.name}
                if getattr(db, "description", None):
                    entry["Description"] = db.description
                if getattr(db, "parameters", None):
                    entry["Parameters"] = dict(db.parameters)
                out.append(entry)
        return out

    @staticmethod
    def _table_json(loaded: LoadedTable) -> dict[str, Any]:
        params = {"sourceTable": loaded.source_name}
        if loaded.key_attributes:
            params["hashKey"] = loaded.key_attributes[0]
        if len(loaded.key_attributes) > 1:
            params["rangeKey"] = loaded.key_attributes[1]
        return {"Name": loaded.source_name.lower(), "TableType": "EXTERNAL_TABLE",
                "Columns": [{"Name": c.name, "Type": c.athena_type} for c in loaded.columns],
                "PartitionKeys": [], "Parameters": params}

    def _default_database(self, req: ApiRequest, body: dict[str, Any],
                          action: str) -> Connector | None:
        """The connector behind a LAMBDA catalog whose only database, ``default``, is named
        (None: another type of catalog; the sandbox has no Glue tables)."""
        found = self._lambda_catalog(req, body, action)
        db = str(body.get("DatabaseName", ""))
        if found is None:
            if not any(d["Name"] == db.lower() for d in self._other_databases(req, body)):
                raise metadata_error(f"Database {db} not found.")
            return None
        if db.lower() != "default":
            raise metadata_error(f"Database {db} not found.")
        return found[1]

    def list_table_metadata(self, req: ApiRequest, body: dict[str, Any]) -> dict[str, Any]:
        conn = self._default_database(req, body, "athena:ListTableMetadata")
        if conn is None:
            return {"TableMetadataList": []}
        expression = body.get("Expression")
        pattern = None
        if expression:
            pattern = re.compile(str(expression).replace("*", ".*"), re.IGNORECASE)
        tables = sorted(self._ddb(conn).tables.values(), key=lambda t: t.name.lower())
        out = [self._table_json(self.load_table(t)) for t in tables
               if pattern is None or pattern.fullmatch(t.name.lower())]
        return _page(out, "TableMetadataList", body, 50)

    def get_table_metadata(self, req: ApiRequest, body: dict[str, Any]) -> dict[str, Any]:
        conn = self._default_database(req, body, "athena:GetTableMetadata")
        if conn is None:
            raise metadata_error(f"Table {body.get('TableName', '')} not found.")
        try:
            table = self.resolve_table(conn, str(body.get("TableName", "")).lower())
        except QueryError as err:
            raise metadata_error(err.message) from None
        return {"TableMetadata": self._table_json(self.load_table(table))}

    # ----------------------------------------------------------------- workgroups
    def _workgroup(self, account: str, region: str, name: str) -> Any:
        wg = self._backend(account, region).work_groups.get(name)
        if wg is None:
            raise invalid(f"WorkGroup {name} is not found.", "RESOURCE_NOT_FOUND")
        return wg

    def get_work_group(self, req: ApiRequest, body: dict[str, Any]) -> dict[str, Any]:
        name = str(body.get("WorkGroup", ""))
        account, region = req.caller.account_id, req.region
        self._require(req, "athena:GetWorkGroup", self._arn(region, account, "workgroup", name))
        wg = self._workgroup(account, region, name)
        return {"WorkGroup": {"Name": wg.name, "State": wg.state,
                              "Configuration": wg.configuration,
                              "Description": wg.description or "",
                              "CreationTime": self._created}}

    def list_work_groups(self, req: ApiRequest, body: dict[str, Any]) -> dict[str, Any]:
        account, region = req.caller.account_id, req.region
        # ListWorkGroups has no resource type: only "*" can grant it.
        self._require(req, "athena:ListWorkGroups", "*")
        groups = [{"Name": wg.name, "State": wg.state, "Description": wg.description or "",
                   "CreationTime": self._created,
                   "EngineVersion": wg.configuration.get("EngineVersion")}
                  for wg in list(self._backend(account, region).work_groups.values())]
        return _page(groups, "WorkGroups", body, 50)

    def create_work_group(self, req: ApiRequest, body: dict[str, Any]) -> dict[str, Any]:
        name = str(body.get("Name", ""))
        account, region = req.caller.account_id, req.region
        self._require(req, "athena:CreateWorkGroup",
                      self._arn(region, account, "workgroup", name))
        with self._lock:
            created = self._backend(account, region).create_work_group(
                name=name, configuration=dict(body.get("Configuration") or {}),
                description=str(body.get("Description") or ""), tags=body.get("Tags") or [])
        if created is None:
            raise invalid(f"WorkGroup {name} is already created", "ALREADY_EXISTS")
        return {}

    def delete_work_group(self, req: ApiRequest, body: dict[str, Any]) -> dict[str, Any]:
        name = str(body.get("WorkGroup", ""))
        account, region = req.caller.account_id, req.region
        self._require(req, "athena:DeleteWorkGroup",
                      self._arn(region, account, "workgroup", name))
        if name == "primary":
            raise invalid("The primary workgroup cannot be deleted")
        self._workgroup(account, region, name)
        with self._lock:
            self._backend(account, region).delete_work_group(name)
        return {}

    def list_tags_for_resource(self, req: ApiRequest, body: dict[str, Any]) -> dict[str, Any]:
        arn = str(body.get("ResourceARN", ""))
        self._require(req, "athena:ListTagsForResource", arn)
        backend = self._backend(req.caller.account_id, req.region)
        return {"Tags": backend.tagger.list_tags_for_resource(arn).get("Tags", [])}

    # ----------------------------------------------------------------- queries
    def _is_ours(self, parsed: ParsedQuery | None, context: dict[str, str], account: str,
                 region: str) -> bool:
        """Should the sandbox run this query (rather than moto, which never runs any)?

        Every SELECT is ours - against a LAMBDA catalog it runs, against a missing catalog or
        an AwsDataCatalog table (the sandbox has no Glue data) it fails as Athena would -
        except one reading only catalogs of another type the user registered. DDL and
        utility statements, and unparsable text outside a LAMBDA context, go to moto.
        """
        if parsed is None:
            catalog = context.get("Catalog")
            dc = self._find_catalog(account, region, catalog) if catalog else None
            return dc is not None and dc.type == "LAMBDA"
        if not parsed.is_query:
            return False
        if not parsed.refs:
            return True
        for ref in parsed.refs:
            dc = self._find_catalog(account, region, ref.catalog)
            if dc is None or dc.type == "LAMBDA":
                return True
        return False

    def start_query_execution(self, req: ApiRequest, body: dict[str, Any]
                              ) -> dict[str, Any]:
        from wizard.sandbox.query import parse

        caller = req.caller
        account, region = caller.account_id, req.region
        sql = str(body.get("QueryString", ""))
        if not sql.strip():
            raise invalid("QueryString must not be empty")
        if len(sql.encode("utf-8")) > 262144:
            raise invalid("Query string is too long: the limit is 262144 bytes")
        wg_name = str(body.get("WorkGroup") or "primary")
        self._require(req, "athena:StartQueryExecution",
                      self._arn(region, account, "workgroup", wg_name))
        wg = self._workgroup(account, region, wg_name)
        token = body.get("ClientRequestToken")
        if token:
            with self._lock:
                existing = self._tokens.get((account, str(token)))
            if existing:
                return {"QueryExecutionId": existing}
        context = {k: str(v) for k, v in (body.get("QueryExecutionContext") or {}).items()
                   if k in ("Catalog", "Database") and v}
        try:
            parsed: ParsedQuery | None = parse(sql, context.get("Catalog"),
                                               context.get("Database"))
            parse_error: QueryError | None = None
        except QueryError as err:
            parsed, parse_error = None, err
        if not self._is_ours(parsed, context, account, region):
            # DDL and Glue-catalog statements: moto's backend records them (CREATE DATABASE
            # makes a database) and "runs" them without data, as plain moto would.
            qid = self._backend(account, region).start_query_execution(
                query=sql, context=body.get("QueryExecutionContext") or {},
                config=dict(body.get("ResultConfiguration") or {}), workgroup=wg_name,
                execution_parameters=body.get("ExecutionParameters"))
            if token:
                with self._lock:
                    self._tokens[(account, str(token))] = qid
            return {"QueryExecutionId": qid}
        output = ((body.get("ResultConfiguration") or {}).get("OutputLocation")
                  or (wg.configuration.get("ResultConfiguration") or {}).get("OutputLocation"))
        if not output:
            raise invalid(NO_OUTPUT)
        qid = str(uuid.uuid4())
        ex = Execution(
            id=qid, query=sql, account_id=account, region=region, workgroup=wg_name,
            context=context, output_location=f"{output.rstrip('/')}/{qid}.csv", caller=caller,
        )
        with self._lock:
            self._executions[qid] = ex
            if token:
                self._tokens[(account, str(token))] = qid
        ex.future = self._executor().submit(self._run, ex, parsed, parse_error)
        return {"QueryExecutionId": qid}

    def _own_execution(self, req: ApiRequest, qid: str, action: str) -> Execution | None:
        """Our execution by id (None: moto's, see _moto_execution); checks the caller may
        see it."""
        with self._lock:
            ex = self._executions.get(qid)
        account, region = req.caller.account_id, req.region
        if ex is None:
            if qid not in self._backend(account, region).executions:
                raise invalid(f"QueryExecution {qid} was not found", "RESOURCE_NOT_FOUND")
            return None
        if ex.account_id != account or ex.region != region:
            raise invalid(f"QueryExecution {qid} was not found", "RESOURCE_NOT_FOUND")
        self._require(req, action, self._arn(region, account, "workgroup", ex.workgroup))
        return ex

    def get_query_execution(self, req: ApiRequest, body: dict[str, Any]) -> dict[str, Any]:
        ex = self._own_execution(req, str(body.get("QueryExecutionId", "")),
                                 "athena:GetQueryExecution")
        if ex is None:
            return {"QueryExecution": self._moto_execution(req, body)}
        with self._lock:
            return {"QueryExecution": ex.to_json()}

    def _moto_execution(self, req: ApiRequest, body: dict[str, Any]) -> dict[str, Any]:
        """A DDL/Glue execution that moto's backend holds, as GetQueryExecution shows it."""
        qid = str(body.get("QueryExecutionId", ""))
        ex = self._backend(req.caller.account_id, req.region).get_query_execution(qid)
        return {
            "QueryExecutionId": ex.id,
            "Query": ex.query,
            "StatementType": "DDL",
            "ResultConfiguration": dict(ex.config or {}),
            "QueryExecutionContext": dict(ex.context or {}),
            "Status": {"State": ex.status, "SubmissionDateTime": ex.start_time,
                       "CompletionDateTime": ex.end_time},
            "Statistics": {"EngineExecutionTimeInMillis": 0, "DataScannedInBytes": 0,
                           "TotalExecutionTimeInMillis": 0},
            "WorkGroup": ex.workgroup.name if ex.workgroup is not None else "primary",
        }

    def batch_get_query_execution(self, req: ApiRequest, body: dict[str, Any]) -> dict[str, Any]:
        found, missing = [], []
        for qid in body.get("QueryExecutionIds") or []:
            with self._lock:
                ex = self._executions.get(str(qid))
            if ex is None or ex.account_id != req.caller.account_id:
                missing.append({"QueryExecutionId": qid, "ErrorCode": "INVALID_INPUT",
                                "ErrorMessage": f"QueryExecution {qid} was not found"})
                continue
            self._require(req, "athena:BatchGetQueryExecution",
                          self._arn(req.region, ex.account_id, "workgroup", ex.workgroup))
            with self._lock:
                found.append(ex.to_json())
        return {"QueryExecutions": found, "UnprocessedQueryExecutionIds": missing}

    def list_query_executions(self, req: ApiRequest, body: dict[str, Any]) -> dict[str, Any]:
        """Ours and moto's, newest first (moto alone would not know the federated ones)."""
        account, region = req.caller.account_id, req.region
        wg_name = str(body.get("WorkGroup") or "primary")
        self._require(req, "athena:ListQueryExecutions",
                      self._arn(region, account, "workgroup", wg_name))
        self._workgroup(account, region, wg_name)
        with self._lock:
            ours = [(ex.submitted, ex.id) for ex in self._executions.values()
                    if ex.account_id == account and ex.region == region
                    and ex.workgroup == wg_name]
        theirs = [(getattr(ex, "start_time", 0.0), qid) for qid, ex in
                  self._backend(account, region).list_query_executions(wg_name).items()]
        ids = [qid for _, qid in sorted(ours + theirs, reverse=True)]
        return _page(ids, "QueryExecutionIds", body, 50)

    def stop_query_execution(self, req: ApiRequest, body: dict[str, Any]) -> dict[str, Any]:
        ex = self._own_execution(req, str(body.get("QueryExecutionId", "")),
                                 "athena:StopQueryExecution")
        if ex is None:
            self._backend(req.caller.account_id, req.region).stop_query_execution(
                str(body.get("QueryExecutionId", "")))
            return {}
        with self._lock:
            if ex.state in ("QUEUED", "RUNNING"):
                ex.runner.cancel()
                ex.state = "CANCELLED"
                ex.reason = "Query cancelled by user"
                ex.completed = time.time()
        return {}

    def get_query_results(self, req: ApiRequest, body: dict[str, Any]) -> dict[str, Any]:
        ex = self._own_execution(req, str(body.get("QueryExecutionId", "")),
                                 "athena:GetQueryResults")
        if ex is None:
            results = self._backend(req.caller.account_id, req.region).get_query_results(
                str(body.get("QueryExecutionId", "")))
            return {"ResultSet": {"Rows": results.rows,
                                  "ResultSetMetadata": {"ColumnInfo": results.column_info}},
                    "UpdateCount": 0}
        with self._lock:
            state, reason, result = ex.state, ex.reason, ex.result
        if state in ("QUEUED", "RUNNING"):
            raise invalid(f"Query has not yet finished. Current state: {state}")
        if state != "SUCCEEDED" or result is None:
            raise invalid(f"Query did not finish successfully. Final query state: {state}"
                          + (f"\n{reason}" if reason else ""))
        # Athena reads the rows from the result file with the caller's own S3 rights.
        if not can_read_results(req.caller, ex.output_location):
            raise invalid(NO_RESULTS_ACCESS)
        max_results = int(body.get("MaxResults") or 1000)
        if max_results < 1 or max_results > 1000:
            raise invalid("MaxResults must be between 1 and 1000")
        token = body.get("NextToken")
        start = 0
        if token:
            try:
                qid_part, _, offset = str(token).partition(":")
                if qid_part != ex.id:
                    raise ValueError
                start = int(offset)
            except ValueError:
                raise invalid("Invalid NextToken") from None
        # The header is the first row of the first page and counts towards MaxResults.
        total = len(result.rows) + 1
        end = min(start + max_results, total)
        rows = []
        for i in range(start, end):
            values = [n for n, _ in result.columns] if i == 0 else result.rows[i - 1]
            rows.append({"Data": [{} if v is None else {"VarCharValue": v} for v in values]})
        out: dict[str, Any] = {
            "UpdateCount": 0,
            "ResultSet": {
                "Rows": rows,
                "ResultSetMetadata": {"ColumnInfo": [_column_info(n, t)
                                                     for n, t in result.columns]},
            },
        }
        if end < total:
            out["NextToken"] = f"{ex.id}:{end}"
        return out

    # ----------------------------------------------------------------- the worker
    def _finish(self, ex: Execution, state: str, reason: str = "", category: int = 0) -> None:
        with self._lock:
            if ex.state in FAILED_STATES:
                return  # stopped meanwhile: CANCELLED stays
            ex.state = state
            ex.reason = reason
            ex.category = category
            ex.completed = time.time()

    def _run(self, ex: Execution, parsed: ParsedQuery | None,
             parse_error: QueryError | None) -> None:
        try:
            latency = self.sandbox.query_latency
            if latency > 0:
                deadline = time.time() + latency
                while time.time() < deadline and not ex.runner.cancelled:
                    time.sleep(0.01)
            with self._lock:
                if ex.runner.cancelled or ex.state != "QUEUED":
                    return
                ex.state = "RUNNING"
                ex.started = time.time()
            if parse_error is not None:
                raise parse_error
            assert parsed is not None
            result = self._execute(ex, parsed)
            if ex.runner.cancelled:
                return
            with self._lock:
                ex.result = result
            self._finish(ex, "SUCCEEDED")
        except QueryCancelled:
            return
        except QueryError as err:
            self._finish(ex, "FAILED", err.message, err.category)
        except Exception as err:  # an emulator bug must not leave the query RUNNING forever
            self._finish(ex, "FAILED", f"GENERIC_INTERNAL_ERROR: {type(err).__name__}: {err}", 1)

    def _execute(self, ex: Execution, parsed: ParsedQuery) -> QueryResult:
        if not parsed.is_query:
            raise QueryError("NOT_SUPPORTED: Only SELECT queries are supported on federated "
                             "(LAMBDA) catalogs in the sandbox")
        caller = ex.caller
        connectors: dict[str, Connector] = {}
        bindings: dict[int, tuple[str, TableData]] = {}
        loaded: dict[tuple[str, str], tuple[str, TableData]] = {}
        scanned = 0

        for ref in parsed.refs:
            dc = self._find_catalog(ex.account_id, ex.region, ref.catalog)
            if dc is None:
                if ref.catalog == "awsdatacatalog":
                    raise QueryError(
                        f"TABLE_NOT_FOUND: {ref.where}: Table 'awsdatacatalog.{ref.schema}."
                        f"{ref.name}' does not exist")
                raise QueryError(f"SYNTAX_ERROR: {ref.where}: Catalog '{ref.catalog}' does "
                                 "not exist")
            if dc.type != "LAMBDA":
                raise QueryError(
                    f"NOT_SUPPORTED: {ref.where}: the sandbox runs federated (LAMBDA) catalogs "
                    f"only; catalog '{ref.catalog}' is {dc.type}")
            conn = connectors.get(ref.catalog)
            if conn is None:
                conn = self.invoke_connector(caller, dc, ex.region)
                connectors[ref.catalog] = conn
            if ref.schema != "default":
                raise QueryError(f"SCHEMA_NOT_FOUND: {ref.where}: Schema '{ref.schema}' does "
                                 "not exist")
            key = (ref.catalog, ref.name)
            if key not in loaded:
                table = self.resolve_table(conn, ref.name)
                lt = self.load_table(table)
                scanned += lt.scanned_bytes
                loaded[key] = (f"t{len(loaded)}", table_data(lt.items, lt.columns))
            bindings[id(ref.node)] = loaded[key]
        ex.scanned_bytes = scanned
        result = ex.runner.run(parsed, bindings)
        spill_conn = next(iter(connectors.values()), None)
        if spill_conn is not None and result.nbytes > self.sandbox.spill_threshold_bytes:
            self._spill(ex, spill_conn, result)
        self._write_output(ex, result)
        return result

    def _spill(self, ex: Execution, conn: Connector, result: QueryResult) -> None:
        """Large results travel through the spill bucket in A, read back as the caller."""
        from moto.backends import get_backend

        prefix = conn.spill_prefix.strip("/")
        key = f"{prefix}/{ex.id}/{uuid.uuid4()}" if prefix else f"{ex.id}/{uuid.uuid4()}"
        s3 = get_backend("s3")[conn.account_id]["aws"]
        resource = f"arn:aws:s3:::{conn.spill_bucket}/{key}"
        bucket = s3.get_bucket(conn.spill_bucket)
        policy = parse_document(bucket.policy.decode() if isinstance(bucket.policy, bytes)
                                else bucket.policy)
        # The connector writes as its execution role, with no SSE header (it encrypts spill
        # data itself): a bucket policy that denies such writes fails every spill.
        writer = caller_for_role(conn.account_id, conn.role_arn)
        if writer is not None:
            put = authorize(writer, "s3:PutObject", resource, resource_account=conn.account_id,
                            resource_policy=policy)
            if put.reason.endswith("-deny"):
                raise QueryError(
                    "GENERIC_USER_ERROR: Encountered an exception[com.amazonaws.services.s3."
                    f"model.AmazonS3Exception] from your LambdaFunction[{conn.function_arn}] "
                    "executed in context[S3SpillLocation] with message[Access Denied (Service: "
                    f"Amazon S3; Status Code: 403; Error Code: AccessDenied)] {put.message}")
            if conn.kms_key_id:
                self._check_data_key(conn, writer)
        s3.put_object(bucket_name=conn.spill_bucket, key_name=key, value=result.csv())
        self._check_spill_key(ex, conn, bucket, resource)
        check = authorize(ex.caller, "s3:GetObject", resource, resource_account=conn.account_id,
                          resource_policy=policy, extra_context=_via_athena())
        if not check.allowed:
            raise QueryError(
                "GENERIC_USER_ERROR: Error reading spilled data from the spill bucket "
                f"s3://{conn.spill_bucket}/{key}: Access Denied (Service: Amazon S3; Status "
                f"Code: 403; Error Code: AccessDenied). {check.message}")

    @staticmethod
    def _check_data_key(conn: Connector, writer: Caller) -> None:
        """With kms_key_id the connector asks KMS for a data key per spill, as its role."""
        from moto.backends import get_backend

        try:
            key = get_backend("kms")[conn.account_id][conn.region].describe_key(conn.kms_key_id)
        except Exception:
            raise QueryError(
                "GENERIC_USER_ERROR: Encountered an exception[com.amazonaws.services.kms.model."
                f"NotFoundException] from your LambdaFunction[{conn.function_arn}]: Key "
                f"'{conn.kms_key_id}' does not exist") from None
        check = authorize_kms(writer, "kms:GenerateDataKey", key.arn,
                              key_account=conn.account_id, key_policy=parse_document(key.policy))
        if not check.allowed:
            raise QueryError(
                "GENERIC_USER_ERROR: Encountered an exception[com.amazonaws.services.kms.model."
                f"AWSKMSException] from your LambdaFunction[{conn.function_arn}] executed in "
                f"context[S3SpillLocation] with message[{check.message} (Service: AWSKMS; "
                "Status Code: 400; Error Code: AccessDeniedException)]")

    @staticmethod
    def _check_spill_key(ex: Execution, conn: Connector, bucket: Any, resource: str) -> None:
        """A customer managed key on the spill data (the bucket's default SSE-KMS key, or the
        connector's kms_key_id): the caller must be allowed kms:Decrypt by the key policy AND
        its own policies, as for any cross-account key."""
        from moto.backends import get_backend

        key_id = ""
        rules = (getattr(bucket, "encryption", None) or {}).get("Rule") or []
        for rule in rules if isinstance(rules, list) else [rules]:
            default = rule.get("ApplyServerSideEncryptionByDefault") or {}
            if str(default.get("SSEAlgorithm", "")).startswith("aws:kms"):
                key_id = str(default.get("KMSMasterKeyID") or "")
        key_id = key_id or conn.kms_key_id
        if not key_id:
            return
        try:
            key = get_backend("kms")[conn.account_id][conn.region].describe_key(key_id)
        except Exception:
            return
        if getattr(key, "key_manager", "CUSTOMER") != "CUSTOMER":
            return
        check = authorize_kms(ex.caller, "kms:Decrypt", key.arn, key_account=conn.account_id,
                              key_policy=parse_document(key.policy),
                              extra_context={**_via_athena(),
                                             "kms:ViaService": f"s3.{conn.region}.amazonaws.com"})
        if not check.allowed:
            raise QueryError(
                "GENERIC_USER_ERROR: Error reading spilled data from the spill bucket "
                f"{resource}: the spill data is encrypted with {key.arn}. {check.message} "
                "(Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException)")

    def _write_output(self, ex: Execution, result: QueryResult) -> None:
        """Athena writes the result CSV to the output location with the caller's rights."""
        from moto.backends import get_backend

        m = re.match(r"^s3://([^/]+)/(.*)$", ex.output_location)
        if not m:
            raise QueryError(f"INVALID_INPUT: Invalid output location: {ex.output_location}")
        bucket_name, key = m.group(1), m.group(2)
        s3_dict = get_backend("s3")
        owner = s3_dict.bucket_accounts.get(bucket_name)
        if owner is None:
            raise QueryError(f"Unable to verify/create output bucket {bucket_name}")
        s3 = s3_dict[owner[1]][owner[0]]
        bucket = s3.get_bucket(bucket_name)
        policy = parse_document(bucket.policy.decode() if isinstance(bucket.policy, bytes)
                                else bucket.policy)
        check = authorize(ex.caller, "s3:PutObject", f"arn:aws:s3:::{bucket_name}/{key}",
                          resource_account=owner[1], resource_policy=policy,
                          extra_context=_via_athena())
        if not check.allowed:
            raise QueryError(
                f"Access denied when writing output to url: {ex.output_location} . Please "
                "ensure you are allowed to access the S3 bucket. If you are encrypting query "
                "results with KMS key, please ensure you are allowed to access your KMS key")
        s3.put_object(bucket_name=bucket_name, key_name=key, value=result.csv())
        # Beside every result file Athena writes <QueryId>.csv.metadata (the result set's
        # column info, protobuf-encoded); clients that list or clean the output location see it.
        s3.put_object(bucket_name=bucket_name, key_name=f"{key}.metadata",
                      value=result_metadata(ex, result))


# --------------------------------------------------------------------------- result files
def can_read_results(caller: Caller, output_location: str) -> bool:
    """May ``caller`` s3:GetObject the result file (identity and bucket policy, as IAM says)?"""
    from moto.backends import get_backend

    m = re.match(r"^s3://([^/]+)/(.*)$", output_location)
    if not m:
        return False
    bucket_name, key = m.group(1), m.group(2)
    s3_dict = get_backend("s3")
    owner = s3_dict.bucket_accounts.get(bucket_name)
    if owner is None:
        return False
    bucket = s3_dict[owner[1]][owner[0]].get_bucket(bucket_name)
    policy = parse_document(bucket.policy.decode() if isinstance(bucket.policy, bytes)
                            else bucket.policy)
    return authorize(caller, "s3:GetObject", f"arn:aws:s3:::{bucket_name}/{key}",
                     resource_account=owner[1], resource_policy=policy,
                     extra_context=_via_athena()).allowed


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, value: str | int | bytes) -> bytes:
    """One protobuf field: length-delimited for text and messages, varint for numbers."""
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    data = value.encode("utf-8") if isinstance(value, str) else value
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def result_metadata(ex: Execution, result: QueryResult) -> bytes:
    """The ``.csv.metadata`` object: the result's ColumnInfo in the protobuf layout Athena uses
    (engine query id, then one message per column: catalog, schema, table, name, label, type,
    precision, scale, nullability, case sensitivity)."""
    when = time.gmtime(ex.started or ex.submitted)
    engine_id = f"{time.strftime('%Y%m%d_%H%M%S', when)}_00000_{ex.id.replace('-', '')[:5]}"
    out = _field(1, engine_id)
    for name, athena_type in result.columns:
        info = _column_info(name, athena_type)
        column = b"".join([
            _field(1, info["CatalogName"]), _field(4, name), _field(5, name),
            _field(6, athena_type),
            _field(7, info["Precision"]) if info["Precision"] else b"",
            _field(9, 3),  # UNKNOWN nullability, as Athena reports for query results
            _field(10, 1) if info["CaseSensitive"] else b""])
        out += _field(4, column)
    return out


# --------------------------------------------------------------------------- helpers
def _check_defect(conn: Connector, env: dict[str, Any]) -> None:
    """A connector release the sandbox marks broken (sar.BROKEN) fails as a Java function
    would: the function is invoked, and throws."""
    from wizard.sandbox.sar import DEFECT_VARIABLE

    defect = env.get(DEFECT_VARIABLE)
    if defect:
        raise QueryError(
            "GENERIC_USER_ERROR: Encountered an exception[java.lang.NoSuchMethodError] from "
            f"your LambdaFunction[{conn.function_arn}] executed in context[retrieving "
            f"meta-data] with message[{defect}]")


def _via_athena() -> dict[str, Any]:
    """Condition keys present on calls Athena makes on the caller's behalf."""
    return {"aws:CalledVia": ["athena.amazonaws.com"],
            "aws:CalledViaFirst": "athena.amazonaws.com",
            "aws:CalledViaLast": "athena.amazonaws.com", "aws:ViaAWSService": "true"}


def _page(items: list[Any], key: str, body: dict[str, Any],
          limit_max: int) -> dict[str, Any]:
    max_results = int(body.get("MaxResults") or limit_max)
    start = int(body["NextToken"]) if str(body.get("NextToken") or "").isdigit() else 0
    out: dict[str, Any] = {key: items[start:start + max_results]}
    if start + max_results < len(items):
        out["NextToken"] = str(start + max_results)
    return out


_PRECISION = {"varchar": 2147483647, "bigint": 19, "integer": 10, "smallint": 5, "tinyint": 3,
              "double": 17, "real": 7, "boolean": 0, "date": 0, "timestamp": 3}


def _column_info(name: str, athena_type: str) -> dict[str, Any]:
    return {"CatalogName": "hive", "SchemaName": "", "TableName": "", "Name": name,
            "Label": name, "Type": athena_type, "Precision": _PRECISION.get(athena_type, 0),
            "Scale": 0, "Nullable": "UNKNOWN", "CaseSensitive": athena_type == "varchar"}


__all__ = ["AthenaEmulator", "Connector", "Execution", "TableRef"]
