"""Runbook step 11: the role ``AthenaCrossAccountCreate-<A>`` in B, for console-parity sharing.

That exact name is what the Athena console's Share assumes. Several setups from the same owner
share one role: each adds its own inline policy, and the role is deleted only by the setup
that created it, once no other setup's policy is left on it.
"""

from __future__ import annotations

import json
from typing import Any

from wizard.changes import Change
from wizard.errors import WizardError
from wizard.journal import Entry
from wizard.policies import (
    equivalent,
    loads,
    merge_statement,
    share_role_name,
    share_role_policy,
    share_role_trust,
    statements,
)
from wizard.profile import ConsumerConfig
from wizard.steps.base import Step, aws_call, create_call, error_code, flatten


class ShareRoleStep(Step):
    id = "share-role"
    title = "Share role in the consumer account"
    side = "consumer"

    @property
    def role(self) -> str:
        return share_role_name(self.ctx.owner_id)

    def _policy_name(self, c: ConsumerConfig) -> str:
        return f"xacct-wizard-share-{c.catalog_name}"[:128]

    def _trust_statement(self) -> dict[str, Any]:
        st = dict(statements(share_role_trust(self.ctx.owner_id))[0])
        return {"Sid": f"XacctWizardTrust{self.ctx.owner_id}", **st}

    def _trusts_owner(self, trust: dict[str, Any] | None) -> bool:
        want = self._trust_statement()
        for st in statements(trust):
            st = {k: v for k, v in st.items() if k != "Sid"}
            if equivalent({"Statement": [st]},
                          {"Statement": [{k: v for k, v in want.items() if k != "Sid"}]}):
                return True
        return False

    def _read(self, c: ConsumerConfig) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        acct = self.ctx.consumer_account(c)
        try:
            role = aws_call(acct, "iam", "get_role", RoleName=self.role)["Role"]
        except WizardError as exc:
            if error_code(exc) == "NoSuchEntity":
                return None, None
            raise
        try:
            pol = aws_call(acct, "iam", "get_role_policy", RoleName=self.role,
                           PolicyName=self._policy_name(c))
            policy = loads(pol.get("PolicyDocument"))
        except WizardError as exc:
            if error_code(exc) != "NoSuchEntity":
                raise
            policy = None
        return role, policy

    def _plan_one(self, c: ConsumerConfig) -> list[Change]:
        if c.share_method != "assume-role":
            return []
        role, policy = self._read(c)
        arn = f"arn:aws:iam::{c.account_id}:role/{self.role}"
        want_policy = share_role_policy(self.ctx.region, c.account_id, c.catalog_name)
        trust_after = {"Version": "2012-10-17", "Statement": [self._trust_statement()]}
        out = []
        if role is None:
            out.append(self.change(c.key, arn, "create", f"create role {self.role} trusting "
                                   f"account {self.ctx.owner_id}", after=trust_after,
                                   kind="role", consumer=c.account_id, part="role"))
        else:
            trust = loads(role.get("AssumeRolePolicyDocument"))
            if self._trusts_owner(trust):
                out.append(self.change(c.key, arn, "none", "role trusts the owner account",
                                       before=trust, after=trust, kind="role",
                                       consumer=c.account_id, part="role"))
            else:
                out.append(self.change(c.key, arn, "update", "let the owner account assume "
                                       "the role (other trust statements kept)", before=trust,
                                       after=merge_statement(trust, self._trust_statement()),
                                       kind="role", consumer=c.account_id, part="trust"))
        resource = f"{arn} (inline policy {self._policy_name(c)})"
        if policy is not None and equivalent(policy, want_policy):
            out.append(self.change(c.key, resource, "none", "share permission in place",
                                   before=policy, after=policy, kind="role-policy",
                                   consumer=c.account_id, part="policy"))
        else:
            out.append(self.change(c.key, resource, "create" if policy is None else "update",
                                   f"allow creating the catalog {c.catalog_name} only",
                                   before=policy, after=want_policy, kind="role-policy",
                                   consumer=c.account_id, part="policy"))
        return out

    def plan(self) -> list[Change]:
        return flatten(self.ctx.map_consumers(self._plan_one))

    def apply(self, changes: list[Change]) -> None:
        todo: dict[str, list[Change]] = {}
        for ch in changes:
            if ch.action != "none":
                todo.setdefault(ch.data["consumer"], []).append(ch)

        def run(c: ConsumerConfig) -> None:
            for ch in todo.get(c.account_id, []):
                self._apply_change(c, ch)

        self.ctx.map_consumers(run)

    def _apply_change(self, c: ConsumerConfig, ch: Change) -> None:
        acct, j = self.ctx.consumer_account(c), self.ctx.journal
        part = ch.data["part"]
        if part == "role":
            entry = j.begin(self.id, c.key, ch.resource, "created", data={"part": "role"})
            create_call(acct, "iam", "create_role", RoleName=self.role,
                        AssumeRolePolicyDocument=json.dumps(ch.after),
                        Description="Lets the Athena owner account share a data catalog into "
                                    "this account (created by xacct-wizard)",
                        Tags=[{"Key": "created-by", "Value": "xacct-wizard"}],
                        is_ours=lambda: self._read(c)[0] is not None)
        elif part == "trust":
            entry = j.begin(self.id, c.key, ch.resource + " (trust)", "changed", prior=ch.before,
                            data={"part": "trust"})
            aws_call(acct, "iam", "update_assume_role_policy", RoleName=self.role,
                     PolicyDocument=json.dumps(ch.after))
        else:
            entry = j.begin(self.id, c.key, ch.resource, "created" if ch.before is None
                            else "changed", prior=ch.before,
                            data={"part": "policy", "name": self._policy_name(c)})
            aws_call(acct, "iam", "put_role_policy", RoleName=self.role,
                     PolicyName=self._policy_name(c), PolicyDocument=json.dumps(ch.after))
        j.done(entry)

    def plan_destroy(self) -> list[Change]:
        return [self.change(e.account, e.resource,
                            "delete" if e.kind == "created" else "update",
                            {"role": "delete the share role (if no other setup uses it)",
                             "trust": "restore the earlier trust policy",
                             "policy": "remove the share permission"}[e.data.get("part",
                                                                                   "policy")],
                            kind="role") for e in self.ctx.journal.for_step(self.id)]

    def destroy(self) -> list[Change]:
        def undo(entry: Entry) -> Change:
            acct = self.ctx.consumers[entry.account.split(":", 1)[1]]
            part = entry.data.get("part")
            try:
                if part == "policy":
                    if entry.prior is not None:
                        aws_call(acct, "iam", "put_role_policy", RoleName=self.role,
                                 PolicyName=entry.data["name"],
                                 PolicyDocument=json.dumps(entry.prior))
                    else:
                        aws_call(acct, "iam", "delete_role_policy", RoleName=self.role,
                                 PolicyName=entry.data["name"])
                elif part == "trust" and entry.prior is not None:
                    aws_call(acct, "iam", "update_assume_role_policy", RoleName=self.role,
                             PolicyDocument=json.dumps(entry.prior))
                elif part == "role":
                    left = aws_call(acct, "iam", "list_role_policies",
                                    RoleName=self.role)["PolicyNames"]
                    attached = aws_call(acct, "iam", "list_attached_role_policies",
                                        RoleName=self.role)["AttachedPolicies"]
                    if left or attached:
                        self.ctx.log(self.id, f"keeping role {self.role}: other policies "
                                     f"still use it ({', '.join(left) or 'attached'})",
                                     entry.account)
                    else:
                        aws_call(acct, "iam", "delete_role", RoleName=self.role)
            except WizardError as exc:
                if error_code(exc) != "NoSuchEntity":
                    raise
            self.ctx.journal.forget(entry)
            return self.change(entry.account, entry.resource, "delete", kind="role")

        entries = self.ctx.journal.for_step(self.id)
        order = {"policy": 0, "trust": 1, "role": 2}  # in each account the role goes last
        return self.ctx.map_accounts(
            sorted(entries, key=lambda e: order.get(e.data.get("part", ""), 0)), undo)
