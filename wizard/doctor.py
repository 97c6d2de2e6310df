"""The doctor: follow the chain an analyst's federated query takes and say which link breaks.

Athena's cross-account errors are opaque; the cause sits in one of half a dozen documents in two
accounts. The doctor reads them (read-only calls only; it changes nothing), evaluates each with
:mod:`wizard.policy_eval` - the evaluator the sandbox enforces with - and reports every link with
its evidence and a fix. It needs no journal and no profile: from the catalog in B it finds the
function in A, from the function's environment its spill bucket, prefix and KMS key, and from
the principal its identity policies, groups and permissions boundary.

A link is ``broken`` only when the evidence shows the query would fail for that reason; links
that depend on a broken one are ``unknown`` so the report names the cause, not its echoes.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from wizard.aws import Account
from wizard.discovery import APPLICATION_ID, _version_key, sar_versions
from wizard.errors import WizardError
from wizard.plural import count
from wizard.policy_eval import (
    AccessResult,
    Caller,
    Decision,
    authorize,
    authorize_kms,
    parse_document,
)
from wizard.profile import DEFAULT_TEST_QUERY, SetupProfile
from wizard.query import QueryRunner
from wizard.steps.base import aws_call, concurrently, error_code
from wizard.steps.catalogs import catalog_function, read_catalog

Status = Literal["ok", "broken", "warning", "unknown"]
APPLY_FIX = "`xacct-wizard apply` repairs this"
DEFAULT_SPILL_PREFIX = "athena-federation-spill"  # the connector's default without spill_prefix
LINK_IDS = ("consumer-catalog", "catalog-function", "lambda-resource-policy", "identity-invoke",
            "identity-athena", "results-location", "spill-bucket-policy", "spill-write",
            "identity-spill", "spill-kms", "connector-version", "table-names", "test-query")
QUERY_ACTIONS = ("athena:StartQueryExecution", "athena:GetQueryExecution",
                 "athena:GetQueryResults")
KMS_FROM_CONNECTOR = "the connector's kms_key_id"
TABLES_SAMPLED = 20
ITEMS_SAMPLED = 25


@dataclass
class Link:
    """One link of the chain, as the contract's JSON has it."""

    id: str
    account: str
    resource: str
    status: Status
    message: str
    fix: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ConsumerReport:
    account: str  # "consumer:<id>"
    principal: str
    links: list[Link] = field(default_factory=list)
    query: Any = None  # wizard.query.QueryResult of the test query, when one ran

    @property
    def ok(self) -> bool:
        return not any(link.status == "broken" for link in self.links)

    def link(self, link_id: str) -> Link | None:
        return next((x for x in self.links if x.id == link_id), None)

    def to_json(self) -> dict[str, Any]:
        return {"account": self.account, "principal": self.principal,
                "links": [x.to_json() for x in self.links]}


@dataclass
class Report:
    consumers: list[ConsumerReport] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.consumers)

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "consumers": [c.to_json() for c in self.consumers]}


@dataclass
class Target:
    """One consumer to diagnose: who queries, through which catalog, from which account.

    ``admin`` reads B (the catalog, the principal's policies); ``query`` runs the test query as
    the principal when credentials for it are at hand. ``repairable`` says the setup has a
    profile whose apply would fix what it covers.
    """

    admin: Account
    principal_arn: str
    catalog_name: str
    workgroup: str = "primary"
    query_results: str = ""
    query: Callable[[], Account | None] | None = None
    test_query: str = ""
    repairable: bool = False
    max_rows: int | None = 10

    @property
    def account_id(self) -> str:
        return self.admin.account_id

    @property
    def key(self) -> str:
        return f"consumer:{self.account_id}"


# --------------------------------------------------------------------------- owner-side facts
@dataclass
class OwnerFacts:
    """What A holds for one function, read once however many consumers use it."""

    function_arn: str
    exists: bool = False
    error: str = ""
    env: dict[str, str] = field(default_factory=dict)
    role_arn: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    policy: dict[str, Any] | None = None
    spill_bucket: str = ""
    spill_prefix: str = ""
    bucket_state: str = ""  # "ok" | "missing" | "foreign" | "unreadable"
    bucket_policy: dict[str, Any] | None = None
    bucket_kms_key: str = ""
    kms_key: str = ""  # the customer key's ARN when spill uses one
    kms_key_source: str = ""
    kms_policy: dict[str, Any] | None = None
    kms_error: str = ""
    role_caller: Caller | None = None
    deployed_version: str = ""
    newest_version: str = ""
    version_error: str = ""
    upper_names: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)
    tables_error: str = ""


def _arn_parts(arn: str) -> tuple[str, str, str]:
    """(region, account, function name) of a Lambda function ARN (or a bare name)."""
    m = re.match(r"^arn:aws[\w-]*:lambda:([\w-]+):(\d{12}):function:([^:]+)", arn)
    if m:
        return m.group(1), m.group(2), m.group(3)
    return "", "", arn


def _try(fn: Callable[[], Any], missing: tuple[str, ...] = ()) -> tuple[Any, str]:
    """(answer, "") or (None, "missing") when the error code says so, else (None, message)."""
    try:
        return fn(), ""
    except WizardError as exc:
        if error_code(exc) in missing:
            return None, "missing"
        return None, str(exc)


