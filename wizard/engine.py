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
from wizard.errors import (
    AwsOperationError,
    InvalidInput,
    UpgradeFailed,
    WizardError,
    from_exception,
)
from wizard.journal import Journal, default_path, journal_key
from wizard.plural import count
from wizard.profile import ConsumerConfig, CredentialRef, SetupProfile
from wizard.query import QueryResult, QueryRunner
from wizard.steps import Context, Step, order_for
from wizard.steps.base import CONSUMER_CONCURRENCY, aws_call
from wizard.steps.connector import KEEP_CHANGE_SET, ConnectorStep

SessionFactory = Callable[[CredentialRef, str], boto3.Session]


@dataclass
class VerifyResult:
    findings: list[Finding] = field(default_factory=list)
    query: QueryResult | None = None  # the first consumer's test query (the v1 JSON)
    doctor: Any = None  # wizard.doctor.Report: every consumer's chain and test query
    # consumers_from: the test query in each sampled account (account id, result)
    accounts: list[tuple[str, QueryResult]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        queries_ok = all(c.query is None or c.query.state == "SUCCEEDED"
                         for c in (self.doctor.consumers if self.doctor else []))
        return not [f for f in self.findings if f.severity == "error"] and (
            self.query is None or self.query.state == "SUCCEEDED") and queries_ok and (
            self.doctor is None or self.doctor.ok) and all(
            q.state == "SUCCEEDED" for _a, q in self.accounts)


def _account_key(label: str) -> str:
    """The account a client label belongs to, as Changes name it: ``owner-as-consumer:<id>``
    (the owner in a consumer's role) is the owner's doing, ``consumer:<id>:query`` B's."""
    if label.startswith("owner"):
        return "owner"
    if label.startswith("consumer:"):
        return ":".join(label.split(":")[:2])
    return label


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
                account = getattr(err, "account", "")
                plan.findings.append(Finding(
                    "error", str(err) + (f"\nCause: {err.cause}" if err.cause else ""),
                    err.fix, step.id, _account_key(account)))
        self.emit(Event("plan", message="plan ready", fraction=1.0))
        return plan

    # ------------------------------------------------------------------ apply
    def apply(self, *, rollback_on_failure: bool = False) -> list[Change]:
        """Make the setup exist; safe to re-run (resumes, and a no-op when all is in place).

        After a connector upgrade the test query runs as every consumer; when it fails the
        upgrade is rolled back (``rollback_on_failure``) or :class:`UpgradeFailed` says how.
        """
        lock = self._lock()
        try:
            with _translated():
                steps = self.steps()
                steps[0].ctx.cache[KEEP_CHANGE_SET] = True
                self._finish_rollback(steps)
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
                                message=f"{step.title}: {count(n, 'change')}" if n else
                                f"{step.title}: already in place" if changes else
                                f"{step.title}: not needed for this setup",
                                fraction=(i + 1) / len(steps)))
            self.journal.set_status("applied")
            done.extend(self._test_upgrade(steps, rollback_on_failure))
            return done
        finally:
            if self._ctx is not None:
                self._ctx.cache.pop(KEEP_CHANGE_SET, None)
            lock.release()

    # ------------------------------------------------------------------ connector upgrades
    @staticmethod
    def _connector(steps: list[Step]) -> ConnectorStep:
        return next(s for s in steps if isinstance(s, ConnectorStep))

    def _finish_rollback(self, steps: list[Step]) -> None:
        """A rollback a killed run started is finished before anything else."""
        step = self._connector(steps)
        entry = step.upgrade_entry()
        if entry is not None and entry.data["upgrade"].get("state") == "rolling-back":
            self.emit(Event("log", step=step.id, message="finishing the interrupted rollback "
                            "of the connector upgrade", account="owner"))
            step.rollback()

    def test_all_consumers(self, sql: str | None = None) -> dict[str, QueryResult]:
        """The test query as every consumer's principal (consumer key -> result)."""
        results: dict[str, QueryResult] = {}
        sql = sql or self.profile.effective_test_query
        for consumer in self.profile.consumers:
            try:
                runner = self.query_runner(consumer)
            except InvalidInput as exc:  # no credentials to query as this principal
                self.emit(Event("log", message=f"cannot run the test query as "
                                f"{consumer.principal_arn}: {exc}", account=consumer.key))
                continue
            self.emit(Event("query-state", message="starting the test query",
                            account=consumer.key))
            results[consumer.key] = runner.run(
                sql, max_rows=10, on_state=lambda s, key=consumer.key: self.emit(
                    Event("query-state", message=s, account=key)))
        return results

    def _test_upgrade(self, steps: list[Step], rollback_on_failure: bool) -> list[Change]:
        """After an upgrade (this run's, or one a killed run left untested): the test query
        as every consumer, and the rollback when it fails and that was asked for."""
        step = self._connector(steps)
        entry = step.upgrade_entry()
        # "pending" after the steps ran: a killed run executed it (the stack now matches the
        # profile, or this run would have deployed it and said "deployed") but never tested it.
        if entry is None or entry.data["upgrade"].get("state") not in ("pending", "deployed"):
            return []
        upgrade = entry.data["upgrade"]
        new, old = upgrade.get("to"), upgrade.get("from")
        self.emit(Event("step-started", step=step.id,
                        message=f"testing connector {new}: the test query as every consumer"))
        results = self.test_all_consumers()
        if not results:
            step.mark_untested()
            self.emit(Event("step-done", step=step.id, message=f"connector {new} deployed; "
                            "not tested (no consumer's query credentials): run verify"))
            return []
        failed = _failures(results)
        if not failed:
            step.mark_verified()
            self.emit(Event("step-done", step=step.id,
                            message=f"connector {new} answers the test query"))
            return []
        target = step.rollback_target()
        offered = step._offered()
        back = target[0] if target and (offered is None or target[0] in offered) else None
        why = "; ".join(f"{k}: {v}" for k, v in failed.items())
        if not rollback_on_failure or back is None:
            fix = (f"Run apply --rollback-on-failure (or Roll back in the wizard) to return to "
                   f"{back}, or pin application_version: {back} in the profile and apply."
                   if back else f"{old} is no longer offered: pin application_version to an "
                   "offered version that works, and apply.")
            raise UpgradeFailed(f"The test query fails after the connector upgrade from {old} "
                                f"to {new}: {why}", fix=fix, rollback_to=back)
        self.emit(Event("log", step=step.id, message=f"the test query fails on {new}; "
                        f"rolling back to {back}", account="owner"))
        step.rollback()
        still = _failures(self.test_all_consumers())
        if still:
            raise UpgradeFailed(
                f"The connector was rolled back from {new} to {back}, and the test query still "
                f"fails: {'; '.join(f'{k}: {v}' for k, v in still.items())}",
                fix="The failure is not the upgrade's: run verify and follow its fix.",
                rolled_back=True)
        raise UpgradeFailed(
            f"The test query failed after the connector upgrade from {old} to {new} ({why}); "
            f"rolled back to {back}, and the test query passes again.",
            fix=f"Stay at {back}: pin application_version: {back} in the profile (with latest, "
                f"the wizard holds back from {new} on its own).", rolled_back=True)

    def rollback_connector(self) -> dict[str, QueryResult]:
        """Return the connector to the version and parameters before its last upgrade, then
        run the test query as every consumer (the GUI's Roll back)."""
        lock = self._lock()
        try:
            with _translated():
                step = self._connector(self.steps())
                self.emit(Event("step-started", step=step.id, message="roll back the connector"))
                change = step.rollback()
                self.emit(Event("step-done", step=step.id, message=change.summary))
                return self.test_all_consumers()
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

    def diagnose(self, consumer_id: str | None = None, *, sql: str | None = None,
                 prepared: dict[str, Account] | None = None,
                 max_rows: int | None = 10) -> Any:
        """The doctor's chain for every consumer (or one): a wizard.doctor.Report."""
        from wizard.doctor import Doctor, targets_for_profile

        with _translated():
            ctx = self.connect()
            targets = targets_for_profile(self, consumer_id, sql=sql, prepared=prepared,
                                          max_rows=max_rows)
            return Doctor(ctx.owner, targets, profile=self.profile, sleep=self.sleep).run()

    def verify(self, sql: str | None = None, *, max_rows: int | None = 1000,
               all_accounts: bool = False) -> VerifyResult:
        """Read-only checks of every step, then the doctor's chain and the test query as EVERY
        consumer: one analyst whose query fails is a failed verify (for consumers_from: the
        test query in a sample of the OU's accounts, or in every one)."""
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
            # Who each test query runs as, decided first: a user whose keys we lack is refused
            # (exit 2) before anything runs.
            prepared = {c.account_id: self.query_account(c) for c in self.profile.consumers}
            self.emit(Event("query-state", message="diagnosing and running the test queries"))
            report = self.diagnose(sql=sql, prepared=prepared, max_rows=max_rows)
            result.doctor = report
            for c in report.consumers:
                for link in c.links:
                    if link.status == "broken":
                        result.findings.append(Finding("error", link.message, link.fix,
                                                       link.id, c.account))
                self.emit(Event("query-state", message=c.query.state if c.query else
                                "NOT_RUN", account=c.account))
            first = report.consumers[0] if report.consumers else None
            result.query = first.query if first else None
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


def _failures(results: dict[str, QueryResult]) -> dict[str, str]:
    return {k: (r.error or r.state) for k, r in results.items() if r.state != "SUCCEEDED"}
