"""Item 1 (end): a process killed in the middle of apply - SIGKILL, no chance to clean up - and
item 7: one run at a time, and a dead run's lock does not block the next one.

The child is the real ``python -m wizard apply PROFILE --yes``; a start-up hook (pause_hook/)
stops it at a chosen botocore event so the kill lands exactly there: *before* a call (the
journal says "about to", AWS has nothing) or *after* it (AWS has it, the journal still says
"about to" - the window a crash can hit between the call and the journal write).
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from tests.reliability.processes import Paused
from tests.reliability.world import PROFILES, World
from wizard.cli import main
from wizard.journal import Journal
from wizard.profile import save_profile

KILL_POINTS = [
    # scenario, event, what the journal must say for it when killed
    ("fresh", "after-call.iam.CreateRole", "pending"),  # role exists, journal not yet told
    ("fresh", "before-call.s3.PutBucketEncryption", "done"),  # bucket made, half configured
    ("existing", "after-call.s3.PutBucketPolicy", "pending"),  # shared policy rewritten
]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The tool's home shared by the child and the in-process CLI runs after it."""
    home = tmp_path / "xacct-home"
    monkeypatch.setenv("XACCT_WIZARD_HOME", str(home))
    return home


def profile_file(tmp_path: Path, scenario: str) -> str:
    path = tmp_path / f"{scenario}.yaml"
    save_profile(PROFILES[scenario](), path)
    return str(path)


def journal_file(home: Path) -> Path:
    found = list((home / "state" / "journals").glob("*.json"))
    assert len(found) <= 1
    return found[0] if found else home / "state" / "journals" / "none.json"


@pytest.mark.parametrize(("scenario", "event", "state"), KILL_POINTS,
                         ids=[f"{s}-{e}" for s, e, _ in KILL_POINTS])
def test_apply_killed_mid_run_resumes_and_destroy_cleans_up(
        world: World, tmp_path: Path, home: Path, capsys: pytest.CaptureFixture[str],
        scenario: str, event: str, state: str) -> None:
    applied = world.applied(scenario)
    profile = profile_file(tmp_path, scenario)
    with Paused(world, home, event, "apply", profile, "--yes") as child:
        child.wait_paused()
        child.kill()
    assert child.proc.returncode == -signal.SIGKILL

    # what the killed run left: a journal naming the interrupted call as it really stands
    journal = Journal(journal_file(home))
    assert journal.status == "applying"
    last = journal.entries[-1]
    assert last.state == state, (event, [(e.resource, e.state) for e in journal.entries])
    assert world.snapshot() != world.baseline

    # the next apply resumes and completes; a plan after it has nothing left to do
    assert main(["apply", profile, "--yes"]) == 0
    assert world.snapshot() == applied
    capsys.readouterr()
    assert main(["plan", profile, "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert {c["action"] for c in plan["changes"]} == {"none"}

    # the next destroy removes everything, the entry the kill left "pending" included
    assert main(["destroy", profile, "--yes"]) == 0
    assert world.at_baseline()
    assert not journal_file(home).exists()


def test_destroy_after_the_kill_removes_what_the_killed_run_made(
        world: World, tmp_path: Path, home: Path) -> None:
    """No resume first: destroy straight after the kill, including the created-but-pending
    role, and leaves every pre-existing thing alone."""
    profile = profile_file(tmp_path, "fresh")
    with Paused(world, home, "after-call.iam.CreateRole", "apply", profile, "--yes") as child:
        child.wait_paused()
    roles = world.snapshot()["consumer.roles"]
    assert "AthenaCrossAccountCreate-333333333333" in roles
    assert main(["destroy", profile, "--yes"]) == 0
    assert world.at_baseline()


# ------------------------------------------------------------------------- item 7: the lock
@pytest.mark.parametrize("command", ["apply", "destroy"])
def test_a_second_run_is_refused_while_one_runs_and_a_killed_holder_frees_the_lock(
        world: World, tmp_path: Path, home: Path, capsys: pytest.CaptureFixture[str],
        command: str) -> None:
    profile = profile_file(tmp_path, "existing")
    if command == "destroy":
        assert main(["apply", profile, "--yes"]) == 0
    with Paused(world, home, "before-call.iam.PutUserPolicy" if command == "apply"
                else "before-call.iam.DeleteUserPolicy", command, profile, "--yes") as child:
        child.wait_paused()
        before = world.snapshot()
        capsys.readouterr()
        for other in ("apply", "destroy"):
            assert main([other, profile, "--yes"]) == 2, other
            err = capsys.readouterr().err
            assert "Another xacct-wizard run is working on this setup" in err
            assert "Traceback" not in err
        assert world.snapshot() == before, "a refused run changed something"
        # read-only commands are not blocked by a run in progress
        assert main(["plan", profile, "--json"]) == 0
        capsys.readouterr()
        child.kill()
    # the holder died without unlocking: the OS dropped its lock, the next run goes ahead
    assert main([command, profile, "--yes"]) == 0
    assert main(["destroy", profile, "--yes"]) == 0
    assert world.at_baseline()
