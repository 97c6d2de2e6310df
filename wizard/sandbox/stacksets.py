"""CloudFormation StackSets as AWS runs them for an organization (service-managed permissions).

moto's StackSets create every instance at once inside the request, ignore automatic deployment,
look only one OU level down, never fail an account, and report results in a shape of their own.
The wizard's organization mode depends on exactly those parts, so the sandbox answers the
StackSets operations itself:

* Operations run in the background, one at a time per stack set (a second one meanwhile is
  ``OperationInProgressException``), account after account, and their per-account results
  (``ListStackSetOperationResults``) move from PENDING to RUNNING to SUCCEEDED or FAILED while
  the caller polls - so a client can stream progress and must wait, as with AWS.
* Each instance is a real stack (``StackSet-<name>-<uuid>``) in the member account, created by
  moto's CloudFormation with the sandbox's resource types (:mod:`cfn_resources`), so its role,
  principal and ``AWS::Athena::DataCatalog`` exist in that account afterwards. A stack that
  fails (a resource of that name exists already, say) is rolled back, its instance stays
  OUTDATED with the cause, and the other accounts go on while the failure tolerance allows.
* Deployment targets: OUs with every OU below them, filtered by ``AccountFilterType``.
* Automatic deployment: an account moved into a targeted OU gets an instance; one moved out
  loses it (unless ``RetainStacksOnAccountRemoval``). See :mod:`organizations`.
* ``CreateStackSet`` asks for the capabilities the template needs, as CloudFormation does.

State lives here (per calling account and region), not in moto; :meth:`reset` clears it.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from wizard.plural import count
from wizard.sandbox import organizations
from wizard.sandbox.layer import ApiRequest, ServiceError

_ACTIVE_OPS = ("QUEUED", "RUNNING")
PAGE = 100


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Instance:
    account: str
    region: str
    ou_id: str = ""
    status: str = "OUTDATED"  # CURRENT | OUTDATED | INOPERABLE
    detailed: str = "PENDING"  # PENDING | RUNNING | SUCCEEDED | FAILED | CANCELLED
    reason: str = ""
    stack_id: str = ""
    last_operation: str = ""


@dataclass
class Operation:
    id: str
    action: str  # CREATE | UPDATE | DELETE
    status: str = "QUEUED"
    created: dt.datetime = field(default_factory=_now)
    ended: dt.datetime | None = None
    reason: str = ""
    targets: dict[str, Any] = field(default_factory=dict)
    # (account, region) -> [status, reason, ou]
    results: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    retain: bool = False


@dataclass
class StackSet:
    id: str
    name: str
    arn: str
    owner_account: str
    region: str
    template: str
    parameters: dict[str, str]
    capabilities: list[str]
    description: str
    permission_model: str
    auto_deployment: dict[str, bool]
    status: str = "ACTIVE"
    ou_targets: dict[str, set[str]] = field(default_factory=dict)  # ou -> regions
    instances: dict[tuple[str, str], Instance] = field(default_factory=dict)
    operations: dict[str, Operation] = field(default_factory=dict)

    def busy(self) -> bool:
        return any(op.status in _ACTIVE_OPS for op in self.operations.values())


class StackSetsEmulator:
    """The StackSets API of every account of the sandbox (answers the operations fully)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._sets: dict[tuple[str, str], dict[str, StackSet]] = {}
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="xacct-sandbox-ss")
        # Seconds each account's deployment takes (a demo knob; AWS takes tens of seconds).
        self.account_latency = 0.0
        organizations.on_move(self._account_moved)

    # ------------------------------------------------------------------ lifecycle
    def reset(self) -> None:
        with self._lock:
            self._sets.clear()

    def shutdown(self) -> None:
        organizations.off_move(self._account_moved)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def operations(self) -> dict[str, Callable[[ApiRequest], Any]]:
        """Handlers for the layer: output written as XML for the query protocol."""
        return {name: _answering(handler) for name, handler in self._handlers().items()}

    def _handlers(self) -> dict[str, Callable[[ApiRequest], dict[str, Any]]]:
        return {
            "CreateStackSet": self.create_stack_set,
            "DescribeStackSet": self.describe_stack_set,
            "UpdateStackSet": self.update_stack_set,
            "DeleteStackSet": self.delete_stack_set,
            "ListStackSets": self.list_stack_sets,
            "CreateStackInstances": self.create_stack_instances,
            "UpdateStackInstances": self.update_stack_instances,
            "DeleteStackInstances": self.delete_stack_instances,
            "ListStackInstances": self.list_stack_instances,
            "DescribeStackInstance": self.describe_stack_instance,
            "DescribeStackSetOperation": self.describe_stack_set_operation,
            "ListStackSetOperations": self.list_stack_set_operations,
            "ListStackSetOperationResults": self.list_stack_set_operation_results,
        }

    # ------------------------------------------------------------------ lookups
    def _space(self, req: ApiRequest) -> dict[str, StackSet]:
        return self._sets.setdefault((req.caller.account_id, req.region), {})

    def _get(self, req: ApiRequest) -> StackSet:
        name = str(req.params.get("StackSetName", ""))
        for ss in self._space(req).values():
            if ss.status == "ACTIVE" and name in (ss.name, ss.id, ss.arn):
                return ss
        raise ServiceError("StackSetNotFoundException", f"StackSet {name} not found",
                           status=404)

    def _operation(self, req: ApiRequest) -> tuple[StackSet, Operation]:
        ss = self._get(req)
        op = ss.operations.get(str(req.params.get("OperationId", "")))
        if op is None:
            raise ServiceError("OperationNotFoundException",
                               f"Operation {req.params.get('OperationId')} not found",
                               status=404)
        return ss, op

    # ------------------------------------------------------------------ stack sets
    def create_stack_set(self, req: ApiRequest) -> dict[str, Any]:
        from wizard.sandbox import cfn_resources

        p = req.params
        name = str(p.get("StackSetName", ""))
        body = str(p.get("TemplateBody") or "")
        if not body:
            raise ServiceError("ValidationError", "TemplateBody or TemplateURL must be given")
        template = _parse_template(body)
        cfn_resources.install()
        given = set(p.get("Capabilities") or [])
        if "CAPABILITY_NAMED_IAM" in given:
            given.add("CAPABILITY_IAM")
        missing = [c for c in cfn_resources.required_capabilities(template) if c not in given]
        if missing:
            raise ServiceError("InsufficientCapabilitiesException",
                               f"Requires capabilities : [{', '.join(missing)}]")
        model = str(p.get("PermissionModel") or "SELF_MANAGED")
        auto = dict(p.get("AutoDeployment") or {})
        if model == "SERVICE_MANAGED" and organizations.parent_of(req.caller.account_id) is None:
            raise ServiceError("ValidationError", "Account is not part of an organization, or "
                               "trusted access for StackSets is not enabled")
        with self._lock:
            space = self._space(req)
            if any(s.name == name and s.status == "ACTIVE" for s in space.values()):
                raise ServiceError("NameAlreadyExistsException",
                                   f"StackSet {name} already exists", status=409)
            ssid = f"{name}:{uuid.uuid4()}"
            space[ssid] = StackSet(
                id=ssid, name=name,
                arn=f"arn:aws:cloudformation:{req.region}:{req.caller.account_id}:stackset/"
                    f"{ssid}",
                owner_account=req.caller.account_id, region=req.region, template=body,
                parameters={str(x["ParameterKey"]): str(x.get("ParameterValue", ""))
                            for x in p.get("Parameters") or []},
                capabilities=list(p.get("Capabilities") or []),
                description=str(p.get("Description") or ""), permission_model=model,
                auto_deployment={"Enabled": bool(auto.get("Enabled", False)),
                                 "RetainStacksOnAccountRemoval": bool(
                                     auto.get("RetainStacksOnAccountRemoval", False))})
        return {"StackSetId": ssid}

    def describe_stack_set(self, req: ApiRequest) -> dict[str, Any]:
        ss = self._get(req)
        out: dict[str, Any] = {
            "StackSetName": ss.name, "StackSetId": ss.id, "Description": ss.description,
            "Status": ss.status, "TemplateBody": ss.template,
            "Parameters": [{"ParameterKey": k, "ParameterValue": v}
                           for k, v in ss.parameters.items()],
            "Capabilities": ss.capabilities, "StackSetARN": ss.arn,
            "PermissionModel": ss.permission_model,
            "OrganizationalUnitIds": sorted(ss.ou_targets),
        }
        if ss.permission_model == "SERVICE_MANAGED":
            out["AutoDeployment"] = ss.auto_deployment
        return {"StackSet": out}

    def list_stack_sets(self, req: ApiRequest) -> dict[str, Any]:
        want = req.params.get("Status")
        return {"Summaries": [
            {"StackSetName": s.name, "StackSetId": s.id, "Status": s.status,
             "PermissionModel": s.permission_model, "AutoDeployment": s.auto_deployment}
            for s in self._space(req).values() if not want or s.status == want]}

    def update_stack_set(self, req: ApiRequest) -> dict[str, Any]:
        p = req.params
        with self._lock:
            ss = self._get(req)
            self._not_busy(ss)
            if p.get("TemplateBody"):
                ss.template = str(p["TemplateBody"])
            if p.get("Parameters") is not None:
                ss.parameters = {str(x["ParameterKey"]): str(x.get("ParameterValue", ""))
                                 for x in p.get("Parameters") or []}
            if p.get("Capabilities") is not None:
                ss.capabilities = list(p["Capabilities"])
            if p.get("AutoDeployment"):
                ss.auto_deployment.update({k: bool(v) for k, v in p["AutoDeployment"].items()})
            if p.get("Description") is not None:
                ss.description = str(p["Description"])
            keys = list(ss.instances)
            return {"OperationId": self._start(ss, "UPDATE", keys, p, {})}

    def delete_stack_set(self, req: ApiRequest) -> dict[str, Any]:
        with self._lock:
            ss = self._get(req)
            self._not_busy(ss)
            if ss.instances:
                raise ServiceError("StackSetNotEmptyException",
                                   f"StackSet {ss.name} is not empty: it has "
                                   f"{count(len(ss.instances), 'stack instance')}", status=409)
            ss.status = "DELETED"
        return {}

    # ------------------------------------------------------------------ instances
    def _targets(self, ss: StackSet, p: Mapping[str, Any]) -> list[tuple[str, str, str]]:
        """(account, region, ou) the request names."""
        regions = [str(r) for r in p.get("Regions") or []]
        dt_ = dict(p.get("DeploymentTargets") or {})
        accounts = [str(a) for a in (p.get("Accounts") or dt_.get("Accounts") or [])]
        ous = [str(o) for o in dt_.get("OrganizationalUnitIds") or []]
        if ss.permission_model == "SERVICE_MANAGED" and not ous:
            raise ServiceError("ValidationError", "StackSets with SERVICE_MANAGED permission "
                               "model can only have OrganizationalUnit as target")
        if ss.permission_model == "SELF_MANAGED" and ous:
            raise ServiceError("ValidationError", "StackSets with SELF_MANAGED permission "
                               "model can only have accounts as target")
        if not regions:
            raise ServiceError("ValidationError", "Regions must be given")
        pairs: list[tuple[str, str]] = []  # (account, ou)
        for ou in ous:
            if not organizations.ou_path(ou):
                raise ServiceError("ValidationError",
                                   f"OrganizationalUnitId {ou} was not found in the "
                                   "organization")
            in_ou = [(a, ou) for a in organizations.accounts_under(ou)]
            kind = str(dt_.get("AccountFilterType") or "NONE")
            if kind == "INTERSECTION":
                in_ou = [x for x in in_ou if x[0] in accounts]
            elif kind == "DIFFERENCE":
                in_ou = [x for x in in_ou if x[0] not in accounts]
            elif kind == "UNION":
                in_ou += [(a, "") for a in accounts if a not in {x[0] for x in in_ou}]
            pairs += in_ou
        if not ous:
            pairs = [(a, "") for a in accounts]
        seen: set[tuple[str, str]] = set()
        out = []
        for account, ou in pairs:
            for region in regions:
                if (account, region) not in seen:
                    seen.add((account, region))
                    out.append((account, region, ou))
        return out

    def create_stack_instances(self, req: ApiRequest) -> dict[str, Any]:
        p = req.params
        with self._lock:
            ss = self._get(req)
            self._not_busy(ss)
            targets = self._targets(ss, p)
            for ou in (p.get("DeploymentTargets") or {}).get("OrganizationalUnitIds") or []:
                if str((p.get("DeploymentTargets") or {}).get("AccountFilterType") or "NONE") \
                        in ("NONE", "UNION"):
                    ss.ou_targets.setdefault(str(ou), set()).update(
                        str(r) for r in p.get("Regions") or [])
            for account, region, ou in targets:
                ss.instances.setdefault((account, region), Instance(account, region, ou))
            return {"OperationId": self._start(
                ss, "CREATE", [(a, r) for a, r, _ in targets], p, {})}

    def update_stack_instances(self, req: ApiRequest) -> dict[str, Any]:
        p = req.params
        with self._lock:
            ss = self._get(req)
            self._not_busy(ss)
            targets = [(a, r) for a, r, _ in self._targets(ss, p)]
            missing = [t for t in targets if t not in ss.instances]
            if missing:
                raise ServiceError("StackInstanceNotFoundException",
                                   f"Stack instance not found: account {missing[0][0]}, "
                                   f"region {missing[0][1]}", status=404)
            return {"OperationId": self._start(ss, "UPDATE", targets, p, {})}

    def delete_stack_instances(self, req: ApiRequest) -> dict[str, Any]:
        p = req.params
        with self._lock:
            ss = self._get(req)
            self._not_busy(ss)
            targets = [(a, r) for a, r, _ in self._targets(ss, p)
                       if (a, r) in ss.instances]
            dt_ = dict(p.get("DeploymentTargets") or {})
            if str(dt_.get("AccountFilterType") or "NONE") == "NONE":
                for ou in dt_.get("OrganizationalUnitIds") or []:
                    regions = ss.ou_targets.get(str(ou), set())
                    regions -= {str(r) for r in p.get("Regions") or []}
                    if not regions:
                        ss.ou_targets.pop(str(ou), None)
            return {"OperationId": self._start(ss, "DELETE", targets, p,
                                               {"retain": bool(p.get("RetainStacks"))})}

    def list_stack_instances(self, req: ApiRequest) -> dict[str, Any]:
        ss = self._get(req)
        p = req.params
        rows = [i for i in ss.instances.values()
                if (not p.get("StackInstanceAccount") or i.account == p["StackInstanceAccount"])
                and (not p.get("StackInstanceRegion") or i.region == p["StackInstanceRegion"])]
        for f in p.get("Filters") or []:
            if f.get("Name") == "DETAILED_STATUS":
                rows = [i for i in rows if i.detailed == f.get("Values")]
        page, token = _page(rows, p)
        out: dict[str, Any] = {"Summaries": [_instance_summary(ss, i) for i in page]}
        if token:
            out["NextToken"] = token
        return out

    def describe_stack_instance(self, req: ApiRequest) -> dict[str, Any]:
        ss = self._get(req)
        key = (str(req.params.get("StackInstanceAccount")),
               str(req.params.get("StackInstanceRegion")))
        inst = ss.instances.get(key)
        if inst is None:
            raise ServiceError("StackInstanceNotFoundException",
                               f"Stack instance not found: account {key[0]}, region {key[1]}",
                               status=404)
        return {"StackInstance": _instance_summary(ss, inst)}

    # ------------------------------------------------------------------ operations
    def describe_stack_set_operation(self, req: ApiRequest) -> dict[str, Any]:
        ss, op = self._operation(req)
        failed = sum(1 for r in op.results.values() if r[0] == "FAILED")
        out: dict[str, Any] = {
            "OperationId": op.id, "StackSetId": ss.id, "Action": op.action,
            "Status": op.status, "CreationTimestamp": op.created,
            "StatusDetails": {"FailedStackInstancesCount": failed},
        }
        if op.ended is not None:
            out["EndTimestamp"] = op.ended
        if op.reason:
            out["StatusReason"] = op.reason
        if op.targets:
            out["DeploymentTargets"] = op.targets
        return {"StackSetOperation": out}

    def list_stack_set_operations(self, req: ApiRequest) -> dict[str, Any]:
        ss = self._get(req)
        ops = sorted(ss.operations.values(), key=lambda o: o.created, reverse=True)
        return {"Summaries": [
            {"OperationId": o.id, "Action": o.action, "Status": o.status,
             "CreationTimestamp": o.created, **({"EndTimestamp": o.ended} if o.ended else {})}
            for o in ops]}

    def list_stack_set_operation_results(self, req: ApiRequest) -> dict[str, Any]:
        _ss, op = self._operation(req)
        with self._lock:
            rows = [(k, list(v)) for k, v in op.results.items()]
        page, token = _page(rows, req.params)
        summaries = []
        for (account, region), (status, reason, ou) in page:
            row: dict[str, Any] = {"Account": account, "Region": region, "Status": status}
            if reason:
                row["StatusReason"] = reason
            if ou:
                row["OrganizationalUnitId"] = ou
            summaries.append(row)
        out: dict[str, Any] = {"Summaries": summaries}
        if token:
            out["NextToken"] = token
        return out

    # ------------------------------------------------------------------ running
    @staticmethod
    def _not_busy(ss: StackSet) -> None:
        if ss.busy():
            raise ServiceError("OperationInProgressException",
                               f"Another Operation on StackSet {ss.id} is in progress",
                               status=409)

    def _start(self, ss: StackSet, action: str, targets: list[tuple[str, str]],
               p: Mapping[str, Any], extra: dict[str, Any]) -> str:
        """Queue an operation on these instances; returns its id (the caller holds the lock)."""
        op_id = str(p.get("OperationId") or uuid.uuid4())
        if op_id in ss.operations:
            return op_id  # a retried request: same operation (AWS's idempotency token)
        op = Operation(op_id, action, targets=dict(p.get("DeploymentTargets") or {}),
                       retain=bool(extra.get("retain")))
        for key in targets:
            inst = ss.instances.get(key)
            op.results[key] = ["PENDING", "", inst.ou_id if inst else ""]
        ss.operations[op_id] = op
        prefs = dict(p.get("OperationPreferences") or {})
        self._pool.submit(self._run, ss, op, prefs)
        return op_id

    def _run(self, ss: StackSet, op: Operation, prefs: Mapping[str, Any]) -> None:
        import time

        with self._lock:
            op.status = "RUNNING"
        tolerance = _tolerance(prefs, len(op.results))
        failures = 0
        for key in list(op.results):
            with self._lock:
                if failures > tolerance:
                    op.results[key][0] = "CANCELLED"
                    op.results[key][1] = "Cancelled since failure tolerance has exceeded"
                    continue
                op.results[key][0] = "RUNNING"
                inst = ss.instances.get(key)
            if self.account_latency:
                time.sleep(self.account_latency)
            try:
                reason = self._apply_one(ss, op, key, inst)
            except Exception as exc:  # a bug here must fail the account, not the thread
                reason = f"Internal failure: {exc}"
            with self._lock:
                op.results[key][0] = "FAILED" if reason else "SUCCEEDED"
                op.results[key][1] = reason
                failures += bool(reason)
        with self._lock:
            op.ended = _now()
            if failures > tolerance:
                op.status = "FAILED"
                op.reason = "The Operation failed: the failure tolerance was exceeded"
            else:
                op.status = "SUCCEEDED"

    def _apply_one(self, ss: StackSet, op: Operation, key: tuple[str, str],
                   inst: Instance | None) -> str:
        """Deploy (or delete) one instance; returns the failure reason, "" on success."""
        account, region = key
        if inst is None:
            return ""
        inst.last_operation = op.id
        if op.action == "DELETE":
            if inst.stack_id and not op.retain:
                _delete_stack(account, region, inst.stack_id)
            with self._lock:
                ss.instances.pop(key, None)
            return ""
        inst.detailed = "RUNNING"
        try:
            inst.stack_id = _deploy_stack(account, region, ss, inst.stack_id)
        except Exception as exc:
            inst.stack_id = ""
            inst.status, inst.detailed = "OUTDATED", "FAILED"
            inst.reason = _reason(exc)
            return inst.reason
        inst.status, inst.detailed, inst.reason = "CURRENT", "SUCCEEDED", ""
        return ""

    # ------------------------------------------------------------------ auto-deployment
    def _account_moved(self, account: str, old: str, new: str) -> None:
        with self._lock:
            for space in self._sets.values():
                for ss in space.values():
                    if ss.status != "ACTIVE" or not ss.auto_deployment.get("Enabled"):
                        continue
                    covered: dict[str, str] = {}
                    for ou in ss.ou_targets:
                        for below in organizations.descendant_ous(ou):
                            covered.setdefault(below, ou)
                    if new in covered and old not in covered:
                        regions = sorted(ss.ou_targets[covered[new]])
                        keys = [(account, r) for r in regions]
                        for k in keys:
                            ss.instances.setdefault(k, Instance(account, k[1], covered[new]))
                        self._start(ss, "CREATE", keys, {"DeploymentTargets": {
                            "OrganizationalUnitIds": [covered[new]]}}, {})
                    elif old in covered and new not in covered:
                        keys = [k for k in ss.instances if k[0] == account]
                        retain = ss.auto_deployment.get("RetainStacksOnAccountRemoval", False)
                        self._start(ss, "DELETE", keys, {}, {"retain": retain})


