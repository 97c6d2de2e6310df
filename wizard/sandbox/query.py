"""Run an Athena (Trino dialect) query over DynamoDB items with DuckDB.

What the Athena DynamoDB connector does to a table - infer a schema from the items, hand Athena
Arrow batches - is done here in-process: items become a ``pyarrow.Table`` (numbers BIGINT when
all integral else DOUBLE, a column whose items disagree on the type VARCHAR, missing attributes
NULL), the SQL is transpiled from Trino to DuckDB with sqlglot after its federated table names
have been bound to those Arrow tables, and the result is typed and formatted as Athena returns
it (lower-case column names, ``_col0`` for unnamed expressions, Athena type names, Java-style
doubles).

Heavy imports (sqlglot, duckdb, pyarrow) happen on first use only: they would otherwise cost
the sandbox's start time, which has a budget.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any


class QueryError(Exception):
    """A query failure, worded as Athena words it (``ERROR_NAME: message``)."""

    def __init__(self, message: str, category: int = 2) -> None:
        super().__init__(message)
        self.message = message
        self.category = category  # Athena ErrorCategory: 1 system, 2 user, 3 other


class QueryCancelled(Exception):
    """The query was stopped while it ran."""


# --------------------------------------------------------------------------- schema inference
@dataclass(frozen=True)
class Column:
    """One connector column: Athena's (lower-case) name and type, and the item attribute."""

    name: str
    athena_type: str
    attribute: str


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, Decimal, float)):
        if isinstance(value, Decimal):
            return "int" if value == value.to_integral_value() else "float"
        if isinstance(value, float):
            return "int" if value.is_integer() else "float"
        return "int"
    if isinstance(value, str):
        return "str"
    if isinstance(value, (bytes, bytearray)) or type(value).__name__ == "Binary":
        return "bin"
    return "complex"


def infer_columns(items: Sequence[Mapping[str, Any]], key_attributes: Sequence[str] = ()
                  ) -> list[Column]:
    """The connector's view of a table: one column per attribute seen in any item.

    Key attributes come first (hash, range), the rest sorted by name. Athena lower-cases
    column names; two attributes differing only by case collapse into the first one.
    """
    kinds: dict[str, set[str]] = {}
    for item in items:
        for attr, value in item.items():
            kinds.setdefault(attr, set()).add(_kind(value))
    order = [a for a in key_attributes if a in kinds]
    order += sorted((a for a in kinds if a not in order), key=lambda a: (a.lower(), a))
    seen: set[str] = set()
    columns = []
    for attr in order:
        name = attr.lower()
        if name in seen:
            continue
        seen.add(name)
        k = kinds[attr] - {"null"}
        if not k:
            athena_type = "varchar"
        elif k == {"int"}:
            athena_type = "bigint"
        elif k <= {"int", "float"}:
            athena_type = "double"
        elif k == {"bool"}:
            athena_type = "boolean"
        elif k == {"bin"}:
            athena_type = "varbinary"
        else:
            athena_type = "varchar"
        columns.append(Column(name, athena_type, attr))
    return columns


