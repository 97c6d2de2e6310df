"""Success answers of ``query``-protocol operations (CloudFormation's StackSets), as XML.

:mod:`protocol` reads query requests and writes their errors, but leaves their success bodies
to moto. The StackSets operations are answered by the sandbox itself
(:mod:`wizard.sandbox.stacksets`), so their output is written here, following the operation's
output shape in the installed botocore model: ``<OpResponse><OpResult>...`` with list members as
``<member>``, map entries as ``<entry><key/><value/></entry>``, timestamps in ISO 8601.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from xml.sax.saxutils import escape

from wizard.sandbox.layer import ApiRequest, ApiResponse, request_id

_NAMESPACES = {"cloudformation": "http://cloudformation.amazonaws.com/doc/2010-05-15/"}


def _shape_xml(shape: Any, value: Any) -> str:
    kind = shape.type_name
    if kind == "structure":
        parts = []
        for name, member in shape.members.items():
            if isinstance(value, dict) and value.get(name) is not None:
                tag = member.serialization.get("name", name)
                parts.append(f"<{tag}>{_shape_xml(member, value[name])}</{tag}>")
        return "".join(parts)
    if kind == "list":
        tag = shape.member.serialization.get("name", "member")
        return "".join(f"<{tag}>{_shape_xml(shape.member, v)}</{tag}>" for v in value or [])
    if kind == "map":
        return "".join(f"<entry><key>{escape(str(k))}</key><value>"
                       f"{_shape_xml(shape.value, v)}</value></entry>"
                       for k, v in (value or {}).items())
    if kind == "timestamp":
        if isinstance(value, dt.datetime):
            return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return escape(str(value))
    if kind == "boolean":
        return "true" if value else "false"
    return escape(str(value))


def respond(req: ApiRequest, output: dict[str, Any]) -> ApiResponse:
    """The operation's output, written as the query protocol's XML answer."""
    from wizard.sandbox import protocol

    codec = protocol.codec_for(req.service)
    model = codec.models[0]
    op = model.operation_model(req.operation)
    body = _shape_xml(op.output_shape, output) if op.output_shape is not None else ""
    ns = _NAMESPACES.get(req.service, "")
    xml = (f'<{req.operation}Response xmlns="{ns}"><{req.operation}Result>{body}'
           f"</{req.operation}Result><ResponseMetadata><RequestId>{request_id()}</RequestId>"
           f"</ResponseMetadata></{req.operation}Response>")
    return ApiResponse(200, xml.encode("utf-8"), [("Content-Type", "text/xml")])
