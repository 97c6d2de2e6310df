"""IAM policy evaluation for the sandbox, and who a request's access key belongs to.

moto stores policies but does not enforce them. The sandbox has to, for the calls whose whole
point is cross-account authorisation (the connector Lambda invocation, reading spill data, the
Athena query calls): a wizard run that skipped a grant must fail in the sandbox with the same
words as in AWS. This module is the small evaluator that makes that possible. It follows the
documented IAM logic - explicit Deny wins, otherwise something must Allow; across accounts both
the caller's identity policy and the resource's policy must Allow - and deliberately stops
there (no SCPs, permission boundaries or session policies: the wizard never touches them).

The evaluation functions are pure (documents in, decision out); :func:`resolve_caller` is the
one place that reads moto's IAM/STS state.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

Doc = dict[str, Any]

_ACCOUNT_RE = re.compile(r"^\d{12}$")


class Decision(enum.Enum):
    """Outcome of evaluating a set of documents for one request."""

    ALLOW = "allow"
    DENY = "deny"  # an explicit Deny matched
    IMPLICIT = "implicit"  # nothing matched: implicitly denied


@dataclass(frozen=True)
class Caller:
    """The principal behind a request, as IAM sees it.

    ``arn`` is what policies name (a user ARN, a role ARN for an assumed-role session, or the
    account root); ``display_arn`` is what AWS error messages print (for a session: the
    ``arn:aws:sts::...:assumed-role/<role>/<session>`` ARN).
    """

    account_id: str
    arn: str
    display_arn: str
    kind: str  # "user" | "role" | "root"
    name: str = ""
    documents: tuple[Doc, ...] = field(default_factory=tuple)
    # aws:PrincipalOrgID / aws:PrincipalOrgPaths of the caller's account (lower-cased keys)
    org_keys: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_root(self) -> bool:
        """Roots (and keys moto does not know, mapped to its default account) may do anything."""
        return self.kind == "root"

    @property
    def principal_type(self) -> str:
        return {"user": "User", "role": "AssumedRole", "root": "Account"}[self.kind]


@dataclass(frozen=True)
class AccessResult:
    """Whether a request is allowed, and if not the AWS wording of why."""

    allowed: bool
    message: str = ""
    reason: str = ""  # "identity" | "resource" | "identity-deny" | "resource-deny" | ""


# --------------------------------------------------------------------------- documents
def parse_document(text: str | Mapping[str, Any] | None) -> Doc | None:
    """A policy as moto stores it (JSON text, sometimes URL-encoded) -> dict, or None."""
    if text is None or text == "":
        return None
    if isinstance(text, Mapping):
        return dict(text)
    raw = text.strip()
    if raw.startswith("%7B") or raw.startswith("%7b"):
        raw = unquote(raw)
    try:
        doc = json.loads(raw)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _statements(doc: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    if not doc:
        return []
    st = doc.get("Statement", [])
    if isinstance(st, Mapping):
        return [st]
    return [s for s in st if isinstance(s, Mapping)]


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


@lru_cache(maxsize=4096)
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    # IAM wildcards: * any run of characters, ? exactly one; everything else literal
    # (fnmatch's [] classes are not IAM syntax, so build the regex by hand).
    parts = []
    for ch in pattern:
        if ch == "*":
            parts.append(".*")
        elif ch == "?":
            parts.append(".")
        else:
            parts.append(re.escape(ch))
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def wildcard_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM-style match of ``value`` against ``pattern`` (``*`` and ``?`` wildcards)."""
    return _glob(pattern, ignore_case).fullmatch(value) is not None


def _substitute(pattern: str, context: Mapping[str, Any]) -> str:
    """Replace policy variables like ``${aws:username}`` (unknown ones match nothing)."""
    if "${" not in pattern:
        return pattern

    def repl(m: re.Match[str]) -> str:
        key = m.group(1)
        if key in ("*", "?", "$"):
            return key
        value = context.get(key.lower())
        if value is None:
            return "\x00"  # cannot match anything a request contains
        return str(value[0] if isinstance(value, list) and value else value)

    return re.sub(r"\$\{([^}]+)\}", repl, pattern)


def _action_matches(statement: Mapping[str, Any], action: str) -> bool:
    if "Action" in statement:
        return any(wildcard_match(str(p), action, ignore_case=True)
                   for p in _as_list(statement["Action"]))
    if "NotAction" in statement:
        return not any(wildcard_match(str(p), action, ignore_case=True)
                       for p in _as_list(statement["NotAction"]))
    return False


def _resource_matches(statement: Mapping[str, Any], resource: str,
                      context: Mapping[str, Any], *, default: bool) -> bool:
    if "Resource" in statement:
        return any(wildcard_match(_substitute(str(p), context), resource)
                   for p in _as_list(statement["Resource"]))
    if "NotResource" in statement:
        return not any(wildcard_match(_substitute(str(p), context), resource)
                       for p in _as_list(statement["NotResource"]))
    # Identity policies must name a resource; a resource policy may leave it implicit.
    return default


