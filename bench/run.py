"""How fast the wizard does the job, side by side with the hand-written alternative.

    .venv/bin/python -m bench.run [--runs 5] [--quick] [--json bench/results/latest.json]
    (or: python bench/run.py ...)

Prints a table (median, min and max of ``--runs`` runs per figure), the PASS/FAIL of every
target of issue 7, and writes the same as JSON. ``--quick`` is the CI smoke: one run, small
sizes. Needs the AWS CLI for the script comparison (``pip install awscli``; skipped with a
note when it is missing, or with ``--no-cli``).

What is measured, and how:

* sandbox start: a fresh interpreter per run, import + start (bench/sandbox_bench.py).
* first apply in a fresh process: sandbox start, then that process's first apply, verify and
  destroy - what `xacct-wizard demo` feels like (one-time imports on both sides included).
* apply / no-op re-apply / verify / destroy: the example profile on one sandbox in this process,
  reset before each run, after one untimed warm-up cycle; each command gets a fresh Engine, as
  a new `xacct-wizard` command would (credentials checked again), with the CLI's defaults.
* AWS CLI script: bench/manual_setup.sh (runbook steps 1-14, test query included) and
  bench/manual_teardown.sh, against the same sandbox, in the same runs. The comparison is
  wizard apply + verify (which runs the test query) against the setup script.
* scale: apply with 1, 5 and 20 consumer accounts (the sandbox's extra consumers).
* query preview: a 100 000-row DynamoDB table in the owner account, queried as the analyst from
  a separate process (so its memory is the client's, not the sandbox's): time to the first page
  of QueryRunner.pages, and the same fed into the GUI's ResultsModel with its view shown.
* GUI: `xacct-wizard gui` launched offscreen until its first page is ready; and the whole
  wizard clicked through on a sandbox while a 5 ms timer on the GUI thread measures stalls.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # `python bench/run.py`
    sys.path.insert(0, str(REPO))

from bench import org_bench, sandbox_bench  # noqa: E402
from bench._child import MARK  # noqa: E402

DEFAULT_JSON = REPO / "bench" / "results" / "latest.json"
BIG_TABLE = "bench_rows"
CATALOG = "acct1dynamodb"


# ----------------------------------------------------------------------------- sizes
@dataclass(frozen=True)
class Sizes:
    runs: int
    consumers: tuple[int, int, int]  # small, mid, max
    rows: int
    gui_runs: int

    @staticmethod
    def pick(runs: int, quick: bool) -> Sizes:
        if quick:
            return Sizes(runs=1, consumers=(1, 2, 3), rows=2000, gui_runs=1)
        return Sizes(runs=runs, consumers=(1, 5, 20), rows=100_000, gui_runs=runs)


# ----------------------------------------------------------------------------- results
@dataclass
class Row:
    """One figure: samples in seconds (or MB, or a count), summarised as median/min/max."""

    id: str
    label: str
    unit: str = "s"
    samples: list[float] = field(default_factory=list)
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    error: str = ""

    @property
    def ok(self) -> bool:
        return bool(self.samples) and not self.error

    @property
    def median(self) -> float | None:
        return statistics.median(self.samples) if self.samples else None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "label": self.label, "unit": self.unit,
                               "runs": len(self.samples)}
        if self.samples:
            out.update(median=self.median, min=min(self.samples), max=max(self.samples),
                       samples=self.samples)
        else:
            out.update(median=None, min=None, max=None, samples=[])
        if self.note:
            out["note"] = self.note
        if self.error:
            out["error"] = self.error
        out.update(self.extra)
        return out


@dataclass
class Target:
    id: str
    label: str
    value: str
    passed: bool | None  # None: could not be measured
    note: str = ""
    info: bool = False  # a comparison that explains a target, not a target itself

    @property
    def result(self) -> str:
        if self.passed is None:
            return "n/a"
        verdict = "PASS" if self.passed else "FAIL"
        return f"info: {verdict.lower()}" if self.info else verdict

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "label": self.label, "value": self.value,
                "result": self.result, "note": self.note}


class Report:
    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}
        self.targets: list[Target] = []
        self.calls: dict[str, Any] = {}

    def row(self, id: str, label: str, unit: str = "s", note: str = "") -> Row:
        r = self.rows.get(id)
        if r is None:
            r = self.rows[id] = Row(id, label, unit, note=note)
        return r

    def failed(self, ids: list[str], exc: BaseException) -> None:
        """A measurement blew up: its rows stay, marked n/a with the reason."""
        text = f"{type(exc).__name__}: {exc}"
        for i in ids:
            if i in self.rows:
                self.rows[i].error = self.rows[i].error or text
        print(f"  ! {', '.join(ids)}: {text}", file=sys.stderr)
        traceback.print_exc(file=sys.stderr)


def med(report: Report, id: str) -> float | None:
    r = report.rows.get(id)
    return r.median if r is not None and r.ok else None


# ----------------------------------------------------------------------------- helpers
@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


CRASHES: list[dict[str, Any]] = []  # children killed by a signal (retried once), reported


def child(mode: str, params: dict[str, Any], env: dict[str, str] | None = None,
          timeout: float = 600, retry_crash: bool = True) -> dict[str, Any]:
    """Run a bench._child mode in a fresh interpreter; its BENCH-RESULT line, parsed.

    A child killed by a signal (a crash, not a failed measurement) is run once more; the
    crash, with the stacks faulthandler printed, is kept in the JSON's ``crashes``.
    """
    full = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    full.update(env or {})
    full["PYTHONPATH"] = str(REPO) + os.pathsep + full.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, "-m", "bench._child", mode, json.dumps(params)],
                          cwd=REPO, env=full, capture_output=True, text=True, timeout=timeout)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(MARK):
            return json.loads(line[len(MARK):])
    lines = [ln for ln in (proc.stderr or proc.stdout).strip().splitlines()
             if "propagateSizeHints" not in ln]
    if proc.returncode < 0 and retry_crash:
        CRASHES.append({"mode": mode, "params": params, "returncode": proc.returncode,
                        "stderr_tail": lines[-60:]})
        print(f"  ! bench._child {mode} crashed ({proc.returncode}); running it again",
              file=sys.stderr)
        return child(mode, params, env, timeout, retry_crash=False)
    tail = "\n".join(lines[-15:])
    raise RuntimeError(f"bench._child {mode} exited {proc.returncode}:\n{tail}")


def aws_cli() -> tuple[str | None, str]:
    """The AWS CLI to script with (the venv's, from PyPI), or None and why not."""
    local = Path(sys.executable).parent / "aws"
    if importlib.util.find_spec("awscli") is not None and local.exists():
        return str(local), ""
    found = shutil.which("aws")
    if found:
        return found, ""
    return None, "the AWS CLI is not installed (pip install awscli, or the `bench` extra)"


def scale_profile(example: Path, consumers: int, out: Path) -> Path:
    """The sandbox's example profile with one consumer per sandbox consumer account."""
    import yaml

    from wizard.sandbox.seed import extra_consumer_account, results_bucket

    doc = yaml.safe_load(example.read_text("utf-8"))
    first = doc["consumers"][0]
    for n in range(1, consumers):
        account = extra_consumer_account(n)
        c = dict(first)
        c.update(account_id=account, credentials={"profile": f"sandbox-consumer-{n}"},
                 principal_arn=f"arn:aws:iam::{account}:user/analyst",
                 query_credentials={"profile": f"sandbox-analyst-{n}"},
                 query_results=f"s3://{results_bucket(account)}/queries/")
        doc["consumers"].append(c)
    out.write_text(yaml.safe_dump(doc, sort_keys=False), "utf-8")
    return out


def calls_by_account(recorder: Any) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for (account, service), n in sorted(recorder.by_service().items()):
        out.setdefault(account, {})[service] = n
    return out


# ----------------------------------------------------------------------------- sections
def measure_sandbox_start(report: Report, sizes: Sizes) -> None:
    row = report.row("sandbox_start", "sandbox start (fresh process: import + start)")
    try:
        res = sandbox_bench.measure_start(sizes.runs)
        row.samples = list(res["samples"])
        row.extra["start_only_median_s"] = res["start_only_median_s"]
        row.extra["import_median_s"] = res["import_median_s"]
    except Exception as exc:
        report.failed([row.id], exc)


def measure_cold(report: Report, sizes: Sizes, home: Path) -> None:
    ids = ["cold_apply", "cold_apply_verify"]
    a = report.row(ids[0], "apply, first in a fresh process (after sandbox start)")
    av = report.row(ids[1], "apply + verify, first in a fresh process")
    try:
        for i in range(sizes.runs):
            res = child("cold", {"journal": str(home / f"cold-{i}.json")},
                        env={"XACCT_WIZARD_HOME": str(home / f"cold-{i}")})
            a.samples.append(res["apply_s"])
            av.samples.append(res["apply_s"] + res["verify_s"])
    except Exception as exc:
        report.failed(ids, exc)


class WizardRuns:
    """Everything measured on the benchmark's own sandbox."""

    def __init__(self, report: Report, sizes: Sizes, sb: Any, home: Path,
                 cli: str | None) -> None:
        self.report, self.sizes, self.sb, self.home, self.cli = report, sizes, sb, home, cli
        self._n = 0

    def journal(self) -> Path:
        self._n += 1
        return self.home / "journals" / f"run-{self._n}.json"

    def engine(self, profile: Any, journal: Path, recorder: Any = None,
               hooks: list[tuple[str, Any]] | None = None) -> Any:
        from wizard.aws import CallRecorder
        from wizard.engine import Engine

        return Engine(profile, journal_path=journal, recorder=recorder or CallRecorder(),
                      hooks=hooks)

    def warm_up(self) -> None:
        """One untimed apply + destroy: one-time imports on both sides (the fresh-process row
        shows what they cost)."""
        from wizard.profile import load_profile

        profile = load_profile(self.sb.example_profile)
        self.sb.reset()
        j = self.journal()
        self.engine(profile, j).apply()
        self.engine(profile, j).destroy()

    # ------------------------------------------------------------------ wizard + script
    def flow(self) -> None:
        from wizard.profile import load_profile

        r = self.report
        rows = {
            "apply": r.row("apply", "wizard apply (full, on a reset sandbox)"),
            "reapply": r.row("reapply", "wizard apply again (nothing to do)"),
            "verify": r.row("verify", "wizard verify (checks + test query)"),
            "destroy": r.row("destroy", "wizard destroy"),
            "apply_verify": r.row("apply_verify", "wizard apply + verify"),
            "reapply_mutating": r.row("reapply_mutating", "mutating calls in the re-apply",
                                      unit="calls"),
        }
        script = {
            "setup": r.row("script_setup", "AWS CLI script: manual_setup.sh (incl. test query)"),
            "teardown": r.row("script_teardown", "AWS CLI script: manual_teardown.sh"),
        }
        profile = load_profile(self.sb.example_profile)
        try:
            self.warm_up()
            for _ in range(self.sizes.runs):
                self.sb.reset()
                j = self.journal()
                eng = self.engine(profile, j)
                t, _ = timed(eng.apply)
                rows["apply"].samples.append(t)
                r.calls["apply"] = calls_by_account(eng.recorder)
                r.calls["apply_total"] = len(eng.recorder.calls)
                r.calls["apply_mutating"] = len(eng.recorder.mutating())
                again = self.engine(profile, j)
                t, _ = timed(again.apply)
                rows["reapply"].samples.append(t)
                rows["reapply_mutating"].samples.append(len(again.recorder.mutating()))
                r.calls["reapply_total"] = len(again.recorder.calls)
                r.calls["reapply_mutating_calls"] = [
                    f"{c.account} {c.service}.{c.operation}" for c in again.recorder.mutating()]
                ver = self.engine(profile, j)
                t, result = timed(ver.verify)
                if not result.ok:
                    raise RuntimeError(f"verify failed: {result.findings} {result.query}")
                rows["verify"].samples.append(t)
                rows["apply_verify"].samples.append(rows["apply"].samples[-1] + t)
                r.calls["verify_total"] = len(ver.recorder.calls)
                des = self.engine(profile, j)
                t, _ = timed(des.destroy)
                rows["destroy"].samples.append(t)
                r.calls["destroy_total"] = len(des.recorder.calls)
                if self.cli is not None:
                    self.script_once(script)
        except Exception as exc:
            report_ids = [x.id for x in rows.values()] + [x.id for x in script.values()]
            r.failed(report_ids, exc)

    def script_once(self, rows: dict[str, Row]) -> None:
        """manual_setup.sh then manual_teardown.sh on a reset sandbox, each timed."""
        self.sb.reset()
        work = Path(tempfile.mkdtemp(prefix="script-", dir=self.home))
        log = work / "aws-calls.log"
        wrapper = work / "aws"
        # one line per `aws` process (a policy document argument may span several lines)
        wrapper.write_text(f'#!/bin/sh\nprintf "%s" "$*" | tr "\\n" " " >> "{log}"\n'
                           f'echo >> "{log}"\nexec "{self.cli}" "$@"\n')
        wrapper.chmod(0o755)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(self.sb.env())
        # HOME: the CLI caches assumed-role credentials there; a reset sandbox voids them
        env.update(HOME=str(work), STATE_DIR=str(work), AWS=str(wrapper),
                   PYTHON=sys.executable)
        for key, script in (("setup", "manual_setup.sh"), ("teardown", "manual_teardown.sh")):
            before = _lines(log)
            t0 = time.perf_counter()
            proc = subprocess.run(["bash", str(REPO / "bench" / script)], env=env,
                                  capture_output=True, text=True, timeout=600)
            elapsed = time.perf_counter() - t0
            if proc.returncode != 0:
                raise RuntimeError(f"{script} exited {proc.returncode}:\n"
                                   + "\n".join(proc.stderr.strip().splitlines()[-12:]))
            rows[key].samples.append(elapsed)
            rows[key].extra["aws_cli_processes"] = _lines(log) - before

    # ------------------------------------------------------------------ scale
    def scale(self, slots: tuple[str, ...] = ("scale_1", "scale_mid", "scale_max"),
              counts: tuple[int, ...] | None = None, where: str = "",
              hooks: list[tuple[str, Any]] | None = None, warm: bool = False,
              destroy_slots: tuple[str, ...] = ()) -> None:
        """Apply (and, with ``destroy_slots``, destroy) with each number of consumers."""
        from wizard.profile import load_profile

        r = self.report
        ids = []
        counts = counts or self.sizes.consumers
        for slot, n in zip(slots, counts, strict=True):
            row = r.row(slot, f"apply with {n} consumer account{'s' if n > 1 else ''}{where}")
            row.extra["consumers"] = n
            ids.append(slot)
        for slot, n in zip(destroy_slots, counts, strict=False):
            row = r.row(slot, f"destroy with {n} consumer account{'s' if n > 1 else ''}{where}")
            row.extra["consumers"] = n
            ids.append(slot)
        destroy_by_count = dict(zip(counts, destroy_slots, strict=False))
        try:
            if warm:
                self.warm_up()  # a fresh sandbox process: its one-time imports are not timed
            for slot, n in zip(slots, counts, strict=True):
                path = scale_profile(Path(self.sb.example_profile), n,
                                     self.home / f"scale-{n}.yaml")
                profile = load_profile(path)
                for _ in range(self.sizes.runs):
                    self.sb.reset()
                    j = self.journal()
                    eng = self.engine(profile, j, hooks=hooks)
                    t, _ = timed(eng.apply)
                    r.rows[slot].samples.append(t)
                    r.rows[slot].extra["calls"] = len(eng.recorder.calls)
                    undo = self.engine(profile, j, hooks=hooks)
                    t, _ = timed(undo.destroy)
                    if n in destroy_by_count:
                        r.rows[destroy_by_count[n]].samples.append(t)
        except Exception as exc:
            r.failed(ids, exc)

    # ------------------------------------------------------------------ doctor
    def doctor(self, slots: tuple[str, ...], counts: tuple[int, ...], where: str = "",
               hooks: list[tuple[str, Any]] | None = None) -> None:
        """The doctor on an applied setup (untimed apply): every link read and evaluated and
        the test query run as every consumer, with each number of consumers."""
        from wizard.profile import load_profile

        r = self.report
        for slot, n in zip(slots, counts, strict=True):
            row = r.row(slot, f"doctor, {n} consumer account{'s' if n > 1 else ''}{where}")
            row.extra["consumers"] = n
        try:
            for slot, n in zip(slots, counts, strict=True):
                path = scale_profile(Path(self.sb.example_profile), n,
                                     self.home / f"doctor-{n}.yaml")
                profile = load_profile(path)
                self.sb.reset()
                j = self.journal()
                self.engine(profile, j).apply()
                for _ in range(self.sizes.runs):
                    eng = self.engine(profile, j, hooks=hooks)
                    t, report = timed(eng.diagnose)
                    if not report.ok:
                        raise RuntimeError(f"doctor found a broken link: {report.to_json()}")
                    r.rows[slot].samples.append(t)
                    r.rows[slot].extra["calls"] = len(eng.recorder.calls)
                    r.rows[slot].extra["mutating_calls"] = len(eng.recorder.mutating())
                self.engine(profile, j).destroy()
        except Exception as exc:
            r.failed(list(slots), exc)

    # ------------------------------------------------------------------ query preview
    def query_preview(self) -> None:
        from wizard.profile import load_profile

        r = self.report
        n = self.sizes.rows
        ids = ["query_first_rows", "query_all_rows", "query_peak_mb", "qt_first_rows",
               "qt_peak_mb"]
        r.row(ids[0], f"{n:,}-row query: first page from QueryRunner.pages")
        r.row(ids[1], f"{n:,}-row query: every page read (and dropped)")
        r.row(ids[2], "  peak memory paging all rows (tracemalloc)", unit="MB")
        r.row(ids[3], f"{n:,}-row query: first rows shown in the GUI's ResultsModel")
        r.row(ids[4], f"  peak memory, all {n:,} rows in the model (tracemalloc)", unit="MB")
        try:
            self.sb.reset()
            j = self.journal()
            profile = load_profile(self.sb.example_profile)
            self.engine(profile, j).apply()
            t, _ = timed(lambda: put_rows(self.sb, n))
            r.rows[ids[0]].extra["table_load_s"] = t
            sql = f'SELECT * FROM "{CATALOG}"."default"."{BIG_TABLE}"'
            params = {"profile": str(self.sb.example_profile), "journal": str(j), "sql": sql,
                      "runs": self.sizes.runs}
            env = dict(self.sb.env(), XACCT_WIZARD_HOME=str(self.home / "query"))
            q = child("query", params, env=env)
            if q["rows"] != n:
                raise RuntimeError(f"the query returned {q['rows']} rows, not {n}")
            r.rows[ids[0]].samples = q["first_rows_s"]
            r.rows[ids[0]].extra["breakdown_median_s"] = {
                k: statistics.median(v) for k, v in q["breakdown"].items() if v}
            r.rows[ids[1]].samples = q["all_rows_s"]
            r.rows[ids[2]].samples = [q["peak_traced_mb"]]
            r.rows[ids[2]].extra["process_maxrss_mb"] = q["maxrss_mb"]
            r.rows[ids[2]].note = "one run under tracemalloc; maxrss is the whole client"
            try:
                env["QT_QPA_PLATFORM"] = "offscreen"
                m = child("qt-model", params, env=env)
                r.rows[ids[3]].samples = m["first_shown_s"]
                r.rows[ids[4]].samples = [m["peak_traced_mb"]]
                r.rows[ids[4]].extra.update(process_maxrss_mb=m["maxrss_mb"],
                                            rows_in_model=m["rows_in_model"],
                                            model_base=m["model_class"],
                                            standard_items=m["standard_items"])
                r.rows[ids[4]].note = (f"rows kept as plain lists in {m['model_class']} "
                                       "subclass, no QStandardItem")
            except Exception as exc:
                r.failed(ids[3:], exc)
        except Exception as exc:
            r.failed(ids, exc)


class RemoteSandbox:
    """A sandbox served by a child process (bench._child serve), reset on request."""

    def __init__(self, extra_consumers: int, home: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(PYTHONPATH=str(REPO), XACCT_WIZARD_HOME=str(home / "remote-sandbox"))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench._child", "serve",
             json.dumps({"extra_consumers": extra_consumers})],
            cwd=REPO, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("ENV "):
            self.stop()
            raise RuntimeError(f"the sandbox process did not start: {line!r}")
        self._env = json.loads(line[4:])
        self.example_profile = Path(self._env.pop("EXAMPLE_PROFILE"))

    def env(self) -> dict[str, str]:
        return dict(self._env)

    def reset(self) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("reset\n")
        self.proc.stdin.flush()
        if self.proc.stdout.readline().strip() != "ok":
            raise RuntimeError("the sandbox process did not reset")

    def stop(self) -> None:
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


LATENCY_S = 0.05


def _latency(**_: Any) -> None:
    """botocore before-send hook: each call waits as a round trip to AWS would (~50 ms), so
    the figure shows what the engine's concurrency buys when calls wait on the network."""
    time.sleep(LATENCY_S)


def _lines(path: Path) -> int:
    try:
        return len(path.read_text().splitlines())
    except OSError:
        return 0


def put_rows(sb: Any, n: int) -> None:
    """A table of ``n`` items in the owner account, written straight into the sandbox's
    DynamoDB backend (as its seed does; 4 000 BatchWriteItem calls over HTTP would take
    minutes and measure nothing we care about)."""
    from wizard.sandbox.ddb_items import create_table
    from wizard.sandbox.seed import OWNER_ACCOUNT, REGION

    cities = ["Lisbon", "Oslo", "Lima", "Osaka", "Perth", "Quito", "Accra", "Dublin"]
    create_table(OWNER_ACCOUNT, REGION, BIG_TABLE, {"id": "S"},
                 ({"id": {"S": f"row-{i:06d}"}, "n": {"N": str(i)},
                   "city": {"S": cities[i % len(cities)]},
                   "score": {"N": str((i * 7919) % 1000)},
                   "note": {"S": f"item number {i} of the benchmark table"}} for i in range(n)))


def measure_gui_launch(report: Report, sizes: Sizes, home: Path) -> None:
    row = report.row("gui_launch", "GUI launch to first page ready (process start -> ready)")
    inapp = report.row("gui_launch_inapp", "  of which inside ui.app.run (after imports)")
    try:
        for i in range(sizes.gui_runs):
            total, reported = launch_once(home / f"gui-launch-{i}")
            row.samples.append(total)
            if reported is not None:
                inapp.samples.append(reported)
    except Exception as exc:
        report.failed([row.id, inapp.id], exc)


def launch_once(home: Path) -> tuple[float, float | None]:
    """`python -m wizard gui` offscreen; time from spawn to its "first page ready" line."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(QT_QPA_PLATFORM="offscreen", XACCT_WIZARD_TIMING="1",
               XACCT_WIZARD_EXIT_WHEN_READY="1", XACCT_WIZARD_HOME=str(home),
               PYTHONPATH=str(REPO))
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "wizard", "gui"], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    total: float | None = None
    reported: float | None = None
    lines = []
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if "first page ready after" in line:
                total = time.perf_counter() - t0
                reported = float(line.split("after", 1)[1].split()[0])
                break
    finally:
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if total is None:
        raise RuntimeError("the GUI never reported its first page ready:\n" + "".join(lines[-10:]))
    return total, reported


def measure_gui_stall(report: Report, sizes: Sizes, home: Path) -> None:
    """`xacct-wizard --sandbox` clicked through (its sandbox in a child process, as the CLI
    serves it); then the same with the sandbox inside the GUI's process, for comparison."""
    row = report.row("gui_stall", "GUI longest stall, full run of `xacct-wizard --sandbox`",
                     unit="ms")
    idle = report.row("gui_stall_idle", "  same timer, idle window (machine noise)", unit="ms")
    run = report.row("gui_run", "  GUI full run: Start -> Apply -> test query rows shown")
    inproc = report.row("gui_stall_inproc",
                        "GUI longest stall, sandbox inside the GUI process (comparison)",
                        unit="ms")
    for target, mode, ids in ((row, "cli", [row.id, idle.id, run.id]),
                              (inproc, "in-process", [inproc.id])):
        try:
            for i in range(sizes.gui_runs):
                res = child("gui-stall", {"sandbox": mode,
                                          "dump_file": str(home / f"stall-{mode}-{i}.txt")},
                            env={"XACCT_WIZARD_HOME": str(home / f"gui-{mode}-{i}")})
                target.samples.append(res["longest_gap_ms"])
                target.extra.setdefault("gaps_over_100ms", []).append(res["gaps_over_100ms"])
                target.extra["longest"] = res["longest"]
                if mode == "cli":
                    idle.samples.append(res["idle_longest_gap_ms"])
                    run.samples.append(res["run_s"])
        except Exception as exc:
            report.failed(ids, exc)


# ----------------------------------------------------------------------------- targets
def fmt(value: float | None, unit: str = "s") -> str:
    if value is None:
        return "n/a"
    if unit == "s":
        return f"{value:.3f} s" if value < 10 else f"{value:.2f} s"
    if unit == "ms":
        return f"{value:.0f} ms"
    if unit == "MB":
        return f"{value:.1f} MB"
    if unit == "calls":
        return f"{value:.0f}"
    if unit == "x":
        return f"{value:.1f}x"
    return f"{value:.3f}"


# The scale ratios, N consumers against one (target < 3x): target id, label, the two rows,
# whether it is information only, and the line in the ratios text.
SCALE_RATIOS = [
    ("scale", "{n} consumers < 3x the time of 1", "scale_1", "scale_max", False,
     "scale, {n} consumers / 1 consumer:"),
    ("scale_ext", "  the same, sandbox in another process (< 3x)", "scale_1_ext",
     "scale_max_ext", True, "  the same, sandbox in another process:"),
    ("scale_lat", "  the same, +50 ms emulated latency per call (< 3x)", "scale_1_lat",
     "scale_max_lat", True, "  the same, +50 ms per call:"),
    ("destroy_scale_lat", "  destroy, the same, +50 ms per call (< 3x)", "destroy_1_lat",
     "destroy_max_lat", True, "  destroy, the same, +50 ms per call:"),
    ("doctor_scale_lat", "doctor, {n} consumers < 3x the time of 1 (+50 ms per call)",
     "doctor_1_lat", "doctor_max_lat", False, "doctor, {n} consumers / 1, +50 ms per call:"),
]


def evaluate(report: Report, sizes: Sizes) -> None:
    t = report.targets
    rows = report.rows

    def why(*ids: str) -> str:
        errs = [rows[i].error for i in ids if i in rows and rows[i].error]
        return errs[0] if errs else "not measured"

    av = med(report, "apply_verify")
    t.append(Target("apply_verify_5s", "full apply + verify on the sandbox < 5 s", fmt(av),
                    None if av is None else av < 5.0, "" if av is not None else why("apply")))
    cold = med(report, "cold_apply_verify")
    t.append(Target("cold_apply_verify_5s",
                    "  the same, first run in a fresh process < 5 s", fmt(cold),
                    None if cold is None else cold < 5.0,
                    "" if cold is not None else why("cold_apply_verify")))
    setup = med(report, "script_setup")
    if av is not None and setup is not None:
        ratio = setup / av
        t.append(Target("faster_than_script_apply", "apply + verify >= 5x faster than the "
                        "CLI script", f"{ratio:.1f}x (wizard/script = {av / setup:.3f})",
                        ratio >= 5.0))
    else:
        t.append(Target("faster_than_script_apply", "apply + verify >= 5x faster than the "
                        "CLI script", "n/a", None, why("script_setup", "apply")))
    destroy, teardown = med(report, "destroy"), med(report, "script_teardown")
    if destroy is not None and teardown is not None:
        ratio = teardown / destroy
        t.append(Target("faster_than_script_destroy", "destroy >= 5x faster than the CLI "
                        "script", f"{ratio:.1f}x (wizard/script = {destroy / teardown:.3f})",
                        ratio >= 5.0))
    else:
        t.append(Target("faster_than_script_destroy", "destroy >= 5x faster than the CLI "
                        "script", "n/a", None, why("script_teardown", "destroy")))
    mut = rows.get("reapply_mutating")
    if mut is not None and mut.ok:
        worst = max(mut.samples)
        t.append(Target("noop_reapply", "no-op re-apply makes 0 writes",
                        f"{worst:.0f} mutating call{'' if worst == 1 else 's'} (max of "
                        f"{len(mut.samples)} runs)",
                        worst == 0))
    else:
        t.append(Target("noop_reapply", "no-op re-apply makes 0 writes", "n/a", None,
                        why("reapply_mutating")))
    n = sizes.consumers[-1]
    for id, label, one_id, many_id, info, _line in SCALE_RATIOS:
        one, many = med(report, one_id), med(report, many_id)
        measured = one is not None and many is not None
        t.append(Target(id, label.format(n=n), f"{many / one:.2f}x ({fmt(many)} vs {fmt(one)})"
                        if measured else "n/a", many / one < 3.0 if measured else None,
                        "" if measured else why(one_id, many_id), info=info))
    for id, label, row_id, limit in (
            ("doctor_1s", "doctor, one consumer on the sandbox < 1 s", "doctor_1", 1.0),
            ("doctor_lat_3s", "doctor, one consumer, +50 ms per call < 3 s", "doctor_1_lat",
             3.0)):
        value = med(report, row_id)
        t.append(Target(id, label, fmt(value), None if value is None else value < limit,
                        "" if value is not None else why(row_id)))
    launch = med(report, "gui_launch")
    t.append(Target("gui_launch_1s", "GUI launch to first page < 1 s", fmt(launch),
                    None if launch is None else launch < 1.0,
                    "" if launch is not None else why("gui_launch")))
    stall = med(report, "gui_stall")
    stall_row = rows.get("gui_stall")
    worst_stall = max(stall_row.samples) if stall_row and stall_row.ok else None
    t.append(Target("gui_stall_100ms", "no GUI-thread stall over 100 ms (median of runs' "
                    "longest)", f"{fmt(stall, 'ms')} (worst run {fmt(worst_stall, 'ms')})",
                    None if stall is None else stall <= 100.0,
                    "" if stall is not None else why("gui_stall")))
    ext = rows.get("gui_stall_inproc")
    stall = med(report, "gui_stall_inproc")
    worst_stall = max(ext.samples) if ext and ext.ok else None
    t.append(Target("gui_stall_100ms_inproc", "  (comparison) sandbox inside the GUI process",
                    f"{fmt(stall, 'ms')} (worst run {fmt(worst_stall, 'ms')})",
                    None if stall is None else stall <= 100.0,
                    "" if stall is not None else why("gui_stall_inproc"), info=True))
    first = med(report, "query_first_rows")
    t.append(Target("rows_first_1s", f"{sizes.rows:,} rows: first rows < 1 s (QueryRunner)",
                    fmt(first), None if first is None else first < 1.0,
                    "" if first is not None else why("query_first_rows")))
    qt = med(report, "qt_first_rows")
    peak = rows.get("qt_peak_mb")
    items = peak.extra.get("standard_items") if peak is not None else None
    ok = None if qt is None else (qt < 1.0 and items is False)
    t.append(Target("rows_first_1s_qt", f"{sizes.rows:,} rows shown first in the GUI model "
                    "< 1 s, no Qt items", f"{fmt(qt)}; peak {fmt(med(report, 'qt_peak_mb'), 'MB')}"
                    f" with all rows loaded", ok, "" if qt is not None else why("qt_first_rows")))


# ----------------------------------------------------------------------------- output
ORDER = ["sandbox_start", "cold_apply", "cold_apply_verify", "apply", "reapply",
         "reapply_mutating", "verify", "apply_verify", "destroy", "script_setup",
         "script_teardown", "scale_1", "scale_mid", "scale_max", "scale_1_ext", "scale_max_ext",
         "scale_1_lat", "scale_max_lat", "destroy_1_lat", "destroy_max_lat", "doctor_1",
         "doctor_1_lat", "doctor_max_lat", "query_first_rows",
         "query_all_rows", "query_peak_mb", "qt_first_rows", "qt_peak_mb", "gui_launch",
         "gui_launch_inapp", "gui_stall", "gui_stall_idle", "gui_run", "gui_stall_inproc",
         *org_bench.ROW_IDS]


def table(report: Report) -> str:
    head = f"{'figure':<62} {'median':>10} {'min':>10} {'max':>10} {'runs':>4}"
    out = [head, "-" * len(head)]
    for id in ORDER:
        r = report.rows.get(id)
        if r is None:
            continue
        if r.ok:
            out.append(f"{r.label:<62} {fmt(r.median, r.unit):>10} "
                       f"{fmt(min(r.samples), r.unit):>10} {fmt(max(r.samples), r.unit):>10} "
                       f"{len(r.samples):>4}")
        else:
            out.append(f"{r.label:<62} {'n/a':>10} {'':>10} {'':>10} {0:>4}  "
                       f"({r.error.splitlines()[0] if r.error else 'not measured'})")
    return "\n".join(out)


def ratios(report: Report) -> list[str]:
    lines = []
    av, setup = med(report, "apply_verify"), med(report, "script_setup")
    if av is not None and setup is not None:
        lines.append(f"wizard / script, apply (+ test query): {av:.2f} s / {setup:.2f} s = "
                     f"{av / setup:.3f}  ({setup / av:.1f}x faster)")
    d, td = med(report, "destroy"), med(report, "script_teardown")
    if d is not None and td is not None:
        lines.append(f"wizard / script, destroy:              {d:.2f} s / {td:.2f} s = "
                     f"{d / td:.3f}  ({td / d:.1f}x faster)")
    n = report.rows["scale_max"].extra.get("consumers") if "scale_max" in report.rows else ""
    for _id, _label, one_id, many_id, _info, line in SCALE_RATIOS:
        one, mx = med(report, one_id), med(report, many_id)
        if one is not None and mx is not None:
            lines.append(f"{line.format(n=n):<38} {mx / one:.2f}")
    return lines


def calls_text(report: Report) -> list[str]:
    c = report.calls
    if not c.get("apply"):
        return []
    lines = [f"AWS calls in a full apply: {c['apply_total']} ({c['apply_mutating']} mutating)"]
    for account, services in c["apply"].items():
        lines.append(f"  {account:<34} " + ", ".join(f"{s} {n}" for s, n in services.items()))
    lines.append(f"re-apply: {c.get('reapply_total')} calls, "
                 f"{len(c.get('reapply_mutating_calls', []))} mutating; verify: "
                 f"{c.get('verify_total')} calls; destroy: {c.get('destroy_total')} calls")
    sc = report.rows.get("script_setup")
    if sc is not None and "aws_cli_processes" in sc.extra:
        lines.append(f"AWS CLI script: {sc.extra['aws_cli_processes']} `aws` processes to set "
                     f"up, {report.rows['script_teardown'].extra.get('aws_cli_processes')} to "
                     "tear down")
    return lines


def query_text(report: Report) -> list[str]:
    r = report.rows.get("query_first_rows")
    b = r.extra.get("breakdown_median_s") if r is not None else None
    if not b:
        return []
    return [f"first page of the big query (medians): the sandbox ran the query in "
            f"{b['server_execution_s']:.2f} s; the client saw SUCCEEDED after {b['wait_s']:.2f} s "
            f"(polling overshoot {b['wait_s'] - b['server_execution_s']:.2f} s, start call "
            f"included); the first page then took {b['first_page_s']:.3f} s. Table written "
            f"into the sandbox in {r.extra.get('table_load_s', 0):.1f} s (not timed above)."]


def targets_text(report: Report) -> list[str]:
    out = []
    for t in report.targets:
        out.append(f"[{t.result:<10}] {t.label:<58} {t.value}"
                   + (f"  ({t.note})" if t.note else ""))
    return out


def stall_text(report: Report) -> list[str]:
    out = []
    for id in ("gui_stall", "gui_stall_inproc"):
        r = report.rows.get(id)
        if r is None or not r.extra.get("longest"):
            continue
        worst = r.extra["longest"][0]
        out.append(f"{r.label}: longest gap of the last run {worst['gap_ms']:.0f} ms at "
                   f"{worst['at_s']:.2f} s; other threads then:")
        out.extend(f"    {f}" for f in worst.get("other_threads", [])[:4])
    return out


def meta(args: argparse.Namespace, sizes: Sizes, started: float) -> dict[str, Any]:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                                capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = ""
    return {"when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "commit": commit, "python": platform.python_version(),
            "platform": platform.platform(), "cpus": os.cpu_count(),
            "load_average_end": list(os.getloadavg()), "quick": args.quick,
            "runs": sizes.runs, "consumers": list(sizes.consumers), "rows": sizes.rows,
            "duration_s": round(time.perf_counter() - started, 1),
            "timers": "time.perf_counter; memory: tracemalloc peak (Python allocations) and "
                      "resource.getrusage ru_maxrss (whole process)"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (default 5)")
    parser.add_argument("--quick", action="store_true",
                        help="CI smoke: 1 run, small sizes (figures are not comparable)")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, metavar="PATH",
                        help="where to write the results (default "
                             f"{DEFAULT_JSON.relative_to(REPO)})")
    parser.add_argument("--no-cli", action="store_true", help="skip the AWS CLI script")
    parser.add_argument("--no-gui", action="store_true", help="skip the GUI figures")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    sizes = Sizes.pick(args.runs, args.quick)
    started = time.perf_counter()
    report = Report()
    cli, why = (None, "skipped (--no-cli)") if args.no_cli else aws_cli()
    home = Path(tempfile.mkdtemp(prefix="xacct-bench-"))
    load_start = list(os.getloadavg())

    def step(name: str) -> None:
        print(f"- {name} ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)

    try:
        with environment({"XACCT_WIZARD_HOME": str(home / "wizard-home")}):
            step("sandbox start")
            measure_sandbox_start(report, sizes)
            step("first apply in fresh processes")
            measure_cold(report, sizes, home)
            from wizard.sandbox import Sandbox

            sb = Sandbox(extra_consumers=sizes.consumers[-1] - 1).start()
            try:
                with environment(sb.env()):
                    runs = WizardRuns(report, sizes, sb, home, cli)
                    step("wizard and AWS CLI script")
                    runs.flow()
                    if cli is None:
                        for id in ("script_setup", "script_teardown"):
                            report.rows[id].error = why
                    step("scale")
                    runs.scale()
                    step("doctor")
                    runs.doctor(("doctor_1",), (1,))
                    step("query preview")
                    runs.query_preview()
            finally:
                sb.stop()
            step("scale, sandbox in another process")
            try:
                remote = RemoteSandbox(sizes.consumers[-1] - 1, home)
            except Exception as exc:
                ids = ["scale_1_ext", "scale_max_ext", "scale_1_lat", "scale_max_lat",
                       "destroy_1_lat", "destroy_max_lat", "doctor_1_lat", "doctor_max_lat"]
                for id in ids:
                    report.row(id, id)
                report.failed(ids, exc)
            else:
                try:
                    with environment(remote.env()):
                        ext = WizardRuns(report, sizes, remote, home, cli)
                        pair = (sizes.consumers[0], sizes.consumers[-1])
                        ext.scale(("scale_1_ext", "scale_max_ext"), pair,
                                  ", sandbox in another process", warm=True)
                        step("scale, sandbox in another process, +50 ms per call")
                        ext.scale(("scale_1_lat", "scale_max_lat"), pair,
                                  ", same, +50 ms per call", hooks=[("before-send", _latency)],
                                  destroy_slots=("destroy_1_lat", "destroy_max_lat"))
                        step("doctor, sandbox in another process, +50 ms per call")
                        ext.doctor(("doctor_1_lat", "doctor_max_lat"), pair,
                                   ", sandbox in another process, +50 ms per call",
                                   hooks=[("before-send", _latency)])
                finally:
                    remote.stop()
            org_bench.measure(report, sizes.runs, args.quick, home, step)
            if args.no_gui:
                for id in ("gui_launch", "gui_launch_inapp", "gui_stall", "gui_stall_idle",
                           "gui_run", "gui_stall_inproc"):
                    report.row(id, id.replace("_", " ")).error = "skipped (--no-gui)"
            else:
                step("GUI launch")
                measure_gui_launch(report, sizes, home)
                step("GUI stall")
                measure_gui_stall(report, sizes, home)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    evaluate(report, sizes)
    org_bench.evaluate(report, Target, med, fmt)
    info = meta(args, sizes, started)
    info["load_average_start"] = load_start
    print()
    print(f"xacct-wizard benchmark - {info['when']}, commit {info['commit']}, "
          f"{info['cpus']} CPUs, {sizes.runs} run{'' if sizes.runs == 1 else 's'} per figure"
          + (" (QUICK: small sizes)" if args.quick else ""))
    print(f"load average at start {load_start[0]:.1f}, at end "
          f"{info['load_average_end'][0]:.1f}")
    print(table(report))
    for block in (ratios(report), calls_text(report), query_text(report), stall_text(report)):
        if block:
            print()
            print("\n".join(block))
    print()
    print("\n".join(targets_text(report)))
    doc = {"meta": info, "rows": [report.rows[i].to_json() for i in ORDER if i in report.rows],
           "calls": report.calls, "targets": [t.to_json() for t in report.targets],
           "crashes": CRASHES}
    if CRASHES:
        print(f"\n{len(CRASHES)} measurement process(es) crashed and were run again: "
              + ", ".join(f"{c['mode']} ({c['returncode']})" for c in CRASHES))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(doc, indent=2) + "\n", "utf-8")
    print(f"\nwritten: {args.json}")
    errored = [r.id for r in report.rows.values()
               if r.error and not r.error.startswith("skipped")
               and not r.error.startswith("the AWS CLI is not installed")]
    if errored:
        print(f"measurement errors: {', '.join(errored)}", file=sys.stderr)
        return 2
    if args.strict and any(t.passed is False for t in report.targets):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