def _plain(value: Any) -> Any:
    """DynamoDB document value -> JSON-able value (sets become sorted lists)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (set, frozenset)):
        return sorted((_plain(v) for v in value), key=str)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode()
    if type(value).__name__ == "Binary":
        return base64.b64encode(bytes(value.value)).decode()
    return value


def _as_varchar(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    plain = _plain(value)
    if isinstance(plain, (int, float)):
        return str(plain)
    return json.dumps(plain, sort_keys=True, separators=(",", ":"))


def items_to_arrow(items: Sequence[Mapping[str, Any]], columns: Sequence[Column]) -> Any:
    """Items -> ``pyarrow.Table`` with the inferred column types."""
    import pyarrow as pa

    arrays = {}
    for col in columns:
        raw = [item.get(col.attribute) for item in items]
        if col.athena_type == "bigint":
            arrays[col.name] = pa.array([None if v is None else int(v) for v in raw], pa.int64())
        elif col.athena_type == "double":
            arrays[col.name] = pa.array([None if v is None else float(v) for v in raw],
                                        pa.float64())
        elif col.athena_type == "boolean":
            arrays[col.name] = pa.array(raw, pa.bool_())
        elif col.athena_type == "varbinary":
            arrays[col.name] = pa.array(
                [None if v is None else bytes(getattr(v, "value", v)) for v in raw], pa.binary())
        else:
            arrays[col.name] = pa.array([_as_varchar(v) for v in raw], pa.string())
    if not columns:
        return pa.table({})
    return pa.table(arrays)


# --------------------------------------------------------------------------- SQL analysis
@dataclass
class TableRef:
    """A table the query names, resolved against the session context, lower-cased like Athena."""

    catalog: str
    schema: str
    name: str
    line: int
    col: int
    node: Any = field(repr=False, default=None)

    @property
    def where(self) -> str:
        return f"line {self.line}:{self.col}"


@dataclass
class ParsedQuery:
    """A parsed single statement and the tables it reads."""

    sql: str
    tree: Any
    refs: list[TableRef]

    @property
    def is_query(self) -> bool:
        from sqlglot import exp

        return isinstance(self.tree, (exp.Select, exp.SetOperation, exp.Subquery))

    @property
    def catalogs(self) -> set[str]:
        return {r.catalog for r in self.refs}


def _position(sql: str, start: int | None) -> tuple[int, int]:
    if start is None:
        return 1, 1
    line = sql.count("\n", 0, start) + 1
    col = start - (sql.rfind("\n", 0, start) + 1) + 1
    return line, col


def parse(sql: str, default_catalog: str | None, default_schema: str | None) -> ParsedQuery:
    """Parse Trino SQL and list the tables it reads (CTE names excluded)."""
    import logging

    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ParseError, TokenError

    # sqlglot warns on stderr when it falls back to a generic Command (SHOW, EXPLAIN...):
    # noise in the terminal of `xacct-wizard sandbox`, and those statements go to moto anyway.
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    try:
        statements = [s for s in sqlglot.parse(sql, read="trino") if s is not None]
    except ParseError as err:
        first = err.errors[0] if err.errors else {}
        line, col = first.get("line", 1), first.get("col", 1)
        desc = first.get("description") or str(err)
        raise QueryError(f"SYNTAX_ERROR: line {line}:{col}: {desc}") from None
    except TokenError as err:
        raise QueryError(f"SYNTAX_ERROR: line 1:1: {err}") from None
    if len(statements) != 1:
        raise QueryError("SYNTAX_ERROR: line 1:1: Only one sql statement is allowed. Got: "
                         f"{len(statements)}")
    tree = statements[0]
    cte_names = {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}
    catalog = (default_catalog or "awsdatacatalog").lower()
    schema = (default_schema or "default").lower()
    refs = []
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            continue
        if not table.args.get("db") and not table.args.get("catalog") \
                and table.name.lower() in cte_names:
            continue
        first_part = table.parts[0] if table.parts else table.this
        line, col = _position(sql, first_part.meta.get("start"))
        refs.append(TableRef(
            catalog=(table.catalog or catalog).lower(),
            schema=(table.db or schema).lower(),
            name=table.name.lower(),
            line=line, col=col, node=table,
        ))
    return ParsedQuery(sql, tree, refs)


# --------------------------------------------------------------------------- execution
@dataclass
class QueryResult:
    """Typed, Athena-formatted result rows."""

    columns: list[tuple[str, str]]  # (name, athena type)
    rows: list[list[str | None]]
    nbytes: int
    arrow: Any = field(default=None, repr=False)

    def csv(self) -> bytes:
        """The result file Athena writes to the output location (every value quoted)."""
        def q(v: str | None) -> str:
            return "" if v is None else '"' + v.replace('"', '""') + '"'

        out = [",".join(q(n) for n, _ in self.columns)]
        out.extend(",".join(q(v) for v in row) for row in self.rows)
        return ("\n".join(out) + "\n").encode("utf-8")


class Runner:
    """One query's DuckDB connection, interruptible from another thread (StopQueryExecution)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._con: Any = None
        self.cancelled = False

    def cancel(self) -> None:
        with self._lock:
            self.cancelled = True
            if self._con is not None:
                try:
                    self._con.interrupt()
                except Exception:
                    pass

    def run(self, parsed: ParsedQuery, bindings: Mapping[int, tuple[str, Any]]) -> QueryResult:
        """Execute ``parsed`` with each bound TableRef node (by id) replaced by an Arrow table."""
        import duckdb
        from sqlglot import exp

        tree = parsed.tree.copy()
        # copy() loses node identity: map original refs onto the copy by traversal order.
        originals = [t for t in parsed.tree.find_all(exp.Table)]
        copies = [t for t in tree.find_all(exp.Table)]
        registered: dict[str, Any] = {}
        for orig, node in zip(originals, copies, strict=True):
            bound = bindings.get(id(orig))
            if bound is None:
                continue
            reg_name, arrow_table = bound
            registered[reg_name] = arrow_table
            alias = node.alias or node.name
            node.replace(exp.Table(this=exp.to_identifier(reg_name, quoted=True),
                                   alias=exp.TableAlias(this=exp.to_identifier(alias))))
        _name_unnamed_columns(tree)
        sql = tree.sql(dialect="duckdb")
        con = duckdb.connect()
        try:
            with self._lock:
                if self.cancelled:
                    raise QueryCancelled()
                self._con = con
            con.execute("SET integer_division = true")  # Trino: 5 / 2 = 2
            for name, table in registered.items():
                con.register(name, table)
            try:
                result = con.sql(sql).to_arrow_table()
            except duckdb.InterruptException:
                raise QueryCancelled() from None
            except duckdb.Error as err:
                if self.cancelled:
                    raise QueryCancelled() from None
                raise QueryError(_translate_duckdb_error(err, parsed)) from None
        finally:
            with self._lock:
                self._con = None
            con.close()
        return to_result(result)


