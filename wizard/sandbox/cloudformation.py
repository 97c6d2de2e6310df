"""CloudFormation's ExecuteChangeSet with the status check moto skips.

AWS executes a change set once: a second ExecuteChangeSet (for instance botocore re-sending a
request whose response was lost) fails with InvalidChangeSetStatus, while moto applies the
change set again. The wizard must cope with the real answer (wizard/steps/connector.py), so
the sandbox gives it.

Also what an upgrade needs and moto lacks: a change set's per-resource changes as
CloudFormation describes them (Replacement, Details), a replaced resource really replaced,
and the stack's tags following the change set it executed.
"""

from __future__ import annotations

import re
from typing import Any

from wizard.sandbox.layer import ApiRequest, ApiResponse, ServiceError


def _change_set(account: str, region: str, name: str) -> Any:
    """The change set ExecuteChangeSet would run (moto's own lookup, by ARN or name)."""
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.models import cloudformation_backends

    try:
        return cloudformation_backends[account][region].describe_change_set(name)
    except ValidationError:
        return None


def execute_change_set(req: ApiRequest) -> None:
    """Refuse to execute a change set that is not AVAILABLE; moto executes the others."""
    name = str(req.params.get("ChangeSetName", ""))
    cs = _change_set(req.caller.account_id, req.region, name)
    if cs is None or cs.execution_status in (None, "AVAILABLE"):
        return None  # moto answers (including its own error for an unknown change set)
    raise ServiceError(
        "InvalidChangeSetStatus",
        f"ChangeSet [{cs.change_set_id}] cannot be executed in its current status of "
        f"[{cs.execution_status}]", status=400)


# --------------------------------------------------------------------------- change set details
# moto lists a change set's resources with their action only, and misses a resource whose
# template is unchanged but whose parameters changed. CloudFormation also says whether a
# modification replaces the resource, and why (Details): that is what a preview shows before
# an upgrade, so the sandbox computes it the way CloudFormation does, per property.

# Properties whose change makes CloudFormation create a new physical resource (the resource
# types' "Update requires: Replacement"), for the types the connector's template has.
REPLACING_PROPERTIES: dict[str, frozenset[str]] = {
    "AWS::IAM::Role": frozenset({"Path", "RoleName"}),
    "AWS::Lambda::Function": frozenset({"FunctionName", "PackageType"}),
    "AWS::S3::Bucket": frozenset({"BucketName"}),
    "AWS::Logs::LogGroup": frozenset({"LogGroupName", "LogGroupClass"}),
}
_CHANGES_ATTR = "_xacct_resource_changes"


def _resolve(value: Any, params: dict[str, Any]) -> Any:
    """``value`` with parameter references replaced by the parameters' values (other intrinsic
    functions are kept as written: they are compared as written)."""
    if isinstance(value, dict):
        if set(value) == {"Ref"} and value["Ref"] in params:
            return params[value["Ref"]]
        if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
            text = value["Fn::Sub"]
            for name, val in params.items():
                text = text.replace("${" + name + "}", str(val))
            return {"Fn::Sub": text}
        return {k: _resolve(v, params) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, params) for v in value]
    return value


