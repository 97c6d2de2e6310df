"""The WSGI layer in front of moto: routes each request to our emulation or to moto.

moto answers most of what the wizard calls (IAM, STS, S3, DynamoDB, Lambda, CloudFormation).
What it lacks or gets wrong for this tool - the Serverless Application Repository, Athena's data
catalogs and federated query execution, and the authorisation checks that make a missing grant
fail - is answered here instead.

The SigV4 credential scope (``.../<region>/<service>/aws4_request``) names the service; which
operation a request calls, its parameters, and the form of the answer come from the installed
botocore's service model (:mod:`wizard.sandbox.protocol`), in whatever protocol the client
used. A service is either answered here entirely (``answer_all``: moto has no such service, or
cannot read its current protocol) or only inspected: its handlers see the operations they name
and return ``None`` to let moto answer.

The layer runs in the same process as moto, so the handlers read and write moto's backends
directly instead of calling it over HTTP.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from wizard.sandbox import protocol
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
    operation: str = ""
    params: dict[str, Any] = field(default_factory=dict)  # input, keyed by member name
    protocol: str = ""
    _caller: Caller | None = field(default=None, repr=False)

    @property
    def caller(self) -> Caller:
        """The principal behind the request's access key (resolved on first use)."""
        if self._caller is None:
            self._caller = resolve_caller(self.access_key, self.region)
        return self._caller


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


Handler = Callable[[ApiRequest], "ApiResponse | Mapping[str, Any] | None"]
After = Callable[[ApiRequest], None]
log = logging.getLogger(__name__)

_REASONS = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request",
            403: "Forbidden", 404: "Not Found", 409: "Conflict", 500: "Internal Server Error",
            501: "Not Implemented"}


def request_id() -> str:
    return str(uuid.uuid4())


@dataclass
class ServiceHandlers:
    """What the sandbox does with one service's requests.

    ``ops`` maps operation names to handlers; a handler returns the operation's output (a
    mapping keyed by member names, written in the client's protocol), an :class:`ApiResponse`
    as is, or ``None`` to let moto answer. It raises :class:`ServiceError` for an AWS error.
    ``after[op]`` runs once moto has answered an operation successfully. ``answer_all``: moto
    never sees this service (an operation without a handler is refused as not emulated).
    """

    service: str  # botocore's name for the service (its model)
    ops: Mapping[str, Handler]
    after: Mapping[str, After] = field(default_factory=dict)
    answer_all: bool = False


