"""Runbook step 14: run a query as the consumer principal and read its results page by page.

Athena has no waiter for queries, so we poll GetQueryExecution with a delay that grows with the
time waited. Results are read lazily (``pages``), so a 100 000-row result never has to sit in
memory at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from wizard.aws import Account
from wizard.errors import WizardError, translate
from wizard.steps.base import aws_call

TERMINAL = {"SUCCEEDED", "FAILED", "CANCELLED"}
# Each wait is a quarter of the time waited so far (at least POLL_FIRST_S, at most POLL_MAX_S):
# a finished query is noticed at most 25 % (or 1 s) after it finished, and a poll is one cheap
# GetQueryExecution. The old schedule (x1.6 per poll, capped at 0.5 s) noticed a query done at
# 0.8 s only at 1.3 s, while a minute-long query cost 120 polls (this one: about 75).
POLL_FIRST_S = 0.05
POLL_FRACTION = 0.25
POLL_MAX_S = 1.0
PRICE_PER_TB_USD = 5.0  # Athena SQL, per TB scanned (us-east-1 list price)
MIN_BILLED_BYTES = 10 * 1024 * 1024


def query_cost_usd(scanned_bytes: int) -> float:
    """What Athena bills: per TB scanned, at least 10 MB per query."""
    if scanned_bytes <= 0:
        return 0.0
    return max(scanned_bytes, MIN_BILLED_BYTES) / 1024**4 * PRICE_PER_TB_USD


@dataclass
class QueryResult:
    query_id: str = ""
    state: str = ""
    columns: list[str] = field(default_factory=list)
    column_types: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    data_scanned_bytes: int = 0
    engine_ms: int = 0
    total_ms: int = 0
    output_location: str = ""
    error: str = ""
    cause: str = ""
    fix: str = ""

    @property
    def cost_usd(self) -> float:
        return query_cost_usd(self.data_scanned_bytes)

    def to_json(self) -> dict[str, Any]:
        return {"state": self.state, "query_id": self.query_id, "columns": self.columns,
                "column_types": self.column_types, "rows": self.rows,
                "data_scanned_bytes": self.data_scanned_bytes,
                "engine_execution_ms": self.engine_ms, "total_execution_ms": self.total_ms,
                "cost_usd": round(self.cost_usd, 6), "output_location": self.output_location,
                "error": self.error, "cause": self.cause, "fix": self.fix}


class QueryRunner:
    """Start / poll / page / stop, for one principal in one consumer account."""

    def __init__(self, account: Account, *, catalog: str, workgroup: str, output: str,
                 database: str = "default", sleep: Callable[[float], None] = time.sleep,
                 cancel: threading.Event | None = None) -> None:
        self.account = account
        self.catalog = catalog
        self.workgroup = workgroup
        self.output = output
        self.database = database
        self.sleep = sleep
        self.cancel = cancel or threading.Event()

    def start(self, sql: str) -> str:
        ans = aws_call(self.account, "athena", "start_query_execution", QueryString=sql,
                       QueryExecutionContext={"Catalog": self.catalog,
                                              "Database": self.database},
                       WorkGroup=self.workgroup,
                       ResultConfiguration={"OutputLocation": self.output})
        return ans["QueryExecutionId"]

    def wait(self, query_id: str,
             on_state: Callable[[str], None] | None = None) -> dict[str, Any]:
        waited, last = 0.0, ""
        while True:
            ex = aws_call(self.account, "athena", "get_query_execution",
                          QueryExecutionId=query_id)["QueryExecution"]
            state = ex["Status"]["State"]
            if state != last and on_state:
                on_state(state)
            last = state
            if state in TERMINAL:
                return ex
            if self.cancel.is_set():
                self.stop(query_id)
            delay = min(max(POLL_FIRST_S, waited * POLL_FRACTION), POLL_MAX_S)
            self.sleep(delay)
            waited += delay

    def stop(self, query_id: str) -> None:
        aws_call(self.account, "athena", "stop_query_execution", QueryExecutionId=query_id)

    def pages(self, query_id: str, page_size: int = 1000
              ) -> Iterator[tuple[list[str], list[str], list[list[Any]]]]:
        """(columns, types, rows) per page; the header row of the first page is dropped."""
        token: str | None = None
        first = True
        while True:
            kwargs: dict[str, Any] = {"QueryExecutionId": query_id, "MaxResults": page_size}
            if token:
                kwargs["NextToken"] = token
            ans = aws_call(self.account, "athena", "get_query_results", **kwargs)
            info = ans["ResultSet"].get("ResultSetMetadata", {}).get("ColumnInfo", [])
            columns = [c.get("Label") or c.get("Name", "") for c in info]
            types = [c.get("Type", "") for c in info]
            rows = [[d.get("VarCharValue") for d in r.get("Data", [])]
                    for r in ans["ResultSet"].get("Rows", [])]
            if first and rows and columns and rows[0] == columns:
                rows = rows[1:]
            first = False
            yield columns, types, rows
            token = ans.get("NextToken")
            if not token or self.cancel.is_set():
                return

    def run(self, sql: str, *, max_rows: int | None = None,
            on_state: Callable[[str], None] | None = None) -> QueryResult:
        result = QueryResult()
        try:
            result.query_id = self.start(sql)
        except WizardError as exc:  # refused before it ran: still a result to show
            result.state = "FAILED"
            result.error = str(exc)
            result.cause, result.fix = exc.cause, exc.fix
            return result
        ex = self.wait(result.query_id, on_state)
        fill_execution(result, ex)
        if result.state == "SUCCEEDED":
            for columns, types, rows in self.pages(result.query_id):
                result.columns, result.column_types = columns or result.columns, types
                result.rows.extend(rows)
                if max_rows is not None and len(result.rows) >= max_rows:
                    result.rows = result.rows[:max_rows]
                    break
        return result


def fill_execution(result: QueryResult, ex: dict[str, Any]) -> None:
    status = ex.get("Status", {})
    stats = ex.get("Statistics", {})
    result.state = status.get("State", "")
    result.data_scanned_bytes = int(stats.get("DataScannedInBytes", 0) or 0)
    result.engine_ms = int(stats.get("EngineExecutionTimeInMillis", 0) or 0)
    result.total_ms = int(stats.get("TotalExecutionTimeInMillis", 0) or 0)
    result.output_location = ex.get("ResultConfiguration", {}).get("OutputLocation", "")
    if result.state in ("FAILED", "CANCELLED"):
        result.error = status.get("StateChangeReason", "") or result.state
        result.cause, result.fix = translate(result.error)
