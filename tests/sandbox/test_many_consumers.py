"""One owner, three consumer accounts: the engine sets each up, and works on them at once.

The sandbox's extra consumer accounts need a sandbox of their own, and moto's state is one per
process, so the flow runs in a child process (the package's shared sandbox has one consumer).
Every call waits 50 ms, as a network round trip would; the child counts how many calls of
each consumer-side operation are in flight at the same time.
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
    import json, os, sys, threading, time
    from pathlib import Path
    import boto3
    from bench.run import scale_profile
    from wizard.engine import Engine
    from wizard.profile import load_profile
    from wizard.sandbox import Sandbox

    lock = threading.Lock()
    now, peak = {}, {}

    def before(event_name="", **_):
        op = event_name.rsplit(".", 1)[-1]  # before-send.<service>.<Operation>
        with lock:
            now[op] = now.get(op, 0) + 1
            peak[op] = max(peak.get(op, 0), now[op])
        time.sleep(0.05)
        with lock:
            now[op] -= 1

    def consumer_state(accounts):  # what the setup leaves in each consumer account
        state = {}
        for n, acct in enumerate(accounts):
            s = boto3.Session(profile_name="sandbox-consumer" + (f"-{n}" if n else ""))
            iam, athena = s.client("iam"), s.client("athena")
            state[acct] = {
                "roles": [r["RoleName"] for r in iam.list_roles()["Roles"]
                          if r["RoleName"].startswith("AthenaCrossAccountCreate")],
                "user_policies": iam.list_user_policies(UserName="analyst")["PolicyNames"],
                "catalogs": [c["CatalogName"] for c in
                             athena.list_data_catalogs()["DataCatalogsSummary"]],
            }
        return state

    home = Path(os.environ["XACCT_WIZARD_HOME"])
    with Sandbox(extra_consumers=2) as sb:
        os.environ.update(sb.env())
        profile = load_profile(scale_profile(Path(sb.example_profile), 3, home / "three.yaml"))
        accounts = [c.account_id for c in profile.consumers]
        hooks = [("before-send", before)]
        Engine(profile, hooks=hooks, poll_delay=0.05).apply()
        applied = dict(peak)
        peak.clear()
        result = Engine(profile, hooks=hooks, poll_delay=0.05).verify()
        verified = dict(peak)
        peak.clear()
        state = consumer_state(accounts)
        Engine(profile, hooks=hooks, poll_delay=0.05).destroy()
        destroyed = dict(peak)
        after = consumer_state(accounts)
    print("RESULT " + json.dumps({"verified": result.ok, "applied": applied, "state": state,
                                  "checked": verified,
                                  "destroyed": destroyed, "after": after}))
""")


def test_three_consumers_are_set_up_and_cleaned_up_concurrently(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(XACCT_WIZARD_HOME=str(tmp_path), PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-c", FLOW], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.split("RESULT ", 1)[1])
    assert out["verified"]
    assert len(out["state"]) == 3
    for acct, have in out["state"].items():
        assert have["roles"] == ["AthenaCrossAccountCreate-111111111111"], acct
        assert have["user_policies"] == ["xacct-wizard-acct1dynamodb"], acct
        assert "acct1dynamodb" in have["catalogs"], acct
    for acct, have in out["after"].items():
        assert have == {"roles": [], "user_policies": [], "catalogs": ["AwsDataCatalog"]}, acct
    # Consumer-side work overlapped across the three accounts: setting up, checking, cleaning up.
    for op in ("PutUserPolicy", "CreateRole", "CreateDataCatalog"):
        assert out["applied"].get(op, 0) >= 2, (op, out["applied"])
    assert out["checked"].get("GetDataCatalog", 0) >= 2, out["checked"]
    for op in ("DeleteUserPolicy", "DeleteRolePolicy", "DeleteRole", "DeleteDataCatalog"):
        assert out["destroyed"].get(op, 0) >= 2, (op, out["destroyed"])
    # The Lambda function's policy takes one change at a time, as AWS requires.
    assert out["applied"]["AddPermission"] == 1
    assert out["destroyed"]["RemovePermission"] == 1
