"""A fake backend for page tests: canned accounts, pickers, plans and query pages, no AWS.

Pages only talk to ``ui.backend.Backend``; this stands in for it (qutebrowser-style stubs), so
each page's fields, messages and navigation can be tested in milliseconds. The whole flow
against the real engine and the sandbox is the e2e test's job.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ui.backend import QueryPage
from wizard.changes import Change, Event, Finding, Plan
from wizard.credentials import Identity, NamedProfile
from wizard.discovery import Function, Principal
from wizard.errors import AwsOperationError, Cancelled, CredentialsError
from wizard.profile import (
    ConnectorConfig,
    ConsumerConfig,
    CredentialRef,
    OwnerConfig,
    SetupProfile,
)
from wizard.query import QueryResult

OWNER = "111111111111"
CONSUMER = "222222222222"
STEPS = [("spill-bucket", "Spill bucket"), ("connector", "Connector"),
         ("catalog-owner", "Data catalog in the owner account"),
         ("principal", "Consumer principal"), ("lambda-grant", "Lambda permission"),
         ("spill-grant", "Spill bucket grant"), ("identity-policy", "Identity policy"),
         ("share-role", "Share role"), ("catalog-consumer", "Catalog shared")]
OTHER = {"Sid": "OtherTeamRead", "Effect": "Allow",
         "Principal": {"AWS": "arn:aws:iam::333333333333:root"},
         "Action": "s3:GetObject", "Resource": "arn:aws:s3:::spill-a/*"}
OURS = {"Sid": "XacctSpill222222222222", "Effect": "Allow",
        "Principal": {"AWS": [f"arn:aws:iam::{CONSUMER}:user/analyst"]},
        "Action": ["s3:GetObject", "s3:ListBucket"],
        "Resource": ["arn:aws:s3:::spill-a", "arn:aws:s3:::spill-a/*"]}


def example_profile() -> SetupProfile:
    return SetupProfile(
        region="us-east-1",
        owner=OwnerConfig(OWNER, CredentialRef(profile="owner-admin")),
        connector=ConnectorConfig(catalog_name="acct1dynamodb", spill_bucket="spill-a"),
        consumers=[ConsumerConfig(
            account_id=CONSUMER, credentials=CredentialRef(profile="consumer-admin"),
            principal_arn=f"arn:aws:iam::{CONSUMER}:user/analyst",
            query_results="s3://results-b/queries/", catalog_name="acct1dynamodb",
            query_credentials=CredentialRef(profile="analyst"))],
    )


@dataclass(frozen=True)
class FakeUnit:
    id: str
    name: str
    parent_id: str
    depth: int


@dataclass
class FakeEngine:
    profile: SetupProfile
    on_event: Callable[[Event], None]
    backend: FakeBackend
    cancel_event: threading.Event = field(default_factory=threading.Event)

    def cancel(self) -> None:
        self.cancel_event.set()

    def reset_cancel(self) -> None:
        self.cancel_event.clear()

    def plan(self) -> Plan:
        if self.backend.plan_error is not None:
            raise self.backend.plan_error
        for i, (sid, title) in enumerate(STEPS):
            self.on_event(Event("plan", step=sid, message=f"checking {title}",
                                fraction=i / len(STEPS)))
        self.backend.plans += 1
        done = self.backend.applied
        before = {"Version": "2012-10-17", "Statement": [OTHER]}
        after = {"Version": "2012-10-17", "Statement": [OTHER, OURS]}
        changes = [
            Change("connector", "owner", "stack serverlessrepo-acct1dynamodb",
                   "none" if done else "create", "deploy AthenaDynamoDBConnector 2026.33.1",
                   after={"AthenaCatalogName": "acct1dynamodb"}, kind="stack"),
            Change("spill-grant", "owner", "s3://spill-a (bucket policy)",
                   "none" if done else "update",
                   "allow 1 consumer principal; 1 other statement kept",
                   before=after if done else before, after=after, kind="bucket-policy",
                   data={"sids": [OURS["Sid"]]}),
            Change("identity-policy", f"consumer:{CONSUMER}",
                   f"arn:aws:iam::{CONSUMER}:user/analyst (inline policy xacct-wizard-x)",
                   "none" if done else "create", "identity policy", before=None,
                   after={"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                          "Action": "lambda:InvokeFunction", "Resource": "*"}]},
                   kind="identity-policy"),
        ]
        findings = list(self.backend.findings)
        self.on_event(Event("plan", message="plan ready", fraction=1.0))
        return Plan(changes=changes, findings=findings)

    def apply(self) -> list[Change]:
        n = len(STEPS)
        for i, (sid, title) in enumerate(STEPS):
            if self.cancel_event.is_set():
                raise Cancelled("Cancelled. Apply again to resume.")
            if sid in self.backend.done_steps:
                self.on_event(Event("step-started", step=sid, message=title, fraction=i / n))
                self.on_event(Event("step-done", step=sid, message=f"{title}: already in place",
                                    fraction=(i + 1) / n))
                continue
            self.on_event(Event("step-started", step=sid, message=title, fraction=i / n))
            if sid == "connector":
                self.on_event(Event("stack-event", step=sid,
                                    message="ConnectorConfig CREATE_COMPLETE"))
            time.sleep(self.backend.step_delay)
            if self.backend.fail_step == sid:
                self.backend.fail_step = None
                err = AwsOperationError(
                    "AddPermission failed (owner): AccessDenied: not allowed",
                    cause="The credentials used for this step lack a permission.",
                    fix="Grant the missing permission, then retry.")
                self.on_event(Event("step-failed", step=sid, message=err.explain(),
                                    fraction=i / n))
                raise err
            self.backend.done_steps.add(sid)
            self.on_event(Event("log", step=sid, message="secret_access_key=abcdEFGH1234 "
                                "should be redacted"))
            self.on_event(Event("step-done", step=sid, message=f"{title}: 1 change",
                                fraction=(i + 1) / n))
        self.backend.applied = True
        return [Change(s, "owner", s, "create") for s, _ in STEPS]

    def plan_destroy(self) -> Plan:
        """What clean-up does; the spill bucket's policy is restored to the other team's
        statement alone (written in another form than S3 reads it back: lists, not values)."""
        changes = []
        for s, _ in reversed(STEPS):
            if s not in self.backend.done_steps:
                continue
            if s == "spill-grant":
                restored = {"Version": "2012-10-17", "Statement": [
                    {**OTHER, "Principal": {"AWS": [OTHER["Principal"]["AWS"]]},
                     "Action": [OTHER["Action"]], "Resource": [OTHER["Resource"]]}]}
                changes.append(Change(s, "owner", "s3://spill-a (bucket policy)", "update",
                                      before={"Version": "2012-10-17",
                                              "Statement": [OTHER, OURS]},
                                      after=restored, kind="bucket-policy"))
            else:
                changes.append(Change(s, "owner", s, "delete"))
        return Plan(changes=changes)

    def destroy(self) -> list[Change]:
        out = []
        for sid, title in reversed(STEPS):
            if sid in self.backend.done_steps:
                self.on_event(Event("step-started", step=sid, message=f"undo {title}"))
                self.backend.done_steps.discard(sid)
                out.append(Change(sid, "owner", sid, "delete"))
                self.on_event(Event("step-done", step=sid, message=f"undid {title}"))
        self.backend.applied = False
        self.backend.destroyed += 1
        return out


@dataclass
class FakeBackend:
    """Canned answers; counters and knobs for tests."""

    identities: dict[str, str] = field(default_factory=lambda: {
        "owner-admin": OWNER, "consumer-admin": CONSUMER, "analyst": CONSUMER})
    findings: list[Finding] = field(default_factory=list)
    fail_step: str | None = None
    plan_error: BaseException | None = None
    keyring_error: BaseException | None = None
    step_delay: float = 0.0
    rows: int = 10
    page_size: int = 1000
    query_state: str = "SUCCEEDED"
    query_delay: float = 0.0
    hooks: list[Any] = field(default_factory=list)
    mfa_prompt: Any = None
    applied: bool = False
    done_steps: set[str] = field(default_factory=set)
    plans: int = 0
    destroyed: int = 0
    pages_served: int = 0
    stored: list[tuple[str, str]] = field(default_factory=list)
    keyring: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    sso_approved: threading.Event = field(default_factory=threading.Event)
    sso_sign_ins: list[str] = field(default_factory=list)

    def preload(self) -> None:
        pass

    def start_sandbox(self) -> Any:
        raise RuntimeError("no sandbox in page tests")

    def sandbox_example(self, sandbox: Any = None) -> tuple[SetupProfile, None]:
        return example_profile(), None

    def named_profiles(self) -> list[NamedProfile]:
        return [NamedProfile("analyst", "keys"), NamedProfile("consumer-admin", "sso"),
                NamedProfile("owner-admin", "keys", "us-east-1"),
                NamedProfile("paris", "keys", "eu-west-3"),
                NamedProfile("mfa-admin", "assume-role", None, True)]

    def keyring_names(self) -> list[str]:
        if self.keyring_error is not None:
            raise self.keyring_error
        return list(self.keyring)

    def store_keys(self, name: str, access_key_id: str, secret_access_key: str,
                   session_token: str | None = None) -> None:
        self.stored.append((name, access_key_id))
        self.keyring.append(name)
        self.identities[f"keyring:{name}"] = OWNER

    def check(self, ref: CredentialRef, region: str, expected: str | None,
              label: str) -> Identity:
        key = ref.profile or f"keyring:{ref.keyring}"
        self.checks.append(key)
        if ref.profile == "mfa-admin" and self.mfa_prompt is not None:
            code = self.mfa_prompt("Enter MFA code for arn:aws:iam::111111111111:mfa/admin: ")
            if code != "123456":
                raise CredentialsError("The MFA code was not accepted.")
            return Identity(OWNER, f"arn:aws:sts::{OWNER}:assumed-role/admin/mfa", "X")
        account = self.identities.get(key)
        if account is None:
            raise CredentialsError(f"No credentials found for {label}.")
        ident = Identity(account, f"arn:aws:iam::{account}:user/{key}", "AIDAEXAMPLE")
        if expected and expected != account:
            raise CredentialsError(
                f"The credentials for {label} belong to account {account} ({ident.arn}), but "
                f"the setup declares account {expected} for it.")
        return ident

    def sso_sign_in(self, profile: str, on_code: Callable[[Any], None],
                    cancel: threading.Event) -> float:
        """A stubbed device flow: shows a code, then polls until the test approves it (the
        login is then valid: the profile's account is known again) or the page cancels."""
        from wizard.sso import DeviceCode

        self.sso_sign_ins.append(profile)
        on_code(DeviceCode("https://device.sso.us-east-1.amazonaws.com/",
                           "https://device.sso.us-east-1.amazonaws.com/?user_code=WXYZ-1234",
                           "WXYZ-1234", time.time() + 600))
        while not self.sso_approved.wait(0.02):
            if cancel.is_set():
                raise CredentialsError("The sign-in was cancelled.")
        self.identities[profile] = CONSUMER if profile == "consumer-admin" else OWNER
        return time.time() + 3600

    def sar_versions(self, ref: CredentialRef, region: str) -> list[str]:
        return ["2026.33.1", "2026.20.0", "2025.48.2"]

    def buckets(self, ref: CredentialRef, region: str) -> list[str]:
        return ["spill-a", "other-bucket"]

    def functions(self, ref: CredentialRef, region: str) -> list[Function]:
        return [Function("acct1dynamodb", f"arn:aws:lambda:{region}:{OWNER}:function:"
                         "acct1dynamodb", "java11", True)]

    def principals(self, ref: CredentialRef, region: str) -> list[Principal]:
        return [Principal(f"arn:aws:iam::{CONSUMER}:user/analyst", "user", "analyst"),
                Principal(f"arn:aws:iam::{CONSUMER}:role/DataReader", "role", "DataReader")]

    def engine(self, profile: SetupProfile, on_event: Callable[[Event], None]) -> FakeEngine:
        return FakeEngine(profile, on_event, self)

    def step_titles(self, profile: Any = None) -> list[tuple[str, str]]:
        return list(STEPS)

    def ou_tree(self, ref: CredentialRef, region: str) -> list[Any]:
        """The organization's OUs, root first (wizard.organization.OrgUnit's fields)."""
        self.checks.append(f"ou_tree:{ref.profile or ref.keyring}")
        return [FakeUnit("r-ab12", "Root", "", 0),
                FakeUnit("ou-ab12-11111111", "Analytics", "r-ab12", 1),
                FakeUnit("ou-ab12-22222222", "Reporting", "ou-ab12-11111111", 2),
                FakeUnit("ou-ab12-33333333", "Onboarding", "r-ab12", 1)]

    def _pages(self, cancel: threading.Event | None = None) -> Iterator[QueryPage]:
        cols = ["artist", "songtitle", "albumtitle"]
        sent = 0
        while True:
            n = min(self.page_size, self.rows - sent)
            rows = [[f"Artist {i}", f"Song {i}", None if i % 7 == 0 else f"Album {i}"]
                    for i in range(sent, sent + n)]
            sent += n
            self.pages_served += 1
            yield QueryPage(cols, ["varchar"] * 3, rows)
            if sent >= self.rows or (cancel is not None and cancel.is_set()):
                return

    def run_query(self, engine: Any, sql: str, cancel: threading.Event,
                  on_started: Callable[[str], None],
                  on_state: Callable[[str], None]) -> tuple[QueryResult, Iterator[QueryPage]]:
        on_started("qid-0123456789abcdef")
        on_state("QUEUED")
        state = self.query_state
        if self.query_delay and cancel.wait(self.query_delay):
            state = "CANCELLED"
        on_state("RUNNING")
        on_state(state)
        if state == "SUCCEEDED":
            stats = QueryResult(query_id="qid-0123456789abcdef", state=state,
                                data_scanned_bytes=2048, engine_ms=120, total_ms=180)
            return stats, self._pages(cancel)
        error = "SYNTAX_ERROR: line 1:15: Catalog 'nope' does not exist" \
            if state == "FAILED" else "Query cancelled"
        stats = QueryResult(query_id="qid-0123456789abcdef", state=state, error=error,
                            cause="The data catalog is not registered in the consumer account."
                            if state == "FAILED" else "",
                            fix="Run apply again." if state == "FAILED" else "")
        return stats, iter(())

    def result_pages(self, engine: Any, query_id: str) -> Iterator[QueryPage]:
        return self._pages()
