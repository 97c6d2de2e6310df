"""Item 1 for the connector's own calls, on the embedded sandbox (the bare moto world has no
Serverless Application Repository): deploying AthenaDynamoDBConnector (the SAR change set, its
execution) and removing it (the stack, its log group), each with the same faults as
test_faults.py. The rest of the sandbox flow's calls are the ones test_faults.py covers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.reliability.conftest import Backoff
from tests.reliability.faults import MAX_ATTEMPTS, Fault, iam_action
from tests.reliability.footprint import journal_entries
from tests.reliability.world import _SESSIONS, make_engine, shared_loader
from wizard.engine import Engine
from wizard.errors import WizardError
from wizard.profile import SetupProfile, load_profile

OWNER, CONSUMER = "111111111111", "222222222222"
CAT = "acct1dynamodb"
STACK = f"serverlessrepo-{CAT}"
SPILL = f"xacct-sandbox-spill-{OWNER}"
OWN, CON, SHARE = "owner", "consumer", "owner-as-consumer"

CLEAN = {
    "apply": [
        (OWN, "serverlessrepo", "CreateCloudFormationChangeSet"),
        (OWN, "cloudformation", "ExecuteChangeSet"), (OWN, "athena", "CreateDataCatalog"),
        (OWN, "lambda", "AddPermission"), (OWN, "s3", "PutBucketPolicy"),
        (CON, "iam", "PutUserPolicy"), (CON, "iam", "CreateRole"), (CON, "iam", "PutRolePolicy"),
        (SHARE, "athena", "CreateDataCatalog")],
    "destroy": [
        (CON, "athena", "DeleteDataCatalog"), (CON, "iam", "DeleteRolePolicy"),
        (CON, "iam", "DeleteRole"), (CON, "iam", "DeleteUserPolicy"),
        (OWN, "s3", "DeleteBucketPolicy"), (OWN, "lambda", "RemovePermission"),
        (OWN, "athena", "DeleteDataCatalog"), (OWN, "cloudformation", "DeleteStack"),
        (OWN, "logs", "DeleteLogGroup")],
}
POINTS = [("apply", "serverlessrepo", "CreateCloudFormationChangeSet"),
          ("apply", "cloudformation", "ExecuteChangeSet"),
          ("destroy", "cloudformation", "DeleteStack"),
          ("destroy", "logs", "DeleteLogGroup")]
IDS = [f"{phase}-{op}" for phase, _s, op in POINTS]


@pytest.fixture(scope="module")
def _sandbox() -> Iterator[Any]:
    from wizard.sandbox import Sandbox

    sb = Sandbox().start()
    try:
        yield sb
    finally:
        sb.stop()
        _SESSIONS.clear()


class Setup:
    """The sandbox's example setup: profile, snapshots, the journal of one test."""

    def __init__(self, sb: Any) -> None:
        self.sb = sb
        self.clients: dict[tuple[str, str], Any] = {}
        self.baseline = self.snapshot()
        self._applied: dict[str, Any] | None = None

    def profile(self) -> SetupProfile:
        return load_profile(self.sb.example_profile)

    def engine(self, fault: Fault | None = None) -> Engine:
        if fault is None:
            return make_engine(self.profile())
        return make_engine(self.profile(), hooks=fault.hooks, recorder=fault.recorder)

    @property
    def journal(self) -> Path:
        return Engine(self.profile()).journal_path

    def client(self, profile: str, service: str) -> Any:
        """Cached until the next reset (assumed-role keys die with it)."""
        key = (profile, service)
        if key not in self.clients:
            session = boto3.Session(profile_name=profile)
            session._session.register_component("data_loader", shared_loader())
            self.clients[key] = session.client(service)
        return self.clients[key]

    def snapshot(self) -> dict[str, Any]:
        cfn = self.client("sandbox-owner", "cloudformation")
        lam = self.client("sandbox-owner", "lambda")
        out: dict[str, Any] = {
            "stacks": sorted((s["StackName"], s["StackStatus"]) for s in cfn.list_stacks()[
                "StackSummaries"] if s["StackStatus"] != "DELETE_COMPLETE"),
            "functions": sorted(f["FunctionName"] for f in lam.list_functions()["Functions"]),
            "log-groups": sorted(g["logGroupName"] for g in self.client(
                "sandbox-owner", "logs").describe_log_groups()["logGroups"]),
        }
        try:
            out["lambda-policy"] = json.loads(lam.get_policy(FunctionName=CAT)["Policy"])
        except lam.exceptions.ResourceNotFoundException:
            out["lambda-policy"] = None
        s3 = self.client("sandbox-owner", "s3")
        try:
            out["bucket-policy"] = json.loads(s3.get_bucket_policy(Bucket=SPILL)["Policy"])
        except s3.exceptions.ClientError:
            out["bucket-policy"] = None
        for side in ("sandbox-owner", "sandbox-consumer"):
            out[f"{side}.catalogs"] = sorted(
                c["CatalogName"] for c in self.client(side, "athena").list_data_catalogs()[
                    "DataCatalogsSummary"])
        iam = self.client("sandbox-consumer", "iam")
        out["analyst"] = iam.list_user_policies(UserName="analyst")["PolicyNames"]
        out["roles"] = sorted(r["RoleName"] for r in iam.list_roles()["Roles"])
        return out

    def applied(self) -> dict[str, Any]:
        if self._applied is None:
            self.engine().apply()
            self._applied = self.snapshot()
            self.engine().destroy()
            assert self.at_baseline()
        return self._applied

    def at_baseline(self) -> bool:
        return self.snapshot() == self.baseline

    def assert_journal_matches(self, stopped_at: str = "") -> None:
        """The connector's entry stands for its stack and the function's log group (destroy
        removes both): either existing means it must be journaled; done means one exists -
        except when destroy stopped at DeleteLogGroup, after the stack was gone: the entry
        stays for the log group, which a function never invoked does not have."""
        entries = journal_entries(self.journal)
        key = ("connector", "owner", f"stack {STACK}")
        snap = self.snapshot()
        stack = [s for s in snap["stacks"] if s[0] == STACK]
        logs = [g for g in snap["log-groups"] if g == f"/aws/lambda/{CAT}"]
        if stack or logs:
            assert key in entries, f"{stack or logs} exists but is not journaled"
        if entries.get(key) == "done" and stopped_at != "DeleteLogGroup":
            assert logs or (stack and stack[0][1].endswith("COMPLETE")), (stack, logs)


