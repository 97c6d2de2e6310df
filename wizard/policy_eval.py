"""IAM policy evaluation: documents in, decision (and the statement that decided it) out.

One evaluator serves both the doctor, which predicts whether an analyst's query would be
allowed, and the sandbox, which enforces the same decisions on its emulated calls: what the
doctor predicts and what the sandbox enforces cannot drift apart. It follows the documented IAM
logic for the cases a cross-account Athena federation needs:

- an explicit Deny anywhere (identity policy, resource policy, permissions boundary) wins;
- otherwise something must Allow; within one account the identity policy OR the resource policy
  may allow, across accounts BOTH must (the caller's account vouches for its principal, the
  resource's account grants access);
- a permissions boundary caps what identity policies grant (a boundary that does not allow an
  action takes it away), except where a same-account resource policy names a user directly;
- Action/NotAction, Resource/NotResource, Principal/NotPrincipal, ``*``/``?`` wildcards, policy
  variables, and the common condition operators with ``IfExists`` and the ``ForAnyValue`` /
  ``ForAllValues`` qualifiers.

Deliberately left out: SCPs, RCPs and session policies (neither the wizard nor the doctor can
read them from the member accounts it works with). No AWS or moto import: pure functions.
"""

from __future__ import annotations

import base64
import enum
import ipaddress
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
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
    ``arn:aws:sts::...:assumed-role/<role>/<session>`` ARN). ``documents`` are its identity
    policies (inline, managed, its groups'), ``sources`` their names for evidence, ``boundary``
    its permissions boundary document when it has one.
    """

    account_id: str
    arn: str
    display_arn: str
    kind: str  # "user" | "role" | "root" | "service"
    name: str = ""
    documents: tuple[Doc, ...] = field(default_factory=tuple)
    boundary: Doc | None = None
    org_id: str = ""
    sources: tuple[str, ...] = field(default_factory=tuple)
    boundary_name: str = ""
    # aws:PrincipalOrgID / aws:PrincipalOrgPaths of the caller's account (lower-cased keys),
    # as an organization's member requests carry them
    org_keys: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_root(self) -> bool:
        """Roots (and keys moto does not know, mapped to its default account) may do anything."""
        return self.kind == "root"

    @property
    def principal_type(self) -> str:
        return {"user": "User", "role": "AssumedRole", "root": "Account",
                "service": "Service"}[self.kind]


@dataclass(frozen=True)
class Outcome:
    """A decision and the evidence for it: the deciding statement and the document it is in."""

    decision: Decision
    statement: Mapping[str, Any] | None = None
    source: str = ""

    def describe(self) -> str:
        """One phrase for a person: which statement decided, or that none matched."""
        if self.statement is None:
            return "no statement matches"
        sid = self.statement.get("Sid")
        what = f"statement {sid!r}" if sid else f"statement {json.dumps(self.statement)[:160]}"
        where = f" in {self.source}" if self.source else ""
        verb = "denies" if self.decision is Decision.DENY else "allows"
        return f"{what}{where} {verb}"


@dataclass(frozen=True)
class AccessResult:
    """Whether a request is allowed, and if not the AWS wording of why."""

    allowed: bool
    message: str = ""
    # "identity" | "resource" | "boundary" | "identity-deny" | "resource-deny" |
    # "boundary-deny" | ""
    reason: str = ""
    identity: Outcome = Outcome(Decision.IMPLICIT)
    resource: Outcome = Outcome(Decision.IMPLICIT)
    boundary: Outcome | None = None


# --------------------------------------------------------------------------- documents
def parse_document(text: str | Mapping[str, Any] | None) -> Doc | None:
    """A policy as AWS or moto hands it over (JSON text, sometimes URL-encoded) -> dict."""
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


def statements(doc: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """A document's statements, whether ``Statement`` is one object or a list."""
    if not doc:
        return []
    st = doc.get("Statement", [])
    if isinstance(st, Mapping):
        return [st]
    if not isinstance(st, list):
        return []
    return [s for s in st if isinstance(s, Mapping)]


_statements = statements


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
        name, _, default = key.partition(", ")
        value = context.get(name.strip().lower())
        if value is None:
            if default:
                return default.strip().strip("'")
            return "\x00"  # cannot match anything a request contains
        return str(value[0] if isinstance(value, list) and value else value)

    return re.sub(r"\$\{([^}]+)\}", repl, pattern)


def action_matches(statement: Mapping[str, Any], action: str) -> bool:
    if "Action" in statement:
        return any(wildcard_match(str(p), action, ignore_case=True)
                   for p in _as_list(statement["Action"]))
    if "NotAction" in statement:
        return not any(wildcard_match(str(p), action, ignore_case=True)
                       for p in _as_list(statement["NotAction"]))
    return False


def resource_matches(statement: Mapping[str, Any], resource: str,
                     context: Mapping[str, Any], *, default: bool) -> bool:
    if "Resource" in statement:
        return any(wildcard_match(_substitute(str(p), context), resource)
                   for p in _as_list(statement["Resource"]))
    if "NotResource" in statement:
        return not any(wildcard_match(_substitute(str(p), context), resource)
                       for p in _as_list(statement["NotResource"]))
    # Identity policies must name a resource; a resource policy may leave it implicit.
    return default


_action_matches = action_matches
_resource_matches = resource_matches


# --------------------------------------------------------------------------- conditions
_NEGATED = {"StringNotEquals": "StringEquals",
            "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
            "StringNotLike": "StringLike", "ArnNotEquals": "ArnEquals",
            "ArnNotLike": "ArnLike", "NumericNotEquals": "NumericEquals",
            "DateNotEquals": "DateEquals", "NotIpAddress": "IpAddress"}
_ORDER = {"LessThan": lambda a, e: a < e, "LessThanEquals": lambda a, e: a <= e,
          "GreaterThan": lambda a, e: a > e, "GreaterThanEquals": lambda a, e: a >= e,
          "Equals": lambda a, e: a == e}


def _date(value: str) -> float:
    text = value.strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return float(text)  # epoch seconds are allowed in policies
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def _compare(op: str, actual: str, expected: str) -> bool | None:
    """One request value against one policy value for a positive operator; None when the
    operator is not one IAM has (a statement we cannot check never grants)."""
    try:
        if op == "StringEquals":
            return actual == expected
        if op == "StringEqualsIgnoreCase":
            return actual.lower() == expected.lower()
        if op in ("StringLike", "ArnEquals", "ArnLike"):
            return wildcard_match(expected, actual)
        if op == "Bool":
            return actual.lower() == expected.lower()
        if op == "BinaryEquals":
            return base64.b64decode(actual) == base64.b64decode(expected)
        if op == "IpAddress":
            return ipaddress.ip_address(actual) in ipaddress.ip_network(expected, strict=False)
        for family, parse in (("Numeric", float), ("Date", _date)):
            if op.startswith(family) and op[len(family):] in _ORDER:
                return bool(_ORDER[op[len(family):]](parse(actual), parse(expected)))
    except (ValueError, TypeError):
        return False
    return None


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _condition_block_matches(op_full: str, block: Mapping[str, Any],
                             context: Mapping[str, Any]) -> bool:
    qualifier, _, op = op_full.rpartition(":")
    if_exists = op.endswith("IfExists")
    if if_exists:
        op = op[: -len("IfExists")]
    negated = op in _NEGATED
    positive = _NEGATED.get(op, op)
    for key, expected_raw in block.items():
        expected = [_text(v) for v in _as_list(expected_raw)]
        raw = context.get(key.lower())
        actual = [_text(v) for v in _as_list(raw)]
        present = raw is not None and actual != []
        if op == "Null":
            want_absent = (expected[0].lower() == "true") if expected else True
            if want_absent == present:
                return False
            continue
        if qualifier == "ForAllValues":
            # Every request value must satisfy the operator; no values satisfies it vacuously.
            ok = True
        elif qualifier == "ForAnyValue":
            if not present:
                return False
            ok = False
        else:
            if not present:
                # Documented IAM rule: an absent key fails positive operators and satisfies
                # negated ones and ...IfExists ones.
                if if_exists or negated:
                    continue
                return False
            ok = False
        for a in actual:
            hits = []
            for e in expected:
                r = _compare(positive, a, _substitute(e, context))
                if r is None:
                    return False  # unsupported operator: never grant on what we cannot check
                hits.append(r)
            value_ok = (not any(hits)) if negated else any(hits)
            if qualifier == "ForAllValues":
                ok = ok and value_ok
            elif qualifier == "ForAnyValue":
                ok = ok or value_ok
            else:
                ok = ok or any(hits)
        if not qualifier and negated:
            ok = not ok
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
    if caller.kind == "service":
        return False
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
        if caller.kind == "service":
            return any(str(e) in ("*", caller.arn) for e in _as_list(principal.get("Service")))
        return any(_principal_entry_matches(str(e), caller)
                   for e in _as_list(principal.get("AWS")))
    return False


def direct_grants(document: Mapping[str, Any] | None, caller: Caller) -> Doc:
    """The statements of a resource policy that name this very user or session (not its
    account, not ``*``): only a grant among them escapes a permissions boundary within one
    account."""
    def direct(st: Mapping[str, Any]) -> bool:
        principal = st.get("Principal")
        entries = _as_list(principal.get("AWS")) if isinstance(principal, Mapping) \
            else _as_list(principal)
        return any(str(e).lower() in (caller.arn.lower(), caller.display_arn.lower())
                   for e in entries)

    return {"Statement": [st for st in statements(document) if direct(st)]}


# --------------------------------------------------------------------------- evaluation
def request_context(caller: Caller, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The global condition keys a request carries (lower-cased keys)."""
    ctx: dict[str, Any] = {
        "aws:principalarn": caller.arn,
        "aws:principalaccount": caller.account_id,
        "aws:principaltype": caller.principal_type,
        "aws:securetransport": "true",  # clients talk HTTPS to real AWS
    }
    if caller.org_id:
        ctx["aws:principalorgid"] = caller.org_id
    if caller.kind == "user":
        ctx["aws:username"] = caller.name
    ctx.update(caller.org_keys)
    if extra:
        ctx.update({k.lower(): v for k, v in extra.items()})
    return ctx


def _decide(sts: Iterable[tuple[Mapping[str, Any], str]], action: str, resource: str,
            ctx: Mapping[str, Any], *, resource_default: bool) -> Outcome:
    """Fold matching statements the way IAM does: any Deny wins, else any Allow, else none."""
    allowed: Outcome | None = None
    for st, source in sts:
        if not (action_matches(st, action)
                and resource_matches(st, resource, ctx, default=resource_default)
                and conditions_match(st, ctx)):
            continue
        effect = str(st.get("Effect", "")).lower()
        if effect == "deny":
            return Outcome(Decision.DENY, st, source)
        if effect == "allow" and allowed is None:
            allowed = Outcome(Decision.ALLOW, st, source)
    return allowed or Outcome(Decision.IMPLICIT)


def explain_identity(documents: Iterable[Mapping[str, Any] | None], action: str, resource: str,
                     context: Mapping[str, Any] | None = None,
                     sources: Sequence[str] = ()) -> Outcome:
    """Identity-based documents (no Principal element) for one action on one resource."""
    pairs = ((st, sources[i] if i < len(sources) else "")
             for i, doc in enumerate(documents) for st in statements(doc))
    return _decide(pairs, action, resource, context or {}, resource_default=False)


def explain_resource(document: Mapping[str, Any] | None, caller: Caller, action: str,
                     resource: str, context: Mapping[str, Any] | None = None,
                     source: str = "resource policy") -> Outcome:
    """A resource-based document (function policy, bucket policy, key policy) for a caller."""
    def names_caller(st: Mapping[str, Any]) -> bool:
        if "Principal" in st:
            return principal_matches(st["Principal"], caller)
        if "NotPrincipal" in st:
            return not principal_matches(st["NotPrincipal"], caller)
        return False

    pairs = ((st, source) for st in statements(document) if names_caller(st))
    return _decide(pairs, action, resource, context or {}, resource_default=True)


def evaluate_identity(documents: Iterable[Mapping[str, Any] | None], action: str, resource: str,
                      context: Mapping[str, Any] | None = None) -> Decision:
    return explain_identity(documents, action, resource, context).decision


def evaluate_resource(document: Mapping[str, Any] | None, caller: Caller, action: str,
                      resource: str, context: Mapping[str, Any] | None = None) -> Decision:
    return explain_resource(document, caller, action, resource, context).decision


def denied_message(caller: Caller, action: str, resource: str, reason: str) -> str:
    """AWS's wording for a denied request (the form IAM has used since 2021)."""
    tail = {
        "identity": f"because no identity-based policy allows the {action} action",
        "resource": f"because no resource-based policy allows the {action} action",
        "boundary": f"because no permissions boundary allows the {action} action",
        "identity-deny": "with an explicit deny in an identity-based policy",
        "resource-deny": "with an explicit deny in a resource-based policy",
        "boundary-deny": "with an explicit deny in a permissions boundary",
    }[reason]
    return f"User: {caller.display_arn} is not authorized to perform: {action} on resource: " \
           f"{resource} {tail}"


def authorize(caller: Caller, action: str, resource: str, *,
              resource_account: str | None = None,
              resource_policy: Mapping[str, Any] | None = None,
              extra_context: Mapping[str, Any] | None = None,
              resource_source: str = "resource policy") -> AccessResult:
    """Decide one request the way IAM does (see the module docstring for the rules)."""
    ctx = request_context(caller, extra_context)
    if caller.is_root:
        identity = Outcome(Decision.ALLOW, None, "account root")
        boundary = None
    else:
        identity = explain_identity(caller.documents, action, resource, ctx, caller.sources)
        boundary = (explain_identity([caller.boundary], action, resource, ctx,
                                     [caller.boundary_name or "permissions boundary"])
                    if caller.boundary is not None else None)
    res = (explain_resource(resource_policy, caller, action, resource, ctx, resource_source)
           if resource_policy else Outcome(Decision.IMPLICIT))
    cross = bool(resource_account) and resource_account != caller.account_id
    capped = boundary is not None and boundary.decision is not Decision.ALLOW
    identity_ok = identity.decision is Decision.ALLOW and not capped
    reason = ""
    if identity.decision is Decision.DENY:
        reason = "identity-deny"
    elif res.decision is Decision.DENY:
        reason = "resource-deny"
    elif boundary is not None and boundary.decision is Decision.DENY:
        reason = "boundary-deny"
    elif cross:
        if not identity_ok:
            reason = "boundary" if identity.decision is Decision.ALLOW else "identity"
        elif res.decision is not Decision.ALLOW:
            reason = "resource"
    elif not identity_ok:
        # Same account: a resource policy may grant on its own, but a boundary still caps it
        # unless the grant names this very principal.
        resource_ok = res.decision is Decision.ALLOW and (
            boundary is None or boundary.decision is Decision.ALLOW or (
                caller.kind == "user" and explain_resource(
                    direct_grants(resource_policy, caller), caller, action, resource,
                    ctx).decision is Decision.ALLOW))
        if not resource_ok:
            reason = "boundary" if (identity.decision is Decision.ALLOW or res.decision
                                    is Decision.ALLOW) else "identity"
    if not reason:
        return AccessResult(True, identity=identity, resource=res, boundary=boundary)
    return AccessResult(False, denied_message(caller, action, resource, reason), reason,
                        identity=identity, resource=res, boundary=boundary)


def _names_account(entry: Any) -> bool:
    text = str(entry).strip()
    return bool(_ACCOUNT_RE.match(text) or re.match(r"^arn:aws[\w-]*:iam::\d{12}:root$", text))


def authorize_kms(caller: Caller, action: str, key_arn: str, *, key_account: str,
                  key_policy: Mapping[str, Any] | None,
                  extra_context: Mapping[str, Any] | None = None) -> AccessResult:
    """KMS's own rule: the key policy must allow, always. A key policy statement naming the
    principal itself (or ``*``) suffices within the key's account; one naming only the account
    (``:root``) delegates to IAM, so the caller's identity policy must allow too - as it must
    for any caller from another account."""
    general = authorize(caller, action, key_arn, resource_account=key_account,
                        resource_policy=key_policy, extra_context=extra_context,
                        resource_source="the key policy")
    if general.reason.endswith("-deny"):
        return general
    res = general.resource
    if res.decision is not Decision.ALLOW:
        return replace(general, allowed=False, reason="resource",
                       message=denied_message(caller, action, key_arn, "resource"))
    direct = {"Statement": [st for st in statements(key_policy) if not any(
        _names_account(e) for e in (_as_list(st["Principal"].get("AWS"))
                                    if isinstance(st.get("Principal"), Mapping)
                                    else _as_list(st.get("Principal"))))]}
    ctx = request_context(caller, extra_context)
    direct_ok = explain_resource(direct, caller, action, key_arn, ctx).decision \
        is Decision.ALLOW
    if key_account == caller.account_id and direct_ok:
        return replace(general, allowed=True, reason="", message="")
    identity_ok = general.identity.decision is Decision.ALLOW and (
        general.boundary is None or general.boundary.decision is Decision.ALLOW)
    if caller.is_root or identity_ok:
        return replace(general, allowed=True, reason="", message="")
    reason = "boundary" if general.identity.decision is Decision.ALLOW else "identity"
    return replace(general, allowed=False, reason=reason,
                   message=denied_message(caller, action, key_arn, reason))
