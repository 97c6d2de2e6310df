"""Runbook step 8: the spill bucket's policy lets each consumer principal read spilled results.

The bucket policy is shared with other teams: our statements are merged in by Sid, everything
else is kept as it was, and destroy puts the document back as it was before we came.
"""

from __future__ import annotations

from typing import Any

from wizard.changes import Change, Finding
from wizard.errors import WizardError
from wizard.plural import count
from wizard.policies import (
    budget_text,
    diff_documents,
    equivalent,
    loads,
    merge_statement,
    policy_size,
    remove_statements,
    sid_for,
    spill_grant_statement,
    statement_by_sid,
)
from wizard.steps.base import Step, aws_call, error_code


class SpillGrantStep(Step):
    id = "spill-grant"
    title = "Spill bucket grant"

    @property
    def bucket(self) -> str:
        return self.ctx.profile.connector.spill_bucket

    @property
    def resource(self) -> str:
        return f"s3://{self.bucket} (bucket policy)"

    def preflight(self) -> list[Finding]:
        """Will a statement per consumer fit the bucket policy's 20 KB? (no AWS call)"""
        from wizard.steps.org_grants import per_account_budget

        if not self.ctx.profile.consumers:
            return []
        size = policy_size({"Statement": self._ours()[:1]}) - len('{"Statement":[]}')
        return [f for f in per_account_budget(self.ctx, self.id, size + 1, "spill bucket policy")
                if f.severity != "info"]

    def _read(self) -> dict[str, Any] | None:
        try:
            ans = aws_call(self.ctx.owner, "s3", "get_bucket_policy", Bucket=self.bucket,
                           ExpectedBucketOwner=self.ctx.owner_id)
        except WizardError as exc:
            if error_code(exc) in ("NoSuchBucketPolicy", "NoSuchBucket"):
                return None
            raise
        return loads(ans.get("Policy"))

    def _ours(self) -> list[dict[str, Any]]:
        return [spill_grant_statement(sid_for("Spill", c.account_id, c.catalog_name),
                                      c.principal_arn, self.bucket)
                for c in self.ctx.profile.consumers]

    def _desired(self, current: dict[str, Any] | None) -> dict[str, Any]:
        doc = current
        for st in self._ours():
            doc = merge_statement(doc, st)
        assert doc is not None
        return doc

    def plan(self) -> list[Change]:
        current = self._read()
        desired = self._desired(current)
        sids = [st["Sid"] for st in self._ours()]
        if current is not None and all(
                equivalent({"Statement": [statement_by_sid(current, s)]},
                           {"Statement": [statement_by_sid(desired, s)]}) for s in sids):
            action, summary = "none", "spill grant in place"
        else:
            kept = len([s for s in (current or {}).get("Statement", []) or []
                        if isinstance(s, dict) and s.get("Sid") not in sids])
            action = "create" if current is None else "update"
            summary = (f"allow {count(len(sids), 'consumer principal')} to read spill objects"
                       + (f"; {count(kept, 'other statement')} kept" if kept else "")
                       + f"; bucket policy {budget_text(policy_size(desired))}")
        return [self.change("owner", self.resource, action, summary, before=current,
                            after=desired, kind="bucket-policy", sids=sids,
                            diff=diff_documents(current, desired, "bucket policy"))]

    def apply(self, changes: list[Change]) -> None:
        if all(ch.action == "none" for ch in changes):
            return
        current = self._read()  # re-read right before writing: keep edits made since plan
        sids = [st["Sid"] for st in self._ours()]
        entry = self.ctx.journal.find(self.id, "owner", self.resource)
        if entry is None:
            entry = self.ctx.journal.begin(self.id, "owner", self.resource, "changed",
                                           prior=current, data={"sids": sids})
        else:
            entry.data["sids"] = sorted(set(entry.data.get("sids", [])) | set(sids))
        desired = self._desired(current)
        aws_call(self.ctx.owner, "s3", "put_bucket_policy", Bucket=self.bucket,
                 Policy=_dumps(desired), ExpectedBucketOwner=self.ctx.owner_id)
        self.ctx.journal.done(entry)

    def plan_destroy(self) -> list[Change]:
        out = []
        for e in self.ctx.journal.for_step(self.id):
            current = self._read()
            restored = self._restored(current, e.prior, e.data.get("sids", []))
            out.append(self.change("owner", e.resource, "update" if restored else "delete",
                                   "remove our statements, keep everyone else's",
                                   before=current, after=restored, kind="bucket-policy"))
        return out

    @staticmethod
    def _restored(current: dict[str, Any] | None, prior: dict[str, Any] | None,
                  sids: list[str]) -> dict[str, Any] | None:
        doc = remove_statements(current, sids)
        for sid in sids:  # a statement of the same Sid that was there before us comes back
            st = statement_by_sid(prior, sid)
            if st is not None:
                doc = merge_statement(doc, st)
        return doc

    def destroy(self) -> list[Change]:
        done = []
        for entry in self.ctx.journal.for_step(self.id):
            current = self._read()
            restored = self._restored(current, entry.prior, entry.data.get("sids", []))
            if restored is None:
                if current is not None:
                    aws_call(self.ctx.owner, "s3", "delete_bucket_policy", Bucket=self.bucket,
                             ExpectedBucketOwner=self.ctx.owner_id)
            elif not equivalent(restored, current) or restored != current:
                aws_call(self.ctx.owner, "s3", "put_bucket_policy", Bucket=self.bucket,
                         Policy=_dumps(restored), ExpectedBucketOwner=self.ctx.owner_id)
            self.ctx.journal.forget(entry)
            done.append(self.change("owner", entry.resource, "update", kind="bucket-policy"))
        return done


def _dumps(doc: dict[str, Any]) -> str:
    import json

    return json.dumps(doc)
