"""SigV4 signature checks: bad credentials fail in the sandbox as they fail in AWS.

moto accepts any signature and maps an access key nobody issued to its default account, so a
profile with a mistyped secret or a stale key "works" against the sandbox and then fails on the
user's first real run. Here every signed request (``Authorization: AWS4-HMAC-SHA256 ...`` or a
presigned URL's ``X-Amz-Signature``) is checked before anything answers it:

* the access key must be one the sandbox's IAM issued (a user's key, or an assumed role's
  temporary key with its session token), and active;
* the signature must be the one botocore's own signer computes for that request with the key's
  secret - the canonical request rebuilt from exactly the headers the client signed.

Failures are answered in the protocol of the service called, with AWS's codes: S3
``InvalidAccessKeyId`` / ``SignatureDoesNotMatch`` (rest-xml), query services (STS, IAM,
CloudFormation) ``InvalidClientTokenId`` / ``SignatureDoesNotMatch``, JSON services (Athena,
Lambda, DynamoDB, the Serverless Application Repository) ``UnrecognizedClientException`` /
``InvalidSignatureException``.

What is deliberately not checked: the request time (a sandbox on a laptop that slept must not
fail with clock skew; presigned URLs do not expire here), and the chunk signatures of streaming
S3 uploads (the seed signature in the header is checked; the body is never read for S3).
Unsigned requests are left alone: who may do what anonymously is the permission checks' job.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from hashlib import sha256
from typing import Any
from urllib.parse import parse_qsl, unquote

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
SIGNATURE_MISMATCH = ("The request signature we calculated does not match the signature you "
                      "provided. Check your AWS Secret Access Key and signing method. Consult "
                      "the service documentation for details.")
S3_SIGNATURE_MISMATCH = ("The request signature we calculated does not match the signature you "
                         "provided. Check your key and signing method.")
INVALID_TOKEN = "The security token included in the request is invalid."
S3_UNKNOWN_KEY = "The AWS Access Key Id you provided does not exist in our records."


@dataclass(frozen=True)
class Rejection:
    """An error response to send instead of answering the request."""

    status: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class SignedRequest:
    """What a SigV4 signature covers, parsed from the header or from a presigned URL."""

    access_key: str
    date: str
    region: str
    service: str
    signed_headers: list[str]
    signature: str
    timestamp: str
    presigned: bool
    token: str | None


@dataclass(frozen=True)
class KeyRecord:
    """An access key the sandbox issued: its secret, and the session token it must come with."""

    secret: str
    token: str | None = None


# --------------------------------------------------------------------------- parsing
def _auth_fields(header: str) -> dict[str, str]:
    """``AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=x;y, Signature=z`` -> fields."""
    out: dict[str, str] = {}
    for part in header[len(ALGORITHM):].split(","):
        name, _, value = part.strip().partition("=")
        if name:
            out[name] = value.strip()
    return out


def parse_signature(environ: Mapping[str, Any]) -> SignedRequest | None:
    """The request's SigV4 signature, or None when it carries none (or not this kind)."""
    header = str(environ.get("HTTP_AUTHORIZATION", ""))
    query = dict(parse_qsl(str(environ.get("QUERY_STRING", "")), keep_blank_values=True))
    if header.startswith(ALGORITHM):
        fields = _auth_fields(header)
        credential, presigned = fields.get("Credential", ""), False
        signed = fields.get("SignedHeaders", "")
        signature = fields.get("Signature", "")
        timestamp = str(environ.get("HTTP_X_AMZ_DATE", ""))
        token = environ.get("HTTP_X_AMZ_SECURITY_TOKEN")
    elif query.get("X-Amz-Algorithm") == ALGORITHM:
        credential, presigned = query.get("X-Amz-Credential", ""), True
        signed = query.get("X-Amz-SignedHeaders", "")
        signature = query.get("X-Amz-Signature", "")
        timestamp = query.get("X-Amz-Date", "")
        token = query.get("X-Amz-Security-Token")
    else:
        return None
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        return None
    return SignedRequest(parts[0], parts[1], parts[2], parts[3].lower(),
                         [h.strip().lower() for h in signed.split(";") if h.strip()],
                         signature, timestamp, presigned, None if token is None else str(token))


