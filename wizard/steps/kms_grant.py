"""Runbook step 9: with a customer-managed KMS key on the spill data, the key policy lets each
consumer principal decrypt it. Only runs when such a key is in play; merged by Sid like step 8.
"""

from __future__ import annotations

import json
from typing import Any

from wizard.changes import Change
from wizard.errors import WizardError
from wizard.plural import count
from wizard.policies import (
    equivalent,
    kms_decrypt_statement,
    loads,
    merge_statement,
    remove_statements,
    sid_for,
    statement_by_sid,
)
from wizard.steps.base import Step, aws_call, error_code


class KmsGrantStep(Step):
    id = "kms-grant"
    title = "KMS key grant for spilled data"

    def _key(self) -> str | None:
        """The customer-managed key encrypting spill data, as an id/ARN, or None."""
        if "kms-key" in self.ctx.cache:
            return self.ctx.cache["kms-key"]
        key: str | None = None
        conn = self.ctx.profile.connector
        if conn.kms_key_id:
            key = conn.kms_key_id
        else:
            state = self.ctx.cache.get("spill-bucket") or {}
            if state.get("sse") == "aws:kms":
                key = str(state.get("kms_key") or "") or None
        if key and ("alias/" in key):
            if key.endswith("alias/aws/s3"):
                key = None  # flagged by the spill-bucket preflight: cannot be granted
            else:
                try:
                    meta = aws_call(self.ctx.owner, "kms", "describe_key", KeyId=key)
                    key = meta["KeyMetadata"]["Arn"]
                except WizardError:
                    key = None
        self.ctx.cache["kms-key"] = key
        return key

    def _read(self, key: str) -> dict[str, Any] | None:
        ans = aws_call(self.ctx.owner, "kms", "get_key_policy", KeyId=key, PolicyName="default")
        return loads(ans.get("Policy"))

    def _ours(self) -> list[dict[str, Any]]:
        return [kms_decrypt_statement(sid_for("Decrypt", c.account_id, c.catalog_name),
                                      c.principal_arn) for c in self.ctx.profile.consumers]

    def plan(self) -> list[Change]:
        key = self._key()
        if not key:
            return []
        current = self._read(key)
        desired = current
        for st in self._ours():
            desired = merge_statement(desired, st)
        sids = [st["Sid"] for st in self._ours()]
        in_place = current is not None and all(
            equivalent({"Statement": [statement_by_sid(current, s)]},
                       {"Statement": [statement_by_sid(desired, s)]}) for s in sids)
        return [self.change("owner", f"{key} (key policy)", "none" if in_place else "update",
                            "decrypt grant in place" if in_place else
                            f"allow {count(len(sids), 'consumer principal')} kms:Decrypt on "
                            "spilled data",
                            before=current, after=desired, kind="key-policy", key=key,
                            sids=sids)]

    def apply(self, changes: list[Change]) -> None:
        for ch in changes:
            if ch.action == "none":
                continue
            key = ch.data["key"]
            current = self._read(key)
            entry = self.ctx.journal.begin(self.id, "owner", ch.resource, "changed",
                                           prior=current,
                                           data={"key": key, "sids": ch.data["sids"]})
            desired = current
            for st in self._ours():
                desired = merge_statement(desired, st)
            aws_call(self.ctx.owner, "kms", "put_key_policy", KeyId=key, PolicyName="default",
                     Policy=json.dumps(desired))
            self.ctx.journal.done(entry)

    def plan_destroy(self) -> list[Change]:
        return [self.change("owner", e.resource, "update", "remove our decrypt statements",
                            kind="key-policy") for e in self.ctx.journal.for_step(self.id)]

    def destroy(self) -> list[Change]:
        done = []
        for entry in self.ctx.journal.for_step(self.id):
            key, sids = entry.data["key"], entry.data.get("sids", [])
            try:
                current = self._read(key)
                restored = remove_statements(current, sids)
                for sid in sids:
                    st = statement_by_sid(entry.prior, sid)
                    if st is not None:
                        restored = merge_statement(restored, st)
                if restored is not None and restored != current:
                    aws_call(self.ctx.owner, "kms", "put_key_policy", KeyId=key,
                             PolicyName="default", Policy=json.dumps(restored))
            except WizardError as exc:
                if error_code(exc) not in ("NotFoundException", "KMSInvalidStateException"):
                    raise
            self.ctx.journal.forget(entry)
            done.append(self.change("owner", entry.resource, "update", kind="key-policy"))
        return done
