"""Runbook steps 2-5: deploy the AthenaDynamoDBConnector from the Serverless Application
Repository in A (change set -> execute -> wait, stack events streamed), or use an existing one.

Also its lifecycle (docs/upgrades.md): the plan of an upgrade or a parameter change carries the
change set's per-resource preview; the journal records the version and parameters an upgrade
replaced, so the engine can roll back to them and destroy can restore a stack it did not create.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from botocore.exceptions import WaiterError

from wizard.aws import Account
from wizard.changes import Change, Event, Finding
from wizard.connector_versions import (
    VersionStatus,
    deployed_version,
    is_pinned,
    offered_versions,
    version_key,
)
from wizard.errors import AwsOperationError, InvalidInput, WizardError
from wizard.journal import Entry
from wizard.plural import count
from wizard.steps.base import Context, Step, aws_call, error_code

APPLICATION_ID = (
    "arn:aws:serverlessrepo:us-east-1:292517598671:applications/AthenaDynamoDBConnector"
)
FAILED_STATES = {"ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED", "DELETE_FAILED"}
# A stack whose change set was created but never executed (the execute failed, or the run was
# killed in between): it has no resources, so the connector is not deployed.
NEVER_EXECUTED = "REVIEW_IN_PROGRESS"
# Change sets this tool makes are named so; an interrupted run's leftovers are found by it.
CHANGE_SET_PREFIX = "xacct-wizard-"
# Set in ctx.cache by the engine's apply: the plan it makes keeps its preview change set, and
# the apply executes exactly that change set (a plain plan deletes its preview).
KEEP_CHANGE_SET = "keep-change-set"


class _Patience:
    """How long a CloudFormation wait may last: ``ctx.stack_timeout`` seconds of polling
    (counted in polls too, so a zero poll delay cannot spin forever)."""

    def __init__(self, ctx: Context) -> None:
        self.deadline = time.monotonic() + ctx.stack_timeout
        self.polls_left = max(1, int(ctx.stack_timeout / max(ctx.poll_delay, 1.0)))

    def exhausted(self) -> bool:
        self.polls_left -= 1
        return self.polls_left < 0 or time.monotonic() > self.deadline


def wait_for_stack(ctx: Context, account: Account, stack_name: str, waiter_name: str,
                   step_id: str, seen: set[str] | None = None) -> None:
    """Poll with botocore's waiter acceptors, every ctx.poll_delay s, streaming stack events."""
    cfn = account.client("cloudformation")
    waiter = cfn.get_waiter(waiter_name)
    seen = seen if seen is not None else set()
    patience = _Patience(ctx)
    while True:
        ctx.check_cancel()
        stream_stack_events(ctx, account, stack_name, step_id, seen)
        try:
            waiter.wait(StackName=stack_name, WaiterConfig={"Delay": 0, "MaxAttempts": 1})
            stream_stack_events(ctx, account, stack_name, step_id, seen)
            return
        except WaiterError as exc:
            if "Max attempts exceeded" in str(exc):
                if patience.exhausted():
                    raise _still_waiting(ctx, account, stack_name, waiter_name) from exc
                ctx.sleep(ctx.poll_delay)
                continue
            reasons = stream_stack_events(ctx, account, stack_name, step_id, seen,
                                          failures_only=True)
            detail = "; ".join(reasons) or str(exc)
            raise AwsOperationError(
                f"Stack {stack_name} did not reach the expected state: {detail}",
                cause="CloudFormation could not create or update the connector's resources.",
                fix="Read the stack events above; fix the cause (often a missing permission or "
                    "a name already taken), then apply again - a failed stack is replaced.",
                operation=waiter_name, account=account.label) from exc


def _still_waiting(ctx: Context, account: Account, stack_name: str,
                   waiter_name: str) -> AwsOperationError:
    try:
        status = account.client("cloudformation").describe_stacks(
            StackName=stack_name)["Stacks"][0]["StackStatus"]
    except Exception:
        status = "unknown"
    minutes = ctx.stack_timeout / 60
    return AwsOperationError(
        f"Stack {stack_name} is still {status} after {minutes:g} minutes of waiting "
        f"({waiter_name}).",
        cause="CloudFormation did not finish the connector's stack in time.",
        fix="Look at the stack's events in the CloudFormation console; when it has settled, "
            "run the same command again (it resumes; a failed or never-executed stack is "
            "replaced).", operation=waiter_name, account=account.label)


