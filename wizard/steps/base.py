"""The Step model (design.md): plan reads live state and returns Changes; apply executes exactly
those; destroy undoes what the journal says this tool did. Steps read in runbook order.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import botocore.exceptions

from wizard.aws import Account
from wizard.changes import Change, Event, Finding
from wizard.errors import Cancelled, WizardError, from_exception
from wizard.journal import Entry, Journal
from wizard.profile import ConsumerConfig, SetupProfile

T = TypeVar("T")
R = TypeVar("R")


# Consumer accounts worked on at once. Each consumer is its own account (its own API rate
# limits), and the calls wait on the network, not the CPU: 20 threads make a 20-consumer setup
# one wave of calls instead of three.
CONSUMER_CONCURRENCY = 20


@dataclass
class Context:
    """Everything a step needs: the profile, both sides' clients, the journal, and callbacks."""

    profile: SetupProfile
    owner: Account
    consumers: dict[str, Account]  # account id -> Account
    journal: Journal
    emit: Callable[[Event], None] = lambda e: None
    sleep: Callable[[float], None] = time.sleep
    cancel: threading.Event = field(default_factory=threading.Event)
    poll_delay: float = 2.0  # CloudFormation polling (the botocore default is 30 s)
    stack_timeout: float = 3600.0  # longest wait for a stack or change set to settle
    max_workers: int = CONSUMER_CONCURRENCY
    cache: dict[str, Any] = field(default_factory=dict)
    # consumers_from: the organization's management (or delegated-administrator) account
    org: Account | None = None

    @property
    def region(self) -> str:
        return self.profile.region

    @property
    def owner_id(self) -> str:
        return self.profile.owner.account_id

    @property
    def catalog(self) -> str:
        return self.profile.connector.catalog_name

    @property
    def function_arn(self) -> str:
        """Known before deployment: SAR names the function after AthenaCatalogName."""
        existing = self.profile.connector.existing_function_arn
        if existing:
            return existing
        return f"arn:aws:lambda:{self.region}:{self.owner_id}:function:{self.catalog}"

    @property
    def function_name(self) -> str:
        return self.function_arn.rsplit(":", 1)[-1]

    def consumer_account(self, consumer: ConsumerConfig) -> Account:
        return self.consumers[consumer.account_id]

    def check_cancel(self) -> None:
        if self.cancel.is_set():
            raise Cancelled("Cancelled. What was done so far is recorded; apply again to resume "
                            "or destroy to roll back.")

    def log(self, step: str, message: str, account: str = "") -> None:
        self.emit(Event("log", step=step, message=message, account=account))

    def map_accounts(self, entries: Iterable[Entry], fn: Callable[[Entry], R]) -> list[R]:
        """Undo journal entries account by account, the accounts concurrently.

        One account's entries run one after another in the order given (a role's policies
        before the role); results come back in that order too, account after account. Each
        entry is forgotten by ``fn`` when undone, so a failure in one account leaves the others'
        progress recorded and the failed ones for the next destroy.
        """
        groups: dict[str, list[Entry]] = {}
        for entry in entries:
            groups.setdefault(entry.account, []).append(entry)
        done = self._concurrently(list(groups.values()), lambda group: [fn(e) for e in group],
                                  "account")
        return [r for results in done for r in results]

    def map_consumers(self, fn: Callable[[ConsumerConfig], R]) -> list[R]:
        """Run the consumer side concurrently: 20 consumers must not cost 20 times one."""
        return self._concurrently(self.profile.consumers, fn, "consumer")

    def _concurrently(self, items: list[T], fn: Callable[[T], R], name: str) -> list[R]:
        return concurrently(items, fn, name, self.max_workers)


def concurrently(items: list[T], fn: Callable[[T], R], name: str,
                 max_workers: int = CONSUMER_CONCURRENCY) -> list[R]:
    """``fn`` of each item, in order; one item runs inline, more in up to ``max_workers``
    threads named after ``name``. (Module-level so the doctor, which has no Context, shares it.)"""
    if len(items) <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(max_workers, len(items)),
                            thread_name_prefix=name) as pool:
        return list(pool.map(fn, items))


def aws_call(account: Account, service: str, operation: str, **kwargs: Any) -> Any:
    """Call one AWS operation and turn any failure into a translated, redacted WizardError."""
    client = account.client(service)
    try:
        return getattr(client, operation)(**kwargs)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise from_exception(exc, operation=_op_name(operation), account=account.label,
                             service=service) from exc


_ALREADY_EXISTS_CODES = {"EntityAlreadyExists", "ResourceConflictException",
                         "BucketAlreadyOwnedByYou", "AlreadyExistsException"}


def create_call(account: Account, service: str, operation: str, *,
                is_ours: Callable[[], bool], **kwargs: Any) -> Any:
    """A create call that tolerates its own retry.

    When a connection drops after AWS did the work, botocore sends the request again and the
    retry fails with "already exists". That is our own first attempt, not someone else's
    resource: when botocore did retry and ``is_ours()`` confirms that what now exists is what we
    asked for, the create succeeded. A conflict on the first attempt is still an error.
    """
    try:
        return aws_call(account, service, operation, **kwargs)
    except WizardError as exc:
        if _retried_into_existing(exc) and is_ours():
            return None
        raise


def _retried_into_existing(exc: WizardError) -> bool:
    cause = exc.__cause__
    response = getattr(cause, "response", None)
    if not isinstance(response, dict):
        return False
    retries = response.get("ResponseMetadata", {}).get("RetryAttempts", 0) or 0
    text = str(exc).lower()
    return retries > 0 and (error_code(exc) in _ALREADY_EXISTS_CODES
                            or "already exist" in text)


def error_code(exc: BaseException) -> str:
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    response = getattr(cause, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return getattr(exc, "code", "") or ""


def _op_name(snake: str) -> str:
    return "".join(p.capitalize() for p in snake.split("_"))


def flatten(items: Iterable[list[T]]) -> list[T]:
    return [x for sub in items for x in sub]


class Step:
    """Base class. Subclasses set ``id``/``title`` and implement the four verbs."""

    id = "step"
    title = "Step"
    side = "owner"  # which account does the work: "owner", "consumer" or "both"

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def preflight(self) -> list[Finding]:
        return []

    def plan(self) -> list[Change]:
        raise NotImplementedError

    def apply(self, changes: list[Change]) -> None:
        raise NotImplementedError

    def verify(self) -> list[Finding]:
        """Read-only checks after apply; an empty list means all is well."""
        return []

    def plan_destroy(self) -> list[Change]:
        return []

    def destroy(self) -> list[Change]:
        """Undo this step's journal entries; returns what was done."""
        return []

    # helpers
    def change(self, account: str, resource: str, action: str, summary: str = "", *,
               before: Any = None, after: Any = None, kind: str = "",
               **data: Any) -> Change:
        return Change(self.id, account, resource, action, summary, before, after, kind,  # type: ignore[arg-type]
                      dict(data))

    def finding(self, severity: str, message: str, fix: str = "", account: str = "") -> Finding:
        return Finding(severity, message, fix, self.id, account)  # type: ignore[arg-type]
