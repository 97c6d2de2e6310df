"""The sandbox side of IAM: who a request's access key belongs to, with their policies.

moto stores policies but does not enforce them. The sandbox has to, for the calls whose whole
point is cross-account authorisation (the connector Lambda invocation, reading spill data, the
Athena query calls): a wizard run that skipped a grant must fail in the sandbox with the same
words as in AWS. The decisions themselves come from :mod:`wizard.policy_eval`, the evaluator the
doctor predicts with, so the two cannot disagree; this module only reads moto's IAM/STS state
(:func:`resolve_caller`) and re-exports the evaluator's names for the sandbox's other modules.
"""

from __future__ import annotations

from typing import Any

from wizard.policy_eval import (
    AccessResult,
    Caller,
    Decision,
    Doc,
    Outcome,
    authorize,
    authorize_kms,
    conditions_match,
    denied_message,
    evaluate_identity,
    evaluate_resource,
    explain_identity,
    explain_resource,
    parse_document,
    principal_matches,
    request_context,
    wildcard_match,
)

__all__ = [
    "AccessResult",
    "Caller",
    "Decision",
    "Doc",
    "Outcome",
    "authorize",
    "authorize_kms",
    "caller_for_role",
    "conditions_match",
    "denied_message",
    "evaluate_identity",
    "evaluate_resource",
    "explain_identity",
    "explain_resource",
    "parse_document",
    "principal_matches",
    "request_context",
    "resolve_caller",
    "wildcard_match",
]


# --------------------------------------------------------------------------- moto lookup
def _managed_document(policy: Any) -> Doc | None:
    for version in getattr(policy, "versions", []):
        if getattr(version, "is_default", False):
            return parse_document(version.document)
    return None


def _collect(entity: Any) -> list[tuple[str, Doc]]:
    """(name for evidence, document) of an entity's inline and attached managed policies."""
    kind = type(entity).__name__.lower()
    docs: list[tuple[str, Doc]] = []
    for name, text in getattr(entity, "policies", {}).items():
        doc = parse_document(text)
        if doc:
            docs.append((f"{kind} {entity.name} inline policy {name}", doc))
    for policy in getattr(entity, "managed_policies", {}).values():
        doc = _managed_document(policy)
        if doc:
            docs.append((f"managed policy {policy.arn}", doc))
    return docs


def _boundary(iam: Any, entity: Any) -> tuple[Doc | None, str]:
    """The permissions boundary document of a role (moto keeps none for users)."""
    arn = getattr(entity, "permissions_boundary_arn", None)
    if not arn:
        return None, ""
    policy = iam.managed_policies.get(arn)
    doc = _managed_document(policy) if policy is not None else None
    # A boundary that cannot be read allows nothing, as a deleted one would in AWS.
    return (doc or {"Statement": []}), f"permissions boundary {arn}"


def _org_id(account: str) -> str:
    """The organization moto says the account belongs to ("" when none): the value of
    aws:PrincipalOrgID, which real AWS adds to every request of an organization member."""
    try:
        from moto.organizations.models import organizations_backends

        return str(organizations_backends[account]["aws"].describe_organization()
                   ["Organization"]["Id"])
    except Exception:
        return ""


def caller_for_role(account: str, role_arn: str) -> Caller | None:
    """A role acting on its own (a Lambda function's execution role), or None if unknown."""
    from moto.iam.models import iam_backends

    iam = iam_backends[account]["aws"]
    role = next((r for r in iam.roles.values() if r.arn == role_arn), None)
    if role is None:
        return None
    docs = _collect(role)
    boundary, boundary_name = _boundary(iam, role)
    return Caller(account, role.arn, f"arn:aws:sts::{account}:assumed-role/{role.name}/fn",
                  "role", role.name, tuple(d for _, d in docs), boundary, "",
                  tuple(n for n, _ in docs), boundary_name)


def resolve_caller(access_key: str | None, region: str = "us-east-1") -> Caller:
    """Who is calling, from the SigV4 access key, with all their identity-policy documents
    and their account's place in the sandbox's organization (its condition keys)."""
    import dataclasses

    from wizard.sandbox.organizations import principal_org_keys

    caller = _resolve_caller(access_key, region)
    keys = principal_org_keys(caller.account_id)
    return dataclasses.replace(caller, org_keys=keys) if keys else caller


def _resolve_caller(access_key: str | None, region: str = "us-east-1") -> Caller:
    """Who is calling, from the SigV4 access key, with all their identity-policy documents.

    Keys moto does not know map to its default account (as in moto itself) and act as that
    account's root: the sandbox only enforces policies on principals it can name.
    """
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.iam.models import get_account_id_from, iam_backends

    if not access_key:
        return Caller(DEFAULT_ACCOUNT_ID, f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:root",
                      f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:root", "root")
    account = get_account_id_from(access_key)
    iam = iam_backends[account]["aws"]
    key = iam.access_keys.get(access_key)
    root = f"arn:aws:iam::{account}:root"
    if key is None:
        return Caller(account, root, root, "root")
    if key.role_arn:
        from moto.sts.models import sts_backends

        session = sts_backends[account]["aws"].get_assumed_role_from_access_key(access_key)
        role_name = key.role_arn.rsplit("/", 1)[-1]
        display = session.arn if session else f"arn:aws:sts::{account}:assumed-role/{role_name}/x"
        role = next((r for r in iam.roles.values() if r.arn == key.role_arn), None)
        docs = _collect(role) if role is not None else []
        boundary, boundary_name = _boundary(iam, role) if role is not None else (None, "")
        return Caller(account, key.role_arn, display, "role", role_name,
                      tuple(d for _, d in docs), boundary, _org_id(account),
                      tuple(n for n, _ in docs), boundary_name)
    user = iam.users.get(key.user_name) if key.user_name else None
    if user is None:
        return Caller(account, root, root, "root")
    docs = _collect(user)
    for group in iam.groups.values():
        if any(u.name == user.name for u in group.users):
            docs.extend(_collect(group))
    return Caller(account, user.arn, user.arn, "user", user.name, tuple(d for _, d in docs),
                  org_id=_org_id(account), sources=tuple(n for n, _ in docs))

