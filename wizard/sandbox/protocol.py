"""AWS wire protocols, read from the installed botocore's own service models.

The sandbox answers some services itself (Athena, the Serverless Application Repository) and
inspects calls to others before moto answers them (STS AssumeRole, Lambda AddPermission, ...).
Which operation a request is, what its parameters are, and how the answer must look depend on
the wire protocol - and AWS moves services between protocols (botocore 1.44.18 moved Athena
from ``json`` to ``rest-json``). So nothing here is a hand-written table of paths or headers:

* the operation is found from the request the way the protocol defines it - the
  ``X-Amz-Target`` header (``json``), the ``Action`` parameter (``query``), the Smithy RPC v2
  path (``smithy-rpc-v2-cbor``), or the HTTP method and the ``requestUri`` template of every
  operation in the model (``rest-json``, ``rest-xml``);
* the input is deserialized with the operation's input shape (URI labels, query string,
  headers, payload, body members under their wire names), so handlers see the parameters a
  boto3 caller passed, keyed by member name, whatever the protocol;
* outputs and errors are serialized in the protocol the client used.

A service whose model lists several protocols (``metadata.protocols``) is served in each, and
a client of an older botocore (``json`` Athena) and one of a newer (``rest-json`` Athena) can
use the same sandbox. Tests may register further models of a service (:func:`register_model`),
e.g. a ``rest-json`` variant built from a ``json`` model, to drive both forms.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import format_datetime
from typing import Any
from urllib.parse import unquote
from xml.sax.saxutils import escape

from botocore.model import OperationModel, ServiceModel, Shape

# Protocols this module reads and writes. Success bodies of ``query``/``ec2``/``rest-xml`` are
# moto's to write (the sandbox only inspects those calls and answers their errors).
SUPPORTED_PROTOCOLS = ("json", "rest-json", "query", "ec2", "rest-xml", "smithy-rpc-v2-cbor")
RPC_CBOR_HEADER = "rpc-v2-cbor"

_lock = threading.Lock()
_extra_models: dict[str, list[ServiceModel]] = {}
_codecs: dict[str, ServiceCodec] = {}


class ProtocolError(Exception):
    """The request cannot be read as any protocol of the service's model."""


def installed_model(service: str) -> ServiceModel:
    """The installed botocore's model of ``service`` (AWS_DATA_PATH is honoured)."""
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


def register_model(service: str, model: ServiceModel) -> None:
    """Serve ``service`` in the protocol of ``model`` as well (tests: other protocol forms)."""
    with _lock:
        _extra_models.setdefault(service, []).append(model)
        _codecs.pop(service, None)


def unregister_models(service: str) -> None:
    with _lock:
        _extra_models.pop(service, None)
        _codecs.pop(service, None)


def codec_for(service: str) -> ServiceCodec:
    """The (cached) codec of a service: its installed model plus any registered variants."""
    with _lock:
        codec = _codecs.get(service)
        if codec is None:
            models = [installed_model(service), *_extra_models.get(service, [])]
            codec = _codecs[service] = ServiceCodec(models)
        return codec


# --------------------------------------------------------------------------- request/response
@dataclass
class WireRequest:
    """What the codec needs of an HTTP request; ``body`` is read lazily (uploads stay unread)."""

    method: str
    raw_path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]  # lower-cased names
    read_body: Callable[[], bytes]


@dataclass
class Matched:
    """An identified operation: its model, the protocol the client used, the URI labels."""

    operation: OperationModel
    protocol: str
    labels: dict[str, str]

    @property
    def name(self) -> str:
        return self.operation.name


@dataclass
class WireResponse:
    status: int
    body: bytes
    headers: list[tuple[str, str]]


# --------------------------------------------------------------------------- routing
@dataclass
class _Route:
    operation: OperationModel
    method: str
    pattern: re.Pattern[str]
    query_literals: dict[str, str | None]  # "?policy" -> {"policy": None}; "?list-type=2"
    required_headers: tuple[str, ...]  # CopyObject is PutObject's route + x-amz-copy-source
    required_query: tuple[str, ...]  # UploadPart is PutObject's route + partNumber, uploadId
    specificity: tuple[int, int, int]


