"""Issue 14 on the sandbox: version drift, the upgrade preview, upgrade + test query, rollback
of a release that breaks queries, a withdrawn version, destroy after an upgrade, and upgrades
killed half way - through the engine and the real CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.processes import HOOK_DIR, REPO
from tests.sandbox.support import Accounts
from wizard.cli import main
from wizard.engine import Engine
from wizard.errors import UpgradeFailed
from wizard.journal import Journal
from wizard.profile import SetupProfile, load_profile, save_profile
from wizard.sandbox import Sandbox

CAT = "acct1dynamodb"
STACK = f"serverlessrepo-{CAT}"
OLD, BROKEN, NEWEST, WITHDRAWN = "2026.8.1", "2026.21.1", "2026.33.1", "2025.45.1"


def profile_at(sandbox: Sandbox, version: str, **connector: Any) -> SetupProfile:
    base = load_profile(sandbox.example_profile)
    return replace(base, connector=replace(base.connector, application_version=version,
                                           **connector))


def engine(profile: SetupProfile) -> Engine:
    return Engine(profile, poll_delay=0.05)


def deployed(accounts: Accounts) -> str:
    stack = accounts.owner.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]
    return {t["Key"]: t["Value"] for t in stack["Tags"]}["serverlessrepo:semanticVersion"]


def change_sets(accounts: Accounts) -> list[dict[str, Any]]:
    """The change sets left on the connector's stack, not executed (an executed one stays
    listed, as EXECUTE_COMPLETE)."""
    summaries = accounts.owner.client("cloudformation").list_change_sets(
        StackName=STACK)["Summaries"]
    return [s for s in summaries if s.get("StackName") == STACK
            and s.get("ExecutionStatus") != "EXECUTE_COMPLETE"]


def stack_change(plan: Any) -> Any:
    return next(c for c in plan.changes if c.step == "connector")


def function_config(accounts: Accounts) -> dict[str, Any]:
    return accounts.owner.client("lambda").get_function(FunctionName=CAT)["Configuration"]


def test_latest_shows_the_drift_and_plans_the_upgrade_with_its_preview(
        sandbox: Sandbox, accounts: Accounts) -> None:
    engine(profile_at(sandbox, OLD)).apply()
    assert deployed(accounts) == OLD

    plan = engine(profile_at(sandbox, "latest")).plan()
    ch = stack_change(plan)
    assert ch.action == "update"
    assert f"upgrade the connector from {OLD} to {NEWEST}" in ch.summary
    assert "latest" in ch.summary
    doc = ch.to_json()
    assert doc["versions"]["deployed"] == OLD
    assert doc["versions"]["newest"] == NEWEST
    assert doc["versions"]["deployed_offered"] is True
    assert WITHDRAWN not in doc["versions"]["offered"]
    # the preview is the template's real differences between the two versions
    rows = {r["logical_id"]: r for r in doc["preview"]}
    assert set(rows) == {"FunctionRole", "ConnectorConfig"}
    assert (rows["FunctionRole"]["action"], rows["FunctionRole"]["replacement"]) == (
        "Modify", "True")
    assert any(c.startswith("Path") and "recreates" in c for c in rows["FunctionRole"]["causes"])
    assert rows["ConnectorConfig"]["replacement"] == "False"
    assert any(c.startswith("Environment") for c in rows["ConnectorConfig"]["causes"])
    # a plan changes nothing, change sets included
    assert change_sets(accounts) == []
    assert deployed(accounts) == OLD


def test_a_pinned_version_never_moves(sandbox: Sandbox, accounts: Accounts) -> None:
    engine(profile_at(sandbox, OLD)).apply()
    plan = engine(profile_at(sandbox, OLD)).plan()
    ch = stack_change(plan)
    assert ch.action == "none"
    assert f"pinned; {NEWEST} is the newest" in ch.summary
    assert ch.to_json()["versions"]["newer_available"] is True
    changes = engine(profile_at(sandbox, OLD)).apply()
    assert {c.action for c in changes if c.step == "connector"} == {"none"}
    assert deployed(accounts) == OLD


def test_a_parameter_change_is_previewed_then_applied_and_tested(
        sandbox: Sandbox, accounts: Accounts) -> None:
    engine(profile_at(sandbox, NEWEST)).apply()
    profile = profile_at(sandbox, NEWEST, lambda_memory=1024)
    ch = stack_change(engine(profile).plan())
    assert ch.action == "update" and "LambdaMemory 3008 -> 1024" in ch.summary
    (row,) = ch.data["preview"]
    assert (row["logical_id"], row["replacement"]) == ("ConnectorConfig", "False")
    assert row["causes"] == ["MemorySize (parameter LambdaMemory)"]
    events: list[Any] = []
    e = Engine(profile, poll_delay=0.05, on_event=events.append)
    e.apply()
    assert function_config(accounts)["MemorySize"] == 1024
    assert any(ev.kind == "query-state" and ev.message == "SUCCEEDED" for ev in events)
    entry = e.journal.for_step("connector")[0]
    assert entry.data["upgrade"]["state"] == "verified"
    assert entry.data["upgrade"]["previous"]["parameters"]["LambdaMemory"] == "3008"
    assert change_sets(accounts) == []


def test_upgrade_to_the_newest_replaces_the_role_and_the_query_passes(
        sandbox: Sandbox, accounts: Accounts) -> None:
    engine(profile_at(sandbox, OLD)).apply()
    old_role = function_config(accounts)["Role"]
    events: list[Any] = []
    e = Engine(profile_at(sandbox, "latest"), poll_delay=0.05, on_event=events.append)
    changes = e.apply()
    assert ("connector", "update") in {(c.step, c.action) for c in changes}
    assert deployed(accounts) == NEWEST
    config = function_config(accounts)
    assert config["Role"] != old_role and "/athena-federation/" in config["Role"]
    assert config["Environment"]["Variables"]["athena_connector_log_level"] == "WARN"
    assert any(ev.kind == "stack-event" for ev in events)  # the update's events streamed
    entry = e.journal.for_step("connector")[0]
    assert entry.data["upgrade"] == {**entry.data["upgrade"], "from": OLD, "to": NEWEST,
                                     "state": "verified"}
    assert change_sets(accounts) == []
    assert engine(profile_at(sandbox, "latest")).verify().ok
    assert stack_change(engine(profile_at(sandbox, "latest")).plan()).action == "none"


def test_a_release_that_breaks_queries_is_rolled_back_and_the_query_passes_again(
        sandbox: Sandbox, accounts: Accounts) -> None:
    engine(profile_at(sandbox, OLD, lambda_timeout=600)).apply()
    e = engine(profile_at(sandbox, BROKEN))
    with pytest.raises(UpgradeFailed) as err:
        e.apply(rollback_on_failure=True)
    assert err.value.rolled_back
    assert f"rolled back to {OLD}" in str(err.value)
    assert "NoSuchMethodError" in str(err.value)
    assert deployed(accounts) == OLD
    assert function_config(accounts)["Timeout"] == 600  # the previous parameters too
    assert engine(profile_at(sandbox, OLD)).verify().ok
    entry = e.journal.for_step("connector")[0]
    assert entry.data["rolled_back_from"] == BROKEN
    assert entry.data["upgrade"]["state"] == "rolled-back"


def test_without_the_flag_the_failure_says_how_back_and_rollback_connector_does_it(
        sandbox: Sandbox, accounts: Accounts) -> None:
    engine(profile_at(sandbox, OLD)).apply()
    with pytest.raises(UpgradeFailed) as err:
        engine(profile_at(sandbox, BROKEN)).apply()
    assert not err.value.rolled_back and err.value.rollback_to == OLD
    assert "--rollback-on-failure" in err.value.fix
    assert deployed(accounts) == BROKEN
    results = engine(profile_at(sandbox, BROKEN)).rollback_connector()
    assert deployed(accounts) == OLD
    assert {r.state for r in results.values()} == {"SUCCEEDED"}


def test_latest_holds_back_from_a_version_rolled_back_here(
        sandbox: Sandbox, accounts: Accounts) -> None:
    """With latest, the wizard does not re-apply a release that failed here on every run."""
    sandbox.sar.withdrawn.add(NEWEST)  # BROKEN is the newest for this test
    engine(profile_at(sandbox, OLD)).apply()
    with pytest.raises(UpgradeFailed):
        engine(profile_at(sandbox, "latest")).apply(rollback_on_failure=True)
    plan = engine(profile_at(sandbox, "latest")).plan()
    assert stack_change(plan).action == "none"
    assert any("upgrade held" in f.message and BROKEN in f.message for f in plan.findings)


def test_a_withdrawn_deployed_version_is_reported_before_the_upgrade(
        sandbox: Sandbox, accounts: Accounts) -> None:
    sandbox.sar.withdrawn.discard(WITHDRAWN)
    engine(profile_at(sandbox, WITHDRAWN)).apply()
    sandbox.sar.withdrawn.add(WITHDRAWN)

    # pinned to it, the stack just stays: nothing to deploy, nothing refused
    pinned = engine(profile_at(sandbox, WITHDRAWN)).plan()
    assert not pinned.blocking
    assert stack_change(pinned).action == "none"
    assert "no longer offered" in stack_change(pinned).summary

    plan = engine(profile_at(sandbox, BROKEN)).plan()
    ch = stack_change(plan)
    assert ch.to_json()["versions"]["deployed_offered"] is False
    warning = next(f for f in plan.findings if "no longer offered" in f.message)
    assert warning.severity == "warning"
    assert WITHDRAWN in warning.message and "no rolling back" in warning.message
    assert not plan.blocking  # said, not refused: the user may accept it

    with pytest.raises(UpgradeFailed) as err:
        engine(profile_at(sandbox, BROKEN)).apply(rollback_on_failure=True)
    assert not err.value.rolled_back and err.value.rollback_to is None
    assert "no longer offered" in err.value.fix
    assert deployed(accounts) == BROKEN


def test_destroy_restores_a_stack_it_did_not_create_to_its_version(
        sandbox: Sandbox, accounts: Accounts) -> None:
    from tests.sandbox.test_sar_versions import deploy

    deploy(accounts.owner, OLD)  # another admin's connector, named as this setup's
    e = engine(profile_at(sandbox, NEWEST))
    e.apply()
    assert deployed(accounts) == NEWEST
    (entry,) = e.journal.for_step("connector")
    assert entry.kind == "changed" and entry.prior["version"] == OLD
    plan = engine(profile_at(sandbox, NEWEST)).plan_destroy()
    assert any(c.step == "connector" and f"restore the connector stack to {OLD}" in c.summary
               for c in plan.changes)
    engine(profile_at(sandbox, NEWEST)).destroy()
    assert deployed(accounts) == OLD  # restored, not deleted


def test_cli_plan_shows_drift_and_preview_and_apply_rolls_back(
        sandbox: Sandbox, accounts: Accounts, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    old = tmp_path / "old.yaml"
    save_profile(profile_at(sandbox, OLD), old)
    broken = tmp_path / "broken.yaml"
    save_profile(profile_at(sandbox, BROKEN), broken)
    assert main(["apply", str(old), "--yes"]) == 0
    capsys.readouterr()

    assert main(["plan", str(broken)]) == 0
    out = capsys.readouterr().out
    assert f"versions: deployed {OLD} (still offered), newest {NEWEST}" in out
    assert "preview (CloudFormation change set):" in out
    assert "~ Modify ConnectorConfig (AWS::Lambda::Function) replacement: False" in out

    assert main(["plan", str(broken), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) >= {"changes", "findings", "pending"}
    ch = next(c for c in doc["changes"] if c["step"] == "connector")
    assert ch["action"] == "update" and ch["versions"]["target"] == BROKEN
    assert {r["logical_id"] for r in ch["preview"]} == {"ConnectorConfig"}

    assert main(["apply", str(broken), "--yes", "--rollback-on-failure"]) == 1
    err = capsys.readouterr().err
    assert f"rolled back to {OLD}" in err and "passes again" in err
    assert deployed(accounts) == OLD
    assert main(["verify", str(old)]) == 0


# --------------------------------------------------------------------------- killed upgrades
def run_paused(sandbox: Sandbox, event: str, *args: str) -> subprocess.Popen[bytes]:
    """The real CLI in a child process, stopped at a botocore event (pause_hook/) and killed."""
    marker = Path(os.environ["XACCT_WIZARD_HOME"]) / "paused.pid"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(sandbox.env())
    env.update({"PYTHONPATH": os.pathsep.join([str(HOOK_DIR), str(REPO)]),
                "XW_PAUSE_AT": event, "XW_PAUSE_MARKER": str(marker)})
    proc = subprocess.Popen([sys.executable, "-m", "wizard", *args], env=env, cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not marker.exists():
        if proc.poll() is not None:
            raise AssertionError(f"exited before pausing: {proc.stderr.read().decode()}")  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "the child never paused"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stderr.close()  # type: ignore[union-attr]
    marker.unlink()
    return proc


def journal_entry(profile: SetupProfile) -> Any:
    return Journal(engine(profile).journal_path).for_step("connector")[0]


def test_killed_after_the_broken_upgrade_executed_the_next_apply_rolls_back(
        sandbox: Sandbox, accounts: Accounts, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    old = tmp_path / "old.yaml"
    save_profile(profile_at(sandbox, OLD), old)
    broken = tmp_path / "broken.yaml"
    save_profile(profile_at(sandbox, BROKEN), broken)
    assert main(["apply", str(old), "--yes"]) == 0
    proc = run_paused(sandbox, "after-call.cloudformation.ExecuteChangeSet",
                      "apply", str(broken), "--yes")
    assert proc.returncode == -signal.SIGKILL
    assert deployed(accounts) == BROKEN  # the stack moved; the run never tested it
    entry = journal_entry(profile_at(sandbox, BROKEN))
    assert entry.data["upgrade"]["state"] == "pending"
    assert entry.data["upgrade"]["previous"]["version"] == OLD

    capsys.readouterr()
    assert main(["apply", str(broken), "--yes", "--rollback-on-failure"]) == 1
    assert f"rolled back to {OLD}" in capsys.readouterr().err
    assert deployed(accounts) == OLD
    assert main(["verify", str(old)]) == 0
    assert change_sets(accounts) == []


def test_killed_before_the_upgrade_executed_the_next_apply_resumes_it(
        sandbox: Sandbox, accounts: Accounts, tmp_path: Path) -> None:
    old = tmp_path / "old.yaml"
    save_profile(profile_at(sandbox, OLD), old)
    latest = tmp_path / "latest.yaml"
    save_profile(profile_at(sandbox, "latest"), latest)
    assert main(["apply", str(old), "--yes"]) == 0
    proc = run_paused(sandbox, "after-call.serverlessrepo.CreateCloudFormationChangeSet",
                      "apply", str(latest), "--yes")
    assert proc.returncode == -signal.SIGKILL
    assert deployed(accounts) == OLD
    assert [c["ExecutionStatus"] for c in change_sets(accounts)] == ["AVAILABLE"]  # left over

    assert main(["apply", str(latest), "--yes"]) == 0
    assert deployed(accounts) == NEWEST
    assert journal_entry(profile_at(sandbox, "latest")).data["upgrade"]["state"] == "verified"
    assert change_sets(accounts) == []  # the killed run's change set is gone too
    assert main(["verify", str(latest)]) == 0
    assert main(["destroy", str(latest), "--yes"]) == 0
    stacks = accounts.owner.client("cloudformation").describe_stacks()["Stacks"]
    assert STACK not in {s["StackName"] for s in stacks}



def test_an_upgrade_without_query_credentials_is_applied_and_said_untested(
        sandbox: Sandbox, accounts: Accounts) -> None:
    """apply needs no query credentials; without them the upgrade is not tested, and says so."""
    engine(profile_at(sandbox, OLD)).apply()
    profile = profile_at(sandbox, NEWEST)
    profile = replace(profile, consumers=[replace(profile.consumers[0], query_credentials=None)])
    events: list[Any] = []
    e = Engine(profile, poll_delay=0.05, on_event=events.append)
    e.apply()
    assert deployed(accounts) == NEWEST
    assert e.journal.for_step("connector")[0].data["upgrade"]["state"] == "untested"
    assert any("not tested" in ev.message for ev in events)
