"""Runbook steps 6 and 12-13: the LAMBDA data catalog registered in A, and shared into each B.

There is no Athena "share" API: sharing is A assuming the role ``AthenaCrossAccountCreate-<A>``
in B and creating the catalog there (console parity), or B's admin creating it ("direct").
"""

from __future__ import annotations

from typing import Any

from wizard.aws import Account, session_from_credentials
from wizard.changes import Change, Finding
from wizard.errors import AwsOperationError, WizardError
from wizard.journal import Entry
from wizard.policies import share_role_name
from wizard.profile import ConsumerConfig
from wizard.steps.base import Step, aws_call, create_call, error_code, flatten


def read_catalog(account: Account, name: str) -> dict[str, Any] | None:
    try:
        ans = aws_call(account, "athena", "get_data_catalog", Name=name)
    except WizardError as exc:
        text = str(exc).lower()
        if error_code(exc) in ("InvalidRequestException", "ResourceNotFoundException") and (
                "not found" in text or "does not exist" in text or "not exist" in text):
            return None
        raise
    return ans.get("DataCatalog") or None


def catalog_function(catalog: dict[str, Any] | None) -> str | None:
    if not catalog:
        return None
    params = catalog.get("Parameters") or {}
    return params.get("function") or params.get("metadata-function")


def delete_catalog(account: Account, name: str) -> None:
    try:
        aws_call(account, "athena", "delete_data_catalog", Name=name)
    except WizardError as exc:
        if read_catalog(account, name) is not None:
            raise
        del exc


def catalog_definition(catalog: dict[str, Any]) -> dict[str, Any]:
    """What UpdateDataCatalog needs to put a catalog back the way it was."""
    return {"Type": catalog.get("Type"), "Parameters": dict(catalog.get("Parameters") or {}),
            "Description": catalog.get("Description") or ""}


def take_over(account: Account, name: str, function_arn: str) -> None:
    aws_call(account, "athena", "update_data_catalog", Name=name, Type="LAMBDA",
             Description="Taken over by xacct-wizard", Parameters={"function": function_arn})


def restore_or_delete(account: Account, entry: Any, name: str) -> str:
    """Undo one catalog entry: delete what we created, point back what we took over."""
    prior = entry.prior
    if entry.kind == "changed" and isinstance(prior, dict) and prior.get("Type"):
        kwargs: dict[str, Any] = {"Name": name, "Type": prior["Type"],
                                  "Parameters": prior.get("Parameters") or {}}
        if prior.get("Description"):
            kwargs["Description"] = prior["Description"]
        aws_call(account, "athena", "update_data_catalog", **kwargs)
        return "update"
    delete_catalog(account, name)
    return "delete"


CONFLICT_FIX = ("Choose another catalog name, or set take_over_catalog: true to repoint it to "
                "this connector (destroy points it back).")