# --------------------------------------------------------------------------- keys
def lookup_key(access_key: str) -> KeyRecord | None:
    """The secret of a key the sandbox's IAM issued (users' keys and assumed-role sessions)."""
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends

    for account_id, partitions in list(iam_backends.items()):
        iam = partitions["aws"]
        key = iam.access_keys.get(access_key)
        if key is None:
            continue
        if getattr(key, "status", "Active") != "Active":
            return None
        token = None
        if getattr(key, "role_arn", None):
            session = sts_backends[account_id]["aws"].get_assumed_role_from_access_key(
                access_key)
            if session is None:
                return None
            token = session.session_token
        return KeyRecord(key.secret_access_key, token)
    return None


# --------------------------------------------------------------------------- signing
def _header_value(environ: Mapping[str, Any], name: str) -> str | None:
    if name == "content-type":
        value = environ.get("CONTENT_TYPE")
    elif name == "content-length":
        value = environ.get("CONTENT_LENGTH")
    else:
        value = environ.get("HTTP_" + name.upper().replace("-", "_"))
    return None if value is None else str(value)


def _read_body(environ: dict[str, Any]) -> bytes:
    """Read the body for hashing and put it back, so whoever answers reads it again."""
    from wizard.sandbox.layer import SandboxLayer

    body = SandboxLayer._read_body(environ)
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def payload_hash(environ: dict[str, Any], signed: SignedRequest) -> str:
    declared = environ.get("HTTP_X_AMZ_CONTENT_SHA256")
    if declared:
        # S3 signs the declared hash (hex, UNSIGNED-PAYLOAD or STREAMING-...): never read
        # an upload here.
        return str(declared)
    if signed.presigned and signed.service == "s3":
        return UNSIGNED_PAYLOAD
    return sha256(_read_body(environ)).hexdigest()


def expected_signature(environ: dict[str, Any], signed: SignedRequest, secret: str,
                       payload: str, host: str | None = None) -> str:
    """The signature botocore's signer computes for this request with ``secret`` (``payload``:
    the hash of the body as signed, see :func:`payload_hash`)."""
    from botocore.auth import S3SigV4Auth, SigV4Auth
    from botocore.awsrequest import AWSRequest, HTTPHeaders
    from botocore.credentials import Credentials

    base = S3SigV4Auth if signed.service == "s3" else SigV4Auth
    headers = HTTPHeaders()
    for name in signed.signed_headers:
        value = host if name == "host" and host is not None else _header_value(environ, name)
        headers[name] = value or ""

    class Signer(base):  # type: ignore[misc, valid-type]
        """botocore's signer, held to exactly the headers and payload hash the client signed."""

        def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
            return headers

        def payload(self, request: AWSRequest) -> str:
            return payload

    raw_path = str(environ.get("RAW_URI") or environ.get("REQUEST_URI")
                   or environ.get("PATH_INFO") or "/").split("?", 1)[0]
    query = str(environ.get("QUERY_STRING", ""))
    if signed.presigned:
        query = "&".join(p for p in query.split("&")
                         if unquote(p.partition("=")[0]) != "X-Amz-Signature")
    url = f"http://{environ.get('HTTP_HOST', 'localhost')}{raw_path}"
    request = AWSRequest(method=str(environ.get("REQUEST_METHOD", "GET")),
                         url=f"{url}?{query}" if query else url)
    request.context["timestamp"] = signed.timestamp
    signer = Signer(Credentials(signed.access_key, secret), signed.service, signed.region)
    canonical = signer.canonical_request(request)
    return str(signer.signature(signer.string_to_sign(request, canonical), request))