def _answering(handler: Callable[[ApiRequest], dict[str, Any]]) -> Callable[[ApiRequest], Any]:
    def answer(req: ApiRequest) -> Any:
        from wizard.sandbox import query_xml

        out = handler(req)
        return query_xml.respond(req, out) if req.protocol == "query" else out

    return answer


# --------------------------------------------------------------------------- moto stacks
def _deploy_stack(account: str, region: str, ss: StackSet, stack_id: str) -> str:
    """Create (or update) the instance's stack in the member account; rolled back on failure."""
    from moto.backends import get_backend

    from wizard.sandbox import cfn_resources

    cfn_resources.install()
    _install_json_templates()
    backend = get_backend("cloudformation")[account][region]
    if stack_id and stack_id in backend.stacks:
        backend.update_stack(stack_id, ss.template, None,
                             [{"ParameterKey": k, "ParameterValue": v}
                              for k, v in ss.parameters.items()], None)
        return stack_id
    name = f"StackSet-{ss.name}-{uuid.uuid4()}"
    try:
        stack = backend.create_stack(name=name, template=ss.template,
                                     parameters=dict(ss.parameters))
    except Exception:
        _rollback(backend, name)
        raise
    return str(stack.stack_id)


_JSON_INSTALLED = False


def _install_json_templates() -> None:
    """Let moto read a JSON template as JSON.

    moto parses every template with PyYAML first (pure Python: ~10 ms for the StackSet's
    template, per account); JSON is YAML's subset, so ``json.loads`` gives the same document,
    and 200 accounts no longer cost two seconds of parsing. YAML templates go the old way.
    """
    global _JSON_INSTALLED
    if _JSON_INSTALLED:
        return
    from moto.cloudformation.models import Stack

    yaml_parse = Stack.parse_template

    def parse_template(template: str) -> dict[str, Any]:
        if template.lstrip().startswith("{"):
            try:
                doc = json.loads(template)
            except ValueError:
                pass
            else:
                if isinstance(doc, dict):
                    return doc
        return yaml_parse(template)

    Stack.parse_template = staticmethod(parse_template)  # type: ignore[method-assign]
    _JSON_INSTALLED = True