class OwnerCatalogStep(Step):
    id = "catalog-owner"
    title = "Data catalog in the owner account"

    def plan(self) -> list[Change]:
        ctx = self.ctx
        current = read_catalog(ctx.owner, ctx.catalog)
        want = {"Type": "LAMBDA", "function": ctx.function_arn}
        resource = f"athena data catalog {ctx.catalog}"
        if current is None:
            return [self.change("owner", resource, "create",
                                f"register LAMBDA catalog {ctx.catalog} -> {ctx.function_name}",
                                after=want, kind="catalog")]
        have = {"Type": current.get("Type"), "function": catalog_function(current)}
        if have == want:
            return [self.change("owner", resource, "none", "catalog registered", before=have,
                                after=have, kind="catalog")]
        return [self.change("owner", resource, "update",
                            "the catalog exists but points elsewhere", before=have, after=want,
                            kind="catalog", conflict=True, prior=catalog_definition(current))]

    def preflight(self) -> list[Finding]:
        out = []
        for ch in self.plan():
            if (ch.data.get("conflict") and not self.ctx.profile.connector.take_over_catalog
                    and not self.ctx.journal.find(self.id, "owner", ch.resource)):
                out.append(self.finding(
                    "error", f"Athena catalog {self.ctx.catalog} already exists in the owner "
                    f"account and points to {ch.before}, not to this connector.",
                    CONFLICT_FIX, "owner"))
        return out

    def apply(self, changes: list[Change]) -> None:
        ctx = self.ctx
        for ch in changes:
            if ch.action == "none":
                continue
            if ch.action == "update":
                entry = ctx.journal.find(self.id, "owner", ch.resource)
                if entry is None:
                    if not ctx.profile.connector.take_over_catalog:
                        raise AwsOperationError(f"Refusing to change {ch.resource}: it was not "
                                                "created by this setup.", fix=CONFLICT_FIX,
                                                account="owner")
                    entry = ctx.journal.begin(self.id, "owner", ch.resource, "changed",
                                              prior=ch.data.get("prior"),
                                              data={"name": ctx.catalog})
                take_over(ctx.owner, ctx.catalog, ctx.function_arn)
                ctx.journal.done(entry)
                continue
            entry = ctx.journal.begin(self.id, "owner", ch.resource, "created",
                                      data={"name": ctx.catalog})
            create_call(ctx.owner, "athena", "create_data_catalog", Name=ctx.catalog,
                        Type="LAMBDA", Description="Created by xacct-wizard",
                        Parameters={"function": ctx.function_arn},
                        is_ours=lambda: catalog_function(read_catalog(
                            ctx.owner, ctx.catalog)) == ctx.function_arn)
            ctx.journal.done(entry)

    def plan_destroy(self) -> list[Change]:
        return [self.change("owner", e.resource, "update" if e.kind == "changed" else "delete",
                            "point the catalog back" if e.kind == "changed"
                            else "deregister the catalog", kind="catalog")
                for e in self.ctx.journal.for_step(self.id)]

    def destroy(self) -> list[Change]:
        done = []
        for entry in self.ctx.journal.for_step(self.id):
            action = restore_or_delete(self.ctx.owner, entry,
                                       entry.data.get("name", self.ctx.catalog))
            self.ctx.journal.forget(entry)
            done.append(self.change("owner", entry.resource, action, kind="catalog"))
        return done


