"""The data the engine produces: Changes (what apply would do), Findings, progress Events.

The CLI prints these and the GUI renders them; neither decides anything itself.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Action = Literal["create", "update", "delete", "none"]
Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True)
class Change:
    """One resource one step would touch. ``before``/``after`` are JSON-able (policy docs...)."""

    step: str
    account: str  # "owner" | "consumer:<id>"
    resource: str
    action: Action
    summary: str = ""
    before: Any = None
    after: Any = None
    kind: str = ""  # what the resource is: "bucket-policy", "lambda-permission", "role", ...
    data: dict[str, Any] = field(default_factory=dict, compare=False)  # step-private details

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        data = out.pop("data", None) or {}
        out.update({k: data[k] for k in PUBLIC_DATA if k in data})
        return out


# Step-private details that are also public (``plan --json``): the connector stack's version
# drift and the preview of what CloudFormation will do to each resource.
PUBLIC_DATA = ("versions", "preview", "preview_error")


@dataclass(frozen=True)
class Finding:
    """A preflight result: ``error`` blocks apply, ``warning`` is shown and allowed."""

    severity: Severity
    message: str
    fix: str = ""
    step: str = ""
    account: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


EventKind = Literal["plan", "step-started", "step-done", "step-failed", "progress", "log",
                    "stack-event", "query-state"]


@dataclass(frozen=True)
class Event:
    """Progress reported while the engine works (from worker threads: consumers must not block)."""

    kind: EventKind
    step: str = ""
    message: str = ""
    account: str = ""
    fraction: float | None = None  # overall progress 0..1 when known

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def blocking(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def pending(self) -> list[Change]:
        return [c for c in self.changes if c.action != "none"]

    def to_json(self) -> dict[str, Any]:
        return {
            "changes": [c.to_json() for c in self.changes],
            "findings": [f.to_json() for f in self.findings],
            "pending": len(self.pending),
        }
