"""Item 1: a fault at every mutating call of apply and destroy.

The mutating calls are discovered by recording clean runs (``test_the_fault_points_are_every_
mutating_call`` fails when the engine gains or loses one, so this list cannot go stale). Every
point then gets, through botocore's own event hooks (see faults.py):

* throttling twice, then success: retried by botocore, the run completes;
* a refused connection, then a dropped connection after the server did the work: retried, the
  run completes, and the repeated request does no harm;
* a permanent AccessDenied: the run stops with the translated cause and a fix naming the
  missing IAM action; the journal matches what exists; re-running completes; destroy after the
  partial run removes exactly what exists and nothing that was there before;
* persistent throttling and persistent read timeouts: bounded (exactly 5 attempts), then a
  clear error, and the partial run can be destroyed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.reliability.conftest import Backoff
from tests.reliability.faults import MAX_ATTEMPTS, Fault, iam_action
from tests.reliability.footprint import SCENARIOS, assert_journal_matches
from tests.reliability.world import PROFILES, World, make_engine
from tests.support.moto_accounts import CONSUMER
from wizard.engine import Engine
from wizard.errors import WizardError

OWN, CON, SHARE = "owner", "consumer", "owner-as-consumer"  # SHARE: A in B via the share role

# What a clean run calls, in order: (account, service, operation).
CLEAN = {
    ("fresh", "apply"): [
        (OWN, "s3", "CreateBucket"), (OWN, "s3", "PutPublicAccessBlock"),
        (OWN, "s3", "PutBucketEncryption"), (OWN, "s3", "PutBucketLifecycleConfiguration"),
        (OWN, "athena", "CreateDataCatalog"), (CON, "iam", "CreateUser"),
        (OWN, "lambda", "AddPermission"), (OWN, "s3", "PutBucketPolicy"),
        (CON, "iam", "PutUserPolicy"), (CON, "iam", "CreateRole"), (CON, "iam", "PutRolePolicy"),
        (SHARE, "athena", "CreateDataCatalog")],
    ("fresh", "destroy"): [
        (CON, "athena", "DeleteDataCatalog"), (CON, "iam", "DeleteRolePolicy"),
        (CON, "iam", "DeleteRole"), (CON, "iam", "DeleteUserPolicy"),
        (OWN, "s3", "DeleteBucketPolicy"), (OWN, "lambda", "RemovePermission"),
        (CON, "iam", "DeleteUser"), (OWN, "athena", "DeleteDataCatalog"),
        (OWN, "s3", "DeleteBucket")],
    ("existing", "apply"): [
        (OWN, "athena", "CreateDataCatalog"), (OWN, "lambda", "AddPermission"),
        (OWN, "s3", "PutBucketPolicy"), (OWN, "kms", "PutKeyPolicy"),
        (CON, "iam", "PutUserPolicy"), (CON, "iam", "UpdateAssumeRolePolicy"),
        (CON, "iam", "PutRolePolicy"),
        (SHARE, "athena", "CreateDataCatalog")],
    ("existing", "destroy"): [
        (CON, "athena", "DeleteDataCatalog"), (CON, "iam", "DeleteRolePolicy"),
        (CON, "iam", "UpdateAssumeRolePolicy"), (CON, "iam", "DeleteUserPolicy"),
        (OWN, "kms", "PutKeyPolicy"), (OWN, "s3", "PutBucketPolicy"),
        (OWN, "lambda", "RemovePermission"),
        (OWN, "athena", "DeleteDataCatalog")],
}


@dataclass(frozen=True)
class Point:
    scenario: str
    phase: str
    account: str
    service: str
    operation: str

    @property
    def id(self) -> str:
        acct = {OWN: "A", CON: "B", SHARE: "A-in-B"}[self.account]
        return f"{self.scenario}-{self.phase}-{acct}-{self.operation}"

    @property
    def account_id(self) -> str:
        return SCENARIOS[self.scenario][1] if self.account == OWN else CONSUMER

    def fault(self, schedule: list[str], persistent: bool = False) -> Fault:
        return Fault(self.account, self.service, self.operation, schedule, persistent,
                     self.account_id)


def _points() -> list[Point]:
    """Every call of the fresh setup, plus the calls only the existing setup makes (changing and
    restoring what other people had: the share role's trust, the shared bucket policy)."""
    out: list[Point] = []
    fresh = {(ph, *call) for (sc, ph), calls in CLEAN.items() if sc == "fresh" for call in calls}
    for (scenario, phase), calls in CLEAN.items():
        for call in calls:
            if scenario == "existing" and (phase, *call) in fresh:
                continue
            out.append(Point(scenario, phase, *call))
    return out


POINTS = _points()


def engine(point: Point, fault: Fault | None = None) -> Engine:
    """A new engine (a new run, as a new CLI process would make), with the fault wired in."""
    profile = PROFILES[point.scenario]()
    if fault is None:
        return make_engine(profile)
    return make_engine(profile, hooks=fault.hooks, recorder=fault.recorder)


def calls(e: Engine) -> list[tuple[str, str, str]]:
    return [(c.account.split(":", 1)[0], c.service, c.operation) for c in e.recorder.mutating()]


def journal_file(point: Point) -> Path:
    return engine(point).journal_path


def run_failing(point: Point, fault: Fault) -> WizardError:
    """Run the point's phase with the fault; it must stop with a WizardError."""
    e = engine(point, fault)
    with pytest.raises(WizardError) as info:
        e.apply() if point.phase == "apply" else e.destroy()
    return info.value


# ------------------------------------------------------------------------- discovery
@pytest.mark.parametrize("scenario", ["fresh", "existing"])
def test_the_fault_points_are_every_mutating_call(world: World, scenario: str) -> None:
    apply = make_engine(PROFILES[scenario]())
    apply.apply()
    assert calls(apply) == CLEAN[(scenario, "apply")]
    destroy = make_engine(PROFILES[scenario]())
    destroy.destroy()
    assert calls(destroy) == CLEAN[(scenario, "destroy")]
    assert world.at_baseline()


def test_every_point_is_covered() -> None:
    covered = {(p.phase, p.account, p.service, p.operation) for p in POINTS}
    every = {(ph, *call) for (_sc, ph), cs in CLEAN.items() for call in cs}
    assert covered == every
    assert len(POINTS) == 26


# ------------------------------------------------------------------------- transient
# Throttled twice (botocore backs off), then the connection is refused (nothing reached AWS),
# then it drops after AWS did the work (the answer is lost and the request goes again).
TRANSIENT = ["throttle", "throttle", "refused", "lost"]


@pytest.mark.parametrize("point", POINTS, ids=lambda p: p.id)
def test_transient_faults_are_retried_and_the_run_completes(
        world: World, backoff: Backoff, point: Point) -> None:
    fault = point.fault(TRANSIENT)
    applied = world.applied(point.scenario)
    backoff.delays.clear()

    first = engine(point, fault if point.phase == "apply" else None)
    first.apply()
    if point.phase == "apply":
        assert world.snapshot() == applied
    second = engine(point, fault if point.phase == "destroy" else None)
    second.destroy()
    assert world.at_baseline()
    assert not journal_file(point).exists()

    # botocore retried the one call: every fault was injected, then one clean attempt...
    assert fault.injected == TRANSIENT
    assert fault.attempts == len(TRANSIENT) + 1 <= MAX_ATTEMPTS
    # ...with a real backoff computed for each retry, bounded (standard mode: at most 20 s)
    assert len(backoff.delays) == len(TRANSIENT)
    assert all(0 <= d <= 20 for d in backoff.delays)
    # each call made once: the retries were botocore's, the engine repeated no mutating call
    faulted = first if point.phase == "apply" else second
    assert calls(faulted) == CLEAN[(point.scenario, point.phase)]


# ------------------------------------------------------------------------- permanent
@pytest.mark.parametrize("point", POINTS, ids=lambda p: p.id)
def test_access_denied_stops_with_the_missing_permission_and_the_run_resumes(
        world: World, point: Point) -> None:
    applied = world.applied(point.scenario)
    if point.phase == "destroy":
        engine(point).apply()
    fault = point.fault(["denied"], persistent=True)

    err = run_failing(point, fault)
    assert fault.attempts == 1, "AccessDenied is not retried"
    action = iam_action(point.service, point.operation)
    assert f"{point.operation} failed" in str(err)
    assert "lack a permission" in err.cause
    assert action in err.fix, f"the fix must name {action}: {err.fix!r}"
    assert_journal_matches(world, point.scenario, journal_file(point))

    # the same command again, the permission granted: it completes from where it stopped
    again = engine(point)
    if point.phase == "apply":
        again.apply()
        assert world.snapshot() == applied
        engine(point).destroy()
    else:
        again.destroy()
    assert world.at_baseline()
    assert not journal_file(point).exists()
    # the resumed run did what was left: the rest of a clean run, from the failed call (or the
    # start of its unit of work, e.g. the spill bucket's settings), creating nothing twice
    clean = CLEAN[(point.scenario, point.phase)]
    resumed = calls(again)
    i = clean.index((point.account, point.service, point.operation))
    assert resumed == clean[len(clean) - len(resumed):], "not a suffix of a clean run"
    redone = clean[len(clean) - len(resumed):i]
    assert not [c for c in redone if c[2].startswith(("Create", "Add", "Delete", "Remove"))]


@pytest.mark.parametrize("point", POINTS, ids=lambda p: p.id)
def test_persistent_faults_give_up_after_bounded_retries_and_can_be_undone(
        world: World, backoff: Backoff, point: Point) -> None:
    applied = world.applied(point.scenario)
    if point.phase == "destroy":
        engine(point).apply()
    journal = journal_file(point)

    # AWS keeps throttling: botocore gives up after 5 attempts, the message says so
    throttled = point.fault(["throttle"], persistent=True)
    backoff.delays.clear()
    err = run_failing(point, throttled)
    assert throttled.attempts == MAX_ATTEMPTS
    assert len(backoff.delays) == MAX_ATTEMPTS - 1 and all(d <= 20 for d in backoff.delays)
    assert "throttled" in err.cause and "again" in err.fix
    first = assert_journal_matches(world, point.scenario, journal)

    # run again while the endpoint times out: the same 5 attempts, a clear message, same state
    timing_out = throttled.rearm(["timeout"], persistent=True)
    err = run_failing(point, timing_out)
    assert timing_out.attempts == MAX_ATTEMPTS
    assert "Read timeout" in str(err) and "could not be reached" in err.cause
    assert assert_journal_matches(world, point.scenario, journal) == first

    if point.phase == "apply":
        # destroy after the partial apply removes exactly what exists, nothing else
        engine(point).destroy()
    else:
        # apply after a partial destroy builds the whole setup again
        engine(point).apply()
        assert world.snapshot() == applied
        engine(point).destroy()
    assert world.at_baseline()
    assert not journal.exists()
