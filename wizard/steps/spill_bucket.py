"""Runbook step 1: the spill bucket in A exists in the region (created only when asked)."""

from __future__ import annotations

from wizard.changes import Change, Finding
from wizard.errors import WizardError
from wizard.steps.base import Step, aws_call, create_call, error_code


class SpillBucketStep(Step):
    id = "spill-bucket"
    title = "Spill bucket"

    @property
    def bucket(self) -> str:
        return self.ctx.profile.connector.spill_bucket

    def _state(self) -> dict[str, object]:
        """exists / region / kms key, read once per run (preflight and plan both need it)."""
        cached = self.ctx.cache.get("spill-bucket")
        if cached is not None:
            return cached
        owner = self.ctx.owner
        state: dict[str, object] = {"exists": False}
        try:
            aws_call(owner, "s3", "head_bucket", Bucket=self.bucket,
                     ExpectedBucketOwner=self.ctx.owner_id)
            state["exists"] = True
        except WizardError as exc:
            code = error_code(exc)
            if code in ("404", "NoSuchBucket", "NotFound"):
                state["exists"] = False
            elif code in ("403", "AccessDenied", "Forbidden"):
                state["exists"] = "foreign"
            else:
                raise
        if state["exists"] is True:
            loc = aws_call(owner, "s3", "get_bucket_location", Bucket=self.bucket)
            state["region"] = loc.get("LocationConstraint") or "us-east-1"
            try:
                enc = aws_call(owner, "s3", "get_bucket_encryption", Bucket=self.bucket)
                rules = enc["ServerSideEncryptionConfiguration"]["Rules"]
                default = rules[0]["ApplyServerSideEncryptionByDefault"] if rules else {}
                state["sse"] = default.get("SSEAlgorithm")
                state["kms_key"] = default.get("KMSMasterKeyID")
            except WizardError:
                state["sse"] = None
        self.ctx.cache["spill-bucket"] = state
        return state

    def _exists_as_owner(self) -> bool:
        try:
            aws_call(self.ctx.owner, "s3", "head_bucket", Bucket=self.bucket,
                     ExpectedBucketOwner=self.ctx.owner_id)
            return True
        except WizardError:
            return False

    def preflight(self) -> list[Finding]:
        state = self._state()
        out: list[Finding] = []
        if state["exists"] == "foreign":
            out.append(self.finding(
                "error", f"Spill bucket {self.bucket} exists but not in the owner account "
                f"{self.ctx.owner_id} (or the owner credentials may not read it).",
                "Use a bucket owned by the owner account.", "owner"))
        elif not state["exists"]:
            if not self.ctx.profile.connector.create_spill_bucket:
                out.append(self.finding(
                    "error", f"Spill bucket {self.bucket} does not exist in the owner account.",
                    "Create it in the profile's region, or set connector.create_spill_bucket: "
                    "true to let xacct-wizard create it.", "owner"))
        else:
            if state.get("region") != self.ctx.region:
                out.append(self.finding(
                    "error", f"Spill bucket {self.bucket} is in {state.get('region')}, but the "
                    f"setup is in {self.ctx.region}; cross-region federation is not supported.",
                    "Use a spill bucket in the same region.", "owner"))
            key = str(state.get("kms_key") or "")
            if state.get("sse") == "aws:kms" and (not key or key.endswith("alias/aws/s3")):
                out.append(self.finding(
                    "error", f"Spill bucket {self.bucket} is encrypted with the AWS-managed key "
                    "aws/s3, whose key policy cannot grant another account.",
                    "Use SSE-S3 or a customer-managed KMS key on the spill bucket.", "owner"))
            elif state.get("sse") == "aws:kms":
                out.append(self.finding(
                    "warning", f"Spill data uses the customer-managed key {key}: the consumer "
                    "principal also needs kms:Decrypt in that key's policy.",
                    "Add kms:Decrypt for the principal to the key policy.", "owner"))
        return out

    def plan(self) -> list[Change]:
        state = self._state()
        resource = f"s3://{self.bucket}"
        ours = self.ctx.journal.find(self.id, "owner", resource)
        if state["exists"] is True and ours is not None and not ours.data.get("configured"):
            # we created it, and a run stopped before it was made private/encrypted/expiring
            return [self.change("owner", resource, "update", "finish configuring the spill "
                                "bucket xacct-wizard created (private, SSE-S3, spill objects "
                                "expire after 1 day)", kind="bucket")]
        if state["exists"] or not self.ctx.profile.connector.create_spill_bucket:
            return [self.change("owner", resource, "none", "spill bucket exists",
                                kind="bucket")] if state["exists"] else []
        return [self.change("owner", resource, "create",
                            f"create spill bucket in {self.ctx.region} (private, SSE-S3, "
                            "spill objects expire after 1 day)", kind="bucket")]

    def apply(self, changes: list[Change]) -> None:
        if not any(c.action in ("create", "update") for c in changes):
            return
        owner, j = self.ctx.owner, self.ctx.journal
        resource = f"s3://{self.bucket}"
        entry = j.begin(self.id, "owner", resource, "created")
        if any(c.action == "create" for c in changes):
            kwargs: dict[str, object] = {"Bucket": self.bucket}
            if self.ctx.region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.ctx.region}
            create_call(owner, "s3", "create_bucket", **kwargs,
                        is_ours=lambda: self._exists_as_owner())
            j.done(entry)
        # "configured" is recorded only once all three are in place: a run that stops in
        # between leaves the entry unconfigured, and the next plan finishes the job
        aws_call(owner, "s3", "put_public_access_block", Bucket=self.bucket,
                 PublicAccessBlockConfiguration={
                     "BlockPublicAcls": True, "IgnorePublicAcls": True,
                     "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
        aws_call(owner, "s3", "put_bucket_encryption", Bucket=self.bucket,
                 ServerSideEncryptionConfiguration={"Rules": [
                     {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
        prefix = self.ctx.profile.connector.spill_prefix.strip("/")
        aws_call(owner, "s3", "put_bucket_lifecycle_configuration", Bucket=self.bucket,
                 LifecycleConfiguration={"Rules": [{
                     "ID": "xacct-wizard-expire-spill", "Status": "Enabled",
                     "Filter": {"Prefix": f"{prefix}/" if prefix else ""},
                     "Expiration": {"Days": 1}}]})
        j.done(entry, configured=True)
        self.ctx.cache.pop("spill-bucket", None)

    def plan_destroy(self) -> list[Change]:
        return [self.change(e.account, e.resource, "delete", "delete the spill bucket we "
                            "created (and its spill objects)", kind="bucket")
                for e in self.ctx.journal.for_step(self.id)]

    def destroy(self) -> list[Change]:
        done = []
        for entry in self.ctx.journal.for_step(self.id):
            owner = self.ctx.owner
            try:
                pages = owner.client("s3").get_paginator("list_object_versions").paginate(
                    Bucket=self.bucket)
                for page in pages:
                    objs = [{"Key": o["Key"], "VersionId": o["VersionId"]}
                            for o in page.get("Versions", []) + page.get("DeleteMarkers", [])]
                    if objs:
                        aws_call(owner, "s3", "delete_objects", Bucket=self.bucket,
                                 Delete={"Objects": objs, "Quiet": True})
                aws_call(owner, "s3", "delete_bucket", Bucket=self.bucket)
            except WizardError as exc:
                if error_code(exc) not in ("NoSuchBucket", "404"):
                    raise
            except Exception as exc:  # paginator errors are raw botocore errors
                if "NoSuchBucket" not in str(exc):
                    raise
            self.ctx.journal.forget(entry)
            done.append(self.change("owner", entry.resource, "delete", kind="bucket"))
        return done
