"""Runbook step 7: the connector Lambda's resource policy allows each consumer principal.

One statement per principal with a stable StatementId; other statements (other people's
permissions) are never touched. AWS rejects a duplicate StatementId, so we read first.

Unlike the consumer side, the statements are added (and removed) one after another: Lambda
changes a function's policy one request at a time and answers concurrent AddPermission calls
with 409 ResourceConflictException ("concurrent update operation"; Terraform's AWS provider
serialises aws_lambda_permission for the same reason, hashicorp/terraform-provider-aws#5154).
"""

from __future__ import annotations

import json
from typing import Any

from wizard.changes import Change, Finding
from wizard.errors import WizardError
from wizard.policies import sid_for, statement_by_sid, statements
from wizard.profile import ConsumerConfig
from wizard.steps.base import Step, aws_call, create_call, error_code


def _principal_of(st: dict[str, Any]) -> str:
    p = st.get("Principal", {})
    if isinstance(p, dict):
        p = p.get("AWS", p.get("Service", ""))
    if isinstance(p, list):
        p = p[0] if len(p) == 1 else json.dumps(p)
    return str(p)


def _action_of(st: dict[str, Any]) -> str:
    a = st.get("Action", "")
    return a[0] if isinstance(a, list) and len(a) == 1 else str(a)


class LambdaGrantStep(Step):
    id = "lambda-grant"
    title = "Lambda permission for the consumer"

    def _policy(self) -> dict[str, Any] | None:
        try:
            ans = aws_call(self.ctx.owner, "lambda", "get_policy",
                           FunctionName=self.ctx.function_name)
        except WizardError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return None
            raise
        return json.loads(ans["Policy"])

    def preflight(self) -> list[Finding]:
        """Will a statement per consumer fit the function policy's 20 KB? (no AWS call)"""
        from wizard.policies import policy_size
        from wizard.steps.org_grants import per_account_budget

        if not self.ctx.profile.consumers:
            return []
        size = policy_size(self._wanted(self.ctx.profile.consumers[0]))
        return [f for f in per_account_budget(self.ctx, self.id, size + 1,
                                              "connector function policy")
                if f.severity != "info"]

    def _sid(self, c: ConsumerConfig) -> str:
        return sid_for("Invoke", c.account_id, c.catalog_name)

    def _wanted(self, c: ConsumerConfig) -> dict[str, Any]:
        return {"Sid": self._sid(c), "Effect": "Allow", "Principal": {"AWS": c.principal_arn},
                "Action": "lambda:InvokeFunction", "Resource": self.ctx.function_arn}

    def plan(self) -> list[Change]:
        policy = self._policy()
        out = []
        for c in self.ctx.profile.consumers:
            sid = self._sid(c)
            want = self._wanted(c)
            have = statement_by_sid(policy, sid)
            resource = f"{self.ctx.function_arn} (permission {sid})"
            if have is None:
                action, summary = "create", f"allow {c.principal_arn} to invoke the connector"
            elif (_principal_of(have) == c.principal_arn
                  and _action_of(have) == "lambda:InvokeFunction"
                  and have.get("Effect") == "Allow"):
                action, summary = "none", "permission in place"
            else:
                action, summary = "update", "permission differs: replace it"
            out.append(self.change("owner", resource, action, summary, before=have, after=want,
                                   kind="lambda-permission", sid=sid, consumer=c.account_id,
                                   principal=c.principal_arn, others=len(statements(policy))))
        return out

    def apply(self, changes: list[Change]) -> None:
        lam = self.ctx.owner
        for ch in changes:
            if ch.action == "none":
                continue
            sid = ch.data["sid"]
            if ch.action == "update":
                entry = self.ctx.journal.begin(self.id, "owner", ch.resource, "changed",
                                               prior=ch.before, data={"sid": sid})
                aws_call(lam, "lambda", "remove_permission",
                         FunctionName=self.ctx.function_name, StatementId=sid)
            else:
                entry = self.ctx.journal.begin(self.id, "owner", ch.resource, "created",
                                               data={"sid": sid})
            create_call(lam, "lambda", "add_permission", FunctionName=self.ctx.function_name,
                        StatementId=sid, Action="lambda:InvokeFunction",
                        Principal=ch.data["principal"],
                        is_ours=lambda ch=ch, sid=sid: _principal_of(statement_by_sid(
                            self._policy(), sid) or {}) == ch.data["principal"])
            self.ctx.journal.done(entry)

    def plan_destroy(self) -> list[Change]:
        return [self.change("owner", e.resource, "delete" if e.kind == "created" else "update",
                            "remove our permission" if e.kind == "created"
                            else "restore the earlier permission", kind="lambda-permission")
                for e in self.ctx.journal.for_step(self.id)]

    def destroy(self) -> list[Change]:
        done = []
        for entry in self.ctx.journal.for_step(self.id):
            sid = entry.data["sid"]
            try:
                aws_call(self.ctx.owner, "lambda", "remove_permission",
                         FunctionName=self.ctx.function_name, StatementId=sid)
            except WizardError as exc:
                if error_code(exc) != "ResourceNotFoundException":
                    raise
            prior = entry.prior
            if entry.kind == "changed" and isinstance(prior, dict):
                principal = _principal_of(prior)
                if principal:
                    aws_call(self.ctx.owner, "lambda", "add_permission",
                             FunctionName=self.ctx.function_name, StatementId=sid,
                             Action=_action_of(prior) or "lambda:InvokeFunction",
                             Principal=principal)
            self.ctx.journal.forget(entry)
            done.append(self.change("owner", entry.resource, "delete",
                                    kind="lambda-permission"))
        return done
