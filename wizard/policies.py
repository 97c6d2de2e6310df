"""Policy documents: build ours, merge them into other people's, diff them.

Pure functions only (no AWS): the steps call these, the Review page renders their diffs, and
property tests prove the promise the tool makes to admins - merging our statement never drops,
reorders or rewrites anybody else's.
"""

from __future__ import annotations

import copy
import difflib
import json
import re
from typing import Any

Doc = dict[str, Any]
POLICY_VERSION = "2012-10-17"
SID_PREFIX = "XacctWizard"

ATHENA_QUERY_ACTIONS = [
    "athena:StartQueryExecution",
    "athena:GetQueryExecution",
    "athena:GetQueryResults",
    "athena:StopQueryExecution",
    "athena:GetWorkGroup",
]
ATHENA_CATALOG_ACTIONS = [
    "athena:GetDataCatalog",
    "athena:ListDatabases",
    "athena:GetDatabase",
    "athena:ListTableMetadata",
    "athena:GetTableMetadata",
]
# Browsing (BI tools, JDBC/ODBC drivers, PyAthena, awswrangler list before they query): these
# two actions have no resource type in IAM, so a statement can only grant them on "*".
ATHENA_LIST_ONLY_ACTIONS = [
    "athena:ListDataCatalogs",
    "athena:ListWorkGroups",
]
RESULTS_BUCKET_ACTIONS = ["s3:GetBucketLocation", "s3:ListBucket"]
RESULTS_OBJECT_ACTIONS = [
    "s3:GetObject",
    "s3:PutObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
]


def sid_for(kind: str, account_id: str, catalog: str = "") -> str:
    """A stable statement id: the same setup always produces the same Sid, so re-runs replace."""
    tail = re.sub(r"[^A-Za-z0-9]", "", catalog.title())
    return f"{SID_PREFIX}{kind}{account_id}{tail}"[:100]


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix/`` -> (``bucket``, ``some/prefix/``)."""
    rest = uri[len("s3://") :] if uri.startswith("s3://") else uri
    bucket, _, prefix = rest.partition("/")
    return bucket, prefix


# --------------------------------------------------------------------------- builders
def spill_grant_statement(sid: str, principal_arn: str, bucket: str) -> Doc:
    """Runbook step 8: B's principal may read the connector's spill objects."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"AWS": [principal_arn]},
        "Action": ["s3:GetObject", "s3:ListBucket"],
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
    }


