"""Resource-policy writes as AWS validates them (moto accepts anything).

Two validations the wizard's ordering depends on, and one format detail its idempotency
checks depend on:

* S3 PutBucketPolicy and Lambda AddPermission reject a principal that does not exist
  ("Invalid principal in policy" / "The provided principal was invalid"): the grant steps must
  run after the principal is created, and the sandbox must catch it when they do not.
* Lambda AddPermission with a StatementId already in the policy is a ResourceConflictException
  (the runbook's reason to read get_policy first).
* Lambda stores a principal as ``{"AWS": "<arn>"}`` (an account id as its root ARN), which is
  what GetPolicy returns in AWS; moto keeps the raw string, so it is rewritten after the call.
"""

from __future__ import annotations

import re
from typing import Any

from wizard.sandbox.iam_eval import parse_document
from wizard.sandbox.layer import ApiRequest, ServiceError

_IAM_ARN_RE = re.compile(r"^arn:aws[\w-]*:(iam|sts)::(\d{12}):(user|role|assumed-role)/(.+)$")


def principal_exists(entry: str) -> bool:
    """Does an ``AWS`` principal name an existing identity? (Accounts, roots, ``*``: yes.)"""
    from moto.iam.models import iam_backends

    m = _IAM_ARN_RE.match(entry.strip())
    if not m:
        return True
    _, account, kind, rest = m.groups()
    iam = iam_backends[account]["aws"]
    if kind == "user":
        return rest.rsplit("/", 1)[-1] in iam.users
    role_name = rest.split("/", 1)[0] if kind == "assumed-role" else rest.rsplit("/", 1)[-1]
    return any(r.name == role_name for r in iam.roles.values())


def _aws_principals(principal: Any) -> list[str]:
    if isinstance(principal, str):
        return [principal]
    if isinstance(principal, dict):
        value = principal.get("AWS", [])
        return [str(v) for v in (value if isinstance(value, list) else [value])]
    return []


# --------------------------------------------------------------------------- S3
def put_bucket_policy(req: ApiRequest) -> None:
    """MalformedPolicy for a principal that does not exist; moto stores the others."""
    policy = req.params.get("Policy", "")
    doc = parse_document(policy.decode("utf-8", "replace") if isinstance(policy, bytes)
                         else str(policy))
    if doc is None:
        return None  # moto answers malformed JSON
    statements = doc.get("Statement", [])
    for st in statements if isinstance(statements, list) else [statements]:
        if not isinstance(st, dict):
            continue
        for entry in _aws_principals(st.get("Principal")) + _aws_principals(
                st.get("NotPrincipal")):
            if not principal_exists(entry):
                raise ServiceError("MalformedPolicy", "Invalid principal in policy", 400)
    return None


# --------------------------------------------------------------------------- Lambda
def _function(req: ApiRequest, name_or_arn: str) -> Any:
    from moto.backends import get_backend

    account = req.caller.account_id
    try:
        return get_backend("lambda")[account][req.region].get_function(name_or_arn)
    except Exception:
        return None


def add_permission(req: ApiRequest) -> None:
    """AWS's checks on AddPermission (principal exists, StatementId unused); moto adds it."""
    fn = _function(req, str(req.params.get("FunctionName", "")))
    if fn is None:
        return None  # moto's ResourceNotFoundException
    principal = str(req.params.get("Principal", ""))
    if not principal_exists(principal):
        raise ServiceError(
            "InvalidParameterValueException",
            "The provided principal was invalid. Please check the principal and try again.",
            extra={"Type": "User"})
    sid = req.params.get("StatementId")
    if sid and any(st.get("Sid") == sid for st in fn.policy.statements):
        raise ServiceError(
            "ResourceConflictException",
            f"The statement id ({sid}) provided already exists. Please provide a new statement "
            "id, or remove the existing statement.", status=409, extra={"Type": "User"})
    return None


def after_add_permission(req: ApiRequest) -> None:
    """Rewrite the principals moto stored raw into the ``{"AWS": arn}`` form AWS stores."""
    fn = _function(req, str(req.params.get("FunctionName", "")))
    if fn is None:
        return
    for st in fn.policy.statements:
        p = st.get("Principal")
        if isinstance(p, str) and p != "*" and not p.endswith(".amazonaws.com"):
            arn = f"arn:aws:iam::{p}:root" if re.fullmatch(r"\d{12}", p) else p
            st["Principal"] = {"AWS": arn}

