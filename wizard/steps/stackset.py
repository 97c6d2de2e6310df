"""Runbook steps 10-13 for every account of an OU: one service-managed CloudFormation StackSet.

Instead of a loop over accounts, the management (or delegated-administrator) account deploys
one template (:mod:`wizard.stackset_template`) to the OU with service-managed permissions and
automatic deployment: CloudFormation sets up every account in the OU and the OUs below it, and
every account that joins later, without anyone running the wizard again.

Apply streams each account's result as the operation reports it (ListStackSetOperationResults).
Accounts that fail keep their instance (OUTDATED, with the cause) while the others stay deployed;
the run then fails naming each account and its translated cause, and the next apply retries
only those accounts (UpdateStackInstances filtered to them). Destroy removes the instances from
every account, then the stack set.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from wizard.changes import Change, Event, Finding
from wizard.errors import AwsOperationError, WizardError, translate
from wizard.plural import count
from wizard.policies import share_role_name
from wizard.stackset_template import CAPABILITIES, body, build
from wizard.steps.base import Step, aws_call, error_code
from wizard.steps.org_grants import org_targets

# Every account is tried (AWS stops at the first failure by default) and all at once (AWS's
# default is one account at a time): the instances are independent of each other.
OPERATION_PREFERENCES = {"FailureTolerancePercentage": 100, "MaxConcurrentPercentage": 100,
                         "RegionConcurrencyType": "PARALLEL"}
_RUNNING = ("QUEUED", "RUNNING", "STOPPING")
FIRST_POLL = 0.1  # seconds; doubled after each poll up to the engine's poll_delay


class StackSetStep(Step):
    id = "stackset"
    title = "Consumer accounts of the organizational unit (StackSet)"
    side = "organization"

    # ------------------------------------------------------------------ reading
    @property
    def source(self) -> Any:
        assert self.ctx.profile.consumers_from is not None
        return self.ctx.profile.consumers_from

    @property
    def catalog(self) -> str:
        return self.source.catalog_name or self.ctx.catalog

    @property
    def name(self) -> str:
        return str(self.source.effective_stack_set_name(self.ctx.catalog))

    @property
    def resource(self) -> str:
        return f"StackSet {self.name} ({self.ctx.region})"

    def _call(self, operation: str, **kwargs: Any) -> Any:
        assert self.ctx.org is not None
        return aws_call(self.ctx.org, "cloudformation", operation, **kwargs)

    def _call_as(self) -> dict[str, str]:
        """CallAs: the management account itself, or a delegated administrator."""
        t = org_targets(self.ctx)
        mine = self.ctx.org.account_id if self.ctx.org is not None else ""
        return {} if not t.management_account or mine in ("", t.management_account) else \
            {"CallAs": "DELEGATED_ADMIN"}

    def template_body(self) -> str:
        return body(build(owner_account=self.ctx.owner_id, region=self.ctx.region,
                          function_arn=self.ctx.function_arn,
                          spill_bucket=self.ctx.profile.connector.spill_bucket,
                          spill_prefix=self.ctx.profile.connector.spill_prefix,
                          source=self.source, catalog=self.catalog))

    def _describe(self) -> dict[str, Any] | None:
        try:
            return dict(self._call("describe_stack_set", StackSetName=self.name,
                                   **self._call_as())["StackSet"])
        except WizardError as exc:
            if error_code(exc) == "StackSetNotFoundException":
                return None
            raise

    def _pages(self, operation: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        token = ""
        while True:
            ans = self._call(operation, **kwargs, **self._call_as(),
                             **({"NextToken": token} if token else {}))
            yield from ans.get("Summaries", [])
            token = ans.get("NextToken") or ""
            if not token:
                return

    def instances(self) -> dict[str, dict[str, Any]]:
        """Account id -> its stack instance in this region."""
        return {str(s["Account"]): s for s in self._pages("list_stack_instances",
                                                          StackSetName=self.name)
                if s.get("Region") == self.ctx.region}

    # ------------------------------------------------------------------ plan
    def preflight(self) -> list[Finding]:
        out: list[Finding] = []
        t = org_targets(self.ctx)
        if not t.accounts:
            out.append(self.finding(
                "warning", f"{t.ou_id} ({t.ou_name}) has no active account yet.",
                "Nothing to do: the StackSet's automatic deployment sets up every account "
                "that joins the OU later."))
        if self.ctx.owner_id in t.account_ids:
            out.append(self.finding(
                "error", f"The owner account {self.ctx.owner_id} is in {t.ou_id}: the StackSet "
                         "would make it a consumer of itself.",
                "Choose an OU without the owner account (or move the owner account out)."))
        if self.ctx.profile.connector.kms_key_id:
            out.append(self.finding(
                "error", "A customer-managed key on the spill data (connector.kms_key_id) is "
                         "not supported with consumers_from yet.",
                "Leave kms_key_id out (the spill data is then encrypted with an S3-managed "
                "key), or list the accounts under consumers instead."))
        ss = self._describe()
        if ss is not None and not self.ctx.journal.find(self.id, "organization", self.resource):
            out.append(self.finding(
                "error", f"A StackSet named {self.name} exists already and this tool did not "
                         "create it (its journal has no record of it).",
                "Set consumers_from.stack_set_name to another name, or delete that StackSet "
                "if it is left over from an earlier setup."))
        return out

    def plan(self) -> list[Change]:
        t = org_targets(self.ctx)
        ss = self._describe()
        wanted = self.template_body()
        where = (f"{t.ou_id} ({t.ou_name}) and the OUs below it" if not t.is_root
                 else f"every account of organization {t.org_id}")
        if ss is None:
            action, summary = "create", (
                f"one template deployed to {where}, service-managed, automatic deployment "
                f"on; {count(len(t.accounts), 'account')} now")
        elif ss.get("TemplateBody") != wanted or not (ss.get("AutoDeployment") or {}).get(
                "Enabled"):
            action, summary = "update", "template or automatic deployment differ: update " \
                                        "every account's stack"
        else:
            action, summary = "none", f"StackSet in place ({count(len(t.accounts), 'account')})"
        out = [self.change("organization", self.resource, action, summary,
                           before=None if ss is None else {"TemplateBody": ss.get(
                               "TemplateBody")},
                           after={"TemplateBody": wanted}, kind="stack-set",
                           body=wanted, ou=t.ou_id)]
        have = {} if ss is None else self.instances()
        what = (f"{share_role_name(self.ctx.owner_id)}, {self.source.principal_name}, "
                f"catalog {self.catalog} (stack instance)")
        for acct in t.accounts:
            inst = have.get(acct.id)
            status = (inst or {}).get("Status")
            if inst is None:
                a, s = "create", f"deploy in {acct.name or acct.id} ({acct.ou_id})"
            elif action == "update":
                a, s = "update", "update with the new template"
            elif status == "CURRENT":
                a, s = "none", "in place"
            else:
                reason = str(inst.get("StatusReason") or status)
                a, s = "update", f"retry: {_cause(reason)}"
            out.append(self.change(f"consumer:{acct.id}", what, a, s, kind="stack-instance",
                                   account_id=acct.id))
        return out

    # ------------------------------------------------------------------ apply
    def apply(self, changes: list[Change]) -> None:
        ss_change, per_account = changes[0], changes[1:]
        t = org_targets(self.ctx)
        results: dict[str, tuple[str, str]] = {}
        if ss_change.action == "create":
            entry = self.ctx.journal.begin(self.id, "organization", self.resource, "created",
                                           data={"name": self.name, "ou": t.ou_id,
                                                 "region": self.ctx.region})
            self._call("create_stack_set", StackSetName=self.name,
                       Description=f"xacct-wizard: the {self.catalog} catalog of account "
                                   f"{self.ctx.owner_id} in every account of {t.ou_id}",
                       TemplateBody=ss_change.data["body"], Capabilities=CAPABILITIES,
                       PermissionModel="SERVICE_MANAGED",
                       AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": False},
                       **self._call_as())
            self.ctx.journal.done(entry)
            # The whole OU (even with no account yet): it is what automatic deployment watches.
            op = self._call("create_stack_instances", StackSetName=self.name,
                            DeploymentTargets={"OrganizationalUnitIds": [t.ou_id]},
                            Regions=[self.ctx.region],
                            OperationPreferences=OPERATION_PREFERENCES,
                            **self._call_as())["OperationId"]
            results.update(self.wait(op, len(t.accounts), "deployed"))
        else:
            if ss_change.action == "update":
                op = self._call("update_stack_set", StackSetName=self.name,
                                TemplateBody=ss_change.data["body"], Capabilities=CAPABILITIES,
                                AutoDeployment={"Enabled": True,
                                                "RetainStacksOnAccountRemoval": False},
                                OperationPreferences=OPERATION_PREFERENCES,
                                **self._call_as())["OperationId"]
                results.update(self.wait(op, len(per_account), "updated"))
            creates = [c.data["account_id"] for c in per_account if c.action == "create"]
            retries = [c.data["account_id"] for c in per_account
                       if c.action == "update" and ss_change.action == "none"]
            for operation, ids, verb in (("create_stack_instances", creates, "deployed"),
                                         ("update_stack_instances", retries, "retried")):
                if not ids:
                    continue
                op = self._call(operation, StackSetName=self.name,
                                DeploymentTargets={"OrganizationalUnitIds": [t.ou_id],
                                                   "Accounts": ids,
                                                   "AccountFilterType": "INTERSECTION"},
                                Regions=[self.ctx.region],
                                OperationPreferences=OPERATION_PREFERENCES,
                                **self._call_as())["OperationId"]
                results.update(self.wait(op, len(ids), verb))
        failed = {a: r for a, (s, r) in results.items() if s != "SUCCEEDED"}
        if failed:
            raise _failures(failed, len(results))

    def wait(self, operation_id: str, total: int, verb: str) -> dict[str, tuple[str, str]]:
        """Poll one operation to its end, reporting each account as its result comes in.

        The first polls come quickly (a small OU's operation may be over in a moment), then
        back off to the engine's poll delay."""
        reported: dict[str, tuple[str, str]] = {}
        delay = min(FIRST_POLL, self.ctx.poll_delay)
        while True:
            self.ctx.check_cancel()
            status = self._call("describe_stack_set_operation", StackSetName=self.name,
                                OperationId=operation_id,
                                **self._call_as())["StackSetOperation"]["Status"]
            for row in self._pages("list_stack_set_operation_results",
                                   StackSetName=self.name, OperationId=operation_id):
                account, state = str(row["Account"]), str(row["Status"])
                if state in ("PENDING", "RUNNING") or account in reported:
                    continue
                reason = str(row.get("StatusReason") or "")
                reported[account] = (state, reason)
                message = (f"{account}: {verb}" if state == "SUCCEEDED" else
                           f"{account}: {state.lower()}: {_cause(reason)}")
                self.ctx.emit(Event("progress", step=self.id, message=message,
                                    account=f"consumer:{account}",
                                    fraction=len(reported) / total if total else 1.0))
            if status not in _RUNNING:
                return reported
            self.ctx.sleep(delay)
            delay = min(delay * 2, self.ctx.poll_delay)

    # ------------------------------------------------------------------ verify
    def verify(self) -> list[Finding]:
        t = org_targets(self.ctx)
        if self._describe() is None:
            return [self.finding("error", f"The StackSet {self.name} does not exist.",
                                 "Run apply.", "organization")]
        have = self.instances()
        out = []
        missing = [a for a in t.account_ids if a not in have]
        broken = {a: s for a, s in have.items() if s.get("Status") != "CURRENT"}
        if missing:
            out.append(self.finding(
                "error", f"{count(len(missing), 'account')} of {t.ou_id} have no "
                f"stack instance: {_some(missing)}", "Run apply."))
        for account, inst in broken.items():
            out.append(self.finding("error", f"{account}: stack instance "
                                    f"{inst.get('Status')}: "
                                    f"{_cause(str(inst.get('StatusReason') or ''))}",
                                    "Fix the cause, then run apply (it retries this account).",
                                    f"consumer:{account}"))
        return out

    # ------------------------------------------------------------------ destroy
    def plan_destroy(self) -> list[Change]:
        out = []
        for entry in self.ctx.journal.for_step(self.id):
            have = self.instances() if self._describe() is not None else {}
            out.extend(self.change(f"consumer:{a}", "stack instance", "delete",
                                   "remove the role, principal and catalog",
                                   kind="stack-instance") for a in have)
            out.append(self.change("organization", entry.resource, "delete",
                                   "delete the StackSet", kind="stack-set"))
        return out

    def destroy(self) -> list[Change]:
        done: list[Change] = []
        for entry in self.ctx.journal.for_step(self.id):
            if self._describe() is not None:
                have = self.instances()
                if have:
                    ous = sorted({str(s.get("OrganizationalUnitId") or entry.data.get("ou"))
                                  for s in have.values()})
                    op = self._call("delete_stack_instances", StackSetName=self.name,
                                    DeploymentTargets={"OrganizationalUnitIds": ous},
                                    Regions=[self.ctx.region], RetainStacks=False,
                                    OperationPreferences=OPERATION_PREFERENCES,
                                    **self._call_as())["OperationId"]
                    results = self.wait(op, len(have), "removed")
                    failed = {a: r for a, (s, r) in results.items() if s != "SUCCEEDED"}
                    if failed:
                        raise _failures(failed, len(results), removing=True)
                    done.extend(self.change(f"consumer:{a}", "stack instance", "delete",
                                            kind="stack-instance") for a in have)
                self._call("delete_stack_set", StackSetName=self.name, **self._call_as())
            self.ctx.journal.forget(entry)
            done.append(self.change("organization", entry.resource, "delete",
                                    kind="stack-set"))
        return done


# --------------------------------------------------------------------------- helpers
def _cause(reason: str) -> str:
    cause, _fix = translate(reason)
    return f"{cause} ({reason})" if cause else reason


def _some(ids: list[str], shown: int = 10) -> str:
    return ", ".join(ids[:shown]) + (f" and {len(ids) - shown} more" if len(ids) > shown else "")


def _failures(failed: dict[str, str], total: int, removing: bool = False) -> AwsOperationError:
    lines = [f"- {account}: {_cause(reason)}" for account, reason in sorted(failed.items())]
    fixes = sorted({translate(r)[1] for r in failed.values() if translate(r)[1]})
    again = "destroy" if removing else "apply"
    return AwsOperationError(
        f"The StackSet could not {'remove its stacks from' if removing else 'set up'} "
        f"{len(failed)} of {count(total, 'account')}; the others are done:\n" + "\n".join(lines),
        fix=" ".join(fixes) + f" Then run {again} again: it retries only these accounts.",
        operation="StackSet", account="organization")