def _host_variants(environ: Mapping[str, Any]) -> list[str | None]:
    """The Host as received first; then the server's own names for itself (a proxy or the
    HTTP server may have rewritten the header the client signed)."""
    variants: list[str | None] = [None]
    port = str(environ.get("SERVER_PORT", ""))
    for name in ("127.0.0.1", "localhost", str(environ.get("SERVER_NAME", ""))):
        if name and port:
            candidate = f"{name}:{port}"
            if candidate != environ.get("HTTP_HOST") and candidate not in variants:
                variants.append(candidate)
    return variants


# --------------------------------------------------------------------------- errors
def wire_protocol(environ: Mapping[str, Any], service: str) -> str:
    """The protocol the client spoke, as far as errors care (see protocol.ServiceCodec)."""
    from wizard.sandbox.protocol import RPC_CBOR_HEADER

    if service == "s3":
        return "rest-xml"
    if str(environ.get("HTTP_SMITHY_PROTOCOL", "")) == RPC_CBOR_HEADER:
        return "smithy-rpc-v2-cbor"
    if environ.get("HTTP_X_AMZ_TARGET"):
        return "json"
    ctype = str(environ.get("CONTENT_TYPE", ""))
    if ctype.startswith("application/x-www-form-urlencoded") or \
            "Action=" in str(environ.get("QUERY_STRING", "")):
        return "query"
    return "rest-json"


def _reject(environ: Mapping[str, Any], signed: SignedRequest, unknown_key: bool) -> Rejection:
    """AWS's answer to bad credentials, in the protocol of the service called."""
    from wizard.sandbox.protocol import codec_for

    proto = wire_protocol(environ, signed.service)
    extra: dict[str, str] = {}
    if proto == "rest-xml":
        code = "InvalidAccessKeyId" if unknown_key else "SignatureDoesNotMatch"
        message = S3_UNKNOWN_KEY if unknown_key else S3_SIGNATURE_MISMATCH
        extra = {"AWSAccessKeyId": signed.access_key}
    elif proto == "query":
        code = "InvalidClientTokenId" if unknown_key else "SignatureDoesNotMatch"
        message = INVALID_TOKEN if unknown_key else SIGNATURE_MISMATCH
    else:
        code = "UnrecognizedClientException" if unknown_key else "InvalidSignatureException"
        message = INVALID_TOKEN if unknown_key else SIGNATURE_MISMATCH
    try:
        wire = codec_for(signed.service).error(proto, code, message, 403, extra)
    except Exception:  # a signing name without a botocore model: say it in JSON
        import json

        return Rejection(403, json.dumps({"__type": code, "message": message}).encode(),
                         [("Content-Type", "application/json"), ("x-amzn-ErrorType", code)])
    return Rejection(wire.status, wire.body, list(wire.headers))


# --------------------------------------------------------------------------- S3's SigV2
def parse_s3_v2(environ: Mapping[str, Any]) -> tuple[str, str, str, bool] | None:
    """(access key, signature, date-or-expires, presigned) of an S3 SigV2 request
    (``Authorization: AWS key:sig``, or the ``AWSAccessKeyId``/``Signature``/``Expires``
    presigned URL that boto3's ``generate_presigned_url`` still makes for S3 by default);
    None otherwise."""
    header = str(environ.get("HTTP_AUTHORIZATION", ""))
    if header.startswith("AWS ") and ":" in header:
        key, _, signature = header[4:].strip().partition(":")
        date = "" if environ.get("HTTP_X_AMZ_DATE") else str(environ.get("HTTP_DATE", ""))
        return key, signature, date, False
    query = dict(parse_qsl(str(environ.get("QUERY_STRING", "")), keep_blank_values=True))
    if "AWSAccessKeyId" in query and "Signature" in query and "SignatureVersion" not in query:
        return query["AWSAccessKeyId"], query["Signature"], query.get("Expires", ""), True
    return None