def _refs(value: Any) -> set[str]:
    """Logical ids and parameter names a value refers to (Ref, Fn::GetAtt, ${} in Fn::Sub)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "Ref" and isinstance(v, str):
                found.add(v)
            elif k == "Fn::GetAtt" and isinstance(v, list) and v:
                found.add(str(v[0]))
            elif k == "Fn::Sub" and isinstance(v, str):
                found |= set(re.findall(r"\$\{([^}.!]+)", v))
            else:
                found |= _refs(v)
    elif isinstance(value, list):
        for v in value:
            found |= _refs(v)
    return found


def _property_details(rtype: str, old: dict[str, Any], new: dict[str, Any],
                      old_params: dict[str, Any], new_params: dict[str, Any],
                      replaced: set[str]) -> list[dict[str, Any]]:
    """One Detail per property that changes: directly, through a parameter, or through an
    attribute of a resource being replaced (then CloudFormation only knows at run time)."""
    replacing = REPLACING_PROPERTIES.get(rtype, frozenset())
    old_props, new_props = old.get("Properties", {}) or {}, new.get("Properties", {}) or {}
    details: list[dict[str, Any]] = []
    for name in sorted(set(old_props) | set(new_props)):
        before, after = old_props.get(name), new_props.get(name)
        recreation = "Always" if name in replacing else "Never"
        target = {"Attribute": "Properties", "Name": name, "RequiresRecreation": recreation}
        if before != after:
            details.append({"Target": target, "Evaluation": "Static",
                            "ChangeSource": "DirectModification"})
            continue
        changed = [p for p in sorted(_refs(after)) if p in new_params
                   and _resolve({"Ref": p}, old_params) != _resolve({"Ref": p}, new_params)]
        for param in changed:
            details.append({"Target": target, "Evaluation": "Static",
                            "ChangeSource": "ParameterReference", "CausingEntity": param})
        for logical in sorted(_refs(after) & replaced):
            details.append({"Target": {**target, "RequiresRecreation":
                                       "Conditionally" if name in replacing else "Never"},
                            "Evaluation": "Dynamic", "ChangeSource": "ResourceAttribute",
                            "CausingEntity": f"{logical}.Arn"})
    return details


def resource_changes(cs: Any) -> list[dict[str, Any]]:
    """CloudFormation's ``Changes`` of a change set, computed once (before it executes) and
    kept on moto's change set object."""
    cached = getattr(cs, _CHANGES_ATTR, None)
    if cached is not None:
        return list(cached)
    new_resources: dict[str, Any] = (cs.template_dict or {}).get("Resources", {}) or {}
    rmap = cs.stack.resource_map
    if cs.change_set_type == "CREATE" or not cs.stack.template:
        old_resources: dict[str, Any] = {}
        old_params: dict[str, Any] = {}
    else:
        old_resources = dict(getattr(rmap, "_resource_json_map", {}) or {})
        old_params = dict(getattr(rmap, "input_parameters", {}) or {})
    new_params = dict(cs.parameters or {})
    parsed = getattr(rmap, "_parsed_resources", {}) or {}

    def physical(logical: str) -> str | None:
        res = parsed.get(logical)
        return getattr(res, "physical_resource_id", None) if res is not None else None

    changes: list[dict[str, Any]] = []
    # resources replaced by a static change first: others may refer to their new attributes
    replaced: set[str] = set()
    for logical, new in new_resources.items():
        old = old_resources.get(logical)
        if old is None or old.get("Type") != new.get("Type"):
            continue
        static = _property_details(new["Type"], _resolve(old, old_params),
                                   _resolve(new, new_params), {}, {}, set())
        if any(d["Target"]["RequiresRecreation"] == "Always" for d in static):
            replaced.add(logical)
    for logical, new in new_resources.items():
        old = old_resources.get(logical)
        if old is None:
            changes.append({"Type": "Resource", "ResourceChange": {
                "Action": "Add", "LogicalResourceId": logical, "ResourceType": new["Type"],
                "Scope": [], "Details": []}})
            continue
        details = _property_details(new["Type"], old, new, old_params, new_params, replaced)
        if not details:
            continue
        if logical in replaced:
            replacement = "True"
        elif any(d["Target"]["RequiresRecreation"] == "Conditionally" for d in details):
            replacement = "Conditional"
        else:
            replacement = "False"
        change: dict[str, Any] = {
            "Action": "Modify", "LogicalResourceId": logical, "ResourceType": new["Type"],
            "Replacement": replacement, "Scope": ["Properties"], "Details": details}
        if physical(logical):
            change["PhysicalResourceId"] = physical(logical)
        changes.append({"Type": "Resource", "ResourceChange": change})
    for logical, old in old_resources.items():
        if logical not in new_resources:
            change = {"Action": "Remove", "LogicalResourceId": logical,
                      "ResourceType": old.get("Type", ""), "Scope": [], "Details": []}
            if physical(logical):
                change["PhysicalResourceId"] = physical(logical)
            changes.append({"Type": "Resource", "ResourceChange": change})
    setattr(cs, _CHANGES_ATTR, changes)
    return list(changes)


