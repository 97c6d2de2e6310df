"""S3 permission checks: who may read and write which bucket, as IAM and bucket policies say.

moto's S3 answers every request it can parse, so in the sandbox any principal could read any
other principal's query results or the owner's spill data. This WSGI guard sits in front of
moto's S3 and evaluates each request with :func:`wizard.sandbox.iam_eval.authorize` before
moto sees it:

* the request is mapped to the IAM action S3 authorises it with (GetObject, PutObject,
  ListBucket, DeleteObject, the multipart and bucket-configuration actions; a copy also needs
  GetObject on its source) and to the bucket or object ARN;
* the caller's identity policies and the bucket's policy are evaluated as IAM does: in the
  bucket's own account either may allow, across accounts both must, an explicit Deny wins;
* an unsigned request is anonymous: only a bucket policy naming ``"*"`` lets it through.

Denials are S3's own: ``403 AccessDenied`` / ``Access Denied`` in S3's XML. What is left to
moto unchecked: requests naming a bucket that does not exist (S3 answers NoSuchBucket to
everyone), sub-resources without a mapping here, ACL grants (the wizard never relies on ACLs;
buckets with ObjectOwnership=BucketOwnerEnforced ignore them in AWS too), and DeleteObjects is
judged as a whole (AWS reports denied keys one by one in a 200 answer).
"""

from __future__ import annotations

import io
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

from wizard.sandbox.iam_eval import (
    Caller,
    Decision,
    authorize,
    evaluate_resource,
    parse_document,
    resolve_caller,
)

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

ANONYMOUS = Caller("", "*", "anonymous", "user")

# (method, sub-resource) -> action, for requests on a bucket (no key).
_BUCKET_ACTIONS: dict[tuple[str, str], str] = {
    ("GET", ""): "s3:ListBucket",
    ("HEAD", ""): "s3:ListBucket",
    ("PUT", ""): "s3:CreateBucket",
    ("DELETE", ""): "s3:DeleteBucket",
    ("GET", "versions"): "s3:ListBucketVersions",
    ("GET", "uploads"): "s3:ListBucketMultipartUploads",
    ("GET", "location"): "s3:GetBucketLocation",
    ("GET", "policy"): "s3:GetBucketPolicy",
    ("PUT", "policy"): "s3:PutBucketPolicy",
    ("DELETE", "policy"): "s3:DeleteBucketPolicy",
    ("GET", "policyStatus"): "s3:GetBucketPolicyStatus",
    ("GET", "acl"): "s3:GetBucketAcl",
    ("PUT", "acl"): "s3:PutBucketAcl",
    ("GET", "tagging"): "s3:GetBucketTagging",
    ("PUT", "tagging"): "s3:PutBucketTagging",
    ("DELETE", "tagging"): "s3:PutBucketTagging",
    ("GET", "versioning"): "s3:GetBucketVersioning",
    ("PUT", "versioning"): "s3:PutBucketVersioning",
    ("GET", "encryption"): "s3:GetEncryptionConfiguration",
    ("PUT", "encryption"): "s3:PutEncryptionConfiguration",
    ("DELETE", "encryption"): "s3:PutEncryptionConfiguration",
    ("GET", "lifecycle"): "s3:GetLifecycleConfiguration",
    ("PUT", "lifecycle"): "s3:PutLifecycleConfiguration",
    ("DELETE", "lifecycle"): "s3:PutLifecycleConfiguration",
    ("GET", "publicAccessBlock"): "s3:GetBucketPublicAccessBlock",
    ("PUT", "publicAccessBlock"): "s3:PutBucketPublicAccessBlock",
    ("DELETE", "publicAccessBlock"): "s3:PutBucketPublicAccessBlock",
    ("GET", "ownershipControls"): "s3:GetBucketOwnershipControls",
    ("PUT", "ownershipControls"): "s3:PutBucketOwnershipControls",
    ("DELETE", "ownershipControls"): "s3:PutBucketOwnershipControls",
    ("GET", "cors"): "s3:GetBucketCORS",
    ("PUT", "cors"): "s3:PutBucketCORS",
    ("DELETE", "cors"): "s3:PutBucketCORS",
    ("GET", "website"): "s3:GetBucketWebsite",
    ("PUT", "website"): "s3:PutBucketWebsite",
    ("DELETE", "website"): "s3:DeleteBucketWebsite",
    ("GET", "logging"): "s3:GetBucketLogging",
    ("PUT", "logging"): "s3:PutBucketLogging",
    ("GET", "notification"): "s3:GetBucketNotification",
    ("PUT", "notification"): "s3:PutBucketNotification",
    ("GET", "replication"): "s3:GetReplicationConfiguration",
    ("PUT", "replication"): "s3:PutReplicationConfiguration",
    ("DELETE", "replication"): "s3:PutReplicationConfiguration",
    ("GET", "accelerate"): "s3:GetAccelerateConfiguration",
    ("PUT", "accelerate"): "s3:PutAccelerateConfiguration",
    ("GET", "requestPayment"): "s3:GetBucketRequestPayment",
    ("PUT", "requestPayment"): "s3:PutBucketRequestPayment",
    ("GET", "object-lock"): "s3:GetBucketObjectLockConfiguration",
    ("PUT", "object-lock"): "s3:PutBucketObjectLockConfiguration",
    ("POST", "delete"): "s3:DeleteObject",  # per key, see _targets
}

