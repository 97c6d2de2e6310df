"""The test query in the accounts of an OU, run as each account's principal.

``verify`` for ``consumers_from`` queries from a sample of the OU's accounts (first, last and
evenly between, ``verify_sample`` of them), or from every one on request. Each query runs as the
principal the StackSet made, as an analyst in that account would: the organization's
credentials assume ``OrganizationAccountAccessRole`` in the member account (the role AWS
Organizations creates there for its management account), and that session assumes the
principal role. A principal that is a user cannot be impersonated: its accounts are reported
as not queried.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from wizard.aws import Account, session_from_credentials
from wizard.changes import Event
from wizard.errors import InvalidInput, WizardError
from wizard.plural import count
from wizard.query import QueryResult, QueryRunner
from wizard.steps.base import CONSUMER_CONCURRENCY, aws_call
from wizard.steps.org_grants import org_targets

if TYPE_CHECKING:
    from wizard.engine import Engine

ACCESS_ROLE = "OrganizationAccountAccessRole"


def sample(accounts: list[str], n: int) -> list[str]:
    """``n`` accounts spread over the list: first, last, evenly between (order kept)."""
    if n >= len(accounts):
        return list(accounts)
    if n <= 1:
        return accounts[:1]
    step = (len(accounts) - 1) / (n - 1)
    picked = sorted({round(i * step) for i in range(n)})
    return [accounts[i] for i in picked]


def _assume(account: Account, role_arn: str, label: str, region: str, engine: Engine) -> Account:
    creds = aws_call(account, "sts", "assume_role", RoleArn=role_arn,
                     RoleSessionName="xacct-wizard-verify")["Credentials"]
    return Account(label, role_arn.split(":")[4], session_from_credentials(creds, region),
                   region, engine.recorder, engine.hooks)


def analyst_account(engine: Engine, account_id: str) -> Account:
    """The account's principal role, reached through OrganizationAccountAccessRole."""
    ctx = engine.connect()
    source = engine.profile.consumers_from
    assert source is not None and ctx.org is not None
    region = engine.profile.region
    label = f"consumer:{account_id}"
    admin = _assume(ctx.org, f"arn:aws:iam::{account_id}:role/{ACCESS_ROLE}", label, region,
                    engine)
    return _assume(admin, source.principal_arn(account_id), f"{label}:query", region, engine)


def runner(engine: Engine, account_id: str | None = None, *,
           cancel: threading.Event | None = None,
           sleep: Callable[[float], None] | None = None) -> QueryRunner:
    """A QueryRunner as the principal of ``account_id`` (default: the OU's first account)."""
    source = engine.profile.consumers_from
    assert source is not None
    if account_id is None:
        accounts = org_targets(engine.connect()).account_ids
        if not accounts:
            raise InvalidInput("The organizational unit has no account to query from yet.",
                               fix="Move an account into it (or pick another OU).")
        account_id = accounts[0]
    if source.principal_kind != "role":
        raise InvalidInput(f"{source.principal_name} is a user: xacct-wizard cannot run the "
                           "query as it without its access keys.",
                           fix="Use a role/NAME principal to test from the GUI or `verify`.")
    return QueryRunner(analyst_account(engine, account_id),
                       catalog=source.catalog_name or engine.profile.connector.catalog_name,
                       workgroup=source.workgroup, output=source.results_for(account_id),
                       sleep=sleep or engine.sleep,
                       cancel=cancel if cancel is not None else engine.cancel_event)


def query_accounts(engine: Engine, sql: str, *, max_rows: int | None,
                   all_accounts: bool) -> list[tuple[str, QueryResult]]:
    ctx = engine.connect()
    source = engine.profile.consumers_from
    assert source is not None and ctx.org is not None
    targets = org_targets(ctx)
    chosen = targets.account_ids if all_accounts else sample(targets.account_ids,
                                                              source.verify_sample)
    catalog = source.catalog_name or engine.profile.connector.catalog_name

    def one(account_id: str) -> tuple[str, QueryResult]:
        label = f"consumer:{account_id}"
        if source.principal_kind != "role":
            return account_id, QueryResult(
                state="NOT_RUN", error=f"{source.principal_name} is a user: xacct-wizard cannot "
                                       "run the query as it without its access keys.")
        try:
            analyst = analyst_account(engine, account_id)
        except WizardError as exc:
            return account_id, QueryResult(state="FAILED", error=str(exc), cause=exc.cause,
                                           fix=exc.fix)
        runner = QueryRunner(analyst, catalog=catalog, workgroup=source.workgroup,
                             output=source.results_for(account_id), sleep=engine.sleep,
                             cancel=engine.cancel_event)
        result = runner.run(sql, max_rows=max_rows)
        engine.emit(Event("query-state", message=f"{account_id}: {result.state}"
                          + (f" ({count(len(result.rows), 'row')})" if result.rows else ""),
                          account=label))
        return account_id, result

    workers = max(1, min(CONSUMER_CONCURRENCY, len(chosen)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="verify") as pool:
        return list(pool.map(one, chosen))
