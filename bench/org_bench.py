"""Organization scale (consumers_from): apply for every account of an OU, and the owner's calls.

Measured on a sandbox per size (the number of member accounts is fixed when it starts), one at
a time in this process, after the other figures:

* apply for a 10-account and a 200-account OU (the sandbox's Analytics OU), the example
  organization profile, the CLI's defaults, the sandbox reset before each run; the same with
  +50 ms per call (an AWS-like round trip);
* owner-side AWS calls of one apply for 10, 100 and 500 accounts: they must not grow, since
  the owner grants the organization once.

Targets: 200 accounts under 60 s and under 3x the time of 10 (and the same with +50 ms per
call); owner-side calls equal for every size.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROW_IDS = ["org_apply_small", "org_apply_large", "org_apply_small_lat", "org_apply_large_lat",
           "org_owner_calls_small", "org_owner_calls_mid", "org_owner_calls_large"]


@dataclass(frozen=True)
class OrgSizes:
    apply: tuple[int, int]  # small, large OU
    calls: tuple[int, int, int]

    @staticmethod
    def pick(quick: bool) -> OrgSizes:
        return OrgSizes((3, 12), (3, 6, 12)) if quick else OrgSizes((10, 200), (10, 100, 500))


def _latency(**_: Any) -> None:
    time.sleep(0.05)


@contextmanager
def _sandbox(members: int, home: Path) -> Iterator[Any]:
    from wizard.sandbox import Sandbox

    sb = Sandbox(extra_consumers=members).start()
    saved = {k: os.environ.get(k) for k in [*sb.env(), "XACCT_WIZARD_HOME"]}
    os.environ.update(sb.env())
    os.environ["XACCT_WIZARD_HOME"] = str(home / f"org-{members}")
    try:
        yield sb
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        sb.stop()


def _apply(sb: Any, hooks: list[tuple[str, Any]] | None = None,
           recorder: Any = None) -> float:
    from wizard.engine import Engine
    from wizard.profile import load_profile

    sb.reset()
    profile = load_profile(sb.example_org_profile)
    for journal in Path(os.environ["XACCT_WIZARD_HOME"]).rglob("*.json"):
        journal.unlink()  # a reset sandbox: the last run's journal describes nothing now
    engine = Engine(profile, hooks=hooks, recorder=recorder)
    t0 = time.perf_counter()
    engine.apply()
    return time.perf_counter() - t0


def measure(report: Any, runs: int, quick: bool, home: Path,
            step: Callable[[str], None]) -> None:
    """Fill the org_* rows of ``report`` (bench.run's Report)."""
    sizes = OrgSizes.pick(quick)
    small, large = sizes.apply
    labels = {
        "org_apply_small": f"OU apply, {small} accounts (StackSet)",
        "org_apply_large": f"OU apply, {large} accounts (StackSet)",
        "org_apply_small_lat": f"OU apply, {small} accounts, +50 ms per call",
        "org_apply_large_lat": f"OU apply, {large} accounts, +50 ms per call",
    }
    for n, key in zip(sizes.calls, ("small", "mid", "large"), strict=True):
        labels[f"org_owner_calls_{key}"] = f"owner-side AWS calls, OU of {n} accounts"
    for id, label in labels.items():
        report.row(id, label, unit="calls" if "calls" in id else "s")
    for n, key in ((small, "small"), (large, "large")):
        step(f"organization: apply for an OU of {n} accounts")
        ids = [f"org_apply_{key}", f"org_apply_{key}_lat"]
        try:
            with _sandbox(n, home) as sb:
                _apply(sb)  # warm-up (imports, first connections)
                for _ in range(runs):
                    report.rows[ids[0]].samples.append(_apply(sb))
                for _ in range(max(1, runs // 2)):
                    report.rows[ids[1]].samples.append(
                        _apply(sb, hooks=[("before-send", _latency)]))
        except Exception as exc:
            report.failed(ids, exc)
    from wizard.aws import CallRecorder

    for n, key in zip(sizes.calls, ("small", "mid", "large"), strict=True):
        step(f"organization: owner-side calls, OU of {n} accounts")
        id = f"org_owner_calls_{key}"
        try:
            with _sandbox(n, home) as sb:
                recorder = CallRecorder()
                _apply(sb, recorder=recorder)
                report.rows[id].samples.append(
                    float(sum(1 for c in recorder.calls if c.account == "owner")))
                report.rows[id].extra["organization_calls"] = sum(
                    1 for c in recorder.calls if c.account == "organization")
                report.rows[id].extra["accounts"] = n
        except Exception as exc:
            report.failed([id], exc)


def evaluate(report: Any, target: Callable[..., Any], med: Callable[[Any, str], Any],
             fmt: Callable[..., str]) -> None:
    """Append the organization targets (bench.run's Target type is passed as ``target``)."""
    small, large = med(report, "org_apply_small"), med(report, "org_apply_large")
    n = report.rows["org_apply_large"].label.split(", ")[1].split()[0]
    report.targets.append(target(
        "org_apply_60s", f"OU apply, {n} accounts < 60 s", fmt(large),
        None if large is None else large < 60.0))
    for id, label, a, b in (
            ("org_scale", f"OU apply, {n} accounts < 3x the time of the small OU",
             small, large),
            ("org_scale_lat", "  the same, +50 ms per call (< 3x)",
             med(report, "org_apply_small_lat"), med(report, "org_apply_large_lat"))):
        ok = a is not None and b is not None
        report.targets.append(target(id, label, f"{b / a:.2f}x ({fmt(b)} vs {fmt(a)})"
                                     if ok else "n/a", b / a < 3.0 if ok else None))
    counts = [med(report, f"org_owner_calls_{k}") for k in ("small", "mid", "large")]
    ok = all(c is not None for c in counts)
    report.targets.append(target(
        "org_owner_calls_flat", "owner-side calls do not grow with the OU's size",
        " / ".join(f"{c:.0f}" for c in counts) if ok else "n/a",
        len(set(counts)) == 1 if ok else None))


if __name__ == "__main__":  # pragma: no cover - `python -m bench.run` is the entry point
    sys.exit("run `python -m bench.run`")
