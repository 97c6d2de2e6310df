"""Where the deployed connector stands among the versions the Serverless Application Repository
offers: the deployed one (the stack's ``serverlessrepo:semanticVersion`` tag), the newest, and
whether the deployed one is still offered - a withdrawn version cannot be deployed again, so an
upgrade from it cannot be rolled back.

One small engine function shared by ``plan`` (the connector step), the Review page and
``doctor``: each asks the same question and must get the same answer. Read-only; no Qt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3

from wizard.aws import Account
from wizard.discovery import APPLICATION_ID, _version_key, sar_versions
from wizard.errors import WizardError, from_exception

VERSION_TAG = "serverlessrepo:semanticVersion"
Source = boto3.Session | Account


def version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """Dated versions compare part by part as numbers (2026.33.1 > 2026.4.10)."""
    return _version_key(version)


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