# (method, sub-resource) -> action, for requests on an object.
_OBJECT_ACTIONS: dict[tuple[str, str], str] = {
    ("GET", ""): "s3:GetObject",
    ("HEAD", ""): "s3:GetObject",
    ("PUT", ""): "s3:PutObject",
    ("DELETE", ""): "s3:DeleteObject",
    ("POST", "uploads"): "s3:PutObject",
    ("POST", "uploadId"): "s3:PutObject",
    ("PUT", "uploadId"): "s3:PutObject",  # UploadPart (and UploadPartCopy)
    ("GET", "uploadId"): "s3:ListMultipartUploadParts",
    ("DELETE", "uploadId"): "s3:AbortMultipartUpload",
    ("GET", "acl"): "s3:GetObjectAcl",
    ("PUT", "acl"): "s3:PutObjectAcl",
    ("GET", "tagging"): "s3:GetObjectTagging",
    ("PUT", "tagging"): "s3:PutObjectTagging",
    ("DELETE", "tagging"): "s3:DeleteObjectTagging",
    ("GET", "attributes"): "s3:GetObjectAttributes",
    ("GET", "retention"): "s3:GetObjectRetention",
    ("PUT", "retention"): "s3:PutObjectRetention",
    ("GET", "legal-hold"): "s3:GetObjectLegalHold",
    ("PUT", "legal-hold"): "s3:PutObjectLegalHold",
    ("POST", "restore"): "s3:RestoreObject",
    ("POST", "select"): "s3:GetObject",
}
_VERSIONED = {"s3:GetObject": "s3:GetObjectVersion", "s3:DeleteObject": "s3:DeleteObjectVersion",
              "s3:GetObjectAcl": "s3:GetObjectVersionAcl",
              "s3:GetObjectTagging": "s3:GetObjectVersionTagging",
              "s3:PutObjectTagging": "s3:PutObjectVersionTagging",
              "s3:DeleteObjectTagging": "s3:DeleteObjectVersionTagging"}


@dataclass(frozen=True)
class Target:
    """One permission an S3 request needs: an action on a bucket or object ARN."""

    action: str
    bucket: str
    key: str | None = None

    @property
    def arn(self) -> str:
        return f"arn:aws:s3:::{self.bucket}" + (f"/{self.key}" if self.key is not None else "")


# --------------------------------------------------------------------------- request parsing
def access_key_of(environ: dict[str, Any]) -> tuple[str | None, str]:
    """(access key, region) of an S3 request; (None, "") for an unsigned one (moto serves
    those as S3); ("", "") for a request signed for another service."""
    from wizard.sandbox.sigv4 import parse_s3_v2, parse_signature

    signed = parse_signature(environ)
    if signed is not None:
        return (signed.access_key, signed.region) if signed.service == "s3" else ("", "")
    v2 = parse_s3_v2(environ)
    if v2 is not None:
        return v2[0], "us-east-1"
    return None, ""


def bucket_and_key(environ: dict[str, Any]) -> tuple[str, str]:
    """Bucket and key of a path-style (``/bucket/key``) or virtual-hosted request."""
    path = str(environ.get("PATH_INFO", "") or "/")
    host = str(environ.get("HTTP_HOST", "")).rsplit(":", 1)[0].lower()
    hosted = ""
    if host.endswith(".localhost"):
        hosted = host[: -len(".localhost")]
    elif ".s3." in host or ".s3-" in host:
        hosted = host.split(".s3", 1)[0]
    if hosted:
        return hosted, path.lstrip("/")
    bucket, _, key = path.lstrip("/").partition("/")
    return bucket, key


def _subresource(query: dict[str, str], table: dict[tuple[str, str], str], method: str) -> str:
    for name in query:
        if (method, name) in table:
            return name
    return ""


