"""CloudFormation's ExecuteChangeSet with the status check moto skips.

AWS executes a change set once: a second ExecuteChangeSet (for instance botocore re-sending a
request whose response was lost) fails with InvalidChangeSetStatus, while moto applies the
change set again. The wizard must cope with the real answer (wizard/steps/connector.py), so
the sandbox gives it.
"""

from __future__ import annotations

from typing import Any

from wizard.sandbox.layer import ApiRequest, ServiceError


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