def stream_stack_events(ctx: Context, account: Account, stack_name: str, step_id: str,
                        seen: set[str], failures_only: bool = False) -> list[str]:
    """Emit events not yet seen (oldest first); returns the failure reasons among all events."""
    try:
        events = account.client("cloudformation").describe_stack_events(
            StackName=stack_name)["StackEvents"]
    except Exception:
        return []
    failures = []
    for ev in reversed(events):
        reason = ev.get("ResourceStatusReason") or ""
        status = ev.get("ResourceStatus", "")
        if status.endswith("FAILED") and reason:
            failures.append(f"{ev.get('LogicalResourceId')}: {reason}")
        if ev["EventId"] in seen or failures_only:
            continue
        seen.add(ev["EventId"])
        text = f"{ev.get('LogicalResourceId')} {status}" + (f" - {reason}" if reason else "")
        ctx.emit(Event("stack-event", step=step_id, message=text, account=account.label))
    return failures


class ConnectorStep(Step):
    id = "connector"
    title = "Connector (Serverless Application Repository)"

    @property
    def conn(self):  # type: ignore[no-untyped-def]
        return self.ctx.profile.connector

    @property
    def resource(self) -> str:
        return f"stack {self.conn.deployed_stack_name}"

    # ------------------------------------------------------------------ reads
    def _application(self, version: str | None = None) -> dict[str, Any]:
        """GetApplication for ``version`` (default: the profile's; ``latest`` is the newest)."""
        wanted = version if version is not None else self.conn.application_version
        key = f"sar-app:{wanted}"
        cached = self.ctx.cache.get(key)
        if cached is None:
            kwargs: dict[str, Any] = {"ApplicationId": APPLICATION_ID}
            if is_pinned(wanted):
                kwargs["SemanticVersion"] = wanted
            cached = aws_call(self.ctx.owner, "serverlessrepo", "get_application", **kwargs)
            self.ctx.cache[key] = cached
        return cached

    def _describe(self) -> dict[str, Any] | None:
        try:
            ans = aws_call(self.ctx.owner, "cloudformation", "describe_stacks",
                           StackName=self.conn.deployed_stack_name)
        except WizardError as exc:
            if "does not exist" in str(exc):
                return None
            raise
        stacks = ans.get("Stacks", [])
        return stacks[0] if stacks else None

    def _stack(self) -> dict[str, Any] | None:
        stack = self._describe()
        status = stack.get("StackStatus", "") if stack else ""
        if status.endswith("_IN_PROGRESS") and status != NEVER_EXECUTED:
            # An earlier run (killed, or another admin) left CloudFormation working: let it
            # finish before deciding anything, as a person watching the console would.
            if status.startswith("DELETE"):
                waiter = "stack_delete_complete"
            elif status.startswith("CREATE"):
                waiter = "stack_create_complete"
            else:
                waiter = "stack_update_complete"
            self.ctx.log(self.id, f"stack {self.conn.deployed_stack_name} is {status}; "
                         "waiting for it to settle", "owner")
            try:
                wait_for_stack(self.ctx, self.ctx.owner, self.conn.deployed_stack_name, waiter,
                               self.id)
            except WizardError:
                pass  # it settled in a failed state: the plan replaces it
            stack = self._describe()
        return stack

    def _function_exists(self, name_or_arn: str) -> bool:
        try:
            aws_call(self.ctx.owner, "lambda", "get_function", FunctionName=name_or_arn)
            return True
        except WizardError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return False
            raise

    def _desired_parameters(self, definitions: list[dict[str, Any]]) -> dict[str, str]:
        c = self.conn
        wanted = {
            "AthenaCatalogName": c.catalog_name,
            "SpillBucket": c.spill_bucket,
            "SpillPrefix": c.spill_prefix.strip("/"),
            "LambdaTimeout": str(c.lambda_timeout),
            "LambdaMemory": str(c.lambda_memory),
            "DisableSpillEncryption": "true" if c.disable_spill_encryption else "false",
        }
        if c.kms_key_id:
            wanted["KMSKeyId"] = c.kms_key_id
        names = {d["Name"] for d in definitions} if definitions else set(wanted)
        return {k: v for k, v in wanted.items() if k in names}

    def _offered(self) -> tuple[str, ...] | None:
        """The versions on offer, newest first; None when they cannot be listed (a plan goes
        on without: the drift is then unknown, not wrong)."""
        if "sar-offered" not in self.ctx.cache:
            try:
                self.ctx.cache["sar-offered"] = offered_versions(self.ctx.owner)
            except WizardError as exc:
                self.ctx.log(self.id, f"cannot list the connector's versions: {exc}", "owner")
                self.ctx.cache["sar-offered"] = None
        return self.ctx.cache["sar-offered"]  # type: ignore[no-any-return]

    def _healthy(self, stack: dict[str, Any] | None) -> bool:
        status = stack.get("StackStatus", "") if stack else ""
        return bool(stack) and status not in FAILED_STATES and status != NEVER_EXECUTED

    def upgrade_entry(self) -> Entry | None:
        """The journal's record of this setup's stack, when it names an upgrade."""
        entry = self.ctx.journal.find(self.id, "owner", self.resource)
        return entry if entry is not None and entry.data.get("upgrade") else None

    def _target(self, stack: dict[str, Any]) -> tuple[VersionStatus, str, str]:
        """The version status, the version apply deploys, and why it stays (when it does)."""
        offered = self._offered()
        if offered is None:
            newest = str(self._application("latest").get("Version", {}).get(
                "SemanticVersion", ""))
            offered = (newest,) if newest else ()
        deployed = deployed_version(stack)
        status = VersionStatus(deployed, offered, self.conn.application_version)
        target = status.target or str(self._application().get("Version", {}).get(
            "SemanticVersion", ""))
        held = ""
        entry = self.upgrade_entry()
        failed = entry.data.get("rolled_back_from") if entry is not None else None
        if (not status.pinned and deployed is not None and failed and target == failed
                and target != deployed):
            held = (f"{failed} failed the test query here and was rolled back; staying at "
                    f"{deployed} (pin application_version: {failed} to try it again)")
            target = deployed
        return status, target, held

    # ------------------------------------------------------------------ verbs
    def preflight(self) -> list[Finding]:
        if self.conn.existing_function_arn:
            if not self._function_exists(self.conn.existing_function_arn):
                return [self.finding("error", f"The existing connector function "
                                     f"{self.conn.existing_function_arn} was not found.",
                                     "Check connector.existing_function_arn, or remove it to "
                                     "deploy the connector.", "owner")]
            return []
        try:
            app = self._application()
        except WizardError as exc:
            if self._stays_withdrawn() is not None:
                return [self.finding(
                    "info", f"The pinned connector version {self.conn.application_version} is "
                    "deployed and no longer offered: it stays, and a later upgrade could not "
                    "be rolled back to it.", "", "owner")]
            return [self.finding("error", "The Serverless Application Repository application "
                                 f"AthenaDynamoDBConnector {self.conn.application_version} is not "
                                 f"reachable: {exc}",
                                 "Check the version (or use 'latest') and that the owner "
                                 "credentials may call serverlessrepo:GetApplication.", "owner")]
        out: list[Finding] = []
        stack = self._stack()
        if stack is None and self._function_exists(self.conn.catalog_name):
            out.append(self.finding(
                "error", f"A Lambda function named {self.conn.catalog_name} already exists in "
                "the owner account but was not deployed by this setup's stack.",
                "Use it with connector.existing_function_arn, or choose another catalog name.",
                "owner"))
        version = app.get("Version", {}).get("SemanticVersion", "?")
        self.ctx.log(self.id, f"AthenaDynamoDBConnector {version} is available", "owner")
        if self._healthy(stack):
            assert stack is not None
            out.extend(self._version_findings(stack))
        return out

    def _version_findings(self, stack: dict[str, Any]) -> list[Finding]:
        """Said before anything changes: a withdrawn deployed version is no way back."""
        status, target, held = self._target(stack)
        self.ctx.log(self.id, f"connector versions: {status.summary()}", "owner")
        out: list[Finding] = []
        if held:
            out.append(self.finding("warning", f"Connector upgrade held: {held}.", "", "owner"))
        if status.deployed_offered is False:
            if target != status.deployed:
                out.append(self.finding(
                    "warning", f"The deployed connector version {status.deployed} is no longer "
                    "offered by the Serverless Application Repository: if the upgrade to "
                    f"{target} breaks the test query, there is no rolling back to "
                    f"{status.deployed}.",
                    f"Accept that, or pin application_version to a version you have tested "
                    f"(offered: {', '.join(status.offered[:5])}).", "owner"))
            else:
                out.append(self.finding(
                    "info", f"The deployed connector version {status.deployed} is no longer "
                    "offered: a later upgrade could not be rolled back to it.", "", "owner"))
        return out

    def plan(self) -> list[Change]:
        c = self.conn
        if c.existing_function_arn:
            return [self.change("owner", c.existing_function_arn, "none",
                                "use the connector that is already deployed", kind="function")]
        try:
            app = self._application()
        except WizardError:
            stays = self._stays_withdrawn()
            if stays is None:
                raise
            return [stays]
        version = app.get("Version", {}).get("SemanticVersion", "latest")
        params = self._desired_parameters(app.get("Version", {}).get("ParameterDefinitions", []))
        resource = self.resource
        stack = self._stack()
        after = {"version": version, "parameters": params}
        if stack is None:
            return [self.change("owner", resource, "create",
                                f"deploy AthenaDynamoDBConnector {version} (function "
                                f"{c.catalog_name})", after=after, kind="stack",
                                version=version, parameters=params)]
        status = stack.get("StackStatus", "")
        if status in FAILED_STATES or status == NEVER_EXECUTED:
            what = "failed" if status in FAILED_STATES else "never executed"
            return [self.change("owner", resource, "create",
                                f"replace the {what} stack ({status}) and deploy {version}",
                                before={"status": status}, after=after, kind="stack",
                                version=version, parameters=params, replace=True)]
        current_params = {p["ParameterKey"]: p.get("ParameterValue", "")
                          for p in stack.get("Parameters", [])}
        versions, target, held = self._target(stack)
        deployed = versions.deployed or version
        if target != version:
            # staying at (or going to) another version than the one read: its own parameters
            params = self._desired_parameters(
                self._application(target).get("Version", {}).get("ParameterDefinitions", []))
        before = {"version": deployed,
                  "parameters": {k: current_params.get(k, "") for k in params}}
        after = {"version": target, "parameters": params}
        changed = {k: (current_params.get(k), v) for k, v in params.items()
                   if current_params.get(k) is not None and current_params.get(k) != v}
        moving = target != deployed
        info = {"versions": versions.to_json()}
        if not (changed or moving):
            summary = f"connector {deployed} is deployed"
            if versions.newer_available and versions.pinned:
                summary += f" (pinned; {versions.newest} is the newest)"
            elif held:
                summary += f" ({held})"
            return [self.change("owner", resource, "none", summary, before=before,
                                after=before, kind="stack", **info)]
        previous = {"version": deployed, "parameters": current_params}
        summary = self._update_summary(versions, deployed, target, changed)
        preview, preview_error, change_set = self._preview(target, params)
        extra: dict[str, Any] = {"preview": preview}
        if preview_error:
            extra["preview_error"] = preview_error
        if change_set:
            extra["change_set"] = change_set
        return [self.change("owner", resource, "update", summary, before=before, after=after,
                            kind="stack", version=target, parameters=params, previous=previous,
                            upgrade=moving, **info, **extra)]

    def _stays_withdrawn(self) -> Change | None:
        """A pinned version the repository withdrew, and the stack already at it: nothing to
        deploy, so nothing to refuse (the stack stays; only a change would need the version)."""
        requested = self.conn.application_version
        stack = self._stack() if is_pinned(requested) else None
        if not self._healthy(stack) or deployed_version(stack) != requested:
            return None
        offered = self._offered() or ()
        status = VersionStatus(requested, offered, requested)
        return self.change("owner", self.resource, "none",
                           f"connector {requested} is deployed (pinned; no longer offered)",
                           before={"version": requested}, after={"version": requested},
                           kind="stack", versions=status.to_json())

    @staticmethod
    def _update_summary(versions: VersionStatus, deployed: str, target: str,
                        changed: dict[str, tuple[str | None, str]]) -> str:
        parts = []
        if target != deployed:
            verb = "upgrade" if version_key(target) > version_key(deployed) else "downgrade"
            why = (f"the profile pins {target}" if versions.pinned else
                   "the newest; the profile asks for latest")
            parts.append(f"{verb} the connector from {deployed} to {target} ({why})")
        if changed:
            parts.append("change " + ", ".join(f"{k} {old} -> {new}"
                                               for k, (old, new) in changed.items()))
        return "; ".join(parts)

    # ------------------------------------------------------------------ preview
    def _preview(self, version: str, params: dict[str, str]
                 ) -> tuple[list[dict[str, Any]] | None, str, str]:
        """Create the change set apply would execute and read what CloudFormation will do to
        each resource. A plan deletes it again (it must leave nothing behind); apply keeps it
        and executes that very change set. Returns (rows, why there are none, change set)."""
        stack_name = self.conn.deployed_stack_name
        keep = bool(self.ctx.cache.get(KEEP_CHANGE_SET))
        if keep:
            self._delete_stale_change_sets()  # a cancelled or killed run's, never executed
        try:
            change_set = self._create_change_set(version, params, "preview" if not keep
                                                 else "apply")
        except WizardError as exc:
            return None, f"no preview: {exc}", ""
        try:
            desc = self._wait_change_set(change_set)
            rows = [] if desc is None else self._resource_rows(change_set)
        except WizardError as exc:
            self._delete_change_set(change_set)
            return None, f"no preview: {exc}", ""
        if desc is None or not keep:
            self._delete_change_set(change_set)
            change_set = ""
        self.ctx.log(self.id, f"preview of {stack_name}: {count(len(rows), 'resource change')}",
                     "owner")
        return rows, "", change_set

    def _resource_rows(self, change_set: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"ChangeSetName": change_set,
                                      "StackName": self.conn.deployed_stack_name}
            if token:
                kwargs["NextToken"] = token
            desc = aws_call(self.ctx.owner, "cloudformation", "describe_change_set", **kwargs)
            for c in desc.get("Changes", []):
                rc = c.get("ResourceChange", {})
                rows.append({
                    "action": rc.get("Action", ""),
                    "logical_id": rc.get("LogicalResourceId", ""),
                    "type": rc.get("ResourceType", ""),
                    "physical_id": rc.get("PhysicalResourceId"),
                    "replacement": rc.get("Replacement"),
                    "causes": [_cause(d) for d in rc.get("Details", [])],
                })
            token = desc.get("NextToken")
            if not token:
                return rows

    def _create_change_set(self, version: str, params: dict[str, str], purpose: str) -> str:
        app = self._application(version)
        caps = app.get("Version", {}).get("RequiredCapabilities", []) or []
        overrides = [{"Name": k, "Value": v} for k, v in params.items()]
        self.ctx.log(self.id, f"creating change set for {self.conn.deployed_stack_name} "
                     f"(AthenaDynamoDBConnector {version})", "owner")
        ans = aws_call(self.ctx.owner, "serverlessrepo", "create_cloud_formation_change_set",
                       ApplicationId=APPLICATION_ID, SemanticVersion=version,
                       StackName=self.conn.effective_stack_name, Capabilities=caps,
                       ParameterOverrides=overrides,
                       ChangeSetName=f"{CHANGE_SET_PREFIX}{purpose}-{uuid.uuid4().hex[:12]}")
        return str(ans["ChangeSetId"])

    def _wait_change_set(self, change_set: str) -> dict[str, Any] | None:
        """Wait for the change set; None when it holds no change (nothing to do)."""
        ctx, owner, stack_name = self.ctx, self.ctx.owner, self.conn.deployed_stack_name
        waiter = owner.client("cloudformation").get_waiter("change_set_create_complete")
        patience = _Patience(ctx)
        while True:
            ctx.check_cancel()
            try:
                waiter.wait(ChangeSetName=change_set, StackName=stack_name,
                            WaiterConfig={"Delay": 0, "MaxAttempts": 1})
                return {"ChangeSetId": change_set}
            except WaiterError as exc:
                if "Max attempts exceeded" in str(exc):
                    if patience.exhausted():
                        raise _still_waiting(ctx, owner, stack_name,
                                             "change_set_create_complete") from exc
                    ctx.sleep(min(ctx.poll_delay, 2.0))
                    continue
                desc = aws_call(owner, "cloudformation", "describe_change_set",
                                ChangeSetName=change_set, StackName=stack_name)
                reason = desc.get("StatusReason", "")
                if "No updates are to be performed" in reason or "didn't contain changes" in reason:
                    return None
                raise AwsOperationError(f"The change set for {stack_name} failed: {reason}",
                                        account="owner", operation="CreateChangeSet") from exc

    def _delete_change_set(self, change_set: str) -> None:
        try:
            aws_call(self.ctx.owner, "cloudformation", "delete_change_set",
                     ChangeSetName=change_set, StackName=self.conn.deployed_stack_name)
        except WizardError as exc:
            self.ctx.log(self.id, f"could not delete change set {change_set}: {exc}", "owner")

    def _delete_stale_change_sets(self) -> None:
        """Change sets an interrupted run of ours made and never executed: CloudFormation would
        keep them; they are ours to remove."""
        try:
            ans = aws_call(self.ctx.owner, "cloudformation", "list_change_sets",
                           StackName=self.conn.deployed_stack_name)
        except WizardError:
            return
        for summary in ans.get("Summaries", []):
            if (summary.get("StackName") == self.conn.deployed_stack_name
                    and str(summary.get("ChangeSetName", "")).startswith(CHANGE_SET_PREFIX)
                    and summary.get("ExecutionStatus") in ("AVAILABLE", "UNAVAILABLE")):
                self._delete_change_set(str(summary.get("ChangeSetId")
                                            or summary.get("ChangeSetName")))

    # ------------------------------------------------------------------ apply
    def apply(self, changes: list[Change]) -> None:
        for ch in changes:
            if ch.action in ("create", "update"):
                self._deploy(ch)

    def _deploy(self, ch: Change) -> None:
        ctx, owner, c = self.ctx, self.ctx.owner, self.conn
        stack_name = c.deployed_stack_name
        if ch.data.get("replace"):
            ctx.log(self.id, f"deleting failed stack {stack_name}", "owner")
            aws_call(owner, "cloudformation", "delete_stack", StackName=stack_name)
            wait_for_stack(ctx, owner, stack_name, "stack_delete_complete", self.id)
        entry = None
        if ch.action == "create":
            entry = ctx.journal.begin(self.id, "owner", ch.resource, "created",
                                      data={"stack": stack_name, "function": c.catalog_name,
                                            "version": ch.data["version"]})
        else:
            previous = ch.data.get("previous") or {}
            kind = "created" if ctx.journal.owns(self.id, "owner", ch.resource) else "changed"
            # Intent first (durable): a kill from here on leaves a run that knows the version
            # and parameters to return to.
            entry = ctx.journal.begin(
                self.id, "owner", ch.resource, kind, prior=previous,
                data={"stack": stack_name, "function": c.catalog_name,
                      "upgrade": {"from": previous.get("version"), "to": ch.data["version"],
                                  "previous": previous, "state": "pending",
                                  "at": time.time()}})
        change_set = ch.data.get("change_set") or ""
        if not change_set:
            self._delete_stale_change_sets()
            change_set = self._create_change_set(ch.data["version"], ch.data["parameters"],
                                                 "apply")
            if self._wait_change_set(change_set) is None:
                ctx.log(self.id, "the connector stack is already up to date", "owner")
                self._delete_change_set(change_set)
                if entry is not None and ch.action == "update":
                    self._record(entry, "deployed", version=ch.data["version"])
                return
        self._execute(change_set, "stack_create_complete" if ch.action == "create" else
                      "stack_update_complete")
        fn = self._function()
        if ch.action == "create":
            ctx.journal.done(entry, function_arn=fn)
        else:
            self._record(entry, "deployed", version=ch.data["version"], function_arn=fn)

    def _execute(self, change_set: str, waiter_name: str) -> None:
        ctx, owner, stack_name = self.ctx, self.ctx.owner, self.conn.deployed_stack_name
        seen: set[str] = set()
        if waiter_name == "stack_update_complete":
            # an update: the stack's history is not this run's news
            try:
                seen.update(e["EventId"] for e in aws_call(
                    owner, "cloudformation", "describe_stack_events",
                    StackName=stack_name)["StackEvents"])
            except WizardError:
                pass
        stream_stack_events(ctx, owner, stack_name, self.id, seen)
        _execute_once(owner, change_set, stack_name)
        wait_for_stack(ctx, owner, stack_name, waiter_name, self.id, seen)

    def _function(self) -> str:
        owner, stack_name = self.ctx.owner, self.conn.deployed_stack_name
        res = aws_call(owner, "cloudformation", "describe_stack_resource", StackName=stack_name,
                       LogicalResourceId="ConnectorConfig")
        function = res["StackResourceDetail"]["PhysicalResourceId"]
        fn = aws_call(owner, "lambda", "get_function", FunctionName=function)
        arn = str(fn["Configuration"]["FunctionArn"])
        self.ctx.log(self.id, f"connector function {arn} is ready", "owner")
        return arn

    def _record(self, entry: Entry, state: str, **data: Any) -> None:
        """The upgrade's progress in the journal (``pending`` -> ``deployed`` -> ``verified``
        or ``untested``, or ``rolling-back`` -> ``rolled-back``)."""
        upgrade = dict(entry.data.get("upgrade") or {})
        upgrade["state"] = state
        self.ctx.journal.done(entry, upgrade=upgrade, **data)

    def mark_verified(self) -> None:
        entry = self.upgrade_entry()
        if entry is None:
            return
        cleared = {}
        if entry.data.get("rolled_back_from") == entry.data["upgrade"].get("to"):
            cleared["rolled_back_from"] = None  # the version passed after all (pinned again)
        self._record(entry, "verified", **cleared)

    def mark_untested(self) -> None:
        entry = self.upgrade_entry()
        if entry is not None:
            self._record(entry, "untested")

    def rollback_target(self) -> tuple[str, dict[str, str]] | None:
        """The version and parameters the last upgrade replaced, when it may be returned to."""
        entry = self.upgrade_entry()
        if entry is None:
            return None
        previous = entry.data["upgrade"].get("previous") or {}
        version = previous.get("version")
        return (str(version), dict(previous.get("parameters") or {})) if version else None

    def rollback(self) -> Change:
        """Return the stack to the version and parameters before the last upgrade (a new change
        set for the old version), recorded in the journal first so a kill resumes it."""
        target = self.rollback_target()
        entry = self.upgrade_entry()
        if target is None or entry is None:
            raise InvalidInput("There is no connector upgrade to roll back.",
                               fix="Nothing to do: the journal records no upgrade.")
        version, parameters = target
        upgrade = entry.data["upgrade"]
        offered = self._offered()
        if offered is not None and version not in offered:
            raise InvalidInput(
                f"Cannot roll back to connector version {version}: the Serverless Application "
                "Repository no longer offers it.",
                fix=f"Pin application_version to an offered version ({', '.join(offered[:5])})"
                    " and apply.")
        failed = upgrade.get("to")
        self._record(entry, "rolling-back", rolled_back_from=failed)
        definitions = self._application(version).get("Version", {}).get(
            "ParameterDefinitions", [])
        names = {d["Name"] for d in definitions}
        params = {k: v for k, v in parameters.items() if k in names}
        self.ctx.log(self.id, f"rolling the connector back from {failed} to {version}", "owner")
        self._delete_stale_change_sets()
        change_set = self._create_change_set(version, params, "rollback")
        if self._wait_change_set(change_set) is None:
            self._delete_change_set(change_set)
        else:
            self._execute(change_set, "stack_update_complete")
        self._record(entry, "rolled-back", version=version, function_arn=self._function())
        return self.change("owner", self.resource, "update",
                           f"rolled the connector back from {failed} to {version}",
                           before={"version": failed}, after={"version": version,
                                                              "parameters": params},
                           kind="stack")

    def verify(self) -> list[Finding]:
        if not self._function_exists(self.ctx.function_arn):
            return [self.finding("error", f"The connector function {self.ctx.function_arn} "
                                 "does not exist.", "Run apply again.", "owner")]
        return []

    # ------------------------------------------------------------------ destroy
    def plan_destroy(self) -> list[Change]:
        out = []
        for e in self.ctx.journal.for_step(self.id):
            if e.kind == "changed":
                prior = (e.prior or {}).get("version")
                out.append(self.change("owner", e.resource, "update",
                                       f"restore the connector stack to {prior} (it existed "
                                       "before this tool upgraded it)", kind="stack"))
            else:
                out.append(self.change("owner", e.resource, "delete",
                                       "delete the connector stack and its log group",
                                       kind="stack"))
        return out

    def destroy(self) -> list[Change]:
        done = []
        ctx, owner = self.ctx, self.ctx.owner
        for entry in ctx.journal.for_step(self.id):
            if entry.kind == "changed":
                done.append(self._restore(entry))
                continue
            stack = entry.data.get("stack", self.conn.deployed_stack_name)
            ctx.log(self.id, f"deleting stack {stack}", "owner")
            aws_call(owner, "cloudformation", "delete_stack", StackName=stack)
            wait_for_stack(ctx, owner, stack, "stack_delete_complete", self.id)
            group = f"/aws/lambda/{entry.data.get('function', self.conn.catalog_name)}"
            try:
                aws_call(owner, "logs", "delete_log_group", logGroupName=group)
            except WizardError as exc:
                if error_code(exc) != "ResourceNotFoundException":
                    raise
            ctx.journal.forget(entry)
            done.append(self.change("owner", entry.resource, "delete", kind="stack"))
        return done

    def _restore(self, entry: Entry) -> Change:
        """A stack this tool did not create but upgraded: back to the version and parameters
        it had, when that version is still offered (else it stays, and says why)."""
        prior = entry.prior or {}
        version = str(prior.get("version") or "")
        stack = self._describe()
        if stack is None or not version or deployed_version(stack) == version:
            self.ctx.journal.forget(entry)
            return self.change("owner", entry.resource, "none", "already at its prior version",
                               kind="stack")
        offered = self._offered()
        if offered is not None and version not in offered:
            self.ctx.log(self.id, f"cannot restore {entry.resource} to {version}: no longer "
                         "offered; it stays at " + str(deployed_version(stack)), "owner")
            self.ctx.journal.forget(entry)
            return self.change("owner", entry.resource, "none",
                               f"left at {deployed_version(stack)}: {version} is withdrawn",
                               kind="stack")
        names = {d["Name"] for d in self._application(version).get("Version", {}).get(
            "ParameterDefinitions", [])}
        params = {k: v for k, v in (prior.get("parameters") or {}).items() if k in names}
        change_set = self._create_change_set(version, params, "restore")
        if self._wait_change_set(change_set) is None:
            self._delete_change_set(change_set)
        else:
            self._execute(change_set, "stack_update_complete")
        self.ctx.journal.forget(entry)
        return self.change("owner", entry.resource, "update", f"restored to {version}",
                           kind="stack")