class OwnerReader:
    """Reads A's side of the chain for a function, once per function (thread-safe cache)."""

    def __init__(self, owner: Account, profile: SetupProfile | None) -> None:
        self.owner = owner
        self.profile = profile
        self._lock = threading.Lock()
        self._futures: dict[str, Future[OwnerFacts]] = {}
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="doctor-owner")
        self._shared: dict[str, Future[Any]] = {}

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def facts(self, function_arn: str) -> Future[OwnerFacts]:
        with self._lock:
            if function_arn not in self._futures:
                self._futures[function_arn] = self._pool.submit(self._read, function_arn)
            return self._futures[function_arn]

    def _once(self, key: str, fn: Callable[[], Any]) -> Any:
        """``fn()`` once per key whoever asks first; computed in the asking thread (never
        queued on the pool, which may be busy with the very callers that wait)."""
        with self._lock:
            fut = self._shared.get(key)
            mine = fut is None
            if mine:
                fut = self._shared[key] = Future()
        assert fut is not None
        if mine:
            try:
                fut.set_result(fn())
            except BaseException as exc:
                fut.set_exception(exc)
        return fut.result()

    def _call(self, service: str, op: str, **kw: Any) -> Any:
        return aws_call(self.owner, service, op, **kw)

    def _read(self, function_arn: str) -> OwnerFacts:
        f = OwnerFacts(function_arn)
        ans, err = _try(lambda: self._call("lambda", "get_function", FunctionName=function_arn),
                        ("ResourceNotFoundException",))
        if ans is None:
            f.error = "" if err == "missing" else err
            f.tables, f.upper_names, f.tables_error = self._sample_tables()
        else:
            f.exists = True
            conf = ans.get("Configuration", {})
            f.env = {str(k): str(v) for k, v in
                     (conf.get("Environment") or {}).get("Variables", {}).items()}
            f.role_arn = str(conf.get("Role", ""))
            f.tags = {str(k): str(v) for k, v in (ans.get("Tags") or {}).items()}
            f.spill_bucket = f.env.get("spill_bucket", "")
            f.spill_prefix = f.env.get("spill_prefix", DEFAULT_SPILL_PREFIX)

            def policy() -> None:
                pol, _ = _try(lambda: self._call("lambda", "get_policy",
                                                 FunctionName=function_arn),
                              ("ResourceNotFoundException",))
                f.policy = parse_document(pol.get("Policy")) if pol else None

            def spill() -> None:
                self._read_bucket(f)
                self._read_kms(f)

            def role() -> None:
                f.role_caller = self._role_caller(f.role_arn)

            def version() -> None:
                f.deployed_version = self._deployed_version(f)
                if f.deployed_version:  # only a SAR deployment has a newest version
                    f.newest_version, f.version_error = self._newest_version()

            def tables() -> None:
                f.tables, f.upper_names, f.tables_error = self._sample_tables()

            _together(policy, spill, role, version, tables)
        return f

    def _read_bucket(self, f: OwnerFacts) -> None:
        if not f.spill_bucket or "*" in f.spill_bucket:
            return
        _, err = _try(lambda: self._call("s3", "head_bucket", Bucket=f.spill_bucket,
                                         ExpectedBucketOwner=self.owner.account_id),
                      ("404", "NoSuchBucket", "NotFound"))
        if err == "missing":
            f.bucket_state = "missing"
            return
        if err:
            f.bucket_state = "foreign" if ("403" in err or "Forbidden" in err
                                           or "AccessDenied" in err) else "unreadable"
            return
        # The owner's own bucket list says whose bucket it is (emulators ignore
        # ExpectedBucketOwner; AWS honours both).
        own, _ = _try(lambda: self._once("buckets", lambda: aws_call(
            self.owner, "s3", "list_buckets")))
        if own is not None and f.spill_bucket not in {b.get("Name") for b in
                                                      own.get("Buckets", [])}:
            f.bucket_state = "foreign"
            return
        f.bucket_state = "ok"
        pol, err = _try(lambda: self._call("s3", "get_bucket_policy", Bucket=f.spill_bucket),
                        ("NoSuchBucketPolicy",))
        f.bucket_policy = parse_document(pol.get("Policy")) if pol else None
        enc, _ = _try(lambda: self._call("s3", "get_bucket_encryption", Bucket=f.spill_bucket))
        for rule in ((enc or {}).get("ServerSideEncryptionConfiguration") or {}).get("Rules", []):
            default = rule.get("ApplyServerSideEncryptionByDefault") or {}
            if default.get("SSEAlgorithm", "").startswith("aws:kms"):
                f.bucket_kms_key = str(default.get("KMSMasterKeyID") or "alias/aws/s3")

    def _read_kms(self, f: OwnerFacts) -> None:
        disabled = f.env.get("disable_spill_encryption", "false").lower() == "true"
        candidates = []
        if f.bucket_kms_key:
            candidates.append((f.bucket_kms_key, "the spill bucket's default encryption"))
        if f.env.get("kms_key_id") and not disabled:
            candidates.append((f.env["kms_key_id"], KMS_FROM_CONNECTOR))
        for key, source in candidates:
            meta, err = _try(lambda k=key: self._call("kms", "describe_key", KeyId=k))
            if meta is None:
                f.kms_key, f.kms_key_source, f.kms_error = key, source, err
                return
            km = meta["KeyMetadata"]
            if km.get("KeyManager") == "AWS":
                continue  # an AWS managed key: no key policy of ours to check
            f.kms_key, f.kms_key_source = str(km["Arn"]), source
            pol, err = _try(lambda k=str(km["Arn"]): self._call(
                "kms", "get_key_policy", KeyId=k, PolicyName="default"))
            f.kms_policy = parse_document(pol.get("Policy")) if pol else None
            f.kms_error = err
            return

    def _role_caller(self, role_arn: str) -> Caller | None:
        """The connector's execution role, for the checks of what the connector itself does."""
        name = role_arn.rsplit("/", 1)[-1]
        if not name:
            return None
        try:
            docs, sources, boundary, bname = _role_documents(self.owner, name)
        except WizardError:
            return None
        return Caller(self.owner.account_id, role_arn,
                      f"arn:aws:sts::{self.owner.account_id}:assumed-role/{name}/connector",
                      "role", name, tuple(docs), boundary, "", tuple(sources), bname)

    def _deployed_version(self, f: OwnerFacts) -> str:
        version = f.tags.get("serverlessrepo:semanticVersion", "")
        if version:
            return version
        names = [f.tags.get("aws:cloudformation:stack-name", "")]
        if self.profile is not None:
            names.append(self.profile.connector.deployed_stack_name)
        names.append("serverlessrepo-" + _arn_parts(f.function_arn)[2].replace("_", "-"))
        for name in dict.fromkeys(n for n in names if n):
            ans, _ = _try(lambda n=name: self._call("cloudformation", "describe_stacks",
                                                    StackName=n))
            for stack in (ans or {}).get("Stacks", []):
                tags = {t["Key"]: t["Value"] for t in stack.get("Tags", [])}
                if tags.get("serverlessrepo:semanticVersion"):
                    return tags["serverlessrepo:semanticVersion"]
        return ""

    def _newest_version(self) -> tuple[str, str]:
        try:
            versions = self._once("sar", lambda: sar_versions(self.owner, APPLICATION_ID))
        except WizardError as exc:
            return "", str(exc)
        return (versions[0] if versions else ""), ""

    def _sample_tables(self) -> tuple[list[str], list[str], str]:
        """DynamoDB table and attribute names with upper-case letters, which Athena's lower-case
        identifiers cannot reach (a small sample: DescribeTable plus a short Scan)."""
        return self._once("tables", self._read_tables)

    def _read_tables(self) -> tuple[list[str], list[str], str]:
        try:
            names = aws_call(self.owner, "dynamodb", "list_tables",
                             Limit=TABLES_SAMPLED).get("TableNames", [])
        except WizardError as exc:
            return [], [], str(exc)
        upper: list[str] = []

        def sample(table: str) -> list[str]:
            found = [f"table {table}"] if table != table.lower() else []
            attrs: set[str] = set()
            desc, _ = _try(lambda: aws_call(self.owner, "dynamodb", "describe_table",
                                            TableName=table))
            for a in ((desc or {}).get("Table") or {}).get("AttributeDefinitions", []):
                attrs.add(str(a.get("AttributeName", "")))
            scan, _ = _try(lambda: aws_call(self.owner, "dynamodb", "scan", TableName=table,
                                            Limit=ITEMS_SAMPLED))
            for item in (scan or {}).get("Items", []):
                attrs.update(str(k) for k in item)
            found += [f"column {table}.{a}" for a in sorted(attrs) if a != a.lower()]
            return found

        for found in concurrently(list(names), sample, "doctor-tables", 8):
            upper.extend(found)
        return list(names), upper, ""


