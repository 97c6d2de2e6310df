"""Text rendering of plans, changes, events and query results for the command line."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any, TextIO

from wizard.changes import Change, Event, Plan
from wizard.connector_versions import lifecycle_lines
from wizard.plural import count
from wizard.query import QueryResult

SYMBOLS = {"create": "+", "update": "~", "delete": "-", "none": "="}


def plan_text(plan: Plan, *, verbose: bool = False) -> str:
    lines: list[str] = []
    for f in plan.findings:
        lines.append(f"{f.severity.upper()}: {f.message}")
        if f.fix:
            lines.append(f"  fix: {f.fix}")
    lines.extend(changes_text(plan.changes, verbose=verbose))
    pending = len(plan.pending)
    lines.append(f"{count(pending, 'change')} to make, {len(plan.changes) - pending} already "
                 "in place."
                 if plan.changes else "Nothing to do.")
    return "\n".join(lines)


def changes_text(changes: Iterable[Change], *, verbose: bool = False) -> list[str]:
    lines: list[str] = []
    groups: dict[str, list[Change]] = {}
    for c in changes:
        groups.setdefault(c.account, []).append(c)
    for account, items in groups.items():
        lines.append(f"[{account}]")
        for c in items:
            lines.append(f"  {SYMBOLS.get(c.action, '?')} {c.action:<6} {c.resource}"
                         + (f"  - {c.summary}" if c.summary else ""))
            if verbose and c.action != "none" and c.data.get("diff"):
                lines.extend("      " + d for d in c.data["diff"])
            lines.extend("      " + d for d in lifecycle_lines(c))
    return lines



def event_line(e: Event) -> str:
    pct = f"[{int(e.fraction * 100):3d}%] " if e.fraction is not None else "       "
    where = f"({e.account}) " if e.account else ""
    marks = {"step-started": "→", "step-done": "✓", "step-failed": "✗", "stack-event": "·",
             "query-state": "?", "log": " ", "plan": " ", "progress": " "}
    return f"{pct}{marks.get(e.kind, ' ')} {where}{e.message}"


def table_text(columns: list[str], rows: list[list[Any]], limit: int = 50) -> str:
    shown = rows[:limit]
    cells = [[("NULL" if v is None else str(v)) for v in r] for r in shown]
    widths = [min(40, max([len(c)] + [len(r[i]) for r in cells if i < len(r)]))
              for i, c in enumerate(columns)]
    def fmt(vals: list[str]) -> str:
        return " | ".join(v[:40].ljust(w) for v, w in zip(vals, widths, strict=False))
    out = [fmt(columns), "-+-".join("-" * w for w in widths)] + [fmt(r) for r in cells]
    if len(rows) > limit:
        out.append(f"... {count(len(rows) - limit, 'more row')}")
    return "\n".join(out)


def query_text(q: QueryResult) -> str:
    lines = [f"Query {q.query_id}: {q.state}"]
    if q.state == "SUCCEEDED":
        lines.append(table_text(q.columns, q.rows))
        lines.append(f"{count(len(q.rows), 'row')}; engine {q.engine_ms} ms; scanned "
                     f"{q.data_scanned_bytes} bytes (≈ ${q.cost_usd:.6f})")
    else:
        lines.append(f"Error: {q.error}")
        if q.cause:
            lines.append(f"Cause: {q.cause}")
        if q.fix:
            lines.append(f"Fix: {q.fix}")
    return "\n".join(lines)


def printer(stream: TextIO = sys.stderr):  # type: ignore[no-untyped-def]
    def _print(e: Event) -> None:
        print(event_line(e), file=stream, flush=True)
    return _print


DOCTOR_MARKS = {"ok": "✓", "broken": "✗", "warning": "!", "unknown": "?"}


def doctor_text(report: Any) -> str:
    """A wizard.doctor.Report: one line per link with its mark; message and fix when not ok."""
    lines: list[str] = []
    for c in report.consumers:
        lines.append(f"[{c.account}] {c.principal}")
        for link in c.links:
            lines.append(f"  {DOCTOR_MARKS.get(link.status, '?')} {link.status:<7} "
                         f"{link.id:<22} {link.resource}")
            if link.status != "ok":
                lines.append(f"      {link.message}")
                if link.fix:
                    lines.append(f"      fix: {link.fix}")
    broken = sum(1 for c in report.consumers for x in c.links if x.status == "broken")
    lines.append("No link is broken." if not broken else f"{count(broken, 'broken link')}.")
    return "\n".join(lines)
