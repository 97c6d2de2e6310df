"""The seam between the pages and the engine: every blocking call the GUI makes, in one class.

Why: pages must stay testable without AWS and must never import boto3. They receive a
``Backend`` (the real one here, a fake in tests) and only ever call it from a worker
(``ui.workers``). The wizard modules that pull in boto3 are imported lazily inside the methods,
so they load on a worker thread and never stall the window's first paint.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wizard.profile import CredentialRef, SetupProfile

if TYPE_CHECKING:
    from wizard.changes import Event
    from wizard.credentials import Identity, NamedProfile
    from wizard.discovery import Function, Principal
    from wizard.engine import Engine
    from wizard.query import QueryResult

MfaPrompt = Callable[[str], str]


@dataclass
class QueryPage:
    columns: list[str]
    types: list[str]
    rows: list[list[Any]]


@dataclass
class Backend:
    """The real backend: the wizard engine and ``wizard.discovery`` against AWS (or a sandbox).

    ``hooks`` are botocore event hooks handed to every Engine this backend builds; tests use
    them to make one AWS call fail (``("before-call.lambda.AddPermission", raise_fn)``).
    ``mfa_prompt`` is called from a worker thread when a profile asks for an MFA code.
    """

    hooks: list[tuple[str, Any]] = field(default_factory=list)
    mfa_prompt: MfaPrompt | None = None
    poll_delay: float = 2.0
    _warmed: threading.Event = field(default_factory=threading.Event, repr=False)
    _warming: bool = field(default=False, repr=False)
    _pool: Any = field(default=None, repr=False)
    _pool_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # ---------------------------------------------------------------- warm-up
    def begin_preload(self) -> None:
        """Called on the GUI thread just before ``preload`` is queued: from now on, calls wait
        for it instead of loading boto3 alongside it."""
        self._warming = True

    def preload(self) -> None:
        """Import the engine and parse the AWS service models once, on a worker, right after
        the window opens: the first Check then is quick, and later calls do not compete with
        the window for the GIL while they load megabytes of botocore JSON."""
        from wizard.profile import validate_field

        validate_field("region", "us-east-1")  # botocore's region table, cached for the GUI
        import wizard.credentials
        import wizard.engine
        import wizard.query
        import wizard.steps  # noqa: F401
        from wizard.discovery import warm_up

        try:
            warm_up()
        finally:
            self._warmed.set()

    def _wait_warm(self) -> None:
        """Calls made while the preload runs wait for it: one thread loading boto3 at a time
        keeps the window responsive, where several at once starve it of the GIL."""
        if self._warming:
            self._warmed.wait(timeout=30)

    # ---------------------------------------------------------------- sandbox
    def start_sandbox(self) -> Any:
        """Start a sandbox in a child process that dies with this one (the caller applies
        ``.env()`` and stops it at exit): served here, moto would share the window's GIL."""
        from wizard.sandbox.child import SandboxChild

        return SandboxChild().start()

    def sandbox_example(self, sandbox: Any = None) -> tuple[SetupProfile, Path | None]:
        """The sandbox's complete example profile: of ``sandbox``, else of the one the
        environment points at (``--sandbox`` set AWS_CONFIG_FILE beside it), else the
        packaged copy (same accounts and profile names)."""
        from wizard.profile import load_profile

        path: Path | None = None
        if sandbox is not None:
            path = Path(sandbox.example_profile)
        elif os.environ.get("AWS_CONFIG_FILE"):
            candidate = Path(os.environ["AWS_CONFIG_FILE"]).parent / "sandbox.yaml"
            path = candidate if candidate.is_file() else None
        if path is not None:
            return load_profile(path), path
        import tempfile

        from wizard.sandbox.server import example_profile_text

        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / "sandbox.yaml"
            copy.write_text(example_profile_text(), encoding="utf-8")
            return load_profile(copy), None

    # ---------------------------------------------------------------- credentials
    def named_profiles(self) -> list[NamedProfile]:
        self._wait_warm()
        from wizard.credentials import list_named_profiles

        return list_named_profiles()

    def keyring_names(self) -> list[str]:
        """Stored key names; raises KeyringUnavailable when no safe OS keyring exists."""
        self._wait_warm()
        from wizard.credentials import list_keys

        return list_keys()

    def store_keys(self, name: str, access_key_id: str, secret_access_key: str,
                   session_token: str | None = None) -> None:
        self._wait_warm()
        from wizard.credentials import StoredKeys, store_keys
        from wizard.errors import register_secret

        register_secret(secret_access_key)
        register_secret(session_token)
        store_keys(name, StoredKeys(access_key_id, secret_access_key, session_token or None))
        self.sessions().forget(CredentialRef(keyring=name))

    def sessions(self) -> Any:
        """One SessionPool for the app session: each side's credentials (and its MFA code)
        are resolved once and shared by every page, check and engine run."""
        with self._pool_lock:
            if self._pool is None:
                from wizard.session_pool import SessionPool

                self._pool = SessionPool(mfa_prompt=self.mfa_prompt)
            return self._pool

    def session(self, ref: CredentialRef, region: str) -> Any:
        self._wait_warm()
        return self.sessions().session(ref, region)

    def check(self, ref: CredentialRef, region: str, expected: str | None,
              label: str) -> Identity:
        """Who these credentials are (GetCallerIdentity); CredentialsError on a mismatch."""
        self._wait_warm()
        from wizard.credentials import check_identity

        try:
            return check_identity(self.session(ref, region), expected or None, label)
        except Exception:
            self.sessions().forget(ref)  # a fixed config or a new login is read next time
            raise

    def sso_sign_in(self, profile: str, on_code: Callable[[Any], None],
                    cancel: threading.Event) -> Any:
        """IAM Identity Center device sign-in for ``profile`` (``wizard.sso.sign_in``): blocks
        while it polls, so call it from a worker. The side's cached session is dropped so the
        next check reads the new login."""
        self._wait_warm()
        from wizard.sso import sign_in

        expires = sign_in(profile, on_code=on_code, cancel=cancel)
        self.sessions().forget(CredentialRef(profile=profile))
        return expires

    # ---------------------------------------------------------------- pickers
    def sar_versions(self, ref: CredentialRef, region: str) -> list[str]:
        self._wait_warm()
        from wizard.discovery import sar_versions

        return sar_versions(self.session(ref, region))

    def buckets(self, ref: CredentialRef, region: str) -> list[str]:
        self._wait_warm()
        from wizard.discovery import buckets_in_region

        return buckets_in_region(self.session(ref, region), region)

    def functions(self, ref: CredentialRef, region: str) -> list[Function]:
        self._wait_warm()
        from wizard.discovery import lambda_functions

        return lambda_functions(self.session(ref, region), region)

    def principals(self, ref: CredentialRef, region: str) -> list[Principal]:
        self._wait_warm()
        from wizard.discovery import principals

        return principals(self.session(ref, region))

    # ---------------------------------------------------------------- engine
    def engine(self, profile: SetupProfile, on_event: Callable[[Event], None]) -> Engine:
        """An engine for the profile; ``consumers_from`` replaces the listed accounts."""
        self._wait_warm()
        from wizard.engine import Engine

        return Engine(profile, on_event=on_event, hooks=list(self.hooks),
                      session_factory=self.sessions(), poll_delay=self.poll_delay)

    def diagnose(self, profile: SetupProfile) -> Any:
        """The doctor's chain for every consumer of ``profile`` (a wizard.doctor.Report)."""
        return self.engine(profile, lambda e: None).diagnose()

    def export(self, engine: Engine, fmt: str, out: Path, profile_name: str) -> Any:
        """Write the setup as infrastructure as code (``wizard.export``); returns its result
        (``files``, ``warnings``). Reads both accounts: call it from a worker."""
        self._wait_warm()
        from wizard.export import export

        return export(engine, fmt, out, profile_name)

    def step_titles(self, profile: SetupProfile | None = None) -> list[tuple[str, str]]:
        """(id, title) of every step in runbook order, for the Apply page's checklist (the
        organization's steps for a profile with consumers_from)."""
        self._wait_warm()
        from wizard.steps import order_for

        return [(cls.id, cls.title) for cls in order_for(profile)]

    # ---------------------------------------------------------------- organization
    def ou_tree(self, ref: CredentialRef, region: str) -> list[Any]:
        """Every OU of the organization (wizard.organization.OrgUnit), root first."""
        self._wait_warm()
        from wizard.aws import Account
        from wizard.organization import ou_tree

        return ou_tree(Account("organization", "", self.session(ref, region), region))

    # ---------------------------------------------------------------- test query
    def run_query(self, engine: Engine, sql: str, cancel: threading.Event,
                  on_started: Callable[[str], None],
                  on_state: Callable[[str], None]) -> tuple[QueryResult, Iterator[QueryPage]]:
        """Start the query as the consumer principal, wait for it, and page its results lazily.

        Returns the execution's statistics and an iterator of result pages that the caller
        pulls one page at a time (so 100 000 rows are never read ahead of the grid).
        """
        self._wait_warm()
        from wizard.query import QueryResult, fill_execution

        # A cancelled query must not cancel the whole engine. A Cancel cuts the current poll
        # delay short (wait() then stops the query); after that, polls until CANCELLED keep
        # their normal pace.
        runner = engine.query_runner(
            cancel=cancel,
            sleep=lambda s: time.sleep(s) if cancel.is_set() else cancel.wait(s))
        query_id = runner.start(sql)
        on_started(query_id)
        ex = runner.wait(query_id, on_state)
        result = QueryResult(query_id=query_id)
        fill_execution(result, ex)

        def pages() -> Iterator[QueryPage]:
            if result.state != "SUCCEEDED":
                return
            for columns, types, rows in runner.pages(query_id):
                yield QueryPage(columns, types, rows)

        return result, pages()

    def result_pages(self, engine: Engine, query_id: str) -> Iterator[QueryPage]:
        """A fresh pass over a finished query's results (CSV export reads them again)."""
        self._wait_warm()
        runner = engine.query_runner(cancel=threading.Event())
        for columns, types, rows in runner.pages(query_id):
            yield QueryPage(columns, types, rows)

