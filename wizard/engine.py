"""The engine: orders the steps, reports progress, keeps the journal, resumes, rolls back.

The CLI and the GUI both drive this class and render what it returns (Plans, Changes, Events);
neither makes an AWS call of its own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from filelock import FileLock, Timeout

from wizard.aws import Account, CallRecorder, session_from_credentials
from wizard.changes import Change, Event, Finding, Plan
from wizard.credentials import Identity, MfaPrompt, check_identity, make_session
from wizard.errors import AwsOperationError, InvalidInput, WizardError, from_exception
from wizard.journal import Journal, default_path, journal_key
from wizard.profile import ConsumerConfig, CredentialRef, SetupProfile
from wizard.query import QueryResult, QueryRunner
from wizard.steps import Context, Step, order_for
from wizard.steps.base import CONSUMER_CONCURRENCY, aws_call

SessionFactory = Callable[[CredentialRef, str], boto3.Session]


@dataclass
class VerifyResult:
    findings: list[Finding] = field(default_factory=list)
    query: QueryResult | None = None
    # consumers_from: the test query in each sampled account (account id, result)
    accounts: list[tuple[str, QueryResult]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not [f for f in self.findings if f.severity == "error"] and (
            self.query is None or self.query.state == "SUCCEEDED") and all(
            q.state == "SUCCEEDED" for _a, q in self.accounts)


@contextmanager
def _translated() -> Iterator[None]:
    """Whatever escapes (a library's own exception, not only ours) leaves the engine as a
    translated WizardError: its text is redacted, so a caller showing it shows no secret."""
    try:
        yield
    except WizardError:
        raise
    except Exception as exc:
        raise from_exception(exc) from exc


class Engine:
    """One setup (one profile). Methods block: the GUI calls them from a worker thread."""

    def __init__(
        self,
        profile: SetupProfile,
        *,
        journal_path: Path | None = None,
        session_factory: SessionFactory | None = None,
        mfa_prompt: MfaPrompt | None = None,
        on_event: Callable[[Event], None] | None = None,
        recorder: CallRecorder | None = None,
        hooks: list[tuple[str, Any]] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        poll_delay: float = 2.0,
        stack_timeout: float = 3600.0,
    ) -> None:
        self.profile = profile
        self.journal_path = journal_path or default_path(
            profile.owner.account_id, profile.region, profile.connector.catalog_name)
        self.journal = Journal(self.journal_path, journal_key(
            profile.owner.account_id, profile.region, profile.connector.catalog_name))
        self._session_factory = session_factory or (
            lambda ref, region: make_session(ref, region, mfa_prompt=mfa_prompt))
        self.on_event = on_event or (lambda e: None)
        self.recorder = recorder or CallRecorder()
        self.hooks = hooks or []
        self.sleep = sleep
        self.poll_delay = poll_delay
        self.stack_timeout = stack_timeout
        self.cancel_event = threading.Event()
        self._ctx: Context | None = None
        self.identities: dict[str, Identity] = {}

    # ------------------------------------------------------------------ plumbing
    def emit(self, event: Event) -> None:
        try:
            self.on_event(event)
        except Exception:  # a broken listener must never break a run
            pass

    def cancel(self) -> None:
        self.cancel_event.set()

    def reset_cancel(self) -> None:
        """Before a new run on the same engine (Retry): an old Cancel must not stop it."""
        self.cancel_event.clear()

    def _account(self, label: str, account_id: str, ref: CredentialRef) -> Account:
        session = self._session_factory(ref, self.profile.region)
        return Account(label, account_id, session, self.profile.region, self.recorder,
                       self.hooks)

    def connect(self) -> Context:
        """Build both sides' clients and check every identity (in parallel)."""
        if self._ctx is not None:
            return self._ctx
        p = self.profile
        owner = self._account("owner", p.owner.account_id, p.owner.credentials)
        consumers = {c.account_id: self._account(c.key, c.account_id, c.credentials)
                     for c in p.consumers}
        sides: list[tuple[str, str, Account]] = [("owner", p.owner.account_id, owner)]
        sides += [(c.key, c.account_id, consumers[c.account_id]) for c in p.consumers]
        org: Account | None = None
        if p.consumers_from is not None:  # management or delegated-admin: any account id
            org = self._account("organization", "", p.consumers_from.credentials)
            sides.append(("organization", "", org))

        def check(side: tuple[str, str, Account]) -> tuple[str, Identity]:
            label, expected, acct = side
            return label, check_identity(acct.session, expected or None, label,
                                         client=acct.client("sts"))

        self.emit(Event("log", message="checking credentials"))
        with ThreadPoolExecutor(max_workers=min(CONSUMER_CONCURRENCY + 1, len(sides))) as pool:
            for label, ident in pool.map(check, sides):
                self.identities[label] = ident
                self.emit(Event("log", message=f"{label}: {ident.arn}", account=label))
        if org is not None:
            org.account_id = self.identities["organization"].account_id
        self._ctx = Context(profile=p, owner=owner, consumers=consumers, journal=self.journal,
                            emit=self.emit, sleep=self.sleep, cancel=self.cancel_event,
                            poll_delay=self.poll_delay, stack_timeout=self.stack_timeout,
                            org=org)
        return self._ctx

    def steps(self) -> list[Step]:
        ctx = self.connect()
        return [cls(ctx) for cls in order_for(self.profile)]

    def _lock(self) -> FileLock:
        lock = FileLock(str(self.journal_path) + ".lock")
        self.journal_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            lock.acquire(timeout=0)
        except Timeout as exc:
            raise InvalidInput(
                f"Another xacct-wizard run is working on this setup ({self.journal.key}).",
                fix="Wait for it to finish (or close the other window), then retry.") from exc
        return lock

    # ------------------------------------------------------------------ plan
    def plan(self) -> Plan:
        """Preflight checks + the changes apply would make. Changes nothing."""
        plan = Plan()
        steps = self.steps()
        for i, step in enumerate(steps):
            self.emit(Event("plan", step=step.id, message=f"checking {step.title}",
                            fraction=i / len(steps)))
            try:
                plan.findings.extend(step.preflight())
                if any(f.step == step.id and f.severity == "error" for f in plan.findings):
                    continue
                plan.changes.extend(step.plan())
            except Exception as exc:  # anything, not only ours: translated and redacted
                err = from_exception(exc, operation=step.title)
                plan.findings.append(Finding("error", str(err), err.fix, step.id))
        self.emit(Event("plan", message="plan ready", fraction=1.0))
        return plan

    # ------------------------------------------------------------------ apply
    def apply(self) -> list[Change]:
        """Make the setup exist; safe to re-run (resumes, and a no-op when all is in place)."""
        lock = self._lock()
        try:
            with _translated():
                steps = self.steps()
                findings = [f for s in steps for f in s.preflight()]
            blocking = [f for f in findings if f.severity == "error"]
            for f in findings:
                self.emit(Event("log", step=f.step, message=f"{f.severity}: {f.message}"))
            if blocking:
                raise AwsOperationError(
                    "Preflight checks failed; nothing was changed:\n"
                    + "\n".join(f"- {f.message}" for f in blocking),
                    fix="\n".join(f"- {f.fix}" for f in blocking if f.fix))
            self.journal.set_status("applying")
            done: list[Change] = []
            for i, step in enumerate(steps):
                step.ctx.check_cancel()
                self.emit(Event("step-started", step=step.id, message=step.title,
                                fraction=i / len(steps)))
                try:
                    changes = step.plan()
                    step.apply(changes)
                except WizardError as exc:
                    self.emit(Event("step-failed", step=step.id, message=exc.explain(),
                                    fraction=i / len(steps)))
                    raise
                except Exception as exc:
                    err = from_exception(exc, operation=step.title)
                    self.emit(Event("step-failed", step=step.id, message=err.explain(),
                                    fraction=i / len(steps)))
                    raise err from exc
                done.extend(changes)
                n = len([c for c in changes if c.action != "none"])
                self.emit(Event("step-done", step=step.id,
                                message=f"{step.title}: {n} change(s)" if n else
                                f"{step.title}: already in place" if changes else
                                f"{step.title}: not needed for this setup",
                                fraction=(i + 1) / len(steps)))
            self.journal.set_status("applied")
            return done
        finally:
            lock.release()

    # ------------------------------------------------------------------ verify
    def query_account(self, consumer: ConsumerConfig) -> Account:
        """The identity the test query runs as: the principal itself, as an analyst would."""
        ctx = self.connect()
        if consumer.query_credentials is not None:
            session = self._session_factory(consumer.query_credentials, self.profile.region)
            ident = check_identity(session, consumer.account_id, "query credentials")
            if ident.arn != consumer.principal_arn and consumer.principal_kind == "user":
                self.emit(Event("log", message=f"note: the query runs as {ident.arn}, not as "
                                f"{consumer.principal_arn}", account=consumer.key))
            return Account(f"{consumer.key}:query", consumer.account_id, session,
                           self.profile.region, self.recorder, self.hooks)
        if consumer.principal_kind == "role":
            creds = aws_call(ctx.consumer_account(consumer), "sts", "assume_role",
                             RoleArn=consumer.principal_arn,
                             RoleSessionName="xacct-wizard-test-query")["Credentials"]
            return Account(f"{consumer.key}:query", consumer.account_id,
                           session_from_credentials(creds, self.profile.region),
                           self.profile.region, self.recorder, self.hooks)
        raise InvalidInput(
            f"The test query must run as {consumer.principal_arn}, and xacct-wizard has no "
            "credentials for that user.",
            fix="Add query_credentials: {profile: NAME} (or {keyring: NAME}) with the user's "
                "access keys to this consumer in the profile.")

    def query_runner(self, consumer: ConsumerConfig | None = None, *,
                     cancel: threading.Event | None = None,
                     sleep: Callable[[float], None] | None = None) -> QueryRunner:
        """A runner for queries as the principal; ``cancel`` lets one query be cancelled
        without cancelling the engine's other work. For consumers_from: as the principal of
        the OU's first account."""
        if consumer is None and self.profile.consumers_from is not None:
            from wizard.org_verify import runner

            return runner(self, cancel=cancel, sleep=sleep)
        consumer = consumer or self.profile.consumers[0]
        return QueryRunner(self.query_account(consumer), catalog=consumer.catalog_name,
                           workgroup=consumer.workgroup, output=consumer.query_results,
                           sleep=sleep or self.sleep,
                           cancel=cancel if cancel is not None else self.cancel_event)

    def verify(self, sql: str | None = None, *, max_rows: int | None = 1000,
               all_accounts: bool = False) -> VerifyResult:
        """Read-only checks of every step, then the test query as the first consumer (for
        consumers_from: in a sample of the OU's accounts, or in every one)."""
        result = VerifyResult()
        with _translated():
            for step in self.steps():
                self.emit(Event("step-started", step=step.id, message=f"verify {step.title}"))
                result.findings.extend(step.verify())
            if self.profile.consumers_from is not None:
                from wizard.org_verify import query_accounts

                result.accounts = query_accounts(self, sql or self.profile.effective_test_query,
                                                 max_rows=max_rows, all_accounts=all_accounts)
                result.query = result.accounts[0][1] if result.accounts else None
                return result
            consumer = self.profile.consumers[0]
            runner = self.query_runner(consumer)
            sql = sql or self.profile.effective_test_query
            self.emit(Event("query-state", message="starting the test query",
                            account=consumer.key))
            result.query = runner.run(sql, max_rows=max_rows, on_state=lambda s: self.emit(
                Event("query-state", message=s, account=consumer.key)))
        return result

    # ------------------------------------------------------------------ destroy
    def plan_destroy(self) -> Plan:
        with _translated():
            steps = self.steps()
            return Plan(changes=[c for s in reversed(steps) for c in s.plan_destroy()])

    def destroy(self) -> list[Change]:
        """Remove what the journal says we created, restore what we changed; reverse order."""
        lock = self._lock()
        try:
            with _translated():
                steps = list(reversed(self.steps()))
            done: list[Change] = []
            self.journal.set_status("destroying")
            for i, step in enumerate(steps):
                if not self.journal.for_step(step.id):
                    continue
                self.emit(Event("step-started", step=step.id, message=f"undo {step.title}",
                                fraction=i / len(steps)))
                try:
                    changes = step.destroy()
                except WizardError as exc:
                    self.emit(Event("step-failed", step=step.id, message=exc.explain()))
                    raise
                except Exception as exc:
                    err = from_exception(exc, operation=f"undo {step.title}")
                    self.emit(Event("step-failed", step=step.id, message=err.explain()))
                    raise err from exc
                done.extend(changes)
                self.emit(Event("step-done", step=step.id, message=f"undid {step.title}",
                                fraction=(i + 1) / len(steps)))
            self.journal.set_status("destroyed")
            return done
        finally:
            lock.release()
