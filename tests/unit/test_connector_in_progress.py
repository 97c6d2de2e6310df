"""A stack left CREATE_IN_PROGRESS by a killed run is waited for before anything is planned
(the sandbox finishes stacks instantly, so this uses a scripted CloudFormation client)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from botocore.exceptions import WaiterError

from tests.support.moto_accounts import example_profile
from wizard.journal import Journal
from wizard.steps.base import Context
from wizard.steps.connector import ConnectorStep


class ScriptedCfn:
    """describe_stacks answers from a script; the waiter says 'not yet' until it runs out."""

    def __init__(self, statuses: list[str]) -> None:
        self.statuses = statuses
        self.waits: list[str] = []

    def describe_stacks(self, **_: Any) -> dict[str, Any]:
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return {"Stacks": [{"StackName": "serverlessrepo-acct1dynamodb", "StackStatus": status,
                            "Tags": [], "Parameters": []}]}

    def describe_stack_events(self, **_: Any) -> dict[str, Any]:
        return {"StackEvents": []}

    def get_waiter(self, name: str) -> Any:
        cfn = self

        class _Waiter:
            def wait(self, **_: Any) -> None:
                cfn.waits.append(name)
                if cfn.statuses[0].endswith("_IN_PROGRESS"):
                    cfn.statuses.pop(0)
                    raise WaiterError(name, "Max attempts exceeded", {})

        return _Waiter()


class FakeAccount:
    label = "owner"

    def __init__(self, cfn: ScriptedCfn) -> None:
        self.cfn = cfn

    def client(self, service: str) -> Any:
        assert service == "cloudformation"
        return self.cfn


def test_a_stack_still_being_created_is_waited_for(tmp_path: Path) -> None:
    profile = example_profile(existing=False)
    cfn = ScriptedCfn(["CREATE_IN_PROGRESS", "CREATE_IN_PROGRESS", "CREATE_COMPLETE"])
    logs: list[str] = []
    ctx = Context(profile=profile, owner=FakeAccount(cfn), consumers={},  # type: ignore[arg-type]
                  journal=Journal(tmp_path / "j.json"), sleep=lambda s: None,
                  emit=lambda e: logs.append(e.message))
    stack = ConnectorStep(ctx)._stack()
    assert stack is not None and stack["StackStatus"] == "CREATE_COMPLETE"
    assert cfn.waits and set(cfn.waits) == {"stack_create_complete"}
    assert any("waiting for it to settle" in m for m in logs)


def test_a_settled_stack_is_not_waited_for(tmp_path: Path) -> None:
    cfn = ScriptedCfn(["UPDATE_COMPLETE"])
    ctx = Context(profile=example_profile(existing=False), owner=FakeAccount(cfn),  # type: ignore[arg-type]
                  consumers={}, journal=Journal(tmp_path / "j.json"))
    assert ConnectorStep(ctx)._stack()["StackStatus"] == "UPDATE_COMPLETE"  # type: ignore[index]
    assert cfn.waits == []
