"""The sandbox's AWS Organization: a management account, OUs, and the member accounts.

moto models Organizations, but with random ids and without the parts the wizard's organization
mode depends on; this module is where the sandbox uses moto's Organizations internals:

* :func:`seed_organization` builds a fixed tree (ids a profile can name)::

      Root (r-xact)
        111111111111 owner, 222222222222 consumer, 999999999999 management
        Analytics (ou-xact-analytic)        member accounts 1..N, except every 4th
          Reporting (ou-xact-reportin)      every 4th member account (an OU below the OU)
        Onboarding (ou-xact-onboardn)       333333333333: outside the OU, can be moved into it

* :func:`principal_org_keys` gives the ``aws:PrincipalOrgID`` / ``aws:PrincipalOrgPaths``
  condition keys of a caller's account, which moto never evaluates and the sandbox's permission
  checks do (:mod:`wizard.sandbox.iam_eval`): a grant conditioned on the organization or an OU
  denies a principal outside it, as in AWS.
* :func:`after_move_account` is the hook that makes StackSets' automatic deployment happen
  when an account moves into (or out of) a targeted OU.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wizard.sandbox.layer import ApiRequest

MANAGEMENT_ACCOUNT = "999999999999"
NEWCOMER_ACCOUNT = "333333333333"
ORG_ID = "o-xactsandbx"
ROOT_ID = "r-xact"
ANALYTICS_OU = "ou-xact-analytic"
REPORTING_OU = "ou-xact-reportin"
ONBOARDING_OU = "ou-xact-onboardn"
PARTITION = "aws"

# Called with (account id, old parent id, new parent id) after a successful MoveAccount.
_move_listeners: list[Callable[[str, str, str], None]] = []


def _backend() -> Any:
    from moto.organizations.models import organizations_backends

    return organizations_backends[MANAGEMENT_ACCOUNT][PARTITION]


def _add_ou(backend: Any, ou_id: str, name: str, parent_id: str) -> None:
    from moto.organizations.models import FakeOrganizationalUnit

    ou = FakeOrganizationalUnit(backend.org, Name=name, ParentId=parent_id)
    ou.id = ou_id
    backend.ou.append(ou)


def _add_account(backend: Any, account_id: str, name: str, parent_id: str) -> None:
    """An account that joined the organization (its admin role is seeded by seed.py)."""
    from moto.organizations.models import organizations_backends

    account = next((a for a in backend.accounts if a.id == account_id), None)
    if account is None:  # (the management account is there since CreateOrganization)
        account = _new_account(backend, name)
        account.id = account_id
        account.joined_method = "INVITED"
        backend.accounts.append(account)
        organizations_backends.master_accounts[account_id] = (MANAGEMENT_ACCOUNT, PARTITION)
    account.parent_id = parent_id


def _new_account(backend: Any, name: str) -> Any:
    """moto's account record without its side effect (an IAM role in a random account)."""
    from moto.organizations.models import FakeAccount

    account = FakeAccount.__new__(FakeAccount)
    org = backend.org
    account.type = "ACCOUNT"
    account.region = org.region
    account.organization_id = org.id
    account.master_account_id = org.master_account_id
    account.create_account_status_id = f"car-{name[-8:].lower():0>8}"
    account.name = name
    account.email = f"{name.lower()}@example.com"
    from moto.core.utils import utcnow

    account.create_time = utcnow()
    account.status = account.state = "ACTIVE"
    account.attached_policies = []
    account.tags = {}
    return account


def seed_organization(owner: str, consumer: str, members: list[str]) -> None:
    """Create the organization tree (module docstring) in moto's Organizations backend."""
    backend = _backend()
    backend.create_organization(region="us-east-1", FeatureSet="ALL")
    org = backend.org
    org.id, org.root_id = ORG_ID, ROOT_ID
    for item in backend.ou + backend.accounts:
        item.organization_id = ORG_ID
    root = backend.ou[0]
    root.id = ROOT_ID
    _add_ou(backend, ANALYTICS_OU, "Analytics", ROOT_ID)
    _add_ou(backend, REPORTING_OU, "Reporting", ANALYTICS_OU)
    _add_ou(backend, ONBOARDING_OU, "Onboarding", ROOT_ID)
    _add_account(backend, MANAGEMENT_ACCOUNT, "Management", ROOT_ID)
    _add_account(backend, owner, "Owner", ROOT_ID)
    _add_account(backend, consumer, "Consumer", ROOT_ID)
    _add_account(backend, NEWCOMER_ACCOUNT, "Newcomer", ONBOARDING_OU)
    for n, account in enumerate(members, start=1):
        _add_account(backend, account, f"Member{n:04d}",
                     REPORTING_OU if n % 4 == 0 else ANALYTICS_OU)


# --------------------------------------------------------------------------- lookups
def ou_path(ou_id: str) -> list[str]:
    """Root first, ``ou_id`` last (empty when the OU does not exist)."""
    backend = _backend()
    by_id = {ou.id: ou for ou in backend.ou}
    chain: list[str] = []
    current = by_id.get(ou_id)
    while current is not None and len(chain) < 20:
        chain.append(current.id)
        current = by_id.get(current.parent_id) if current.parent_id else None
    return list(reversed(chain))


def descendant_ous(ou_id: str) -> set[str]:
    """The OU and every OU below it."""
    backend = _backend()
    out = {ou_id}
    grew = True
    while grew:
        more = {ou.id for ou in backend.ou if ou.parent_id in out} - out
        out |= more
        grew = bool(more)
    return out


def accounts_under(ou_id: str) -> list[str]:
    """Active accounts in the OU or any OU below it, in join order."""
    ous = descendant_ous(ou_id)
    return [a.id for a in _backend().accounts
            if a.parent_id in ous and a.status == "ACTIVE"]


def parent_of(account_id: str) -> str | None:
    try:
        return str(_backend().get_account_by_id(account_id).parent_id)
    except Exception:  # not a member of the organization
        return None


def principal_org_keys(account_id: str) -> dict[str, Any]:
    """``aws:PrincipalOrgID`` and ``aws:PrincipalOrgPaths`` of a principal in this account
    (lower-cased, as the evaluator's context keeps them); empty outside the organization."""
    try:
        from moto.organizations.models import organizations_backends

        backend = organizations_backends[MANAGEMENT_ACCOUNT][PARTITION]
        if backend.org is None:
            return {}
        account = next((a for a in backend.accounts if a.id == account_id), None)
        if account is None or account.status != "ACTIVE":
            return {}
        path = "/".join([backend.org.id, *ou_path(account.parent_id)]) + "/"
        return {"aws:principalorgid": backend.org.id, "aws:principalorgpaths": [path]}
    except Exception:  # never let a lookup failure grant or break a request
        return {}


# --------------------------------------------------------------------------- hooks
def on_move(listener: Callable[[str, str, str], None]) -> None:
    """Call ``listener(account, old_parent, new_parent)`` after every successful MoveAccount."""
    if listener not in _move_listeners:
        _move_listeners.append(listener)


def off_move(listener: Callable[[str, str, str], None]) -> None:
    if listener in _move_listeners:
        _move_listeners.remove(listener)


def move_account(req: ApiRequest) -> None:
    """Remember nothing, check nothing: moto moves the account (the hook runs after)."""
    return None


def after_move_account(req: ApiRequest) -> None:
    account = str(req.params.get("AccountId", ""))
    old, new = str(req.params.get("SourceParentId", "")), str(
        req.params.get("DestinationParentId", ""))
    for listener in list(_move_listeners):
        listener(account, old, new)
