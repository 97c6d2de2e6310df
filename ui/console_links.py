"""AWS console addresses for the resources a setup touches (the Finish page's links).

Pure string building from a Change's ``kind`` and ``resource`` as the steps write them; a
resource we cannot place gets no link rather than a wrong one.
"""

from __future__ import annotations

from urllib.parse import quote


def _name(arn_or_name: str) -> str:
    return arn_or_name.rsplit("/", 1)[-1].rsplit(":", 1)[-1]


def console_url(kind: str, resource: str, region: str) -> str | None:
    """The console page showing ``resource`` (open it signed in to the right account)."""
    first = resource.split(" (", 1)[0].strip()
    console = f"https://{region}.console.aws.amazon.com"
    if kind == "stack":
        name = first.removeprefix("stack ").strip()
        return (f"{console}/cloudformation/home?region={region}#/stacks?filteringText="
                f"{quote(name)}")
    if kind in ("function", "lambda-permission"):
        name = _name(first)
        tab = "?tab=configure" if kind == "lambda-permission" else ""
        return f"{console}/lambda/home?region={region}#/functions/{quote(name)}{tab}"
    if kind == "catalog":
        name = first.rsplit(" ", 1)[-1]
        return (f"{console}/athena/home?region={region}#/data-sources/details/"
                f"{quote(name)}")
    if kind in ("bucket", "bucket-policy"):
        bucket = first.removeprefix("s3://").split("/", 1)[0]
        return f"https://s3.console.aws.amazon.com/s3/buckets/{quote(bucket)}?region={region}" \
            + ("&tab=permissions" if kind == "bucket-policy" else "")
    if kind in ("identity-policy", "principal", "role", "role-policy"):
        if ":user/" in first:
            return f"https://console.aws.amazon.com/iam/home#/users/details/{quote(_name(first))}"
        if ":role/" in first:
            return f"https://console.aws.amazon.com/iam/home#/roles/details/{quote(_name(first))}"
    return None
