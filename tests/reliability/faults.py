"""Fault injection through botocore's own event hooks.

Faults are injected at ``before-send.<service>.<Operation>``: the hook runs inside botocore's
endpoint, after signing and before the HTTP request goes out, exactly where a real network or
service failure happens. So every injected fault passes through botocore's real machinery:

* an error *response* (Throttling, AccessDenied) returned from the hook is parsed by the real
  protocol parser and judged by the real ``standard`` retry handler (``needs-retry``);
* an exception raised from the hook (EndpointConnectionError, ReadTimeoutError,
  ConnectionClosedError) is what urllib3/botocore raise for a dropped connection, and botocore
  retries it as it would a real one;
* "response lost" forwards the request to the server for real, then drops the answer: the
  change happened in AWS, but the caller saw a timeout and botocore sends the request again.

A fault targets one call: an operation made as one account (the engine's call recorder tells
which); ``before-call`` marks a new call, ``before-send`` counts its attempts, so botocore's
retries of the targeted call are visible.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ConnectionClosedError, EndpointConnectionError, ReadTimeoutError

from wizard.aws import CallRecorder

MAX_ATTEMPTS = 6  # wizard.aws.RETRY_CONFIG: standard mode, max_attempts=5 retries (botocore
# counts Config(retries={"max_attempts": n}) as retries after the first attempt: 1 + 5)

PROTOCOL = {"iam": "query", "sts": "query", "cloudformation": "query", "s3": "rest-xml",
            "lambda": "rest-json", "serverlessrepo": "rest-json", "athena": "json",
            "logs": "json", "kms": "json"}
# botocore's event names use the hyphenised service id, not the boto3 client name
EVENT_SERVICE_ID = {"logs": "cloudwatch-logs", "serverlessrepo": "serverlessapplicationrepository"}
# (status, code) each service really answers with
THROTTLE = {"iam": (400, "Throttling"), "sts": (400, "Throttling"),
            "cloudformation": (400, "Throttling"), "s3": (503, "SlowDown"),
            "lambda": (429, "TooManyRequestsException"),
            "serverlessrepo": (429, "TooManyRequestsException"),
            "athena": (400, "ThrottlingException"), "logs": (400, "ThrottlingException"),
            "kms": (400, "ThrottlingException")}
DENIED = {"iam": (403, "AccessDenied"), "sts": (403, "AccessDenied"),
          "cloudformation": (403, "AccessDenied"), "s3": (403, "AccessDenied"),
          "lambda": (403, "AccessDeniedException"), "serverlessrepo": (403, "ForbiddenException"),
          "athena": (400, "AccessDeniedException"), "logs": (400, "AccessDeniedException"),
          "kms": (400, "AccessDeniedException")}
# The IAM action each operation needs, where it is not "<service>:<Operation>".
ACTION_EXCEPTIONS = {
    ("s3", "PutPublicAccessBlock"): "s3:PutBucketPublicAccessBlock",
    ("s3", "PutBucketEncryption"): "s3:PutEncryptionConfiguration",
    ("s3", "PutBucketLifecycleConfiguration"): "s3:PutLifecycleConfiguration",
    ("s3", "DeleteObjects"): "s3:DeleteObject",
}


INJECTED: dict[str, int] = {}  # faults injected in this test session, by kind (the figures)


def iam_action(service: str, operation: str) -> str:
    return ACTION_EXCEPTIONS.get((service, operation), f"{service}:{operation}")


class _Raw(io.BytesIO):
    def stream(self, **_: Any) -> Any:
        yield self.getvalue()


def error_response(request: Any, service: str, status: int, code: str,
                   message: str) -> AWSResponse:
    """An error answer as the service would send it, in the service's wire protocol."""
    protocol = PROTOCOL[service]
    headers = {"x-amzn-RequestId": "fault-injected", "x-amz-request-id": "fault-injected"}
    if protocol == "query":
        body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
                f"<Message>{_xml(message)}</Message></Error>"
                "<RequestId>fault-injected</RequestId></ErrorResponse>")
        headers["Content-Type"] = "text/xml"
    elif protocol == "rest-xml":
        body = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code>"
                f"<Message>{_xml(message)}</Message><RequestId>fault-injected</RequestId>"
                "</Error>")
        headers["Content-Type"] = "application/xml"
    else:
        body = json.dumps({"__type": code, "message": message, "Message": message})
        headers["Content-Type"] = ("application/x-amz-json-1.1" if protocol == "json"
                                   else "application/json")
        headers["x-amzn-ErrorType"] = code
    return AWSResponse(request.url, status, headers, _Raw(body.encode()))


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def denied_message(service: str, operation: str, account: str) -> str:
    if service == "s3":  # S3 often says no more than this: the fix must still name the action
        return "Access Denied"
    action = iam_action(service, operation)
    return (f"User: arn:aws:sts::{account}:assumed-role/OrganizationAccountAccessRole/admin is "
            f"not authorized to perform: {action} on resource: * because no identity-based "
            f"policy allows the {action} action")


