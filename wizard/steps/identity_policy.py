"""Runbook step 10: the consumer principal's own identity policy (inline, stable name).

Cross-account access needs both sides to say yes: A's resource policies (steps 7-8) and this.
"""

from __future__ import annotations

from typing import Any

from wizard.changes import Change
from wizard.errors import WizardError
from wizard.journal import Entry
from wizard.policies import diff_documents, equivalent, identity_policy, loads
from wizard.profile import ConsumerConfig
from wizard.steps.base import Step, aws_call, error_code, flatten
from wizard.steps.kms_grant import KmsGrantStep


def policy_name(catalog: str) -> str:
    return f"xacct-wizard-{catalog}"[:128]


class IdentityPolicyStep(Step):
    id = "identity-policy"
    title = "Consumer principal's identity policy"
    side = "consumer"

    def _name(self, c: ConsumerConfig) -> str:
        return policy_name(c.catalog_name)

    def _desired(self, c: ConsumerConfig) -> dict[str, Any]:
        conn = self.ctx.profile.connector
        return identity_policy(region=self.ctx.region, consumer_account=c.account_id,
                               function_arn=self.ctx.function_arn,
                               spill_bucket=conn.spill_bucket, spill_prefix=conn.spill_prefix,
                               workgroup=c.workgroup, catalog_name=c.catalog_name,
                               results_uri=c.query_results,
                               kms_key_arn=KmsGrantStep(self.ctx)._key())

    def _read(self, c: ConsumerConfig) -> dict[str, Any] | None:
        acct = self.ctx.consumer_account(c)
        try:
            if c.principal_kind == "role":
                ans = aws_call(acct, "iam", "get_role_policy", RoleName=c.principal_name,
                               PolicyName=self._name(c))
            else:
                ans = aws_call(acct, "iam", "get_user_policy", UserName=c.principal_name,
                               PolicyName=self._name(c))
        except WizardError as exc:
            if error_code(exc) == "NoSuchEntity":
                return None
            raise
        return loads(ans.get("PolicyDocument"))

    def _resource(self, c: ConsumerConfig) -> str:
        return f"{c.principal_arn} (inline policy {self._name(c)})"

    def _plan_one(self, c: ConsumerConfig) -> list[Change]:
        current = self._read(c)
        desired = self._desired(c)
        if current is not None and equivalent(current, desired):
            action, summary = "none", "identity policy in place"
        else:
            action = "create" if current is None else "update"
            summary = ("allow the principal to invoke the connector, read spill data, browse "
                       "catalogs, run queries and write results" if current is None
                       else "identity policy differs: restore it")
        return [self.change(c.key, self._resource(c), action, summary, before=current,
                            after=desired, kind="identity-policy", consumer=c.account_id,
                            diff=diff_documents(current, desired, "identity policy"))]

    def plan(self) -> list[Change]:
        return flatten(self.ctx.map_consumers(self._plan_one))

    def _put(self, c: ConsumerConfig, doc: dict[str, Any]) -> None:
        import json

        acct = self.ctx.consumer_account(c)
        if c.principal_kind == "role":
            aws_call(acct, "iam", "put_role_policy", RoleName=c.principal_name,
                     PolicyName=self._name(c), PolicyDocument=json.dumps(doc))
        else:
            aws_call(acct, "iam", "put_user_policy", UserName=c.principal_name,
                     PolicyName=self._name(c), PolicyDocument=json.dumps(doc))

    def apply(self, changes: list[Change]) -> None:
        consumers = {c.account_id: c for c in self.ctx.profile.consumers}
        todo = {ch.data["consumer"]: ch for ch in changes if ch.action != "none"}

        def run(c: ConsumerConfig) -> None:
            ch = todo.get(c.account_id)
            if ch is None:
                return
            kind = "created" if ch.before is None else "changed"
            entry = self.ctx.journal.begin(self.id, c.key, ch.resource, kind, prior=ch.before,
                                           data={"name": self._name(c),
                                                 "principal": c.principal_arn})
            self._put(c, ch.after)
            self.ctx.journal.done(entry)

        del consumers
        self.ctx.map_consumers(run)

    def plan_destroy(self) -> list[Change]:
        return [self.change(e.account, e.resource, "delete" if e.prior is None else "update",
                            "remove the identity policy" if e.prior is None
                            else "restore the earlier policy", kind="identity-policy")
                for e in self.ctx.journal.for_step(self.id)]

    def destroy(self) -> list[Change]:
        consumers = {c.key: c for c in self.ctx.profile.consumers}

        def undo(entry: Entry) -> Change | None:
            c = consumers.get(entry.account)
            if c is None:
                return None
            acct = self.ctx.consumer_account(c)
            try:
                if entry.prior is not None:
                    self._put(c, entry.prior)
                elif c.principal_kind == "role":
                    aws_call(acct, "iam", "delete_role_policy", RoleName=c.principal_name,
                             PolicyName=entry.data["name"])
                else:
                    aws_call(acct, "iam", "delete_user_policy", UserName=c.principal_name,
                             PolicyName=entry.data["name"])
            except WizardError as exc:
                if error_code(exc) != "NoSuchEntity":
                    raise
            self.ctx.journal.forget(entry)
            return self.change(entry.account, entry.resource, "delete", kind="identity-policy")

        undone = self.ctx.map_accounts(self.ctx.journal.for_step(self.id), undo)
        return [ch for ch in undone if ch is not None]
