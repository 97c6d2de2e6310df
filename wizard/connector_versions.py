"""Where the deployed connector stands among the versions the Serverless Application Repository
offers: the deployed one (the stack's ``serverlessrepo:semanticVersion`` tag), the newest, and
whether the deployed one is still offered - a withdrawn version cannot be deployed again, so an
upgrade from it cannot be rolled back.

One small engine function shared by ``plan`` (the connector step), the Review page and
``doctor``: each asks the same question and must get the same answer. Read-only; no Qt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wizard.errors import WizardError, from_exception

if TYPE_CHECKING:  # boto3 only where AWS is called: the GUI renders with this module too
    import boto3

    from wizard.aws import Account
    from wizard.changes import Change

    Source = boto3.Session | Account

VERSION_TAG = "serverlessrepo:semanticVersion"


def version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """Dated versions compare part by part as numbers (2026.33.1 > 2026.4.10)."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"[.\-+]", version))


def is_pinned(requested: str) -> bool:
    return requested not in ("", "latest")


@dataclass(frozen=True)
class VersionStatus:
    """The deployed, newest and requested versions of one setup's connector."""

    deployed: str | None  # None: no stack, or one not deployed from the repository
    offered: tuple[str, ...]  # newest first
    requested: str  # the profile's application_version: "latest" or a version

    @property
    def newest(self) -> str | None:
        return self.offered[0] if self.offered else None

    @property
    def pinned(self) -> bool:
        return is_pinned(self.requested)

    @property
    def deployed_offered(self) -> bool | None:
        """Whether the deployed version can still be deployed (None: nothing deployed, or the
        versions could not be listed)."""
        if self.deployed is None or not self.offered:
            return None
        return self.deployed in self.offered

    @property
    def newer_available(self) -> bool:
        return (self.deployed is not None and self.newest is not None
                and version_key(self.newest) > version_key(self.deployed))

    @property
    def target(self) -> str | None:
        """The version an apply deploys: a pinned version as written; ``latest`` moves to the
        newest when it is newer, never back (the newest may have been withdrawn)."""
        if self.pinned:
            return self.requested
        if self.deployed is None:
            return self.newest
        return self.newest if self.newer_available else self.deployed

    def to_json(self) -> dict[str, Any]:
        return {"deployed": self.deployed, "newest": self.newest,
                "deployed_offered": self.deployed_offered, "requested": self.requested,
                "pinned": self.pinned, "target": self.target,
                "newer_available": self.newer_available, "offered": list(self.offered)}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> VersionStatus:
        return cls(doc.get("deployed"), tuple(doc.get("offered") or ()),
                   str(doc.get("requested") or "latest"))

    def summary(self) -> str:
        """One line for people: deployed, newest, and whether the deployed one is offered."""
        if self.deployed is None:
            return f"not deployed; newest offered {self.newest or 'unknown'}"
        offered = {True: "still offered", False: "no longer offered",
                   None: "offer unknown"}[self.deployed_offered]
        text = f"deployed {self.deployed} ({offered}), newest {self.newest or 'unknown'}"
        if self.pinned:
            text += f"; the profile pins {self.requested}"
        elif self.newer_available:
            text += "; the profile asks for latest: an upgrade is due"
        return text


def deployed_version(stack: dict[str, Any] | None) -> str | None:
    """The version a stack was deployed at, from the tag the repository puts on it."""
    if not stack:
        return None
    tags = {t.get("Key"): t.get("Value") for t in stack.get("Tags", []) or []}
    return tags.get(VERSION_TAG)


def offered_versions(src: Source) -> tuple[str, ...]:
    """The versions the repository lists, newest first (a withdrawn version is listed nowhere)."""
    from wizard.discovery import APPLICATION_ID, sar_versions

    return tuple(sar_versions(src, APPLICATION_ID))


def version_status(src: Source, stack_name: str, requested: str = "latest") -> VersionStatus:
    """Read the stack and the offered versions (two calls). Raises a translated WizardError
    when either cannot be read; a stack that does not exist is ``deployed=None``."""
    client = src.client("cloudformation")
    try:
        stacks = client.describe_stacks(StackName=stack_name).get("Stacks", [])
    except Exception as exc:
        if "does not exist" not in str(exc):
            raise from_exception(exc, operation="DescribeStacks") from exc
        stacks = []
    stack = stacks[0] if stacks else None
    try:
        offered = offered_versions(src)
    except WizardError:
        raise
    except Exception as exc:
        raise from_exception(exc, operation="ListApplicationVersions") from exc
    return VersionStatus(deployed_version(stack), offered, requested)


PREVIEW_SYMBOLS = {"Add": "+", "Modify": "~", "Remove": "-"}


def lifecycle_lines(change: Change) -> list[str]:
    """Under the connector stack's row (CLI plan and the Review page): the version drift and,
    for an update, what CloudFormation will do to each resource (the change set's preview)."""
    lines: list[str] = []
    versions = change.data.get("versions")
    if versions:
        lines.append(f"versions: {VersionStatus.from_json(versions).summary()}")
    if change.action == "update" and "preview" in change.data:
        rows = change.data.get("preview")
        if rows is None:
            lines.append(f"preview: {change.data.get('preview_error') or 'not available'}")
        elif not rows:
            lines.append("preview: CloudFormation reports no resource change")
        else:
            lines.append("preview (CloudFormation change set):")
            lines.extend("  " + preview_row_text(r) for r in rows)
    return lines


def preview_row_text(row: dict[str, Any]) -> str:
    replace = f" replacement: {row['replacement']}" if row.get("replacement") else ""
    causes = f" - {', '.join(row['causes'])}" if row.get("causes") else ""
    return (f"{PREVIEW_SYMBOLS.get(row['action'], '?')} {row['action']:<6} "
            f"{row['logical_id']} ({row['type']}){replace}{causes}")