Docs = tuple[list[dict[str, Any]], list[str], dict[str, Any] | None, str]


def _together(*fns: Callable[[], Any]) -> list[Any]:
    """Independent reads at once: on AWS each waits on the network, not on the CPU."""
    return concurrently(list(fns), lambda fn: fn(), "doctor-read", len(fns))


def _inline(account: Account, kind: str, name: str, label: str) -> list[tuple[str, Any]]:
    """(source, document) of an IAM entity's inline policies, fetched at once."""
    cap = kind.capitalize()
    names = _pages(account, f"list_{kind}_policies", "PolicyNames", **{f"{cap}Name": name})

    def one(pname: str) -> tuple[str, Any]:
        doc = aws_call(account, "iam", f"get_{kind}_policy", **{f"{cap}Name": name},
                       PolicyName=pname)
        return f"inline policy {pname} of {label}", parse_document(doc.get("PolicyDocument"))

    return concurrently(names, one, "doctor-read", 8)


def _attached(account: Account, kind: str, name: str, suffix: str = ""
              ) -> list[tuple[str, Any]]:
    cap = kind.capitalize()
    arns = [a["PolicyArn"] for a in _pages(account, f"list_attached_{kind}_policies",
                                           "AttachedPolicies", **{f"{cap}Name": name})]
    return concurrently(arns, lambda arn: (f"managed policy {arn}{suffix}",
                                           _managed(account, arn)), "doctor-read", 8)