# --------------------------------------------------------------------------- conditions
_NEGATED = {"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "ArnNotEquals",
            "ArnNotLike", "NumericNotEquals"}


def _compare(op: str, actual: str, expected: str) -> bool | None:
    """One value against one policy value; None when the operator is not supported."""
    base = op.replace("Not", "", 1) if op in _NEGATED else op
    if base == "StringEquals":
        return actual == expected
    if base == "StringEqualsIgnoreCase":
        return actual.lower() == expected.lower()
    if base == "StringLike":
        return wildcard_match(expected, actual)
    if base in ("ArnEquals", "ArnLike"):
        return wildcard_match(expected, actual)
    if base == "Bool":
        return actual.lower() == expected.lower()
    if base == "NumericEquals":
        try:
            return float(actual) == float(expected)
        except ValueError:
            return False
    if base in ("NumericLessThan", "NumericLessThanEquals", "NumericGreaterThan",
                "NumericGreaterThanEquals"):
        try:
            a, e = float(actual), float(expected)
        except ValueError:
            return False
        return {"NumericLessThan": a < e, "NumericLessThanEquals": a <= e,
                "NumericGreaterThan": a > e, "NumericGreaterThanEquals": a >= e}[base]
    return None


def _condition_block_matches(op_full: str, block: Mapping[str, Any],
                             context: Mapping[str, Any]) -> bool:
    qualifier = ""
    op = op_full
    if ":" in op:
        qualifier, op = op.split(":", 1)
    if_exists = op.endswith("IfExists")
    if if_exists:
        op = op[: -len("IfExists")]
    negated = op in _NEGATED
    for key, expected_raw in block.items():
        expected = [str(v).lower() if isinstance(v, bool) else str(v)
                    for v in _as_list(expected_raw)]
        present = key.lower() in context
        if op == "Null":
            want_absent = (expected[0].lower() == "true") if expected else True
            if want_absent == present:
                return False
            continue
        if not present:
            # Documented IAM rule: an absent key fails positive operators, satisfies negated ones
            # (and ...IfExists ones).
            if if_exists or negated:
                continue
            return False
        raw = context[key.lower()]
        actual = [str(v).lower() if isinstance(v, bool) else str(v) for v in _as_list(raw)]
        results: list[list[bool]] = []
        for a in actual:
            row = []
            for e in expected:
                r = _compare(op, a, _substitute(e, context))
                if r is None:
                    return False  # unsupported operator: never grant on what we cannot check
                row.append(r)
            results.append(row)
        if qualifier == "ForAllValues":
            ok = all(any(row) for row in results)
            ok = (not ok) if negated else ok
        elif negated:
            ok = not any(any(row) for row in results)
        else:
            ok = any(any(row) for row in results)
        if not ok:
            return False
    return True


def conditions_match(statement: Mapping[str, Any], context: Mapping[str, Any]) -> bool:
    """All condition blocks of a statement hold (AND across operators and keys)."""
    cond = statement.get("Condition")
    if not cond:
        return True
    if not isinstance(cond, Mapping):
        return False
    return all(isinstance(block, Mapping) and _condition_block_matches(op, block, context)
               for op, block in cond.items())


# --------------------------------------------------------------------------- principals
def _principal_entry_matches(entry: str, caller: Caller) -> bool:
    entry = entry.strip()
    if entry == "*":
        return True
    if _ACCOUNT_RE.match(entry):
        return entry == caller.account_id
    m = re.match(r"^arn:aws[\w-]*:iam::(\d{12}):root$", entry)
    if m:
        return m.group(1) == caller.account_id
    if entry == caller.arn or entry == caller.display_arn:
        return True
    # IAM role names are case-insensitive; compare the role/user ARN that way too.
    return entry.lower() in (caller.arn.lower(), caller.display_arn.lower())


def principal_matches(principal: Any, caller: Caller) -> bool:
    """Does a resource-policy ``Principal`` element name this caller?"""
    if principal is None:
        return False
    if isinstance(principal, str):
        return _principal_entry_matches(principal, caller)
    if isinstance(principal, Mapping):
        return any(_principal_entry_matches(str(e), caller)
                   for e in _as_list(principal.get("AWS")))
    return False