def _rollback(backend: Any, name: str) -> None:
    """Undo what a failed stack created (CloudFormation rolls a failed instance back)."""
    for sid, stack in list(backend.stacks.items()):
        if stack.name == name:
            try:
                stack.delete()
            except Exception:  # what could not be deleted stays, as after a failed rollback
                pass
            backend.stacks.pop(sid, None)


def _delete_stack(account: str, region: str, stack_id: str) -> None:
    from moto.backends import get_backend

    backend = get_backend("cloudformation")[account][region]
    if stack_id in backend.stacks:
        backend.delete_stack(stack_id)


def _reason(exc: BaseException) -> str:
    message = str(getattr(exc, "message", "") or exc)
    code = str(getattr(exc, "error_type", "") or type(exc).__name__)
    return f"ResourceStatusReason: {message} (Error Code: {code})"


def _parse_template(body: str) -> dict[str, Any]:
    import yaml

    try:
        doc = json.loads(body)
    except ValueError:
        try:
            doc = yaml.safe_load(body)
        except yaml.YAMLError as exc:
            raise ServiceError("ValidationError", f"Template format error: {exc}") from None
    if not isinstance(doc, dict):
        raise ServiceError("ValidationError", "Template format error: not a template")
    return doc


def _tolerance(prefs: Mapping[str, Any], total: int) -> int:
    if prefs.get("FailureToleranceCount") is not None:
        return int(prefs["FailureToleranceCount"])
    if prefs.get("FailureTolerancePercentage") is not None:
        return int(total * int(prefs["FailureTolerancePercentage"]) / 100)
    return 0


def _page(rows: list[Any], p: Mapping[str, Any]) -> tuple[list[Any], str]:
    start = int(p.get("NextToken") or 0)
    size = min(int(p.get("MaxResults") or PAGE), PAGE)
    page = rows[start:start + size]
    return page, str(start + size) if start + size < len(rows) else ""


def _instance_summary(ss: StackSet, i: Instance) -> dict[str, Any]:
    out: dict[str, Any] = {
        "StackSetId": ss.id, "Region": i.region, "Account": i.account, "Status": i.status,
        "StackInstanceStatus": {"DetailedStatus": i.detailed},
    }
    for key, value in (("StackId", i.stack_id), ("StatusReason", i.reason),
                       ("OrganizationalUnitId", i.ou_id), ("LastOperationId", i.last_operation)):
        if value:
            out[key] = value
    return out