def kms_decrypt_statement(sid: str, principal_arn: str) -> Doc:
    """Runbook step 9: with a customer-managed key on the spill data, B must decrypt it."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"AWS": [principal_arn]},
        "Action": ["kms:Decrypt"],
        "Resource": "*",  # in a key policy "*" means "this key"
    }


def identity_policy(
    *,
    region: str,
    consumer_account: str,
    function_arn: str,
    spill_bucket: str,
    spill_prefix: str,
    workgroup: str,
    catalog_name: str,
    results_uri: str,
    kms_key_arn: str | None = None,
) -> Doc:
    """Runbook step 10: what B's principal itself must be allowed (both sides must say yes).

    With a customer managed key on the spill data, that includes kms:Decrypt on the key: for
    a caller from another account the key policy's grant (step 9) is only half of it.
    """
    results_bucket, results_prefix = parse_s3_uri(results_uri)
    prefix = spill_prefix.strip("/")
    spill_objects = f"arn:aws:s3:::{spill_bucket}/{prefix}/*" if prefix else (
        f"arn:aws:s3:::{spill_bucket}/*"
    )
    results_objects = f"arn:aws:s3:::{results_bucket}/{results_prefix}*"
    decrypt = [{"Sid": "DecryptSpill", "Effect": "Allow", "Action": ["kms:Decrypt"],
                "Resource": [kms_key_arn]}] if kms_key_arn else []
    doc: Doc = {
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Sid": "InvokeConnector",
                "Effect": "Allow",
                "Action": ["lambda:InvokeFunction"],
                "Resource": [function_arn],
            },
            {
                "Sid": "ReadSpill",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation"],
                "Resource": [f"arn:aws:s3:::{spill_bucket}", spill_objects],
            },
            {
                "Sid": "RunQueries",
                "Effect": "Allow",
                "Action": list(ATHENA_QUERY_ACTIONS),
                "Resource": [f"arn:aws:athena:{region}:{consumer_account}:workgroup/{workgroup}"],
            },
            {
                "Sid": "UseCatalog",
                "Effect": "Allow",
                "Action": list(ATHENA_CATALOG_ACTIONS),
                "Resource": [
                    f"arn:aws:athena:{region}:{consumer_account}:datacatalog/{catalog_name}"
                ],
            },
            {
                # Listing reveals only names (the catalogs and workgroups of B's own account);
                # every call on a catalog or workgroup stays scoped by the statements above.
                "Sid": "BrowseListOnlyNoResourceType",
                "Effect": "Allow",
                "Action": list(ATHENA_LIST_ONLY_ACTIONS),
                "Resource": "*",
            },
            {
                "Sid": "QueryResultsBucket",
                "Effect": "Allow",
                "Action": list(RESULTS_BUCKET_ACTIONS),
                "Resource": [f"arn:aws:s3:::{results_bucket}"],
            },
            {
                "Sid": "QueryResultsObjects",
                "Effect": "Allow",
                "Action": list(RESULTS_OBJECT_ACTIONS),
                "Resource": [results_objects],
            },
        ],
    }
    doc["Statement"].extend(decrypt)
    return doc


def share_role_trust(owner_account: str) -> Doc:
    """Runbook step 11: account A (its admins) may assume the share role in B."""
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{owner_account}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def share_role_policy(region: str, consumer_account: str, catalog_name: str) -> Doc:
    """Runbook step 11: the share role may create exactly the one catalog it exists for."""
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["athena:CreateDataCatalog"],
                "Resource": [
                    f"arn:aws:athena:{region}:{consumer_account}:datacatalog/{catalog_name}"
                ],
            }
        ],
    }


def share_role_name(owner_account: str) -> str:
    """The exact name the Athena console's Share assumes; any other name breaks console parity."""
    return f"AthenaCrossAccountCreate-{owner_account}"


# --------------------------------------------------------------------------- documents
def loads(text: str | dict | None) -> Doc | None:
    """Parse a policy as AWS returns it (JSON text, sometimes URL-encoded by IAM)."""
    if text is None or text == "":
        return None
    if isinstance(text, dict):
        return text
    if text.lstrip().startswith("%7B"):
        from urllib.parse import unquote

        text = unquote(text)
    return json.loads(text)


def dumps(doc: Doc) -> str:
    return json.dumps(doc, separators=(",", ":"), sort_keys=False)


def statements(doc: Doc | None) -> list[Doc]:
    if not doc:
        return []
    st = doc.get("Statement", [])
    return [st] if isinstance(st, dict) else list(st)


def statement_by_sid(doc: Doc | None, sid: str) -> Doc | None:
    for st in statements(doc):
        if st.get("Sid") == sid:
            return st
    return None


def merge_statement(doc: Doc | None, statement: Doc) -> Doc:
    """Put ``statement`` into ``doc``: replace the one with its Sid, else append.

    Every other statement and top-level key (Version, Id) is kept exactly as it was, in order.
    The input is not modified.
    """
    # A new document gets a Version; an existing one keeps exactly the Version it had (none
    # means 2008-10-17 to AWS, where ${...} is literal text: adding one would change meaning).
    out: Doc = copy.deepcopy(doc) if doc else {"Version": POLICY_VERSION, "Statement": []}
    sts = statements(out)
    sid = statement.get("Sid")
    for i, st in enumerate(sts):
        if sid is not None and st.get("Sid") == sid:
            sts[i] = copy.deepcopy(statement)
            break
    else:
        sts.append(copy.deepcopy(statement))
    out["Statement"] = sts
    return out