# --------------------------------------------------------------------------- evaluation
def request_context(caller: Caller, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The global condition keys a request made through Athena carries (lower-cased keys)."""
    ctx: dict[str, Any] = {
        "aws:principalarn": caller.arn,
        "aws:principalaccount": caller.account_id,
        "aws:principaltype": caller.principal_type,
        "aws:securetransport": "true",  # clients talk HTTPS to real AWS
    }
    if caller.kind == "user":
        ctx["aws:username"] = caller.name
    ctx.update(caller.org_keys)
    if extra:
        ctx.update({k.lower(): v for k, v in extra.items()})
    return ctx


def evaluate_identity(documents: Iterable[Mapping[str, Any] | None], action: str, resource: str,
                      context: Mapping[str, Any] | None = None) -> Decision:
    """Evaluate identity-based documents (no Principal element) for one action on one resource."""
    ctx = context or {}
    return _decide((st for doc in documents for st in _statements(doc)), action, resource,
                   ctx, resource_default=False)


def evaluate_resource(document: Mapping[str, Any] | None, caller: Caller, action: str,
                      resource: str, context: Mapping[str, Any] | None = None) -> Decision:
    """Evaluate a resource-based document (Lambda function policy, bucket policy) for a caller."""
    def names_caller(st: Mapping[str, Any]) -> bool:
        if "Principal" in st:
            return principal_matches(st["Principal"], caller)
        if "NotPrincipal" in st:
            return not principal_matches(st["NotPrincipal"], caller)
        return False

    return _decide((st for st in _statements(document) if names_caller(st)), action, resource,
                   context or {}, resource_default=True)


def _decide(statements: Iterable[Mapping[str, Any]], action: str, resource: str,
            ctx: Mapping[str, Any], *, resource_default: bool) -> Decision:
    """Fold matching statements the way IAM does: any Deny wins, else any Allow, else none."""
    allowed = False
    for st in statements:
        if not (_action_matches(st, action)
                and _resource_matches(st, resource, ctx, default=resource_default)
                and conditions_match(st, ctx)):
            continue
        effect = str(st.get("Effect", "")).lower()
        if effect == "deny":
            return Decision.DENY
        if effect == "allow":
            allowed = True
    return Decision.ALLOW if allowed else Decision.IMPLICIT


def denied_message(caller: Caller, action: str, resource: str, reason: str) -> str:
    """AWS's wording for a denied request (the form IAM has used since 2021)."""
    tail = {
        "identity": f"because no identity-based policy allows the {action} action",
        "resource": f"because no resource-based policy allows the {action} action",
        "identity-deny": "with an explicit deny in an identity-based policy",
        "resource-deny": "with an explicit deny in a resource-based policy",
    }[reason]
    return f"User: {caller.display_arn} is not authorized to perform: {action} on resource: " \
           f"{resource} {tail}"


def authorize(caller: Caller, action: str, resource: str, *,
              resource_account: str | None = None,
              resource_policy: Mapping[str, Any] | None = None,
              extra_context: Mapping[str, Any] | None = None) -> AccessResult:
    """Decide one request the way IAM does for the cases the wizard cares about.

    Same account: the identity policy OR the resource policy may allow it. Another account: both
    must allow it (the caller's account vouches for its principal, the resource's account
    grants access). An explicit Deny in either always wins.
    """
    ctx = request_context(caller, extra_context)
    if caller.is_root:
        identity = Decision.ALLOW
    else:
        identity = evaluate_identity(caller.documents, action, resource, ctx)
    res = (evaluate_resource(resource_policy, caller, action, resource, ctx)
           if resource_policy else Decision.IMPLICIT)
    reason = ""
    if identity is Decision.DENY:
        reason = "identity-deny"
    elif res is Decision.DENY:
        reason = "resource-deny"
    elif resource_account and resource_account != caller.account_id:
        if identity is not Decision.ALLOW:
            reason = "identity"
        elif res is not Decision.ALLOW:
            reason = "resource"
    elif identity is not Decision.ALLOW and res is not Decision.ALLOW:
        reason = "identity"
    if not reason:
        return AccessResult(True)
    return AccessResult(False, denied_message(caller, action, resource, reason), reason)


# --------------------------------------------------------------------------- moto lookup
def _managed_document(policy: Any) -> Doc | None:
    for version in getattr(policy, "versions", []):
        if getattr(version, "is_default", False):
            return parse_document(version.document)
    return None


def _collect(entity: Any) -> list[Doc]:
    docs: list[Doc] = []
    for text in getattr(entity, "policies", {}).values():
        doc = parse_document(text)
        if doc:
            docs.append(doc)
    for policy in getattr(entity, "managed_policies", {}).values():
        doc = _managed_document(policy)
        if doc:
            docs.append(doc)
    return docs


def resolve_caller(access_key: str | None, region: str = "us-east-1") -> Caller:
    """Who is calling, from the SigV4 access key, with all their identity-policy documents
    and their account's place in the sandbox's organization (its condition keys)."""
    import dataclasses

    from wizard.sandbox.organizations import principal_org_keys

    caller = _resolve_caller(access_key, region)
    return dataclasses.replace(caller, org_keys=principal_org_keys(caller.account_id))


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
        return Caller(account, key.role_arn, display, "role", role_name, tuple(docs))
    user = iam.users.get(key.user_name) if key.user_name else None
    if user is None:
        return Caller(account, root, root, "root")
    docs = _collect(user)
    for group in iam.groups.values():
        if any(u.name == user.name for u in group.users):
            docs.extend(_collect(group))
    return Caller(account, user.arn, user.arn, "user", user.name, tuple(docs))

