"""verify as EVERY consumer: with three consumers and one of them broken, verify fails for that
one (its query fails, its broken link is named) and passes for the others; the doctor reads
the consumers at once.

Extra consumer accounts need a sandbox of their own (one per process), so this runs in a child.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

FLOW = textwrap.dedent("""
    import json, os, threading, time
    from pathlib import Path
    import boto3
    from bench.run import scale_profile
    from wizard.engine import Engine
    from wizard.profile import load_profile
    from wizard.sandbox import Sandbox

    lock = threading.Lock()
    now, peak = {"n": 0}, {"n": 0}

    def before(event_name="", **_):
        if ".iam." not in event_name:
            return
        with lock:
            now["n"] += 1
            peak["n"] = max(peak["n"], now["n"])
        time.sleep(0.05)
        with lock:
            now["n"] -= 1

    home = Path(os.environ["XACCT_WIZARD_HOME"])
    with Sandbox(extra_consumers=2) as sb:
        os.environ.update(sb.env())
        profile = load_profile(scale_profile(Path(sb.example_profile), 3, home / "three.yaml"))
        Engine(profile, poll_delay=0.05).apply()
        broken = profile.consumers[2]
        lam = boto3.Session(profile_name="sandbox-owner").client("lambda")
        policy = json.loads(lam.get_policy(FunctionName="acct1dynamodb")["Policy"])
        sid = next(s["Sid"] for s in policy["Statement"] if broken.account_id in s["Sid"])
        lam.remove_permission(FunctionName="acct1dynamodb", StatementId=sid)
        result = Engine(profile, poll_delay=0.05, hooks=[("before-send", before)]).verify()
        out = {"ok": result.ok, "first": result.query.state, "broken": broken.key,
               "peak_iam": peak["n"],
               "consumers": [{"account": c.account,
                              "query": c.query.state if c.query else None,
                              "broken": [x.id for x in c.links if x.status == "broken"]}
                             for c in result.doctor.consumers],
               "findings": [(f.step, f.account) for f in result.findings]}
    print("RESULT " + json.dumps(out))
""")


def test_verify_queries_as_every_consumer_and_fails_for_the_broken_one(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(XACCT_WIZARD_HOME=str(tmp_path), PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-c", FLOW], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.split("RESULT ", 1)[1])
    assert out["ok"] is False
    assert out["first"] == "SUCCEEDED"  # the v1 keys still describe the first consumer
    by_account = {c["account"]: c for c in out["consumers"]}
    assert len(by_account) == 3
    for account, c in by_account.items():
        if account == out["broken"]:
            assert c["query"] == "FAILED" and c["broken"] == ["lambda-resource-policy"]
        else:
            assert c["query"] == "SUCCEEDED" and c["broken"] == [], c
    assert out["findings"] == [["lambda-resource-policy", out["broken"]]]
    assert out["peak_iam"] >= 2  # the consumers' principals were read at the same time