def _answer(req: ApiRequest, output: dict[str, Any]) -> ApiResponse | dict[str, Any]:
    """The output in the client's protocol: the sandbox's codec writes JSON ones; the query
    protocol's XML is written by moto's own serializer, as moto writes its answers."""
    if req.protocol != "query":
        return output
    from moto.core.serialize import get_serializer_class
    from moto.core.utils import get_service_model

    operation = get_service_model("cloudformation").operation_model(req.operation)
    written = get_serializer_class("cloudformation", "query")(operation).serialize(output)
    return ApiResponse(int(written["status_code"]), str(written["body"]).encode("utf-8"),
                       list(dict(written["headers"]).items()))


def describe_change_set(req: ApiRequest) -> ApiResponse | dict[str, Any] | None:
    """DescribeChangeSet with CloudFormation's full ``Changes`` (Replacement, Scope, Details);
    an unknown change set is left to moto (its own error)."""
    name = str(req.params.get("ChangeSetName", ""))
    cs = _change_set(req.caller.account_id, req.region, name)
    if cs is None:
        return None
    stack_name = str(req.params.get("StackName") or "")
    if stack_name and stack_name not in (cs.stack_name, cs.stack_id):
        return None
    out: dict[str, Any] = {
        "ChangeSetName": cs.change_set_name, "ChangeSetId": cs.change_set_id,
        "StackId": cs.stack_id, "StackName": cs.stack_name,
        "Parameters": [{"ParameterKey": k, "ParameterValue": str(v)}
                       for k, v in (cs.parameters or {}).items()],
        "CreationTime": cs.creation_time,
        "ExecutionStatus": cs.execution_status or "UNAVAILABLE",
        "Status": cs.status or "CREATE_PENDING",
        "NotificationARNs": list(cs.notification_arns or []),
        "Tags": [{"Key": k, "Value": v} for k, v in (cs.tags or {}).items()],
        "Changes": [] if cs.status == "FAILED" else resource_changes(cs),
    }
    if cs.description:
        out["Description"] = cs.description
    if cs.status_reason:
        out["StatusReason"] = cs.status_reason
    return _answer(req, out)


def execute_change_set_replacing(req: ApiRequest) -> None:
    """ExecuteChangeSet: the status check above, then what moto skips on an update.

    moto updates a resource in place even when CloudFormation would replace it (a role whose
    Path changes keeps its name and ARN). A resource the change set replaces is deleted here
    and left out of the stack's current resources, so moto's update creates it anew (with a
    new physical id) before it updates the resources that refer to it.
    """
    execute_change_set(req)
    name = str(req.params.get("ChangeSetName", ""))
    cs = _change_set(req.caller.account_id, req.region, name)
    if cs is None or cs.change_set_type != "UPDATE" or cs.execution_status != "AVAILABLE":
        return None
    replaced = [c["ResourceChange"]["LogicalResourceId"] for c in resource_changes(cs)
                if c["ResourceChange"].get("Replacement") == "True"]
    rmap = cs.stack.resource_map
    for logical in replaced:
        old_json = rmap._resource_json_map.get(logical)
        parsed = rmap._parsed_resources.pop(logical, None)
        if parsed is not None and old_json is not None:
            rmap._delete_resource(parsed, old_json)
        rmap._resource_json_map = {k: v for k, v in rmap._resource_json_map.items()
                                   if k != logical}
    return None


def after_execute_change_set(req: ApiRequest) -> None:
    """What CloudFormation does after an update that moto does not: the stack takes the change
    set's tags (SAR's ``serverlessrepo:semanticVersion`` names the version now deployed), and
    the stack's other change sets, made for the state before, are deleted."""
    name = str(req.params.get("ChangeSetName", ""))
    cs = _change_set(req.caller.account_id, req.region, name)
    if cs is None or cs.execution_status != "EXECUTE_COMPLETE":
        return
    from moto.cloudformation.models import cloudformation_backends

    if cs.tags:
        cs.stack.tags = dict(cs.tags)
    backend = cloudformation_backends[req.caller.account_id][req.region]
    for cs_id, other in list(backend.change_sets.items()):
        if other is not cs and other.stack_id == cs.stack_id:
            del backend.change_sets[cs_id]
