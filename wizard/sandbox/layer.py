"""The WSGI layer in front of moto: routes each request to our emulation or to moto.

moto answers most of what the wizard calls (IAM, STS, S3, DynamoDB, Lambda, CloudFormation).
What it lacks or gets wrong for this tool - the Serverless Application Repository, Athena's data
catalogs and federated query execution, and the authorisation checks that make a missing grant
fail - is answered here instead. Routing uses what every AWS request carries anyway: the SigV4
credential scope (``.../<region>/<service>/aws4_request``) names the service, JSON protocols
name the operation in ``X-Amz-Target``, REST ones in the path.

The layer runs in the same process as moto, so the handlers read and write moto's backends
directly instead of calling it over HTTP.
"""

from __future__ import annotations

import io
import json
import os
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from wizard.sandbox import sigv4
from wizard.sandbox.iam_eval import Caller, resolve_caller

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

HEALTH_PATH = "/xacct-sandbox/health"
TEMPLATE_PATH = "/xacct-sandbox/templates/"
_SCOPE_RE = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")


class ServiceError(Exception):
    """An AWS API error a handler wants returned (rendered in its service's protocol)."""

    def __init__(self, code: str, message: str, status: int = 400,
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.extra = extra or {}


@dataclass
class ApiRequest:
    """One incoming AWS request, parsed just enough to route and authorise it."""

    method: str
    path: str  # decoded (PATH_INFO)
    raw_path: str  # as sent: REST APIs put ARNs with encoded '/' into path segments
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    service: str
    region: str
    access_key: str | None
    _caller: Caller | None = field(default=None, repr=False)

    @property
    def caller(self) -> Caller:
        """The principal behind the request's access key (resolved on first use)."""
        if self._caller is None:
            self._caller = resolve_caller(self.access_key, self.region)
        return self._caller

    def json(self) -> dict[str, Any]:
        if not self.body:
            return {}
        data = json.loads(self.body.decode("utf-8"))
        return data if isinstance(data, dict) else {}

    def form(self) -> dict[str, str]:
        """Query-protocol parameters (STS, IAM): the form body merged over the query string."""
        out = {k: v[0] for k, v in self.query.items() if v}
        if self.body:
            parsed = parse_qs(self.body.decode("utf-8"), keep_blank_values=True)
            out.update({k: v[0] for k, v in parsed.items() if v})
        return out


@dataclass
class ApiResponse:
    """What a handler returns: status, body, headers."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def json(cls, obj: Any, status: int = 200,
             content_type: str = "application/x-amz-json-1.1") -> ApiResponse:
        return cls(status, json.dumps(obj, default=str).encode("utf-8"),
                   [("Content-Type", content_type)])


Handler = Callable[[ApiRequest], "ApiResponse | None"]

_REASONS = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request",
            403: "Forbidden", 404: "Not Found", 409: "Conflict", 500: "Internal Server Error"}


def request_id() -> str:
    return str(uuid.uuid4())


class SandboxLayer:
    """WSGI app: our handlers first (per signing service), moto for everything else.

    A handler returns an :class:`ApiResponse` to answer, or ``None`` to let moto answer (after
    it has, for instance, checked a permission moto would not).
    """

    def __init__(self, moto_app: WsgiApp, handlers: dict[str, Handler],
                 extra_routes: dict[str, Callable[[str], ApiResponse | None]] | None = None,
                 wants: dict[str, Callable[[dict[str, Any]], bool]] | None = None,
                 after: dict[str, Callable[[ApiRequest], None]] | None = None) -> None:
        """``wants[service]`` picks the requests a handler sees (so S3 object uploads are
        never buffered); ``after[service]`` runs once moto has answered successfully."""
        self.moto_app = moto_app
        self.handlers = handlers
        self.extra_routes = extra_routes or {}
        self.wants = wants or {}
        self.after = after or {}

    def __call__(self, environ: dict[str, Any], start_response: StartResponse
                 ) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        if path == HEALTH_PATH:
            return self._send(start_response, ApiResponse.json(
                {"service": "xacct-wizard-sandbox", "pid": os.getpid()},
                content_type="application/json"))
        for prefix, route in self.extra_routes.items():
            if path.startswith(prefix):
                resp = route(path[len(prefix):])
                if resp is not None:
                    return self._send(start_response, resp)
        # Nobody talks to the sandbox as "another account" by header: accounts come from keys.
        environ.pop("HTTP_X_MOTO_ACCOUNT_ID", None)
        auth = environ.get("HTTP_AUTHORIZATION", "")
        m = _SCOPE_RE.search(auth)
        bad = sigv4.verify(environ)  # wrong secret, unknown key: refused as AWS refuses them
        if bad is not None:
            return self._send(start_response, ApiResponse(bad.status, bad.body, bad.headers))
        if not m:
            return self.moto_app(environ, start_response)
        access_key, region, service = m.group(1), m.group(2), m.group(3).lower()
        handler = self.handlers.get(service)
        wants = self.wants.get(service)
        if handler is None or (wants is not None and not wants(environ)):
            return self.moto_app(environ, start_response)
        body = self._read_body(environ)
        req = ApiRequest(
            method=environ.get("REQUEST_METHOD", "GET"),
            path=path,
            raw_path=(environ.get("RAW_URI") or environ.get("REQUEST_URI") or path
                      ).split("?", 1)[0],
            query=parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True),
            headers={k[5:].replace("_", "-").lower(): str(v)
                     for k, v in environ.items() if k.startswith("HTTP_")}
            | {"content-type": environ.get("CONTENT_TYPE", "")},
            body=body,
            service=service,
            region=region,
            access_key=access_key,
        )
        resp = handler(req)
        if resp is None:
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            hook = self.after.get(service)
            if hook is None:
                return self.moto_app(environ, start_response)
            status: list[str] = []

            def capture(s: str, headers: Any, exc_info: Any = None) -> Any:
                status.append(s)
                return start_response(s, headers, exc_info) if exc_info else \
                    start_response(s, headers)

            result = self.moto_app(environ, capture)
            if status and status[0][:1] == "2":
                hook(req)
            return result
        return self._send(start_response, resp)

    @staticmethod
    def _read_body(environ: dict[str, Any]) -> bytes:
        stream = environ.get("wsgi.input")
        if stream is None:
            return b""
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > 0:
            return stream.read(length)
        if environ.get("wsgi.input_terminated"):
            return stream.read()
        return b""

    @staticmethod
    def _send(start_response: StartResponse, resp: ApiResponse) -> list[bytes]:
        headers = list(resp.headers)
        names = {h.lower() for h, _ in headers}
        if "x-amzn-requestid" not in names:
            headers.append(("x-amzn-RequestId", request_id()))
        headers.append(("Content-Length", str(len(resp.body))))
        start_response(f"{resp.status} {_REASONS.get(resp.status, 'Status')}", headers)
        return [resp.body]


# --------------------------------------------------------------------------- error rendering
def json11_error(err: ServiceError) -> ApiResponse:
    """AWS JSON 1.1 protocol error (Athena)."""
    body = {"__type": err.code, "Message": err.message, **err.extra}
    resp = ApiResponse.json(body, status=err.status)
    resp.headers.append(("x-amzn-ErrorType", err.code))
    return resp


def rest_json_error(err: ServiceError) -> ApiResponse:
    """REST-JSON protocol error (Serverless Application Repository)."""
    body = {"errorCode": err.code, "message": err.message, **err.extra}
    resp = ApiResponse.json(body, status=err.status, content_type="application/json")
    resp.headers.append(("x-amzn-ErrorType", err.code))
    return resp


def query_error(err: ServiceError, namespace: str) -> ApiResponse:
    """Query protocol (XML) error (STS, IAM)."""
    from xml.sax.saxutils import escape

    body = (f'<ErrorResponse xmlns="{namespace}"><Error><Type>Sender</Type>'
            f"<Code>{escape(err.code)}</Code><Message>{escape(err.message)}</Message></Error>"
            f"<RequestId>{request_id()}</RequestId></ErrorResponse>")
    return ApiResponse(err.status, body.encode("utf-8"), [("Content-Type", "text/xml")])