def _copy_source(environ: dict[str, Any]) -> Target | None:
    source = environ.get("HTTP_X_AMZ_COPY_SOURCE")
    if not source:
        return None
    text = unquote(str(source).split("?", 1)[0]).lstrip("/")
    bucket, _, key = text.partition("/")
    return Target("s3:GetObject", bucket, key) if bucket and key else None


def _deleted_keys(environ: dict[str, Any]) -> list[str]:
    """The keys of a DeleteObjects body (read, and put back for moto)."""
    stream = environ.get("wsgi.input")
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = stream.read(length) if stream is not None and length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    try:
        root = ET.fromstring(body) if body else None
    except ET.ParseError:
        return []
    if root is None:
        return []
    return [el.text or "" for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "Key"]


def targets(environ: dict[str, Any]) -> list[Target]:
    """Everything an S3 request must be allowed to do (empty: not judged here)."""
    method = str(environ.get("REQUEST_METHOD", "GET")).upper()
    query = dict(parse_qsl(str(environ.get("QUERY_STRING", "")), keep_blank_values=True))
    bucket, key = bucket_and_key(environ)
    if not bucket:
        return [Target("s3:ListAllMyBuckets", "*")] if method == "GET" else []
    if not key:
        sub = _subresource(query, _BUCKET_ACTIONS, method)
        action = _BUCKET_ACTIONS.get((method, sub))
        if action is None:
            return []
        if (method, sub) == ("POST", "delete"):
            return [Target(action, bucket, k) for k in _deleted_keys(environ)]
        return [Target(action, bucket)]
    sub = _subresource(query, _OBJECT_ACTIONS, method)
    action = _OBJECT_ACTIONS.get((method, sub))
    if action is None:
        return []
    if "versionId" in query:
        action = _VERSIONED.get(action, action)
    out = [Target(action, bucket, key)]
    source = _copy_source(environ) if method == "PUT" else None
    if source is not None:
        out.insert(0, source)
    return out


# --------------------------------------------------------------------------- decisions
def _bucket_owner_and_policy(bucket: str) -> tuple[str, dict[str, Any] | None] | None:
    from moto.backends import get_backend

    s3 = get_backend("s3")
    owner = s3.bucket_accounts.get(bucket)
    if owner is None:
        return None
    partition, account = owner
    try:
        found = s3[account][partition].get_bucket(bucket)
    except Exception:
        return None
    raw = found.policy
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return account, parse_document(text)


def allowed(caller: Caller, target: Target) -> bool:
    """Does IAM allow ``caller`` this action (identity and bucket policy, both sides)?"""
    if target.bucket == "*":  # ListAllMyBuckets: the caller's own account, no bucket policy
        if caller is ANONYMOUS:
            return False
        return authorize(caller, target.action, "*",
                         resource_account=caller.account_id).allowed
    found = _bucket_owner_and_policy(target.bucket)
    if found is None:
        if target.action == "s3:CreateBucket" and caller is not ANONYMOUS:
            return authorize(caller, target.action, target.arn,
                             resource_account=caller.account_id).allowed
        return True  # S3 says NoSuchBucket to everyone: moto answers
    account, policy = found
    if caller is ANONYMOUS:
        return evaluate_resource(policy, caller, target.action, target.arn) is Decision.ALLOW
    return authorize(caller, target.action, target.arn, resource_account=account,
                     resource_policy=policy).allowed


def access_denied(environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    rid = uuid.uuid4().hex[:16].upper()
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
            f"<Message>Access Denied</Message><RequestId>{rid}</RequestId>"
            "<HostId>sandbox</HostId></Error>").encode()
    if str(environ.get("REQUEST_METHOD", "")).upper() == "HEAD":
        body = b""
    headers = [("Content-Type", "application/xml"), ("x-amz-request-id", rid),
               ("Content-Length", str(len(body)))]
    return "403 Forbidden", headers, body


class S3Guard:
    """WSGI middleware in front of moto: S3 requests pass only when IAM would allow them."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse
                 ) -> Iterable[bytes]:
        if str(environ.get("PATH_INFO", "")).startswith("/moto-api"):
            return self.app(environ, start_response)
        access_key, region = access_key_of(environ)
        if access_key == "":
            return self.app(environ, start_response)  # signed for another service
        caller = ANONYMOUS if access_key is None else resolve_caller(access_key, region)
        for target in targets(environ):
            if not allowed(caller, target):
                status, headers, body = access_denied(environ)
                start_response(status, headers)
                return [body]
        return self.app(environ, start_response)
