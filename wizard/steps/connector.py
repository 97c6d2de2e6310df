"""Runbook steps 2-5: deploy the AthenaDynamoDBConnector from the Serverless Application
Repository in A (change set -> execute -> wait, stack events streamed), or use an existing one.
"""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import WaiterError

from wizard.aws import Account
from wizard.changes import Change, Event, Finding
from wizard.errors import AwsOperationError, WizardError
from wizard.steps.base import Context, Step, aws_call, error_code

APPLICATION_ID = (
    "arn:aws:serverlessrepo:us-east-1:292517598671:applications/AthenaDynamoDBConnector"
)
FAILED_STATES = {"ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED", "DELETE_FAILED"}
# A stack whose change set was created but never executed (the execute failed, or the run was
# killed in between): it has no resources, so the connector is not deployed.
NEVER_EXECUTED = "REVIEW_IN_PROGRESS"


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

    # ------------------------------------------------------------------ reads
    def _application(self) -> dict[str, Any]:
        cached = self.ctx.cache.get("sar-app")
        if cached is None:
            kwargs: dict[str, Any] = {"ApplicationId": APPLICATION_ID}
            if self.conn.application_version not in ("", "latest"):
                kwargs["SemanticVersion"] = self.conn.application_version
            cached = aws_call(self.ctx.owner, "serverlessrepo", "get_application", **kwargs)
            self.ctx.cache["sar-app"] = cached
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
            return [self.finding("error", "The Serverless Application Repository application "
                                 f"AthenaDynamoDBConnector {self.conn.application_version} is not "
                                 f"reachable: {exc}",
                                 "Check the version (or use 'latest') and that the owner "
                                 "credentials may call serverlessrepo:GetApplication.", "owner")]
        out: list[Finding] = []
        if self._stack() is None and self._function_exists(self.conn.catalog_name):
            out.append(self.finding(
                "error", f"A Lambda function named {self.conn.catalog_name} already exists in "
                "the owner account but was not deployed by this setup's stack.",
                "Use it with connector.existing_function_arn, or choose another catalog name.",
                "owner"))
        version = app.get("Version", {}).get("SemanticVersion", "?")
        self.ctx.log(self.id, f"AthenaDynamoDBConnector {version} is available", "owner")
        return out

    def plan(self) -> list[Change]:
        c = self.conn
        if c.existing_function_arn:
            return [self.change("owner", c.existing_function_arn, "none",
                                "use the connector that is already deployed", kind="function")]
        app = self._application()
        version = app.get("Version", {}).get("SemanticVersion", "latest")
        params = self._desired_parameters(app.get("Version", {}).get("ParameterDefinitions", []))
        resource = f"stack {c.deployed_stack_name}"
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
        tags = {t["Key"]: t["Value"] for t in stack.get("Tags", [])}
        current_params = {p["ParameterKey"]: p.get("ParameterValue", "")
                          for p in stack.get("Parameters", [])}
        deployed_version = tags.get("serverlessrepo:semanticVersion", version)
        before = {"version": deployed_version,
                  "parameters": {k: current_params.get(k, "") for k in params}}
        pinned = c.application_version not in ("", "latest")
        differs = any(current_params.get(k) is not None and current_params.get(k) != v
                      for k, v in params.items())
        if differs or (pinned and deployed_version != version):
            return [self.change("owner", resource, "update",
                                f"update the connector stack to {version}", before=before,
                                after=after, kind="stack", version=version, parameters=params)]
        return [self.change("owner", resource, "none",
                            f"connector {deployed_version} is deployed", before=before,
                            after=before, kind="stack")]

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
        app = self._application()
        caps = app.get("Version", {}).get("RequiredCapabilities", []) or []
        overrides = [{"Name": k, "Value": v} for k, v in ch.data["parameters"].items()]
        ctx.log(self.id, f"creating change set for {stack_name} "
                f"(AthenaDynamoDBConnector {ch.data['version']})", "owner")
        entry = None
        if ch.action == "create":
            entry = ctx.journal.begin(self.id, "owner", ch.resource, "created",
                                      data={"stack": stack_name, "function": c.catalog_name})
        ans = aws_call(owner, "serverlessrepo", "create_cloud_formation_change_set",
                       ApplicationId=APPLICATION_ID, SemanticVersion=ch.data["version"],
                       StackName=c.effective_stack_name, Capabilities=caps,
                       ParameterOverrides=overrides)
        change_set = ans["ChangeSetId"]
        cfn = owner.client("cloudformation")
        waiter = cfn.get_waiter("change_set_create_complete")
        patience = _Patience(ctx)
        while True:
            ctx.check_cancel()
            try:
                waiter.wait(ChangeSetName=change_set, StackName=stack_name,
                            WaiterConfig={"Delay": 0, "MaxAttempts": 1})
                break
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
                    ctx.log(self.id, "the connector stack is already up to date", "owner")
                    return
                raise AwsOperationError(f"The change set for {stack_name} failed: {reason}",
                                        account="owner", operation="CreateChangeSet") from exc
        seen: set[str] = set()
        stream_stack_events(ctx, owner, stack_name, self.id, seen)
        _execute_once(owner, change_set, stack_name)
        waiter_name = "stack_create_complete" if ch.action == "create" else \
            "stack_update_complete"
        wait_for_stack(ctx, owner, stack_name, waiter_name, self.id, seen)
        res = aws_call(owner, "cloudformation", "describe_stack_resource", StackName=stack_name,
                       LogicalResourceId="ConnectorConfig")
        function = res["StackResourceDetail"]["PhysicalResourceId"]
        fn = aws_call(owner, "lambda", "get_function", FunctionName=function)
        ctx.log(self.id, f"connector function {fn['Configuration']['FunctionArn']} is ready",
                "owner")
        if entry is not None:
            ctx.journal.done(entry, function_arn=fn["Configuration"]["FunctionArn"])

    def verify(self) -> list[Finding]:
        if not self._function_exists(self.ctx.function_arn):
            return [self.finding("error", f"The connector function {self.ctx.function_arn} "
                                 "does not exist.", "Run apply again.", "owner")]
        return []

    def plan_destroy(self) -> list[Change]:
        return [self.change("owner", e.resource, "delete",
                            "delete the connector stack and its log group", kind="stack")
                for e in self.ctx.journal.for_step(self.id)]

    def destroy(self) -> list[Change]:
        done = []
        ctx, owner = self.ctx, self.ctx.owner
        for entry in ctx.journal.for_step(self.id):
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