def remove_statements(doc: Doc | None, sids: set[str] | list[str]) -> Doc | None:
    """Drop the statements with these Sids; None when no statement is left."""
    if not doc:
        return None
    wanted = set(sids)
    out = copy.deepcopy(doc)
    kept = [st for st in statements(out) if st.get("Sid") not in wanted]
    if not kept:
        return None
    out["Statement"] = kept[0] if isinstance(doc.get("Statement"), dict) else kept
    return out


def _norm(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _norm(v, k) for k, v in sorted(value.items())}
    if isinstance(value, list):
        items = [_norm(v) for v in value]
        if key in {"Action", "NotAction", "Resource", "NotResource", "AWS", "Service",
                   "Federated", "CanonicalUser"} or all(
                       isinstance(i, str | bool | int | float) for i in items):
            if len(items) == 1:
                return items[0]
            return sorted(items, key=lambda x: json.dumps(x, sort_keys=True))
        return items
    return value


def normalize(doc: Doc | None) -> Doc | None:
    """A canonical form: one-element lists as scalars, unordered lists sorted, keys sorted."""
    if doc is None:
        return None
    out = _norm(copy.deepcopy(doc))
    out["Statement"] = [_norm(s) for s in statements(doc)]
    return out


def equivalent(a: Doc | None, b: Doc | None) -> bool:
    """Same meaning to IAM (list order and scalar-vs-list of one are not meaning)."""
    return normalize(a) == normalize(b)


def statement_equivalent(a: Doc | None, b: Doc | None) -> bool:
    if a is None or b is None:
        return a is b
    return _norm(a) == _norm(b)


def pretty(doc: Doc | None) -> str:
    return "" if doc is None else json.dumps(doc, indent=2, sort_keys=False)


def _as_list_form(doc: Doc | None, other: Doc | None) -> Doc | None:
    if doc and other and isinstance(doc.get("Statement"), dict) and isinstance(
        other.get("Statement"), list
    ):
        return {**doc, "Statement": [doc["Statement"]]}
    return doc


def diff_documents(before: Doc | None, after: Doc | None, name: str = "policy") -> list[str]:
    """A unified diff of two documents as pretty JSON, for the CLI and the Review page.

    A single-object Statement is rendered as a one-element list when the other side has a list
    (merging turns one into the other; IAM reads both the same), so the lines of statements
    that did not change line up and only the real change is marked.
    """
    a = pretty(_as_list_form(before, after)).splitlines()
    b = pretty(_as_list_form(after, before)).splitlines()
    return list(
        difflib.unified_diff(a, b, f"{name} (now)", f"{name} (after apply)", lineterm="", n=1000)
    )


# --------------------------------------------------------------------------- organizations
# AWS caps a Lambda function's resource policy and an S3 bucket policy at 20 KB each.
POLICY_BUDGET_BYTES = 20 * 1024


def policy_size(doc: Doc | None) -> int:
    """Bytes the policy takes as AWS counts it (its JSON without insignificant whitespace)."""
    if not doc:
        return 0
    return len(json.dumps(doc, separators=(",", ":")).encode("utf-8"))


def budget_text(size: int) -> str:
    return (f"{size / 1024:.1f} KB of the {POLICY_BUDGET_BYTES // 1024} KB policy limit "
            f"({100 * size // POLICY_BUDGET_BYTES}%)")


def org_paths_condition(org_id: str, path: str, is_root: bool) -> Doc:
    """Principals in the organization (root) or in the OU and the OUs below it (its path)."""
    if is_root:
        return {"StringEquals": {"aws:PrincipalOrgID": org_id}}
    return {"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": [f"{path}*"]}}


def org_spill_grant_statement(sid: str, bucket: str, org_id: str, path: str,
                              is_root: bool) -> Doc:
    """Runbook step 8 for a whole OU: one statement, whatever the number of accounts."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": ["s3:GetObject", "s3:ListBucket"],
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": org_paths_condition(org_id, path, is_root),
    }