def expected_s3_v2_signature(environ: Mapping[str, Any], secret: str, date: str,
                             presigned: bool) -> str:
    """botocore's HmacV1 signature of this request, dated as the client dated it."""
    from urllib.parse import urlsplit

    from botocore.auth import HmacV1Auth
    from botocore.awsrequest import HTTPHeaders
    from botocore.credentials import Credentials

    class Signer(HmacV1Auth):
        """botocore's S3 SigV2 signer, with the client's Date (or Expires) instead of now."""

        def _get_date(self) -> str:
            return date

    headers = HTTPHeaders()
    query = str(environ.get("QUERY_STRING", ""))
    if presigned:  # the signed headers travel in the query string
        for name, value in parse_qsl(query, keep_blank_values=True):
            if name.lower().startswith("x-amz-") or name.lower() in ("content-md5",
                                                                     "content-type"):
                headers[name.lower()] = value
    else:
        for name in ("content-md5", "content-type"):
            value = _header_value(environ, name)
            if value:
                headers[name] = value
        for env_name, value in environ.items():
            if env_name.startswith("HTTP_X_AMZ_"):
                headers[env_name[5:].lower().replace("_", "-")] = str(value)
    headers["Date"] = date
    raw_path = str(environ.get("RAW_URI") or environ.get("REQUEST_URI")
                   or environ.get("PATH_INFO") or "/").split("?", 1)[0]
    # canonical_resource keeps only the sub-resources S3 signs (acl, uploadId, ...).
    split = urlsplit(f"http://sandbox{raw_path}?{query}" if query
                     else f"http://sandbox{raw_path}")
    signer = Signer(Credentials("", secret))
    return str(signer.sign_string(signer.canonical_string(
        str(environ.get("REQUEST_METHOD", "GET")), split, headers)))


def _verify_s3_v2(environ: dict[str, Any]) -> Rejection | None:
    import hmac

    found = parse_s3_v2(environ)
    if found is None:
        return None
    key, signature, date, presigned = found
    as_signed = SignedRequest(key, "", "us-east-1", "s3", [], signature, "", presigned, None)
    record = lookup_key(key)
    token = environ.get("HTTP_X_AMZ_SECURITY_TOKEN") or dict(parse_qsl(
        str(environ.get("QUERY_STRING", "")))).get("x-amz-security-token")
    if record is None or (record.token is not None and token != record.token):
        return _reject(environ, as_signed, unknown_key=True)
    expected = expected_s3_v2_signature(environ, record.secret, date, presigned)
    if hmac.compare_digest(expected, signature):
        return None
    return _reject(environ, as_signed, unknown_key=False)


# --------------------------------------------------------------------------- entry point
def verify(environ: dict[str, Any]) -> Rejection | None:
    """None when the request is unsigned or correctly signed by a key the sandbox issued;
    else the error AWS would answer. May replace ``wsgi.input`` with a re-readable copy."""
    import hmac

    signed = parse_signature(environ)
    if signed is None:
        return _verify_s3_v2(environ)
    record = lookup_key(signed.access_key)
    if record is None or (record.token is not None and signed.token != record.token):
        return _reject(environ, signed, unknown_key=True)
    payload = payload_hash(environ, signed)
    for host in _host_variants(environ) if "host" in signed.signed_headers else [None]:
        expected = expected_signature(environ, signed, record.secret, payload, host)
        if hmac.compare_digest(expected, signed.signature):
            return None
    return _reject(environ, signed, unknown_key=False)


class SignatureGuard:
    """WSGI middleware in front of the sandbox layer: badly signed requests go no further.

    A wrapper rather than part of :class:`~wizard.sandbox.layer.SandboxLayer`, so the layer
    keeps serving a bare moto (tests/support/moto_accounts.py) with moto's own lenient keys.
    """

    def __init__(self, app: WsgiApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse
                 ) -> Iterable[bytes]:
        bad = verify(environ)
        if bad is None:
            return self.app(environ, start_response)
        start_response(f"{bad.status} Forbidden" if bad.status == 403 else f"{bad.status} Error",
                       [*bad.headers, ("Content-Length", str(len(bad.body)))])
        return [bad.body]