def _compile_uri(request_uri: str) -> tuple[re.Pattern[str], dict[str, str | None], int]:
    path, _, literal_query = request_uri.partition("?")
    literals: dict[str, str | None] = {}
    for part in filter(None, literal_query.split("&")):
        key, eq, value = part.partition("=")
        literals[key] = value if eq else None
    regex = ""
    literal_chars = 0
    for token in re.split(r"(\{[^}]+\})", path):
        if token.startswith("{") and token.endswith("}"):
            label = token[1:-1]
            greedy = label.endswith("+")
            label = label.rstrip("+")
            group = re.sub(r"\W", "_", label)
            regex += f"(?P<{group}>.+)" if greedy else f"(?P<{group}>[^/]+)"
        else:
            regex += re.escape(token)
            literal_chars += len(token)
    # A trailing slash is optional in the request (clients differ), as AWS's routers allow.
    regex = regex.rstrip("/") if regex not in ("/", "") else ""
    return re.compile(f"^{regex}/?$"), literals, literal_chars


def _label_groups(request_uri: str) -> dict[str, str]:
    """Regex group name -> URI label name (labels may hold characters a group cannot)."""
    return {re.sub(r"\W", "_", m.rstrip("+")): m.rstrip("+")
            for m in re.findall(r"\{([^}]+)\}", request_uri.partition("?")[0])}


