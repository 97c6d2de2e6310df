"""One place where boto3 clients are made: retries, timeouts, and the call recorder.

Every AWS call the tool makes goes through a client built here, so retry policy is uniform
(botocore's "standard" mode: bounded, with backoff for throttling and transient errors) and
tests and benchmarks can count calls per account and service without patching anything.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore
import botocore.exceptions
import botocore.loaders
import botocore.session
from botocore.config import Config

from wizard.errors import NotAwsAnswer, endpoint_of, looks_like_html

READ_PREFIXES = ("Get", "List", "Describe", "Head", "Lookup", "Search", "BatchGet", "Query",
                 "Scan", "Select")
# Calls that change nothing in the setup although their names do not say so.
NON_MUTATING = {"AssumeRole", "GetCallerIdentity", "StartQueryExecution", "StopQueryExecution",
                "Invoke"}

RETRY_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=10,
    read_timeout=60,
    user_agent_extra="xacct-wizard",
)


def is_mutating(operation: str) -> bool:
    return not (operation.startswith(READ_PREFIXES) or operation in NON_MUTATING)


@dataclass(frozen=True)
class Call:
    account: str
    service: str
    operation: str

    @property
    def mutating(self) -> bool:
        return is_mutating(self.operation)


@dataclass
class CallRecorder:
    """Counts every AWS operation the tool calls (once per call, not per retry); thread-safe."""

    calls: list[Call] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, account: str, service: str, operation: str) -> None:
        with self._lock:
            self.calls.append(Call(account, service, operation))

    def mutating(self) -> list[Call]:
        return [c for c in self.calls if c.mutating]

    def by_service(self) -> Counter[tuple[str, str]]:
        return Counter((c.account, c.service) for c in self.calls)

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()


class Account:
    """One side of the setup: a label, its account id, a boto3 Session and cached clients."""

    def __init__(
        self,
        label: str,
        account_id: str,
        session: boto3.Session,
        region: str,
        recorder: CallRecorder | None = None,
        hooks: list[tuple[str, Any]] | None = None,
    ) -> None:
        self.label = label
        self.account_id = account_id
        self.session = session
        self.region = region
        self.recorder = recorder
        self.hooks = hooks or []
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def client(self, service: str) -> Any:
        """A cached client (botocore clients are thread-safe once made; making them is not)."""
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self._make(self.session, service)
            return self._clients[service]

    def _make(self, session: boto3.Session, service: str) -> Any:
        client = session.client(service, region_name=self.region, config=RETRY_CONFIG)
        label = self.label
        recorder = self.recorder
        if recorder is not None:
            def _count(model: Any = None, **_: Any) -> None:
                recorder.record(label, service, model.name if model else "?")

            service_id = client.meta.service_model.service_id.hyphenize()
            client.meta.events.register(f"before-call.{service_id}", _count)
        for event, handler in self.hooks:
            client.meta.events.register(event, handler)
        return client

    def with_session(self, label: str, session: boto3.Session, account_id: str) -> Account:
        """Another identity (an assumed role, the query principal) recorded under ``label``."""
        return Account(label, account_id, session, self.region, self.recorder, self.hooks)


class NotAwsResponse(NotAwsAnswer, botocore.exceptions.BotoCoreError):
    """A web page where an AWS answer was expected; a BotoCoreError so that every caller that
    translates botocore's failures translates this one too (``wizard.errors``)."""


_REQUEST_URL = threading.local()  # the URL of the call this thread is making


def _remember_url(request: Any = None, **_: Any) -> None:
    _REQUEST_URL.value = getattr(request, "url", "") or ""


def _refuse_web_pages(operation_model: Any = None, response_dict: Any = None,
                      **_: Any) -> None:
    """Stop before botocore parses an HTML page as JSON or XML: say who answered instead.

    Calls run on the thread that makes them, so the URL remembered at ``before-send`` is this
    call's. Operations that stream their output (S3 GetObject) may legitimately return HTML.
    """
    if operation_model is None or not isinstance(response_dict, dict):
        return
    if operation_model.has_streaming_output or operation_model.has_event_stream_output:
        return
    body = response_dict.get("body")
    if not isinstance(body, bytes):
        return
    if not looks_like_html(body):
        return
    raise NotAwsResponse(endpoint=endpoint_of(getattr(_REQUEST_URL, "value", "")),
                         status=int(response_dict.get("status_code", 0)),
                         service=operation_model.service_model.service_name,
                         operation=operation_model.name, body=body,
                         sdk_version=botocore.__version__)


def watch_for_web_pages(core: botocore.session.Session) -> None:
    """Every client of this botocore session reports a web page as ``NotAwsResponse``."""
    core.register("before-send", _remember_url, unique_id="xacct-remember-url")
    core.register("before-parse", _refuse_web_pages, unique_id="xacct-refuse-web-pages")


_SHARED_LOADER = botocore.loaders.create_loader()
_LOADER_LOCK = threading.Lock()


def new_session(**kwargs: Any) -> boto3.Session:
    """A boto3 Session that shares one botocore data loader with every other one we make.

    Each fresh botocore session otherwise re-reads and re-parses the service model JSON files
    (about 0.15 s per client); a setup with a few identities and a dozen services paid seconds.
    """
    core = botocore.session.get_session()
    core.register_component("data_loader", _SHARED_LOADER)
    watch_for_web_pages(core)
    session = boto3.Session(botocore_session=core, **kwargs)
    # boto3 appends its own data path to the loader on every Session: keep the list finite.
    paths = _SHARED_LOADER.search_paths
    with _LOADER_LOCK:
        paths[:] = list(dict.fromkeys(paths))
    return session


def session_from_credentials(creds: dict[str, Any], region: str) -> boto3.Session:
    """A Session from an STS Credentials dict (AssumeRole's answer)."""
    return new_session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds.get("SessionToken"),
        region_name=region,
    )