class SharedCatalogStep(Step):
    id = "catalog-consumer"
    title = "Catalog shared into the consumer account"
    side = "consumer"

    def _resource(self, c: ConsumerConfig) -> str:
        return f"athena data catalog {c.catalog_name}"

    def _plan_one(self, c: ConsumerConfig) -> list[Change]:
        ctx = self.ctx
        acct = ctx.consumer_account(c)
        current = read_catalog(acct, c.catalog_name)
        want = {"Type": "LAMBDA", "function": ctx.function_arn}
        how = ("as the share role " + share_role_name(ctx.owner_id)
               if c.share_method == "assume-role" else "directly as the consumer admin")
        if current is None:
            return [self.change(c.key, self._resource(c), "create",
                                f"share catalog {c.catalog_name} into {c.account_id} {how}",
                                after=want, kind="catalog", consumer=c.account_id)]
        have = {"Type": current.get("Type"), "function": catalog_function(current)}
        if have == want:
            return [self.change(c.key, self._resource(c), "none", "catalog shared", before=have,
                                after=have, kind="catalog", consumer=c.account_id)]
        return [self.change(c.key, self._resource(c), "update",
                            "the catalog exists but points elsewhere", before=have, after=want,
                            kind="catalog", consumer=c.account_id, conflict=True,
                            prior=catalog_definition(current))]

    def plan(self) -> list[Change]:
        return flatten(self.ctx.map_consumers(self._plan_one))

    def preflight(self) -> list[Finding]:
        out = []
        takes_over = {c.key for c in self.ctx.profile.consumers if c.take_over_catalog}
        for ch in self.plan():
            if (ch.data.get("conflict") and ch.account not in takes_over
                    and not self.ctx.journal.find(self.id, ch.account, ch.resource)):
                out.append(self.finding(
                    "error", f"Athena catalog {ch.resource.rsplit(' ', 1)[-1]} already exists "
                    f"in {ch.account} and points to {ch.before}.", CONFLICT_FIX, ch.account))
        return out

    def _share_account(self, c: ConsumerConfig) -> Account:
        """Who creates the catalog in B: the share role assumed by A, or B's admin."""
        ctx = self.ctx
        if c.share_method == "direct":
            return ctx.consumer_account(c)
        role_arn = f"arn:aws:iam::{c.account_id}:role/{share_role_name(ctx.owner_id)}"
        last: Exception | None = None
        # IAM is eventually consistent: a freshly created role may not be assumable yet.
        for delay in (0, 1, 2, 3, 5):
            if delay:
                ctx.sleep(delay)
            try:
                creds = aws_call(ctx.owner, "sts", "assume_role", RoleArn=role_arn,
                                 RoleSessionName="xacct-wizard-share")["Credentials"]
                session = session_from_credentials(creds, ctx.region)
                return ctx.owner.with_session(f"owner-as-{c.key}", session, c.account_id)
            except WizardError as exc:
                last = exc
                if error_code(exc) not in ("AccessDenied", "AccessDeniedException"):
                    raise
        raise AwsOperationError(
            f"Account {ctx.owner_id} does not have the permissions to assume a role in Account "
            f"{c.account_id} ({role_arn}): {last}",
            cause="The share role is missing, misnamed or does not trust the owner account.",
            fix="Run apply again (the share-role step recreates it) or use share_method: direct.",
            account=c.key)

    def _apply_one(self, c: ConsumerConfig, ch: Change) -> None:
        ctx = self.ctx
        if ch.action == "none":
            return
        if ch.action == "update":
            entry = ctx.journal.find(self.id, c.key, ch.resource)
            if entry is None or entry.kind == "changed":
                if entry is None and not c.take_over_catalog:
                    raise AwsOperationError(f"Refusing to change {ch.resource} in "
                                            f"{c.account_id}: it was not created by this setup.",
                                            fix=CONFLICT_FIX, account=c.key)
                if entry is None:
                    entry = ctx.journal.begin(self.id, c.key, ch.resource, "changed",
                                              prior=ch.data.get("prior"),
                                              data={"name": c.catalog_name})
                take_over(ctx.consumer_account(c), c.catalog_name, ctx.function_arn)
                ctx.journal.done(entry)
                return
            delete_catalog(ctx.consumer_account(c), c.catalog_name)
        entry = ctx.journal.begin(self.id, c.key, ch.resource, "created",
                                  data={"name": c.catalog_name})
        creator = self._share_account(c)
        create_call(creator, "athena", "create_data_catalog", Name=c.catalog_name, Type="LAMBDA",
                    Description=f"Shared from {ctx.owner_id} by xacct-wizard",
                    Parameters={"function": ctx.function_arn},
                    is_ours=lambda: catalog_function(read_catalog(
                        ctx.consumer_account(c), c.catalog_name)) == ctx.function_arn)
        ctx.journal.done(entry)

    def apply(self, changes: list[Change]) -> None:
        by_consumer = {c.account_id: c for c in self.ctx.profile.consumers}
        pending = [(by_consumer[ch.data["consumer"]], ch) for ch in changes
                   if ch.action != "none"]
        if not pending:
            return
        lookup = {c.account_id: ch for c, ch in pending}

        def run(c: ConsumerConfig) -> None:
            if c.account_id in lookup:
                self._apply_one(c, lookup[c.account_id])

        self.ctx.map_consumers(run)

    def verify(self) -> list[Finding]:
        """Runbook 13: the catalog in B is LAMBDA -> our function, and ListDatabases works."""
        def check(c: ConsumerConfig) -> list[Finding]:
            cat = read_catalog(self.ctx.consumer_account(c), c.catalog_name)
            if cat is None or catalog_function(cat) != self.ctx.function_arn:
                return [self.finding("error", f"Catalog {c.catalog_name} in {c.account_id} "
                                     "is missing or points elsewhere.", "Run apply again.", c.key)]
            return []

        return flatten(self.ctx.map_consumers(check))

    def plan_destroy(self) -> list[Change]:
        return [self.change(e.account, e.resource, "update" if e.kind == "changed" else "delete",
                            "point the catalog back" if e.kind == "changed"
                            else "remove the shared catalog", kind="catalog")
                for e in self.ctx.journal.for_step(self.id)]

    def destroy(self) -> list[Change]:
        def undo(entry: Entry) -> Change:
            acct = self.ctx.consumers[entry.account.split(":", 1)[1]]
            action = restore_or_delete(acct, entry, entry.data.get("name", self.ctx.catalog))
            self.ctx.journal.forget(entry)
            return self.change(entry.account, entry.resource, action, kind="catalog")

        return self.ctx.map_accounts(self.ctx.journal.for_step(self.id), undo)