class ServiceCodec:
    """Finds, reads and answers one service's operations in any protocol of its models."""

    def __init__(self, models: list[ServiceModel]) -> None:
        self.models = models
        self.protocols: list[str] = []
        for model in models:
            for p in model.metadata.get("protocols") or [model.protocol]:
                if p not in self.protocols:
                    self.protocols.append(p)
        self._ops: dict[str, OperationModel] = {}
        self._routes: dict[str, list[_Route]] = {}
        for model in models:
            protos = model.metadata.get("protocols") or [model.protocol]
            rest = [p for p in protos if p in ("rest-json", "rest-xml")]
            for name in model.operation_names:
                op = model.operation_model(name)
                self._ops.setdefault(name, op)
                if rest:
                    self._add_route(op)
        for routes in self._routes.values():
            routes.sort(key=lambda r: r.specificity, reverse=True)

    @property
    def rest_protocol(self) -> str | None:
        return next((p for p in self.protocols if p in ("rest-json", "rest-xml")), None)

    def operation(self, name: str) -> OperationModel | None:
        return self._ops.get(name)

    def _add_route(self, op: OperationModel) -> None:
        uri = op.http.get("requestUri", "/")
        pattern, literals, literal_chars = _compile_uri(uri)
        method = op.http.get("method", "POST").upper()
        headers: list[str] = []
        query: list[str] = []
        shape = op.input_shape
        for name in (shape.required_members if shape is not None else []):
            member = shape.members[name]  # type: ignore[union-attr]
            location = member.serialization.get("location")
            wire = member.serialization.get("name", name)
            if location == "header":
                headers.append(wire.lower())
            elif location == "querystring":
                query.append(wire)
        spec = (len(literals) + len(headers) + len(query),
                sum(1 for v in literals.values() if v is not None), literal_chars)
        self._routes.setdefault(method, []).append(
            _Route(op, method, pattern, literals, tuple(headers), tuple(query), spec))

    # ----------------------------------------------------------------- identify
    def match(self, req: WireRequest) -> Matched | None:
        """The operation this request calls, or None when the models know no such call."""
        headers = req.headers
        target = headers.get("x-amz-target", "")
        if headers.get("smithy-protocol", "").lower() == RPC_CBOR_HEADER:
            m = re.match(r"^/service/[^/]+/operation/([^/?]+)$", req.raw_path)
            op = self._ops.get(unquote(m.group(1))) if m else None
            return Matched(op, "smithy-rpc-v2-cbor", {}) if op else None
        if target:
            op = self._ops.get(target.rsplit(".", 1)[-1])
            return Matched(op, "json", {}) if op else None
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == "application/x-www-form-urlencoded" or (
                req.method == "GET" and "Action" in req.query and self.rest_protocol is None):
            params = _form(req)
            op = self._ops.get(params.get("Action", ""))
            if op is not None:
                proto = "ec2" if "ec2" in self.protocols else "query"
                return Matched(op, proto, {})
            if self.rest_protocol is None:
                return None
        if self.rest_protocol is None:
            return None
        return self._match_rest(req)

    def _match_rest(self, req: WireRequest) -> Matched | None:
        path = req.raw_path or "/"
        for route in self._routes.get(req.method.upper(), []):
            m = route.pattern.match(path)
            if not m:
                continue
            if any(key not in req.query or (value is not None and value not in req.query[key])
                   for key, value in route.query_literals.items()):
                continue
            if any(h not in req.headers for h in route.required_headers) or any(
                    q not in req.query for q in route.required_query):
                continue
            groups = _label_groups(route.operation.http.get("requestUri", "/"))
            labels = {groups[g]: unquote(v) for g, v in m.groupdict().items()}
            proto = self._rest_protocol_of(route.operation)
            return Matched(route.operation, proto, labels)
        return None

    def _rest_protocol_of(self, op: OperationModel) -> str:
        protos = op.service_model.metadata.get("protocols") or [op.service_model.protocol]
        return next(p for p in protos if p in ("rest-json", "rest-xml"))

    # ----------------------------------------------------------------- read input
    def parse(self, matched: Matched, req: WireRequest) -> dict[str, Any]:
        """The operation's input parameters, keyed by member name as boto3 callers pass them."""
        shape = matched.operation.input_shape
        if shape is None:
            return {}
        proto = matched.protocol
        if proto == "json":
            return _from_wire(shape, _json_body(req.read_body()))
        if proto == "smithy-rpc-v2-cbor":
            body = req.read_body()
            return _from_wire(shape, _cbor_loads(body) if body else {}, cbor=True)
        if proto in ("query", "ec2"):
            return _from_query(shape, "", _form(req))
        return self._parse_rest(matched, req, shape, proto)

    def _parse_rest(self, matched: Matched, req: WireRequest, shape: Shape,
                    proto: str) -> dict[str, Any]:
        params: dict[str, Any] = {}
        payload_name = shape.serialization.get("payload")
        body_members: dict[str, Shape] = {}
        for name, member in shape.members.items():
            location = member.serialization.get("location")
            wire = member.serialization.get("name", name)
            if location == "uri":
                if wire in matched.labels:
                    params[name] = _scalar(member, matched.labels[wire])
            elif location == "querystring":
                if member.type_name == "map":
                    rest = {k: v[0] for k, v in req.query.items() if v}
                    if rest:
                        params[name] = rest
                elif wire in req.query:
                    values = req.query[wire]
                    params[name] = ([_scalar(member.member, v) for v in values]  # type: ignore[attr-defined]
                                    if member.type_name == "list" else _scalar(member, values[0]))
            elif location == "header":
                if wire.lower() in req.headers:
                    params[name] = _header_value(member, req.headers[wire.lower()])
            elif location == "headers":
                prefix = wire.lower()
                found = {k[len(prefix):]: v for k, v in req.headers.items()
                         if k.startswith(prefix)}
                if found:
                    params[name] = found
            elif location == "statusCode":
                continue
            elif name == payload_name:
                body = req.read_body()
                if member.type_name in ("blob", "string"):
                    if body:
                        params[name] = body if member.type_name == "blob" else body.decode()
                elif body:
                    params[name] = (_from_wire(member, _json_body(body)) if proto == "rest-json"
                                    else _xml_payload(body))
            else:
                body_members[name] = member
        if body_members and not payload_name and proto == "rest-json":
            data = _json_body(req.read_body())
            for name, member in body_members.items():
                wire = member.serialization.get("name", name)
                if wire in data:
                    params[name] = _from_wire(member, data[wire])
        return params

    # ----------------------------------------------------------------- write output
    def serialize(self, matched: Matched, output: Mapping[str, Any]) -> WireResponse:
        """A successful answer in the client's protocol."""
        op, proto = matched.operation, matched.protocol
        shape = op.output_shape
        headers: list[tuple[str, str]] = []
        if proto == "json":
            version = op.service_model.metadata.get("jsonVersion", "1.1")
            body = json.dumps(_to_wire(shape, output) if shape else {}).encode()
            return WireResponse(200, body, [("Content-Type",
                                             f"application/x-amz-json-{version}")])
        if proto == "smithy-rpc-v2-cbor":
            body = _cbor_dumps(_to_wire(shape, output, cbor=True) if shape else {})
            return WireResponse(200, body, [("Content-Type", "application/cbor"),
                                            ("smithy-protocol", RPC_CBOR_HEADER)])
        if proto != "rest-json":
            raise ProtocolError(f"the sandbox does not write {proto} success responses")
        status = int(op.http.get("responseCode", 200))
        body_doc: dict[str, Any] = {}
        payload: bytes | None = None
        if shape is not None:
            payload_name = shape.serialization.get("payload")
            for key, value in output.items():
                name, member = _member(shape, key)
                if member is None or value is None:
                    continue
                location = member.serialization.get("location")
                wire = member.serialization.get("name", name)
                if location == "statusCode":
                    status = int(value)
                elif location == "header":
                    headers.append((wire, _header_text(member, value)))
                elif location == "headers":
                    headers.extend((f"{wire}{k}", str(v)) for k, v in value.items())
                elif name == payload_name:
                    if isinstance(value, bytes | bytearray):
                        payload = bytes(value)
                    elif isinstance(value, str):
                        payload = value.encode()
                    else:
                        payload = json.dumps(_to_wire(member, value)).encode()
                else:
                    body_doc[wire] = _to_wire(member, value)
        body = payload if payload is not None else json.dumps(body_doc).encode()
        headers.append(("Content-Type", "application/json"))
        return WireResponse(status, body, headers)

    def error(self, protocol: str, code: str, message: str, status: int,
              extra: Mapping[str, Any] | None = None, namespace: str = "") -> WireResponse:
        """An error in the protocol the client used (botocore reads code and message)."""
        request_id = str(uuid.uuid4())
        extra = dict(extra or {})
        if protocol in ("json", "rest-json", "smithy-rpc-v2-cbor"):
            doc = {"__type": code, "message": message, "Message": message, **extra}
            if protocol == "rest-json":
                doc.pop("__type")
                doc["code"] = code
            headers = [("x-amzn-ErrorType", code), ("x-amzn-RequestId", request_id)]
            if protocol == "smithy-rpc-v2-cbor":
                return WireResponse(status, _cbor_dumps(doc), [
                    *headers, ("Content-Type", "application/cbor"),
                    ("smithy-protocol", RPC_CBOR_HEADER)])
            content_type = ("application/json" if protocol == "rest-json" else
                            "application/x-amz-json-1.1")
            return WireResponse(status, json.dumps(doc).encode(),
                                [*headers, ("Content-Type", content_type)])
        if protocol == "rest-xml":
            fields = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in extra.items())
            body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{escape(code)}</Code>'
                    f"<Message>{escape(message)}</Message>{fields}"
                    f"<RequestId>{request_id}</RequestId></Error>")
            return WireResponse(status, body.encode(), [("Content-Type", "application/xml"),
                                                        ("x-amz-request-id", request_id)])
        ns = namespace or self.xml_namespace
        body = (f'<ErrorResponse xmlns="{ns}"><Error><Type>Sender</Type>'
                f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
                f"<RequestId>{request_id}</RequestId></ErrorResponse>")
        return WireResponse(status, body.encode(), [("Content-Type", "text/xml")])

    @property
    def xml_namespace(self) -> str:
        model = self.models[0]
        ns = model.metadata.get("xmlNamespace")
        if ns:
            return str(ns)
        return f"https://{model.endpoint_prefix}.amazonaws.com/doc/{model.api_version}/"