def _documents(entity: dict[str, Any], parts: list[list[tuple[str, Any]]],
               account: Account) -> Docs:
    pairs = [pair for part in parts for pair in part]
    boundary_arn = (entity.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn", "")
    boundary = (_managed(account, boundary_arn) or {"Statement": []}) if boundary_arn else None
    return ([d or {} for _, d in pairs], [n for n, _ in pairs], boundary,
            f"permissions boundary {boundary_arn}" if boundary_arn else "")


def _role_documents(account: Account, name: str) -> Docs:
    role, inline, attached = _together(
        lambda: aws_call(account, "iam", "get_role", RoleName=name)["Role"],
        lambda: _inline(account, "role", name, f"role {name}"),
        lambda: _attached(account, "role", name))
    return _documents(role, [inline, attached], account)


def _user_documents(account: Account, name: str) -> Docs:
    def groups() -> list[tuple[str, Any]]:
        names = [g["GroupName"] for g in _pages(account, "list_groups_for_user", "Groups",
                                                UserName=name)]

        def one(g: str) -> list[tuple[str, Any]]:
            inline, attached = _together(
                lambda: _inline(account, "group", g, f"group {g}"),
                lambda: _attached(account, "group", g, f" (group {g})"))
            return [*inline, *attached]

        return [pair for part in concurrently(names, one, "doctor-read", 8) for pair in part]

    user, inline, attached, grouped = _together(
        lambda: aws_call(account, "iam", "get_user", UserName=name)["User"],
        lambda: _inline(account, "user", name, f"user {name}"),
        lambda: _attached(account, "user", name), groups)
    return _documents(user, [inline, attached, grouped], account)


def _pages(account: Account, op: str, key: str, **kw: Any) -> list[Any]:
    out: list[Any] = []
    marker: str | None = None
    while True:
        args = dict(kw, Marker=marker) if marker else kw
        ans = aws_call(account, "iam", op, **args)
        out.extend(ans.get(key, []))
        if not ans.get("IsTruncated"):
            return out
        marker = ans.get("Marker")


def _managed(account: Account, arn: str) -> dict[str, Any] | None:
    pol = aws_call(account, "iam", "get_policy", PolicyArn=arn)["Policy"]
    ver = aws_call(account, "iam", "get_policy_version", PolicyArn=arn,
                   VersionId=pol["DefaultVersionId"])
    return parse_document(ver["PolicyVersion"].get("Document"))


def read_principal(admin: Account, principal_arn: str) -> Caller:
    """The principal as IAM sees it, with every identity policy that applies to it."""
    kind = principal_arn.split(":", 5)[-1].split("/", 1)[0]
    name = principal_arn.rsplit("/", 1)[-1]
    if kind not in ("role", "user"):
        raise WizardError(f"{principal_arn} is neither an IAM user nor an IAM role.")
    display = (f"arn:aws:sts::{admin.account_id}:assumed-role/{name}/xacct-wizard-doctor"
               if kind == "role" else principal_arn)

    read = _role_documents if kind == "role" else _user_documents
    docs, sources, boundary, bname = read(admin, name)
    return Caller(admin.account_id, principal_arn, display, kind, name, tuple(docs), boundary,
                  "", tuple(sources), bname)


def with_organization(caller: Caller, admin: Account, *documents: Any) -> Caller:
    """The caller with its aws:PrincipalOrgID, looked up only when a policy in play tests it
    (one call per consumer account saved otherwise)."""
    texts = [json.dumps(d) for d in (*caller.documents, caller.boundary, *documents) if d]
    if not any("principalorgid" in t.lower() for t in texts):
        return caller
    ans, _ = _try(lambda: aws_call(admin, "organizations", "describe_organization"))
    org = str((ans or {}).get("Organization", {}).get("Id", ""))
    return replace(caller, org_id=org) if org else caller


# --------------------------------------------------------------------------- the chain
def _via_athena() -> dict[str, Any]:
    """Condition keys on calls Athena makes with the caller's credentials."""
    return {"aws:CalledVia": ["athena.amazonaws.com"],
            "aws:CalledViaFirst": "athena.amazonaws.com"}


def _identity_side(result: AccessResult) -> tuple[bool, str]:
    """(does the caller's own side allow it, the evidence) from an authorize() answer."""
    ident, boundary = result.identity, result.boundary
    if ident.decision is Decision.DENY:
        return False, f"explicit Deny: {ident.describe()}"
    if boundary is not None and boundary.decision is Decision.DENY:
        return False, f"explicit Deny: {boundary.describe()}"
    if ident.decision is not Decision.ALLOW:
        return False, "no identity policy allows it (no statement matches)"
    if boundary is not None and boundary.decision is not Decision.ALLOW:
        return False, (f"{ident.describe()}, but its permissions boundary does not allow it "
                       "(no boundary statement matches)")
    return True, ident.describe() + (f"; {boundary.describe()}" if boundary else "")


def _resource_side(result: AccessResult, what: str) -> tuple[bool, str]:
    res = result.resource
    if res.decision is Decision.DENY:
        return False, f"explicit Deny: {res.describe()}"
    if res.decision is not Decision.ALLOW:
        return False, f"no statement of the {what} names this principal for it"
    return True, res.describe()


class Diagnosis:
    """The links for one consumer (one principal, one catalog)."""

    def __init__(self, doctor: Doctor, target: Target) -> None:
        self.d = doctor
        self.t = target
        self.region = target.admin.region
        self.report = ConsumerReport(target.key, target.principal_arn)
        self.caller: Caller | None = None
        self.caller_error = ""
        self.principal_missing = False
        self.workgroup: dict[str, Any] | None = None
        self.workgroup_error = ""
        self._cache: dict[str, Any] = {}

    def add(self, link_id: str, account: str, resource: str, status: Status, message: str,
            fix: str = "") -> Link:
        link = Link(link_id, account, resource, status, message, fix if status != "ok" else "")
        self.report.links.append(link)
        return link

    def fix(self, covered: bool, command: str) -> str:
        return APPLY_FIX if covered and self.t.repairable else command

    def unknown(self, link_id: str, account: str, resource: str, why: str) -> None:
        self.add(link_id, account, resource, "unknown", why)

    # ------------------------------------------------------------------ run
    def run(self) -> ConsumerReport:
        t = self.t
        b = t.key
        # The principal's documents are read while A's side is read in the owner pool.
        catalog, err = _try(lambda: read_catalog(t.admin, t.catalog_name))
        catalog_arn = f"arn:aws:athena:{self.region}:{t.account_id}:datacatalog/{t.catalog_name}"
        function_arn = catalog_function(catalog) if catalog else None
        if function_arn and not function_arn.startswith("arn:"):
            # A bare name is a function of the catalog's own account and region.
            function_arn = f"arn:aws:lambda:{self.region}:{t.account_id}:function:{function_arn}"
        region, account, _ = _arn_parts(function_arn or "")
        in_owner = region == self.region and account == self.d.owner.account_id
        facts_future = self.d.owner_reader.facts(function_arn) \
            if function_arn and in_owner else None

        def principal() -> None:
            try:
                self.caller = read_principal(t.admin, t.principal_arn)
            except WizardError as exc:
                self.caller_error = str(exc)
                self.principal_missing = error_code(exc) == "NoSuchEntity"

        _together(principal, self._prefetch_consumer_side)
        facts = facts_future.result() if facts_future else None
        if self.caller is not None:
            results = [p for _, p in self._cache.values()]
            self.caller = with_organization(
                self.caller, t.admin, *results,
                *((facts.policy, facts.bucket_policy, facts.kms_policy) if facts else ()))

        # consumer-catalog
        create = (f"aws athena create-data-catalog --name {t.catalog_name} --type LAMBDA "
                  f"--parameters function=arn:aws:lambda:{self.region}:"
                  f"{self.d.owner.account_id}:function:NAME --region {self.region}")
        if err:
            self.add("consumer-catalog", b, catalog_arn, "unknown",
                     f"Cannot read the catalog: {err}")
        elif catalog is None:
            self.add("consumer-catalog", b, catalog_arn, "broken",
                     f"There is no Athena data catalog {t.catalog_name!r} in {t.account_id} "
                     f"({self.region}): the analyst's query names a catalog that does not exist.",
                     self.fix(True, create))
        elif str(catalog.get("Type", "")).upper() != "LAMBDA":
            self.add("consumer-catalog", b, catalog_arn, "broken",
                     f"Catalog {t.catalog_name!r} is of type {catalog.get('Type')}, not LAMBDA: "
                     "it does not reach the connector.", self.fix(False, create))
        elif not function_arn:
            self.add("consumer-catalog", b, catalog_arn, "broken",
                     f"Catalog {t.catalog_name!r} is LAMBDA but names no function.",
                     self.fix(True, create))
        else:
            self.add("consumer-catalog", b, catalog_arn, "ok",
                     f"Catalog {t.catalog_name!r} exists, type LAMBDA, function {function_arn}.")

        fn_ok = self._catalog_function(function_arn, facts)
        self._invoke(function_arn, facts if fn_ok else None, fn_ok)
        self._athena(catalog_arn)
        self._results()
        self._spill(facts if fn_ok else None)
        self._version(facts if fn_ok else None)
        self._tables(facts if fn_ok else None)
        self._test_query(facts)
        return self.report

    # ------------------------------------------------------------------ links
    def _catalog_function(self, function_arn: str | None, facts: OwnerFacts | None) -> bool:
        a = "owner"
        if not function_arn:
            self.unknown("catalog-function", a, "", "No function to check: see consumer-catalog.")
            return False
        region, account, name = _arn_parts(function_arn)
        owner_id = self.d.owner.account_id
        repoint = (f"aws athena update-data-catalog --name {self.t.catalog_name} --type LAMBDA "
                   f"--parameters function=arn:aws:lambda:{self.region}:{owner_id}:function:NAME "
                   f"--region {self.region}")
        if region and region != self.region:
            self.add("catalog-function", a, function_arn, "broken",
                     f"The catalog in {self.region} names a function in {region}: Athena does not "
                     "federate across regions.", self.fix(True, repoint))
            return False
        if account and account != owner_id:
            self.add("catalog-function", a, function_arn, "broken",
                     f"The catalog names a function in account {account}, not in the owner "
                     f"account {owner_id}.", self.fix(True, repoint))
            return False
        if facts is None:
            self.add("catalog-function", a, function_arn, "broken",
                     f"{function_arn!r} is not a Lambda function ARN.", self.fix(True, repoint))
            return False
        if not facts.exists:
            if facts.error:
                self.add("catalog-function", a, function_arn, "unknown",
                         f"Cannot read the function: {facts.error}")
                return False
            self.add("catalog-function", a, function_arn, "broken",
                     f"Function {name} does not exist in {owner_id} ({self.region}): the "
                     "connector was deleted or never deployed, or the catalog names it wrongly.",
                     self.fix(True, repoint))
            return False
        self.add("catalog-function", a, function_arn, "ok",
                 f"Function {name} exists in {owner_id} ({self.region}); spill bucket "
                 f"{facts.spill_bucket or '(none)'}, prefix {facts.spill_prefix}.")
        return True

    def _principal_missing(self, link_id: str, account: str, resource: str) -> bool:
        if self.caller is not None:
            return False
        self.unknown(link_id, account, resource, f"Cannot read the principal's policies: "
                     f"{self.caller_error}")
        return True

    def _invoke(self, function_arn: str | None, facts: OwnerFacts | None, fn_ok: bool) -> None:
        a, b, p = "owner", self.t.key, self.t.principal_arn
        if not fn_ok or not function_arn or facts is None:
            self.unknown("lambda-resource-policy", a, function_arn or "",
                         "No function to check: see catalog-function.")
            self.unknown("identity-invoke", b, p, "No function to check: see catalog-function.")
            return
        if self._principal_missing("lambda-resource-policy", a, function_arn):
            if self.principal_missing:
                kind = "role" if ":role/" in p else "user"
                self.add("identity-invoke", b, p, "broken",
                         f"The principal {p} does not exist in {self.t.account_id}: nobody can "
                         "query as it.",
                         self.fix(False, f"aws iam create-{kind} --{kind}-name "
                                  f"{p.rsplit('/', 1)[-1]}" + (" --assume-role-policy-document "
                                                               "file://trust.json"
                                                               if kind == "role" else "")))
            else:
                self.unknown("identity-invoke", b, p, f"Cannot read the principal's policies: "
                             f"{self.caller_error}")
            return
        assert self.caller is not None
        result = authorize(self.caller, "lambda:InvokeFunction", function_arn,
                           resource_account=self.d.owner.account_id,
                           resource_policy=facts.policy, extra_context=_via_athena(),
                           resource_source="the function's resource policy")
        ok, why = _resource_side(result, "function's resource policy")
        name = _arn_parts(function_arn)[2]
        if facts.policy is None:
            ok, why = False, "the function has no resource policy at all"
        self.add("lambda-resource-policy", a, function_arn, "ok" if ok else "broken",
                 (f"lambda:InvokeFunction by {p}: {why}." if ok else
                  f"The function's resource policy does not let {p} invoke it: {why}."),
                 self.fix(result.resource.decision is not Decision.DENY,
                          f"aws lambda add-permission --function-name {name} --statement-id "
                          f"Invoke{self.t.account_id} --action lambda:InvokeFunction "
                          f"--principal {p} --region {self.region}"))
        ok, why = _identity_side(result)
        self.add("identity-invoke", b, p, "ok" if ok else "broken",
                 (f"lambda:InvokeFunction on {function_arn}: {why}." if ok else
                  f"{p} may not invoke {function_arn}: {why}."),
                 self._identity_fix(result, "lambda:InvokeFunction", function_arn))

    def _identity_fix(self, result: AccessResult, actions: str, resource: str) -> str:
        """Apply can add grants but never removes someone's Deny or widens a boundary."""
        ident, boundary = result.identity, result.boundary
        if ident.decision is Decision.DENY:
            return (f"Remove or narrow the Deny ({ident.describe()}); xacct-wizard will not "
                    "remove another's Deny.")
        if boundary is not None and boundary.decision is not Decision.ALLOW:
            name = self.caller.boundary_name if self.caller else "permissions boundary"
            return f"Let the {name} allow {actions} on {resource}."
        kind = "role" if self.t.principal_arn.split(":", 5)[-1].startswith("role/") else "user"
        name = self.t.principal_arn.rsplit("/", 1)[-1]
        doc = json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": actions.split(","), "Resource": resource}]})
        return self.fix(True, f"aws iam put-{kind}-policy --{kind}-name {name} --policy-name "
                              f"AthenaFederation --policy-document '{doc}'")

    def _athena(self, catalog_arn: str) -> None:
        b, p = self.t.key, self.t.principal_arn
        wg_arn = f"arn:aws:athena:{self.region}:{self.t.account_id}:workgroup/{self.t.workgroup}"
        if self.workgroup_error == "missing":
            self.add("identity-athena", b, wg_arn, "broken",
                     f"Workgroup {self.t.workgroup} does not exist in {self.t.account_id}.",
                     f"aws athena create-work-group --name {self.t.workgroup}")
            return
        if self.workgroup and str(self.workgroup.get("State", "ENABLED")) == "DISABLED":
            self.add("identity-athena", b, wg_arn, "broken",
                     f"Workgroup {self.t.workgroup} is disabled: Athena refuses its queries.",
                     f"aws athena update-work-group --work-group {self.t.workgroup} "
                     "--state ENABLED")
            return
        if self._principal_missing("identity-athena", b, wg_arn):
            return
        assert self.caller is not None
        for action in QUERY_ACTIONS:
            result = authorize(self.caller, action, wg_arn, resource_account=self.t.account_id)
            if not result.allowed:
                _, why = _identity_side(result)
                self.add("identity-athena", b, wg_arn, "broken",
                         f"{p} may not call {action} in workgroup {self.t.workgroup}: {why}.",
                         self._identity_fix(result, ",".join(QUERY_ACTIONS), wg_arn))
                return
        result = authorize(self.caller, "athena:GetDataCatalog", catalog_arn,
                           resource_account=self.t.account_id)
        first = authorize(self.caller, QUERY_ACTIONS[0], wg_arn,
                          resource_account=self.t.account_id)
        if not result.allowed:
            _, why = _identity_side(result)
            self.add("identity-athena", b, wg_arn, "warning",
                     f"Queries in workgroup {self.t.workgroup} are allowed "
                     f"({first.identity.describe()}), but athena:GetDataCatalog on "
                     f"{catalog_arn} is not ({why}): the console cannot list the catalog.",
                     self._identity_fix(result, "athena:GetDataCatalog", catalog_arn))
            return
        self.add("identity-athena", b, wg_arn, "ok",
                 f"Queries in workgroup {self.t.workgroup}: {first.identity.describe()}; "
                 f"catalog: {result.identity.describe()}.")

    def _output_location(self) -> str:
        """Where Athena writes results: the workgroup's when it enforces its settings, else
        the one the queries pass (the profile's), else the workgroup's."""
        conf = (self.workgroup or {}).get("Configuration") or {}
        own = str((conf.get("ResultConfiguration") or {}).get("OutputLocation") or "")
        if own and conf.get("EnforceWorkGroupConfiguration"):
            return own
        return self.t.query_results or own

    def _read_workgroup(self) -> None:
        wg, err = _try(lambda: aws_call(self.t.admin, "athena", "get_work_group",
                                        WorkGroup=self.t.workgroup),
                       ("InvalidRequestException", "ResourceNotFoundException"))
        self.workgroup = (wg or {}).get("WorkGroup")
        self.workgroup_error = err

    def _results_bucket(self, bucket: str) -> tuple[str, dict[str, Any] | None]:
        """("missing" | an error | "", the bucket policy) of the results bucket, read once."""
        key = f"results:{bucket}"
        if key not in self._cache:
            _, err = _try(lambda: aws_call(self.t.admin, "s3", "head_bucket", Bucket=bucket),
                          ("404", "NoSuchBucket", "NotFound"))
            policy = None
            if not err:
                pol, _ = _try(lambda: aws_call(self.t.admin, "s3", "get_bucket_policy",
                                               Bucket=bucket), ("NoSuchBucketPolicy",))
                policy = parse_document(pol.get("Policy")) if pol else None
            self._cache[key] = (err, policy)
        return self._cache[key]

    def _prefetch_consumer_side(self) -> None:
        """The workgroup, then the results bucket it points at (while the principal is read)."""
        self._read_workgroup()
        m = re.match(r"^s3://([^/]+)", self._output_location())
        if m:
            self._results_bucket(m.group(1))

    def _results(self) -> None:
        b, p = self.t.key, self.t.principal_arn
        output = self._output_location()
        if not output:
            # Each client may still pass its own location: not a proof the query fails.
            self.add("results-location", b, "", "unknown",
                     f"Workgroup {self.t.workgroup} has no query results location and none was "
                     "given (--query-results): queries must pass their own.",
                     f"aws athena update-work-group --work-group {self.t.workgroup} "
                     "--configuration-updates ResultConfigurationUpdates={OutputLocation="
                     "s3://BUCKET/PREFIX/}")
            return
        m = re.match(r"^s3://([^/]+)/?(.*)$", output)
        if not m:
            self.add("results-location", b, output, "broken",
                     f"{output} is not an s3:// location.", "Give s3://BUCKET/PREFIX/.")
            return
        bucket, prefix = m.group(1), m.group(2)
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        key_arn = f"arn:aws:s3:::{bucket}/{prefix}xacct-wizard-doctor.csv"
        if self._principal_missing("results-location", b, output):
            return
        assert self.caller is not None
        err, policy = self._results_bucket(bucket)
        if err == "missing":
            self.add("results-location", b, output, "broken",
                     f"The results bucket {bucket} does not exist: Athena cannot write the "
                     "query's results.", f"aws s3 mb s3://{bucket} --region {self.region}")
            return
        owner = "" if err else self.t.account_id  # another account's: its policy unread
        result = authorize(self.caller, "s3:PutObject", key_arn,
                           resource_account=owner or "other", resource_policy=policy,
                           extra_context=_via_athena())
        if result.allowed or (not owner and _identity_side(result)[0]):
            ok_why = _identity_side(result)[1]
            if not owner:
                self.add("results-location", b, output, "warning",
                         f"s3:PutObject on {output}: {ok_why}; the bucket belongs to another "
                         "account, whose bucket policy the doctor cannot read.")
            else:
                why = ok_why if result.identity.decision is Decision.ALLOW else \
                    result.resource.describe()
                self.add("results-location", b, output, "ok", f"s3:PutObject on {output}: {why}.")
            return
        why = (f"explicit Deny: {result.resource.describe()}"
               if result.reason == "resource-deny" else _identity_side(result)[1])
        self.add("results-location", b, output, "broken",
                 f"{p} may not write query results to {output}: {why}.",
                 self._identity_fix(result, "s3:PutObject,s3:GetObject",
                                    f"arn:aws:s3:::{bucket}/{prefix}*")
                 if result.reason != "resource-deny" else
                 f"Remove the Deny from the bucket policy of {bucket}.")

    def _spill(self, facts: OwnerFacts | None) -> None:
        a, b, p = "owner", self.t.key, self.t.principal_arn
        if facts is None:
            for link_id, acct in (("spill-bucket-policy", a), ("spill-write", a),
                                  ("identity-spill", b), ("spill-kms", a)):
                self.unknown(link_id, acct, "", "No function to check: see catalog-function.")
            return
        bucket = facts.spill_bucket
        prefix = facts.spill_prefix.strip("/")
        location = f"s3://{bucket}/{prefix}/" if prefix else f"s3://{bucket}/"
        obj = f"arn:aws:s3:::{bucket}/{prefix}/xacct-wizard-doctor" if prefix else \
            f"arn:aws:s3:::{bucket}/xacct-wizard-doctor"
        fn = _arn_parts(facts.function_arn)[2]
        problem = ""
        if not bucket:
            # Not proof of failure: a connector other than the DynamoDB one may name its spill
            # location differently, and small results never spill.
            self.add("spill-bucket-policy", a, "", "warning",
                     f"Function {fn} has no spill_bucket environment variable: if it is the "
                     "DynamoDB connector, results too large for Lambda's response fail.",
                     f"aws lambda update-function-configuration --function-name {fn} "
                     "--environment Variables={spill_bucket=BUCKET,spill_prefix=PREFIX}")
            for link_id, acct in (("spill-write", a), ("identity-spill", b), ("spill-kms", a)):
                self.unknown(link_id, acct, "", "No spill bucket: see spill-bucket-policy.")
            return
        if "*" in bucket:
            problem = (f"The connector's spill_bucket is {bucket!r} (SpillBucket set to a "
                       "wildcard): it names no bucket the connector can write to.")
        elif facts.bucket_state == "missing":
            problem = f"The spill bucket {bucket} does not exist."
        elif facts.bucket_state == "foreign":
            problem = (f"The spill bucket {bucket} is not in the owner account: the connector "
                       "only spills to a bucket of its own account.")
        if problem:
            self.add("spill-bucket-policy", a, location, "broken", problem,
                     f"aws lambda update-function-configuration --function-name {fn} "
                     "--environment Variables={spill_bucket=BUCKET,...} (or redeploy the "
                     "connector with SpillBucket=BUCKET)")
            for link_id, acct in (("spill-write", a), ("identity-spill", b), ("spill-kms", a)):
                self.unknown(link_id, acct, location, "No spill bucket: see spill-bucket-policy.")
            return
        if facts.bucket_state == "unreadable":
            self.unknown("spill-bucket-policy", a, location, "Cannot read the spill bucket.")
        elif self._principal_missing("spill-bucket-policy", a, location):
            pass
        else:
            assert self.caller is not None
            result = authorize(self.caller, "s3:GetObject", obj,
                               resource_account=self.d.owner.account_id,
                               resource_policy=facts.bucket_policy,
                               extra_context={**_via_athena(), "s3:prefix": prefix},
                               resource_source=f"the bucket policy of {bucket}")
            ok, why = _resource_side(result, f"bucket policy of {bucket}")
            if facts.bucket_policy is None:
                ok, why = False, "the bucket has no bucket policy"
            grant = json.dumps({"Effect": "Allow", "Principal": {"AWS": p},
                                "Action": ["s3:GetObject", "s3:ListBucket"],
                                "Resource": [f"arn:aws:s3:::{bucket}",
                                             f"arn:aws:s3:::{bucket}/*"]})
            self.add("spill-bucket-policy", a, location, "ok" if ok else "broken",
                     (f"s3:GetObject on {location} by {p}: {why}." if ok else
                      f"The spill bucket policy does not let {p} read {location}: {why}. "
                      "Queries whose results spill fail with Access Denied."),
                     self.fix(result.resource.decision is not Decision.DENY,
                              f"add to the bucket policy of {bucket}: {grant}"))
            ok, why = _identity_side(result)
            self.add("identity-spill", b, p, "ok" if ok else "broken",
                     (f"s3:GetObject on {location}: {why}." if ok else
                      f"{p} may not read the spill location {location}: {why}."),
                     self._identity_fix(result, "s3:GetObject,s3:ListBucket",
                                        obj.rsplit("/", 1)[0] + "/*"))
        self._spill_write(facts, bucket, obj, location)
        self._spill_kms(facts)

    def _spill_write(self, facts: OwnerFacts, bucket: str, obj: str, location: str) -> None:
        """The connector itself writes spill objects without an SSE header (it encrypts them
        client-side): a bucket policy that demands SSE makes every spill fail."""
        if facts.role_caller is None:
            self.unknown("spill-write", "owner", location,
                         f"Cannot read the connector's execution role {facts.role_arn}.")
            return
        result = authorize(facts.role_caller, "s3:PutObject", obj,
                           resource_account=self.d.owner.account_id,
                           resource_policy=facts.bucket_policy,
                           resource_source=f"the bucket policy of {bucket}")
        if result.reason == "resource-deny":
            self.add("spill-write", "owner", location, "broken",
                     f"The connector cannot write spill objects: explicit Deny: "
                     f"{result.resource.describe()} (the connector sends no "
                     "x-amz-server-side-encryption header; it encrypts spill data itself).",
                     f"Drop that Deny from the bucket policy of {bucket}, or make "
                     "default bucket encryption do the job instead of a Deny.")
        elif result.reason.endswith("-deny"):
            self.add("spill-write", "owner", location, "broken",
                     f"The connector's role may not write spill objects: "
                     f"{_identity_side(result)[1]}.", "Remove that Deny from the connector's role.")
        else:
            self.add("spill-write", "owner", location, "ok",
                     "No Deny stops the connector writing spill objects.")

    def _spill_kms(self, facts: OwnerFacts) -> None:
        a = "owner"
        if not facts.kms_key:
            self.add("spill-kms", a, "", "ok",
                     "not used: spill data is not encrypted with a customer managed KMS key.")
            return
        key = facts.kms_key
        if facts.kms_error and facts.kms_policy is None:
            self.add("spill-kms", a, key, "unknown",
                     f"Spill uses {key} ({facts.kms_key_source}), which cannot be read: "
                     f"{facts.kms_error}")
            return
        if facts.kms_key_source == KMS_FROM_CONNECTOR and facts.role_caller is not None:
            # The connector asks KMS for a data key per spill, as its own role.
            gen = authorize_kms(facts.role_caller, "kms:GenerateDataKey", key,
                                key_account=self.d.owner.account_id, key_policy=facts.kms_policy)
            if not gen.allowed:
                why = (_resource_side(gen, "key policy")[1] if gen.reason.startswith("resource")
                       else _identity_side(gen)[1])
                self.add("spill-kms", a, key, "broken",
                         f"The connector's role {facts.role_arn} may not call "
                         f"kms:GenerateDataKey on {key} ({facts.kms_key_source}): {why}. "
                         "Every spill fails.",
                         f"Allow kms:GenerateDataKey on {key} to {facts.role_arn} (its role "
                         "policy, and the key policy unless it delegates to IAM).")
                return
        if self._principal_missing("spill-kms", a, key):
            return
        assert self.caller is not None
        ctx = {**_via_athena(), "kms:ViaService": f"s3.{self.region}.amazonaws.com"}
        result = authorize_kms(self.caller, "kms:Decrypt", key,
                               key_account=self.d.owner.account_id,
                               key_policy=facts.kms_policy, extra_context=ctx)
        if result.allowed:
            self.add("spill-kms", a, key, "ok",
                     f"kms:Decrypt on {key} ({facts.kms_key_source}): key policy: "
                     f"{result.resource.describe()}; identity: {result.identity.describe()}.")
            return
        if result.reason in ("resource", "resource-deny"):
            _, why = _resource_side(result, "key policy")
            stmt = json.dumps({"Sid": f"Decrypt{self.t.account_id}", "Effect": "Allow",
                               "Principal": {"AWS": self.t.principal_arn},
                               "Action": "kms:Decrypt", "Resource": "*"})
            fix = self.fix(result.reason == "resource",
                           f"add to the key policy of {key}: {stmt}")
            where = "The key policy"
        else:
            _ok, why = _identity_side(result)
            fix = self._identity_fix(result, "kms:Decrypt", key)
            where = f"{self.t.principal_arn}'s own policies"
        self.add("spill-kms", a, key, "broken",
                 f"Spill data is encrypted with {key} ({facts.kms_key_source}); {where} do not "
                 f"allow kms:Decrypt: {why}.", fix)

    def _version(self, facts: OwnerFacts | None) -> None:
        a = "owner"
        if facts is None:
            self.unknown("connector-version", a, "", "No function to check: see "
                         "catalog-function.")
            return
        deployed, newest = facts.deployed_version, facts.newest_version
        fn = facts.function_arn
        if not deployed:
            self.add("connector-version", a, fn, "unknown",
                     "The function carries no Serverless Application Repository version tag: "
                     "it was not deployed from SAR, or its stack is gone.")
        elif not newest:
            self.add("connector-version", a, fn, "unknown",
                     f"Deployed {deployed}; the newest version could not be read: "
                     f"{facts.version_error}")
        elif _version_key(deployed) < _version_key(newest):
            self.add("connector-version", a, fn, "warning",
                     f"Deployed {deployed}, newest is {newest}: older connectors have known "
                     "bugs (spill, KMS, type mapping).",
                     self.fix(True, "redeploy AthenaDynamoDBConnector " + newest +
                              " from the Serverless Application Repository"))
        else:
            self.add("connector-version", a, fn, "ok", f"Deployed {deployed}, the newest.")

    def _tables(self, facts: OwnerFacts | None) -> None:
        if facts is None:
            self.unknown("table-names", "owner", "", "No function to check: see "
                         "catalog-function.")
            return
        if facts.tables_error:
            self.add("table-names", "owner", "dynamodb", "unknown",
                     f"Cannot list the DynamoDB tables: {facts.tables_error}")
        elif facts.upper_names:
            shown = ", ".join(facts.upper_names[:8])
            more = f" and {len(facts.upper_names) - 8} more" if len(facts.upper_names) > 8 \
                else ""
            self.add("table-names", "owner", "dynamodb", "warning",
                     f"Names with upper-case letters: {shown}{more}. Athena lower-cases "
                     "identifiers, so the connector cannot map them without a Glue schema.",
                     "Define the table in AWS Glue with lower-case column names mapped via "
                     "the columnMapping table property, or rename the attributes.")
        else:
            self.add("table-names", "owner", "dynamodb", "ok",
                     f"{count(len(facts.tables), 'table')} sampled; all names are lower case.")

    def _test_query(self, facts: OwnerFacts | None) -> None:
        b = self.t.key
        if self.t.query is None:
            self.unknown("test-query", b, self.t.principal_arn,
                         "No credentials to query as the principal (give query credentials to "
                         "run the test query).")
            return
        try:
            account = self.t.query()
        except WizardError as exc:
            self.unknown("test-query", b, self.t.principal_arn,
                         f"Cannot act as the principal: {exc}")
            return
        if account is None:
            self.unknown("test-query", b, self.t.principal_arn,
                         "No credentials to query as the principal.")
            return
        sql = self.t.test_query
        if not sql:
            tables = facts.tables if facts else []
            if not tables:
                self.unknown("test-query", b, self.t.principal_arn,
                             "No DynamoDB table to query (give --sql).")
                return
            # Athena's identifiers are lower case; the connector finds the table regardless.
            sql = DEFAULT_TEST_QUERY.replace("{catalog}", self.t.catalog_name).replace(
                "music", tables[0].lower())
        output = self._output_location()
        if not output:
            self.unknown("test-query", b, sql, "Not run: no query results location is known "
                         "(see results-location).")
            return
        runner = QueryRunner(account, catalog=self.t.catalog_name, workgroup=self.t.workgroup,
                             output=output, sleep=self.d.sleep)
        result = runner.run(sql, max_rows=self.t.max_rows)
        self.report.query = result
        if result.state == "SUCCEEDED":
            self.add("test-query", b, sql, "ok",
                     f"{count(len(result.rows), 'row')} as {self.t.principal_arn}.")
        else:
            causes = [x.id for x in self.report.links if x.status == "broken"]
            if causes:
                # Explained by a broken link: the echo is not a second cause.
                self.add("test-query", b, sql, "unknown",
                         f"The query failed as {self.t.principal_arn}, as "
                         f"{', '.join(causes)} predicts: {result.error}")
            else:
                self.add("test-query", b, sql, "broken",
                         f"The query failed as {self.t.principal_arn} although every link "
                         f"above holds: {result.error}", result.fix or "See the error.")


class Doctor:
    """Diagnoses one owner account's connector for any number of consumers."""

    def __init__(self, owner: Account, targets: list[Target], *,
                 profile: SetupProfile | None = None, max_workers: int = 20,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.owner = owner
        self.targets = targets
        self.profile = profile
        self.max_workers = max_workers
        self.sleep = sleep
        self.owner_reader = OwnerReader(owner, profile)

    def run(self) -> Report:
        try:
            reports = concurrently(self.targets, lambda t: Diagnosis(self, t).run(),
                                   "doctor", self.max_workers)
        finally:
            self.owner_reader.close()
        return Report(reports)



# --------------------------------------------------------------------------- building a doctor
def targets_for_profile(engine: Any, consumer_id: str | None = None, *,
                        sql: str | None = None, prepared: dict[str, Account] | None = None,
                        max_rows: int | None = 10) -> list[Target]:
    """One Target per consumer of a profile (``engine`` is a connected wizard.engine.Engine).

    ``prepared`` maps consumer ids to query Accounts made beforehand (verify makes them first so
    a missing credential is refused before anything runs).
    """
    ctx = engine.connect()
    profile: SetupProfile = engine.profile
    targets: list[Target] = []
    for c in profile.consumers:
        if consumer_id and c.account_id != consumer_id:
            continue

        def query(c: Any = c) -> Account | None:
            if prepared is not None and c.account_id in prepared:
                return prepared[c.account_id]
            return engine.query_account(c)

        targets.append(Target(
            admin=ctx.consumer_account(c), principal_arn=c.principal_arn,
            catalog_name=c.catalog_name, workgroup=c.workgroup, query_results=c.query_results,
            query=query,
            test_query=sql or profile.test_query or DEFAULT_TEST_QUERY.format(
                catalog=c.catalog_name),
            repairable=True, max_rows=max_rows))
    return targets


def doctor_for_accounts(owner_session: Any, consumer_session: Any, *, catalog: str,
                        principal_arn: str, region: str, query_session: Any = None,
                        sql: str = "", workgroup: str = "primary",
                        query_results: str = "") -> Doctor:
    """A setup with no profile: two sessions, the catalog's name and the principal's ARN."""
    from wizard.aws import CallRecorder, session_from_credentials
    from wizard.credentials import check_identity

    recorder = CallRecorder()
    owner_id = check_identity(owner_session, None, "owner").account_id
    consumer_id = check_identity(consumer_session, None, "consumer").account_id
    owner = Account("owner", owner_id, owner_session, region, recorder)
    admin = Account(f"consumer:{consumer_id}", consumer_id, consumer_session, region, recorder)

    def query() -> Account | None:
        if query_session is not None:
            return Account(f"consumer:{consumer_id}:query", consumer_id, query_session, region,
                           recorder)
        if ":role/" in principal_arn:
            creds = aws_call(admin, "sts", "assume_role", RoleArn=principal_arn,
                             RoleSessionName="xacct-wizard-doctor")["Credentials"]
            return Account(f"consumer:{consumer_id}:query", consumer_id,
                           session_from_credentials(creds, region), region, recorder)
        return None

    target = Target(admin=admin, principal_arn=principal_arn, catalog_name=catalog,
                    workgroup=workgroup, query_results=query_results, query=query,
                    test_query=sql)
    return Doctor(owner, [target])