class SandboxLayer:
    """WSGI app: our handlers first (per signing service), moto for everything else."""

    def __init__(self, moto_app: WsgiApp, services: Iterable[ServiceHandlers],
                 extra_routes: dict[str, Callable[[str], ApiResponse | None]] | None = None
                 ) -> None:
        self.moto_app = moto_app
        self.services: dict[str, ServiceHandlers] = {}
        for handlers in services:
            signing = protocol.codec_for(handlers.service).models[0].signing_name
            self.services[signing] = handlers
        self.extra_routes = extra_routes or {}

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
        if not m:
            return self.moto_app(environ, start_response)
        access_key, region, signing = m.group(1), m.group(2), m.group(3).lower()
        handlers = self.services.get(signing)
        if handlers is None:
            return self.moto_app(environ, start_response)
        return self._serve(handlers, environ, start_response, access_key, region)

    def _serve(self, handlers: ServiceHandlers, environ: dict[str, Any],
               start_response: StartResponse, access_key: str, region: str
               ) -> Iterable[bytes]:
        codec = protocol.codec_for(handlers.service)
        body_read: list[bytes] = []

        def read_body() -> bytes:
            if not body_read:
                body_read.append(self._read_body(environ))
            return body_read[0]

        path = environ.get("PATH_INFO", "") or "/"
        headers = {k[5:].replace("_", "-").lower(): str(v)
                   for k, v in environ.items() if k.startswith("HTTP_")}
        headers["content-type"] = environ.get("CONTENT_TYPE", "")
        wire = protocol.WireRequest(
            method=environ.get("REQUEST_METHOD", "GET"),
            # REST APIs put ARNs with encoded '/' into path segments: route on the path as sent
            raw_path=(environ.get("RAW_URI") or environ.get("REQUEST_URI") or path
                      ).split("?", 1)[0],
            query=parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True),
            headers=headers,
            read_body=read_body,
        )
        try:
            matched = codec.match(wire)
        except protocol.ProtocolError:
            matched = None
        handler = handlers.ops.get(matched.name) if matched is not None else None
        if handler is None or matched is None:
            if not handlers.answer_all:
                return self._to_moto(environ, start_response, body_read)
            return self._refuse(codec, wire, matched, start_response)
        try:
            params = codec.parse(matched, wire)
        except protocol.ProtocolError as exc:
            return self._send(start_response, _wire(codec.error(
                matched.protocol, "SerializationException", str(exc), 400)))
        req = ApiRequest(
            method=wire.method, path=path, raw_path=wire.raw_path, query=dict(wire.query),
            headers=headers, body=body_read[0] if body_read else b"",
            service=handlers.service, region=region, access_key=access_key,
            operation=matched.name, params=params, protocol=matched.protocol,
        )
        try:
            result = handler(req)
        except ServiceError as err:
            return self._send(start_response, _wire(codec.error(
                matched.protocol, err.code, err.message, err.status, err.extra)))
        except Exception as exc:  # moto's own errors, and our bugs: never an HTML page
            moto_code = getattr(exc, "error_type", None)
            if moto_code and isinstance(getattr(exc, "code", None), int):
                return self._send(start_response, _wire(codec.error(
                    matched.protocol, str(moto_code), str(getattr(exc, "message", exc)),
                    int(exc.code))))  # type: ignore[attr-defined]
            log.exception("sandbox: %s %s failed", handlers.service, matched.name)
            return self._send(start_response, _wire(codec.error(
                matched.protocol, "InternalFailure",
                f"The xacct-wizard sandbox failed on {matched.name}: {exc}", 500)))
        if result is None:
            if handlers.answer_all:
                return self._refuse(codec, wire, matched, start_response)
            hook = handlers.after.get(matched.name)
            if hook is None:
                return self._to_moto(environ, start_response, body_read)
            return self._to_moto(environ, start_response, body_read, lambda: hook(req))
        if isinstance(result, ApiResponse):
            return self._send(start_response, result)
        return self._send(start_response, _wire(codec.serialize(matched, result)))

    def _refuse(self, codec: protocol.ServiceCodec, wire: protocol.WireRequest,
                matched: protocol.Matched | None, start_response: StartResponse
                ) -> list[bytes]:
        """An operation this sandbox does not emulate: say so, in the client's protocol."""
        if matched is not None:
            message = (f"The xacct-wizard sandbox does not emulate {matched.name} of "
                       f"{codec.models[0].service_name}")
            return self._send(start_response, _wire(codec.error(
                matched.protocol, "NotImplemented", message, 501)))
        guess = ("json" if "x-amz-target" in wire.headers else
                 codec.rest_protocol or codec.protocols[0])
        message = (f"No {codec.models[0].service_name} operation answers {wire.method} "
                   f"{wire.raw_path} (installed botocore's model; protocols "
                   f"{', '.join(codec.protocols)})")
        log.warning("sandbox: %s", message)
        return self._send(start_response, _wire(codec.error(
            guess, "UnknownOperationException", message, 404)))

    def _to_moto(self, environ: dict[str, Any], start_response: StartResponse,
                 body_read: list[bytes], after_success: Callable[[], None] | None = None
                 ) -> Iterable[bytes]:
        if body_read:  # the stream was consumed to route or read the call: hand it on whole
            environ["wsgi.input"] = io.BytesIO(body_read[0])
            environ["CONTENT_LENGTH"] = str(len(body_read[0]))
        if after_success is None:
            return self.moto_app(environ, start_response)
        status: list[str] = []

        def capture(s: str, headers: Any, exc_info: Any = None) -> Any:
            status.append(s)
            return start_response(s, headers, exc_info) if exc_info else \
                start_response(s, headers)

        result = self.moto_app(environ, capture)
        if status and status[0][:1] == "2":
            after_success()
        return result

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


def _wire(resp: protocol.WireResponse) -> ApiResponse:
    return ApiResponse(resp.status, resp.body, list(resp.headers))