# --------------------------------------------------------------------------- shape helpers
def _member(shape: Shape, key: str) -> tuple[str, Shape | None]:
    """A structure member by member name, or by wire name (handlers may write either)."""
    members = shape.members  # type: ignore[attr-defined]
    if key in members:
        return key, members[key]
    for name, member in members.items():
        if member.serialization.get("name") == key:
            return name, member
    return key, None


def _from_wire(shape: Shape, value: Any, *, cbor: bool = False) -> Any:
    """A JSON/CBOR document value -> the boto3-side value (member names, bytes for blobs)."""
    kind = shape.type_name
    if value is None:
        return None
    if kind == "structure":
        if not isinstance(value, Mapping):
            return value
        out: dict[str, Any] = {}
        for name, member in shape.members.items():  # type: ignore[attr-defined]
            wire = member.serialization.get("name", name)  # else the member name, below
            if wire in value:
                out[name] = _from_wire(member, value[wire], cbor=cbor)
            elif name in value:
                out[name] = _from_wire(member, value[name], cbor=cbor)
        return out
    if kind == "list":
        return [_from_wire(shape.member, v, cbor=cbor)  # type: ignore[attr-defined]
                for v in value] if isinstance(value, list) else value
    if kind == "map":
        return {k: _from_wire(shape.value, v, cbor=cbor)  # type: ignore[attr-defined]
                for k, v in value.items()} if isinstance(value, Mapping) else value
    if kind == "blob" and isinstance(value, str) and not cbor:
        try:
            return base64.b64decode(value)
        except ValueError:
            return value.encode()
    return value


