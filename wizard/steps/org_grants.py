"""Runbook steps 7 and 8 for a whole organizational unit, in one statement each.

Per-account statements grow the connector's function policy and the spill bucket's policy by a
statement per account, and AWS caps both at 20 KB (about 50 accounts). For ``consumers_from``
the owner grants the organization instead, once, whatever the number of accounts:

* the spill bucket: principals whose ``aws:PrincipalOrgPaths`` lie under the OU's path (or, for
  the root, whose ``aws:PrincipalOrgID`` is the organization's);
* the function: Lambda's AddPermission takes ``PrincipalOrgID`` and nothing finer (Lambda has
  no call that writes an arbitrary resource-policy condition), so the function is granted to
  the organization; the OU's boundary holds at the bucket, and through the identity policy,
  which only the StackSet puts in the OU's accounts.

Both are merged with the statements other people own, never replacing them, and destroy puts
back what was there before (the per-account steps' logic, which these extend).
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

from wizard.changes import Change, Finding
from wizard.organization import OrgTargets, discover
from wizard.plural import count
from wizard.policies import (
    budget_text,
    merge_statement,
    org_spill_grant_statement,
    policy_size,
    sid_for,
    statement_by_sid,
)
from wizard.steps.base import Context, create_call
from wizard.steps.lambda_grant import LambdaGrantStep, _principal_of
from wizard.steps.spill_grant import SpillGrantStep

_LOCK = threading.Lock()


def org_targets(ctx: Context) -> OrgTargets:
    """The OU's organization, path and accounts, read once per run (shared by the steps)."""
    with _LOCK:
        cached = ctx.cache.get("org-targets")
        if cached is None:
            source = ctx.profile.consumers_from
            assert source is not None and ctx.org is not None
            cached = ctx.cache["org-targets"] = discover(ctx.org, source.organizational_unit)
        return cached


def _org_condition_id(st: dict[str, Any] | None) -> str:
    cond = (st or {}).get("Condition") or {}
    value = (cond.get("StringEquals") or {}).get("aws:PrincipalOrgID", "")
    return value[0] if isinstance(value, list) and len(value) == 1 else str(value)


class OrgLambdaGrantStep(LambdaGrantStep):
    id = "lambda-grant-org"
    title = "Lambda permission for the organization"

    def _org_sid(self) -> str:
        return sid_for("InvokeOrg", "", self.ctx.catalog)

    def plan(self) -> list[Change]:
        targets = org_targets(self.ctx)
        policy = self._policy()
        sid = self._org_sid()
        have = statement_by_sid(policy, sid)
        want = {"Sid": sid, "Effect": "Allow", "Principal": "*",
                "Action": "lambda:InvokeFunction", "Resource": self.ctx.function_arn,
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": targets.org_id}}}
        size = policy_size(merge_statement(policy, want))
        resource = f"{self.ctx.function_arn} (permission {sid})"
        if have is None:
            action, summary = "create", (f"allow principals of organization {targets.org_id} "
                                         "to invoke the connector")
        elif _principal_of(have) == "*" and _org_condition_id(have) == targets.org_id:
            action, summary = "none", "permission in place"
        else:
            action, summary = "update", "permission differs: replace it"
        return [self.change("owner", resource, action, f"{summary}; function policy "
                            f"{budget_text(size)}", before=have, after=want,
                            kind="lambda-permission", sid=sid, org_id=targets.org_id,
                            size=size)]

    def apply(self, changes: list[Change]) -> None:
        lam = self.ctx.owner
        for ch in changes:
            if ch.action == "none":
                continue
            sid, org_id = ch.data["sid"], ch.data["org_id"]
            if ch.action == "update":
                entry = self.ctx.journal.begin(self.id, "owner", ch.resource, "changed",
                                               prior=ch.before, data={"sid": sid})
                from wizard.steps.base import aws_call

                aws_call(lam, "lambda", "remove_permission",
                         FunctionName=self.ctx.function_name, StatementId=sid)
            else:
                entry = self.ctx.journal.begin(self.id, "owner", ch.resource, "created",
                                               data={"sid": sid})
            create_call(lam, "lambda", "add_permission", FunctionName=self.ctx.function_name,
                        StatementId=sid, Action="lambda:InvokeFunction", Principal="*",
                        PrincipalOrgID=org_id,
                        is_ours=lambda sid=sid, org_id=org_id: _org_condition_id(
                            statement_by_sid(self._policy(), sid)) == org_id)
            self.ctx.journal.done(entry)


class OrgSpillGrantStep(SpillGrantStep):
    id = "spill-grant-org"
    title = "Spill bucket grant for the organizational unit"

    def _ours(self) -> list[dict[str, Any]]:
        t = org_targets(self.ctx)
        return [org_spill_grant_statement(sid_for("SpillOrg", "", self.ctx.catalog),
                                          self.bucket, t.org_id, t.path, t.is_root)]

    def plan(self) -> list[Change]:
        t = org_targets(self.ctx)
        out = []
        for ch in super().plan():
            who = (f"principals of organization {t.org_id}" if t.is_root else
                   f"principals in {t.ou_id} and the OUs below it ({t.path}*)")
            size = policy_size(ch.after)
            if ch.action == "none":
                summary = f"spill grant in place; bucket policy {budget_text(size)}"
            else:  # the per-account summary's tail: statements kept, the budget
                summary = f"allow {who} to read spill objects; {ch.summary.partition('; ')[2]}"
            out.append(dataclasses.replace(ch, summary=summary))
        return out


def per_account_budget(ctx: Context, step_id: str, statement_bytes: int,
                       what: str) -> list[Finding]:
    """Per-account grants: will N statements fit AWS's 20 KB? (pure estimate, no AWS call)."""
    from wizard.policies import POLICY_BUDGET_BYTES

    n = len(ctx.profile.consumers)
    size = n * statement_bytes
    text = f"{what}: about {budget_text(size)} for {count(n, 'consumer account')}"
    if size > POLICY_BUDGET_BYTES:
        return [Finding("error", f"{text}: the statements would not fit.",
                        "List the accounts by organizational unit instead (consumers_from in "
                        "the profile): the owner then grants the organization once, with one "
                        "statement conditioned on aws:PrincipalOrgID / aws:PrincipalOrgPaths.",
                        step_id)]
    if size > POLICY_BUDGET_BYTES * 3 // 4:
        return [Finding("warning", f"{text}: close to the limit.",
                        "Consider consumers_from (one org-conditioned statement).", step_id)]
    return [Finding("info", text, "", step_id)]
