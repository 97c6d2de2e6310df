"""STS AssumeRole with the checks moto skips: the role must exist and trust the caller.

The wizard's console-parity share (runbook step 11/12) depends on A being able to assume
``AthenaCrossAccountCreate-<A>`` in B: a wrong role name or trust policy must fail in the
sandbox as it does in AWS (AccessDenied), not silently succeed as in plain moto.
"""

from __future__ import annotations

import re

from wizard.sandbox.iam_eval import authorize, parse_document
from wizard.sandbox.layer import ApiRequest, ServiceError

_ROLE_ARN_RE = re.compile(r"^arn:aws[\w-]*:iam::(\d{12}):role/(?:.*/)?([^/]+)$")


def assume_role(req: ApiRequest) -> None:
    """Check an AssumeRole call (AccessDenied); an allowed one goes on to moto."""
    check_assume_role(req, str(req.params.get("RoleArn", "")))


def check_assume_role(req: ApiRequest, role_arn: str) -> None:
    """AccessDenied unless the role exists, trusts the caller, and the caller may assume it."""
    from moto.iam.models import iam_backends

    caller = req.caller
    denied = ServiceError(
        "AccessDenied",
        f"User: {caller.display_arn} is not authorized to perform: sts:AssumeRole on resource: "
        f"{role_arn}",
        status=403,
    )
    m = _ROLE_ARN_RE.match(role_arn)
    if not m:
        raise denied
    account, name = m.group(1), m.group(2)
    iam = iam_backends[account]["aws"]
    role = next((r for r in iam.roles.values() if r.name.lower() == name.lower()), None)
    if role is None:
        raise denied
    trust = parse_document(role.assume_role_policy_document)
    result = authorize(caller, "sts:AssumeRole", role.arn, resource_account=account,
                       resource_policy=trust)
    if not result.allowed:
        raise denied