# ------------------------------------------------------------------------- one fault
Kind = str  # "throttle" | "denied" | "refused" | "timeout" | "lost"


class TargetingRecorder(CallRecorder):
    """The engine's call recorder, also noting which account each thread is calling as, so a
    fault can target "PutUserPolicy as the consumer" rather than any PutUserPolicy."""

    def __init__(self) -> None:
        super().__init__()
        self.current = threading.local()

    def record(self, account: str, service: str, operation: str) -> None:
        super().record(account, service, operation)
        self.current.account = account.split(":", 1)[0]


@dataclass
class Fault:
    """Inject ``schedule[i]`` on attempt i+1 of the ``nth`` call of ``operation`` made as
    ``account`` ("owner", "consumer", "owner-as-consumer"); later attempts go through, unless
    ``persistent`` (then the last kind repeats for as long as botocore keeps trying).
    Pass ``hooks`` and ``recorder`` to the Engine.
    """

    account: str
    service: str
    operation: str
    schedule: list[Kind] = field(default_factory=list)
    persistent: bool = False
    account_id: str = "000000000000"  # for the AccessDenied message
    nth: int = 1
    recorder: TargetingRecorder = field(default_factory=TargetingRecorder)
    calls: int = 0
    attempts: int = 0  # attempts of the targeted call
    injected: list[Kind] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def rearm(self, schedule: list[Kind], persistent: bool = False) -> Fault:
        """The same target again (for the next run), with a new schedule."""
        return Fault(self.account, self.service, self.operation, schedule, persistent,
                     self.account_id, self.nth)

    @property
    def hooks(self) -> list[tuple[str, Callable[..., Any]]]:
        sid = EVENT_SERVICE_ID.get(self.service, self.service)
        return [(f"before-call.{sid}.{self.operation}", self._on_call),
                (f"before-send.{sid}.{self.operation}", self._on_send)]

    def _targeted(self) -> bool:
        return getattr(self.recorder.current, "account", None) == self.account

    def _on_call(self, **_: Any) -> None:
        # a new call (not a retry) on this thread; the recorder's before-call handler, which
        # says as whom, may run before or after this one - both run before any attempt is sent
        self.recorder.current.new_call = True

    def _on_send(self, request: Any, **_: Any) -> Any:
        with self._lock:
            new_call = getattr(self.recorder.current, "new_call", False)
            self.recorder.current.new_call = False
            if not self._targeted():
                return None
            if new_call:
                self.calls += 1
            if self.calls != self.nth:
                return None
            self.attempts += 1
            i = self.attempts - 1
            if i < len(self.schedule):
                kind = self.schedule[i]
            elif self.persistent and self.schedule:
                kind = self.schedule[-1]
            else:
                return None
            self.injected.append(kind)
        return self._inject(kind, request)

    def _inject(self, kind: Kind, request: Any) -> Any:
        INJECTED[kind] = INJECTED.get(kind, 0) + 1
        if kind == "throttle":
            status, code = THROTTLE[self.service]
            message = ("Please reduce your request rate." if self.service == "s3"
                       else "Rate exceeded")
            return error_response(request, self.service, status, code, message)
        if kind == "denied":
            status, code = DENIED[self.service]
            return error_response(request, self.service, status, code,
                                  denied_message(self.service, self.operation, self.account_id))
        if kind == "refused":  # the connection never got through
            raise EndpointConnectionError(endpoint_url=request.url)
        if kind == "timeout":  # sent, no answer in time (and nothing happened server-side)
            raise ReadTimeoutError(endpoint_url=request.url, error="injected read timeout")
        if kind == "lost":  # the server did it; the connection dropped before the answer
            body = request.body
            if hasattr(body, "read"):
                body = body.read()
            requests.request(request.method, request.url, headers=dict(request.headers.items()),
                             data=body, timeout=30)
            raise ConnectionClosedError(endpoint_url=request.url)
        raise AssertionError(kind)