def _name_unnamed_columns(tree: Any) -> None:
    """Trino names an unaliased expression ``_col<i>``; DuckDB would print the expression."""
    from sqlglot import exp

    select = tree
    while isinstance(select, (exp.SetOperation, exp.Subquery)):
        select = select.this if isinstance(select, exp.Subquery) else select.left
    if not isinstance(select, exp.Select):
        return
    for i, e in enumerate(list(select.expressions)):
        if isinstance(e, (exp.Alias, exp.Column, exp.Star)):
            continue
        e.replace(exp.alias_(e.copy(), f"_col{i}", quoted=True))


def _translate_duckdb_error(err: Exception, parsed: ParsedQuery) -> str:
    import re

    text = str(err).split("\n", 1)[0]
    m = re.search(r'Referenced column "([^"]+)" not found', text)
    if m:
        return f"COLUMN_NOT_FOUND: line 1:8: Column '{m.group(1).lower()}' cannot be resolved"
    m = re.search(r"Function with name (\w+) does not exist", text)
    if m:
        return f"FUNCTION_NOT_FOUND: line 1:8: Function '{m.group(1).lower()}' not registered"
    for prefix, name in (("Binder Error: ", "SYNTAX_ERROR"), ("Parser Error: ", "SYNTAX_ERROR"),
                         ("Conversion Error: ", "INVALID_CAST_ARGUMENT"),
                         ("Invalid Input Error: ", "INVALID_FUNCTION_ARGUMENT")):
        if text.startswith(prefix):
            return f"{name}: {text[len(prefix):]}"
    return f"GENERIC_INTERNAL_ERROR: {text}"


# --------------------------------------------------------------------------- result typing
def athena_type(arrow_type: Any, values: Iterable[Any] = ()) -> str:
    """Athena's name for an Arrow type (as GetQueryResults' ColumnInfo.Type shows it)."""
    import pyarrow as pa
    import pyarrow.types as t

    if t.is_int8(arrow_type):
        return "tinyint"
    if t.is_int16(arrow_type):
        return "smallint"
    if t.is_int32(arrow_type) or t.is_uint8(arrow_type) or t.is_uint16(arrow_type):
        return "integer"
    if t.is_integer(arrow_type):
        return "bigint"
    if t.is_float32(arrow_type):
        return "real"
    if t.is_floating(arrow_type):
        return "double"
    if t.is_boolean(arrow_type):
        return "boolean"
    if t.is_string(arrow_type) or t.is_large_string(arrow_type):
        return "varchar"
    if t.is_binary(arrow_type) or t.is_large_binary(arrow_type):
        return "varbinary"
    if t.is_date(arrow_type):
        return "date"
    if t.is_timestamp(arrow_type):
        return "timestamp"
    if t.is_time(arrow_type):
        return "time"
    if t.is_decimal(arrow_type):
        # DuckDB widens SUM(BIGINT) to HUGEINT (decimal(38,0) in Arrow); Trino keeps BIGINT.
        if arrow_type.scale == 0 and arrow_type.precision == 38 and all(
                v is None or -(2 ** 63) <= v < 2 ** 63 for v in values):
            return "bigint"
        return "decimal"
    if t.is_list(arrow_type) or t.is_large_list(arrow_type):
        return "array"
    if t.is_struct(arrow_type):
        return "row"
    if t.is_map(arrow_type):
        return "map"
    if arrow_type == pa.null():
        return "unknown"
    return "varchar"


def java_double(v: float) -> str:
    """Format a double as Java's Double.toString does (what Athena's result rows show)."""
    import math

    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    if v == 0:
        return "-0.0" if math.copysign(1, v) < 0 else "0.0"
    if 1e-3 <= abs(v) < 1e7:
        s = repr(v)
        return s if ("." in s or "e" in s) else s + ".0"
    sign, digits, exp10 = Decimal(repr(v)).normalize().as_tuple()
    ds = "".join(str(d) for d in digits)
    exponent = len(ds) - 1 + int(exp10)
    mantissa = ds[0] + "." + (ds[1:] or "0")
    return f"{'-' if sign else ''}{mantissa}E{exponent}"


def format_value(v: Any, kind: str = "") -> str | None:
    """One value as Athena's VarCharValue."""
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return java_double(v)
    if isinstance(v, Decimal):
        return str(int(v)) if kind == "bigint" else format(v, "f")
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S.") + f"{v.microsecond // 1000:03d}"
    if isinstance(v, (date, time)):
        return v.isoformat()
    if isinstance(v, (bytes, bytearray)):
        return " ".join(f"{b:02x}" for b in v)
    if isinstance(v, list):
        return "[" + ", ".join("null" if x is None else str(format_value(x)) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}={'null' if x is None else format_value(x)}"
                               for k, x in v.items()) + "}"
    return str(v)


def to_result(table: Any) -> QueryResult:
    """Arrow result -> column names/types and formatted rows."""
    columns: list[tuple[str, str]] = []
    pycols = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        values = column.to_pylist()
        pycols.append(values)
        columns.append((name.lower(), athena_type(column.type, values)))
    kinds = [k for _, k in columns]
    rows = [[format_value(col[i], kinds[j]) for j, col in enumerate(pycols)]
            for i in range(table.num_rows)]
    return QueryResult(columns, rows, int(table.nbytes), table)