def _to_wire(shape: Shape | None, value: Any, *, cbor: bool = False) -> Any:
    """A handler's output value -> the JSON/CBOR document value (wire names, base64 blobs)."""
    if value is None or shape is None:
        return _plain(value)
    kind = shape.type_name
    if kind == "structure" and isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            name, member = _member(shape, key)
            if item is None:
                continue
            if member is None:
                out[key] = _plain(item)  # extra fields a handler chose to send
                continue
            # Smithy RPC v2 CBOR answers by member name (botocore's CBOR parser reads those).
            wire = name if cbor else member.serialization.get("name", name)
            out[wire] = _to_wire(member, item, cbor=cbor)
        return out
    if kind == "list" and isinstance(value, list | tuple):
        return [_to_wire(shape.member, v, cbor=cbor) for v in value]  # type: ignore[attr-defined]
    if kind == "map" and isinstance(value, Mapping):
        return {str(k): _to_wire(shape.value, v, cbor=cbor)  # type: ignore[attr-defined]
                for k, v in value.items()}
    if kind == "timestamp":
        return _epoch(value, cbor=cbor)
    if kind == "blob":
        raw = value.encode() if isinstance(value, str) else bytes(value)
        return raw if cbor else base64.b64encode(raw).decode()
    if kind in ("integer", "long") and isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return _plain(value)


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.timestamp()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _epoch(value: Any, *, cbor: bool = False) -> Any:
    """Epoch seconds for JSON; a datetime for CBOR (written as tag 1, as Smithy wants)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value, dt.UTC) if cbor else value
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.timestamp() if not cbor else value
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        return _epoch(parsed, cbor=cbor)
    return value


def _scalar(shape: Shape, text: str) -> Any:
    kind = shape.type_name
    if kind in ("integer", "long"):
        try:
            return int(text)
        except ValueError:
            return text
    if kind in ("float", "double"):
        try:
            return float(text)
        except ValueError:
            return text
    if kind == "boolean":
        return text.lower() == "true"
    return text


def _header_value(shape: Shape, text: str) -> Any:
    if shape.type_name == "list":
        return [_scalar(shape.member, v.strip()) for v in text.split(",")]  # type: ignore[attr-defined]
    if shape.serialization.get("jsonvalue"):
        try:
            return json.loads(base64.b64decode(text))
        except ValueError:
            return text
    return _scalar(shape, text)


def _header_text(shape: Shape, value: Any) -> str:
    if shape.type_name == "timestamp" and isinstance(value, dt.datetime):
        return format_datetime(value.astimezone(dt.UTC), usegmt=True)
    if shape.type_name == "boolean":
        return "true" if value else "false"
    if shape.serialization.get("jsonvalue"):
        return base64.b64encode(json.dumps(value).encode()).decode()
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def _from_query(shape: Shape, prefix: str, form: Mapping[str, str]) -> Any:
    """Unflatten query-protocol parameters (``A.member.1``, ``M.entry.1.key``) by shape."""
    kind = shape.type_name
    if kind == "structure":
        out: dict[str, Any] = {}
        for name, member in shape.members.items():  # type: ignore[attr-defined]
            wire = member.serialization.get("name", name)
            key = f"{prefix}.{wire}" if prefix else wire
            value = _from_query(member, key, form)
            if value is not None:
                out[name] = value
        return out if out or not prefix else None
    if kind == "list":
        flat = shape.serialization.get("flattened")
        member_name = shape.member.serialization.get("name", "member")  # type: ignore[attr-defined]
        items = []
        for n in range(1, 1001):
            key = f"{prefix}.{n}" if flat else f"{prefix}.{member_name}.{n}"
            value = _from_query(shape.member, key, form)  # type: ignore[attr-defined]
            if value is None:
                break
            items.append(value)
        if not items and form.get(prefix) == "":
            return []
        return items or None
    if kind == "map":
        flat = shape.serialization.get("flattened")
        out_map: dict[str, Any] = {}
        for n in range(1, 1001):
            base = f"{prefix}.{n}" if flat else f"{prefix}.entry.{n}"
            k = form.get(f"{base}.key")
            if k is None:
                break
            out_map[k] = _from_query(shape.value, f"{base}.value", form)  # type: ignore[attr-defined]
        return out_map or None
    if prefix not in form:
        return None
    return _scalar(shape, form[prefix])


def _form(req: WireRequest) -> dict[str, str]:
    out = {k: v[0] for k, v in req.query.items() if v}
    content_type = req.headers.get("content-type", "").lower()
    if req.method.upper() != "GET" and "x-www-form-urlencoded" in content_type:
        from urllib.parse import parse_qs

        body = req.read_body()
        if body:
            parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True)
            out.update({k: v[0] for k, v in parsed.items() if v})
    return out


def _json_body(body: bytes) -> dict[str, Any]:
    if not body or not body.strip():
        return {}
    try:
        data = json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"the request body is not JSON: {exc}") from None
    return data if isinstance(data, dict) else {}


def _xml_payload(body: bytes) -> Any:
    """A structure payload of a rest-xml request, as the raw document (the S3 handlers here
    never read one; kept for completeness so parse() does not fail)."""
    return body.decode("utf-8", "replace")


# --------------------------------------------------------------------------- CBOR
def _cbor_loads(body: bytes) -> Any:
    try:
        import cbor2
    except ImportError as exc:  # pragma: no cover - cbor2 is a declared dependency
        raise ProtocolError("reading smithy-rpc-v2-cbor needs the cbor2 package") from exc
    return cbor2.loads(body)


def _cbor_dumps(value: Any) -> bytes:
    try:
        import cbor2
    except ImportError as exc:  # pragma: no cover
        raise ProtocolError("writing smithy-rpc-v2-cbor needs the cbor2 package") from exc
    return bytes(cbor2.dumps(value, timezone=dt.UTC, datetime_as_timestamp=True))
