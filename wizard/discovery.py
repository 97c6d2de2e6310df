"""Read-only look-ups that fill the wizard's pickers: SAR versions, buckets, functions, principals.

Why a module of its own: the GUI must never import boto3, and these reads are not steps (they
plan and change nothing); they only spare the user from typing ARNs and names by hand. Each
function takes a boto3 Session or a ``wizard.aws.Account``, blocks, and returns plain data;
the GUI calls them from worker threads. No Qt here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.exceptions

from wizard.aws import RETRY_CONFIG, Account
from wizard.errors import from_exception

APPLICATION_ID = (
    "arn:aws:serverlessrepo:us-east-1:292517598671:applications/AthenaDynamoDBConnector"
)
MAX_BUCKETS_PROBED = 500  # region look-ups beyond this would make the picker slow to fill

Source = boto3.Session | Account


@dataclass(frozen=True)
class Principal:
    """An IAM user or role a consumer's grants can name."""

    arn: str
    kind: str  # "user" | "role"
    name: str
    path: str = "/"


@dataclass(frozen=True)
class Function:
    """A Lambda function in the owner account (an already deployed connector, perhaps)."""

    name: str
    arn: str
    runtime: str = ""
    looks_like_connector: bool = False


def _client(src: Source, service: str, region: str | None = None) -> Any:
    if isinstance(src, Account):
        return src.client(service)
    return src.client(service, region_name=region or src.region_name, config=RETRY_CONFIG)


def _call(client: Any, operation: str, **kwargs: Any) -> Any:
    try:
        return getattr(client, operation)(**kwargs)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise from_exception(exc, operation="".join(p.title() for p in operation.split("_"))
                             ) from exc


def _version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """Semantic/dated versions compare numerically part by part (2026.33.1 > 2026.4.10)."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"[.\-+]", version))


def sar_versions(src: Source, application_id: str = APPLICATION_ID) -> list[str]:
    """The connector application's published versions, newest first.

    The SAR API lives in the application's home region only for the public catalogue;
    ``get_application`` works from any region, and so does ``list_application_versions``.
    """
    client = _client(src, "serverlessrepo")
    versions: list[str] = []
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"ApplicationId": application_id}
        if token:
            kwargs["NextToken"] = token
        ans = _call(client, "list_application_versions", **kwargs)
        versions.extend(v["SemanticVersion"] for v in ans.get("Versions", []))
        token = ans.get("NextToken")
        if not token:
            break
    return sorted(set(versions), key=_version_key, reverse=True)


def _bucket_region(client: Any, name: str) -> str | None:
    try:
        loc = client.get_bucket_location(Bucket=name).get("LocationConstraint")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError):
        return None  # not ours to read: leave it out of the picker
    if not loc:
        return "us-east-1"
    return "eu-west-1" if loc == "EU" else str(loc)


def buckets_in_region(src: Source, region: str) -> list[str]:
    """The account's buckets in ``region`` (the spill bucket must be in the setup's region)."""
    client = _client(src, "s3", region)
    ans = _call(client, "list_buckets")
    listed = ans.get("Buckets", [])
    names = [b["Name"] for b in listed]
    known = {b["Name"]: b.get("BucketRegion") for b in listed if b.get("BucketRegion")}
    unknown = [n for n in names if n not in known][:MAX_BUCKETS_PROBED]
    if unknown:
        with ThreadPoolExecutor(max_workers=8, thread_name_prefix="bucket-region") as pool:
            for name, where in zip(unknown, pool.map(lambda n: _bucket_region(client, n),
                                                     unknown), strict=True):
                if where:
                    known[name] = where
    return sorted(n for n in names if known.get(n) == region)


def _paginate(client: Any, operation: str, key: str, **kwargs: Any) -> Iterable[dict[str, Any]]:
    try:
        for page in client.get_paginator(operation).paginate(**kwargs):
            yield from page.get(key, [])
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise from_exception(exc, operation=operation) from exc


def principals(src: Source) -> list[Principal]:
    """IAM users and roles a grant can name; service-linked and AWS-reserved roles left out."""
    client = _client(src, "iam")
    out = [Principal(u["Arn"], "user", u["UserName"], u.get("Path", "/"))
           for u in _paginate(client, "list_users", "Users")]
    for r in _paginate(client, "list_roles", "Roles"):
        path = r.get("Path", "/")
        if path.startswith(("/aws-service-role/", "/aws-reserved/", "/service-role/")):
            continue
        out.append(Principal(r["Arn"], "role", r["RoleName"], path))
    return sorted(out, key=lambda p: (p.kind != "user", p.name.lower()))


def lambda_functions(src: Source, region: str | None = None) -> list[Function]:
    """The account's functions in the region, connectors (by name or handler) first."""
    client = _client(src, "lambda", region)
    out = []
    for f in _paginate(client, "list_functions", "Functions"):
        handler = f.get("Handler", "") or ""
        name = f["FunctionName"]
        connector = "athena" in handler.lower() or "dynamodb" in name.lower() \
            or "connector" in name.lower()
        out.append(Function(name, f["FunctionArn"], f.get("Runtime", "") or "", connector))
    return sorted(out, key=lambda f: (not f.looks_like_connector, f.name.lower()))


# --------------------------------------------------------------------------- warm-up
def warm_up(services: Iterable[str] = ("sts", "s3", "iam", "lambda", "athena",
                                        "cloudformation", "serverlessrepo")) -> None:
    """Parse the service models the wizard uses into the data loader every Session shares
    (``wizard.aws.new_session``), ahead of the first call.

    The GUI runs this on a worker right after its window opens: the models are megabytes of
    JSON, and parsing them later, while a page is busy, would compete with the window.
    """
    from wizard.aws import new_session

    session = new_session(region_name="us-east-1")
    for name in services:
        session.client(name)  # service model + endpoint rules, parsed once; no request made