def _cause(detail: dict[str, Any]) -> str:
    """One Detail of a resource change, for people: what property changes, and why."""
    target = detail.get("Target", {})
    name = target.get("Name") or target.get("Attribute", "")
    text = str(name)
    source = detail.get("ChangeSource", "")
    if source == "ParameterReference" and detail.get("CausingEntity"):
        text += f" (parameter {detail['CausingEntity']})"
    elif source == "ResourceAttribute" and detail.get("CausingEntity"):
        text += f" (from {detail['CausingEntity']}, known at run time)"
    if target.get("RequiresRecreation") == "Always":
        text += " - recreates"
    elif target.get("RequiresRecreation") == "Conditionally":
        text += " - may recreate"
    return text


def _execute_once(owner: Account, change_set: str, stack_name: str) -> None:
    """ExecuteChangeSet, tolerating its own re-send.

    When the response is lost, botocore sends the request again and AWS answers
    InvalidChangeSetStatus: the first attempt already started the change set. This run made
    the change set moments ago (and holds the setup's lock), so a change set that is executing
    or executed is ours: go on to wait for the stack. Any other status is a real error.
    """
    try:
        aws_call(owner, "cloudformation", "execute_change_set", ChangeSetName=change_set,
                 StackName=stack_name)
    except WizardError as exc:
        if error_code(exc) != "InvalidChangeSetStatus":
            raise
        desc = aws_call(owner, "cloudformation", "describe_change_set",
                        ChangeSetName=change_set, StackName=stack_name)
        if desc.get("ExecutionStatus") not in ("EXECUTE_IN_PROGRESS", "EXECUTE_COMPLETE"):
            raise