_SETUP: dict[int, Setup] = {}


@pytest.fixture
def setup(_sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> Setup:
    _sandbox.reset()
    _SESSIONS.clear()
    for k, v in _sandbox.env().items():
        monkeypatch.setenv(k, v)
    if id(_sandbox) not in _SETUP:
        _SETUP[id(_sandbox)] = Setup(_sandbox)
    setup = _SETUP[id(_sandbox)]
    setup.clients.clear()
    return setup


def _fault(service: str, op: str, schedule: list[str], persistent: bool = False) -> Fault:
    return Fault(OWN, service, op, schedule, persistent, OWNER)


def _calls(e: Engine) -> list[tuple[str, str, str]]:
    return [(c.account.split(":", 1)[0], c.service, c.operation) for c in e.recorder.mutating()]


def _run(setup: Setup, phase: str, fault: Fault | None = None) -> Engine:
    e = setup.engine(fault)
    e.apply() if phase == "apply" else e.destroy()
    return e


def test_the_connector_calls_are_discovered_from_a_clean_sandbox_run(setup: Setup) -> None:
    assert _calls(_run(setup, "apply")) == CLEAN["apply"]
    assert _calls(_run(setup, "destroy")) == CLEAN["destroy"]
    assert setup.at_baseline()
    covered = {(ph, s, op) for ph, s, op in POINTS}
    others = {(ph, s, op) for ph, calls in CLEAN.items() for _a, s, op in calls} - covered
    from tests.reliability.test_faults import CLEAN as WORLD

    in_world = {(ph, s, op) for (_sc, ph), calls in WORLD.items() for _a, s, op in calls}
    assert others <= in_world, "every other call of this flow is faulted in test_faults.py"


@pytest.mark.parametrize(("phase", "service", "op"), POINTS, ids=IDS)
def test_transient_faults_at_the_connector_are_retried(
        setup: Setup, backoff: Backoff, phase: str, service: str, op: str) -> None:
    schedule = ["throttle", "throttle", "refused", "lost"]
    if op == "CreateCloudFormationChangeSet":
        schedule = schedule[:-1]  # see test_lost_change_set_answer_... below
    fault = _fault(service, op, schedule)
    applied = setup.applied()
    first = _run(setup, "apply", fault if phase == "apply" else None)
    assert setup.snapshot() == applied
    second = _run(setup, "destroy", fault if phase == "destroy" else None)
    assert setup.at_baseline() and not setup.journal.exists()
    assert fault.injected == schedule and fault.attempts == len(schedule) + 1
    assert _calls(first if phase == "apply" else second) == CLEAN[phase]
    assert all(0 <= d <= 20 for d in backoff.delays)


def test_lost_change_set_answer_is_retried_and_the_run_completes(setup: Setup) -> None:
    fault = _fault("serverlessrepo", "CreateCloudFormationChangeSet", ["lost"])
    e = make_engine(setup.profile(), hooks=fault.hooks, recorder=fault.recorder,
                    stack_timeout=1.0)
    try:
        e.apply()
        assert setup.snapshot() == setup.applied()
        assert fault.injected, "the change set's answer was not lost: nothing was tested"
    finally:
        _run(setup, "destroy")
    assert setup.at_baseline()


@pytest.mark.parametrize(("phase", "service", "op"), POINTS, ids=IDS)
def test_access_denied_at_the_connector_stops_and_the_run_resumes(
        setup: Setup, phase: str, service: str, op: str) -> None:
    applied = setup.applied()
    if phase == "destroy":
        _run(setup, "apply")
    fault = _fault(service, op, ["denied"], persistent=True)
    with pytest.raises(WizardError) as info:
        _run(setup, phase, fault)
    assert fault.attempts == 1
    assert iam_action(service, op) in info.value.fix
    setup.assert_journal_matches(op)
    _run(setup, phase)  # the same command again
    if phase == "apply":
        assert setup.snapshot() == applied
        _run(setup, "destroy")
    assert setup.at_baseline() and not setup.journal.exists()


@pytest.mark.parametrize(("phase", "service", "op"), POINTS, ids=IDS)
def test_persistent_faults_at_the_connector_are_bounded_and_can_be_undone(
        setup: Setup, phase: str, service: str, op: str) -> None:
    applied = setup.applied()
    if phase == "destroy":
        _run(setup, "apply")
    throttled = _fault(service, op, ["throttle"], persistent=True)
    with pytest.raises(WizardError) as info:
        _run(setup, phase, throttled)
    assert throttled.attempts == MAX_ATTEMPTS and "throttled" in info.value.cause
    timing_out = throttled.rearm(["timeout"], persistent=True)
    with pytest.raises(WizardError) as info:
        _run(setup, phase, timing_out)
    assert timing_out.attempts == MAX_ATTEMPTS and "could not be reached" in info.value.cause
    setup.assert_journal_matches(op)
    if phase == "apply":
        _run(setup, "destroy")  # destroy after the partial apply
    else:
        _run(setup, "apply")  # apply after the partial destroy
        assert setup.snapshot() == applied
        _run(setup, "destroy")
    assert setup.at_baseline() and not setup.journal.exists()
