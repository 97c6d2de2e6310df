"""What an organizational unit holds: the accounts a ``consumers_from`` profile reaches.

Read with the management (or delegated-administrator) account's credentials through AWS
Organizations: the organization's id, the OU's path (for ``aws:PrincipalOrgPaths``), and every
active account in the OU and the OUs below it. The owner-side grants name the organization or
the path, never the accounts, so the number of accounts only costs calls here, on the
organization's side.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import botocore.exceptions

from wizard.aws import Account
from wizard.errors import InvalidInput, from_exception

MAX_DEPTH = 6  # AWS Organizations nests OUs at most five levels below the root


@dataclass(frozen=True)
class OrgAccount:
    id: str
    name: str
    ou_id: str  # the OU it sits in directly


@dataclass(frozen=True)
class OrgUnit:
    id: str
    name: str
    parent_id: str
    depth: int


@dataclass
class OrgTargets:
    """The organization, the OU a profile names, and the accounts in it (and below it)."""

    org_id: str
    root_id: str
    ou_id: str
    ou_name: str
    path: str  # "o-x/r-y/ou-a/ou-b/": the OU's aws:PrincipalOrgPaths value
    accounts: list[OrgAccount] = field(default_factory=list)
    units: list[OrgUnit] = field(default_factory=list)  # the OU and the OUs below it
    management_account: str = ""

    @property
    def account_ids(self) -> list[str]:
        return [a.id for a in self.accounts]

    @property
    def is_root(self) -> bool:
        return self.ou_id == self.root_id


def _call(account: Account, operation: str, **kwargs: Any) -> Any:
    try:
        return getattr(account.client("organizations"), operation)(**kwargs)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise from_exception(exc, operation="".join(p.capitalize() for p in operation.split("_")),
                             account=account.label, service="organizations") from exc


def _pages(account: Account, operation: str, key: str, **kwargs: Any) -> Iterator[Any]:
    token: str | None = None
    while True:
        ans = _call(account, operation, **kwargs, **({"NextToken": token} if token else {}))
        yield from ans.get(key, [])
        token = ans.get("NextToken")
        if not token:
            return


def organization_id(account: Account) -> tuple[str, str]:
    """(organization id, root id) as the management account sees them."""
    org_id, root_id, _mgmt = _organization(account)
    return org_id, root_id


def _organization(account: Account) -> tuple[str, str, str]:
    org = _call(account, "describe_organization")["Organization"]
    roots = list(_pages(account, "list_roots", "Roots"))
    return (str(org["Id"]), str(roots[0]["Id"]) if roots else "",
            str(org.get("MasterAccountId", "")))


def discover(account: Account, ou_id: str) -> OrgTargets:
    """The OU's path, units and accounts (InvalidInput when the OU does not exist)."""
    org_id, root_id, management = _organization(account)
    if ou_id == root_id:
        chain, name = [root_id], "Root"
    else:
        try:
            name = str(_call(account, "describe_organizational_unit",
                             OrganizationalUnitId=ou_id)["OrganizationalUnit"]["Name"])
        except Exception as exc:
            raise InvalidInput(
                f"The organizational unit {ou_id} was not found in organization {org_id}.",
                fix="Check consumers_from.organizational_unit (the OU picker lists the tree), "
                    "and that consumers_from.credentials are the management or "
                    "delegated-administrator account's.") from exc
        chain = [ou_id]
        while chain[-1] != root_id and len(chain) <= MAX_DEPTH:
            parents = _call(account, "list_parents", ChildId=chain[-1])["Parents"]
            if not parents:
                break
            chain.append(str(parents[0]["Id"]))
        chain.reverse()
    targets = OrgTargets(org_id, root_id, ou_id, name, "/".join([org_id, *chain]) + "/",
                         management_account=management)
    frontier = [OrgUnit(ou_id, name, "", 0)]
    while frontier:
        unit = frontier.pop(0)
        targets.units.append(unit)
        for acct in _pages(account, "list_accounts_for_parent", "Accounts", ParentId=unit.id):
            if acct.get("Status", "ACTIVE") == "ACTIVE":
                targets.accounts.append(OrgAccount(str(acct["Id"]), str(acct.get("Name", "")),
                                                   unit.id))
        if unit.depth < MAX_DEPTH:
            frontier += [OrgUnit(str(o["Id"]), str(o.get("Name", "")), unit.id, unit.depth + 1)
                         for o in _pages(account, "list_organizational_units_for_parent",
                                         "OrganizationalUnits", ParentId=unit.id)]
    return targets


def ou_tree(account: Account) -> list[OrgUnit]:
    """Every OU of the organization, root first, depth-first (for the GUI's OU picker)."""
    _org, root_id = organization_id(account)
    out: list[OrgUnit] = []

    def walk(unit: OrgUnit) -> None:
        out.append(unit)
        if unit.depth < MAX_DEPTH:
            for o in _pages(account, "list_organizational_units_for_parent",
                            "OrganizationalUnits", ParentId=unit.id):
                walk(OrgUnit(str(o["Id"]), str(o.get("Name", "")), unit.id, unit.depth + 1))

    walk(OrgUnit(root_id, "Root", "", 0))
    return out
