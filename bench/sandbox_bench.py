"""Benchmark the embedded sandbox: start time in fresh processes, and a federated query.

    .venv/bin/python bench/sandbox_bench.py [--runs 5] [--queries 10] [--json]

Start time is what a user waits for after typing `xacct-wizard sandbox` or `--sandbox`, so
it is measured in fresh processes (imports included, nothing cached in memory), several times,
reported as median/min/max; budget 1.5 s. The query figure is the wall time of one
StartQueryExecution -> poll -> GetQueryResults round trip for the Music test query, as the
analyst in B after the grants are in place (budget: well under 0.5 s).

The full apply + verify + destroy timing belongs to the engine and is added there.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
START_BUDGET_S = 1.5
QUERY_BUDGET_S = 0.5

_CHILD = """
import json, time
t0 = time.perf_counter()
from wizard.sandbox import Sandbox
sb = Sandbox()
t1 = time.perf_counter()
sb.start()
t2 = time.perf_counter()
sb.stop()
print(json.dumps({"import_s": t1 - t0, "start_s": t2 - t1, "total_s": t2 - t0}))
"""


def measure_start(runs: int) -> dict[str, Any]:
    """Start a sandbox in ``runs`` fresh interpreters; time import+start of each."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["PYTHONPATH"] = str(REPO)
    samples = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True,
                             text=True, timeout=120, check=True)
        samples.append(json.loads(out.stdout.strip().splitlines()[-1]))
    totals = [s["total_s"] for s in samples]
    return {
        "runs": runs,
        "median_s": statistics.median(totals),
        "min_s": min(totals),
        "max_s": max(totals),
        "start_only_median_s": statistics.median(s["start_s"] for s in samples),
        "import_median_s": statistics.median(s["import_s"] for s in samples),
        "budget_s": START_BUDGET_S,
        "samples": totals,
    }


def measure_query(queries: int) -> dict[str, Any]:
    """Deploy the connector and grants with boto3, then time the analyst's test query."""
    import boto3

    from wizard.sandbox import Sandbox

    catalog = "acct1dynamodb"
    owner_id, consumer_id = Sandbox.OWNER_ACCOUNT, Sandbox.CONSUMER_ACCOUNT
    fn_arn = f"arn:aws:lambda:us-east-1:{owner_id}:function:{catalog}"
    analyst = f"arn:aws:iam::{consumer_id}:user/analyst"
    results = f"s3://xacct-sandbox-results-{consumer_id}/queries/"
    app = "arn:aws:serverlessrepo:us-east-1:292517598671:applications/AthenaDynamoDBConnector"
    saved = dict(os.environ)
    with Sandbox() as sb:
        os.environ.update(sb.env())
        try:
            owner = boto3.Session(profile_name="sandbox-owner")
            consumer = boto3.Session(profile_name="sandbox-consumer")
            cs = owner.client("serverlessrepo").create_cloud_formation_change_set(
                ApplicationId=app, StackName=catalog,
                Capabilities=["CAPABILITY_IAM", "CAPABILITY_RESOURCE_POLICY"],
                ParameterOverrides=[{"Name": "AthenaCatalogName", "Value": catalog},
                                    {"Name": "SpillBucket",
                                     "Value": f"xacct-sandbox-spill-{owner_id}"}])
            owner.client("cloudformation").execute_change_set(ChangeSetName=cs["ChangeSetId"])
            owner.client("lambda").add_permission(
                FunctionName=catalog, StatementId="bench", Action="lambda:InvokeFunction",
                Principal=analyst)
            consumer.client("athena").create_data_catalog(
                Name=catalog, Type="LAMBDA", Parameters={"function": fn_arn})
            consumer.client("iam").put_user_policy(
                UserName="analyst", PolicyName="bench", PolicyDocument=json.dumps({
                    "Version": "2012-10-17", "Statement": [
                        {"Effect": "Allow", "Action": ["lambda:InvokeFunction"],
                         "Resource": fn_arn},
                        {"Effect": "Allow", "Action": ["athena:*", "s3:*"], "Resource": "*"}]}))
            athena = boto3.Session(profile_name="sandbox-analyst").client("athena")
            timings = []
            for _ in range(queries + 1):  # the first one warms imports: not counted
                t0 = time.perf_counter()
                qid = athena.start_query_execution(
                    QueryString=f'SELECT * FROM "{catalog}"."default"."music" LIMIT 10',
                    ResultConfiguration={"OutputLocation": results})["QueryExecutionId"]
                while True:
                    state = athena.get_query_execution(
                        QueryExecutionId=qid)["QueryExecution"]["Status"]["State"]
                    if state not in ("QUEUED", "RUNNING"):
                        break
                    time.sleep(0.005)
                rows = athena.get_query_results(QueryExecutionId=qid)["ResultSet"]["Rows"]
                timings.append(time.perf_counter() - t0)
                if state != "SUCCEEDED" or len(rows) != 5:
                    raise RuntimeError(f"benchmark query ended {state} with {len(rows)} rows")
        finally:
            os.environ.clear()
            os.environ.update(saved)
    counted = timings[1:]
    return {"queries": len(counted), "first_s": timings[0],
            "median_s": statistics.median(counted), "max_s": max(counted),
            "budget_s": QUERY_BUDGET_S}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh processes to start")
    parser.add_argument("--queries", type=int, default=10, help="timed queries")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = parser.parse_args(argv)
    start = measure_start(args.runs)
    query = measure_query(args.queries)
    if args.json:
        print(json.dumps({"start": start, "query": query}, indent=2))
    else:
        print(f"sandbox start (fresh process, import + start, {start['runs']} runs): "
              f"median {start['median_s']:.3f} s, min {start['min_s']:.3f} s, "
              f"max {start['max_s']:.3f} s  (start() alone: median "
              f"{start['start_only_median_s']:.3f} s; budget {START_BUDGET_S} s)")
        print(f"federated query on Music as the analyst ({query['queries']} runs): "
              f"median {query['median_s'] * 1000:.0f} ms, max {query['max_s'] * 1000:.0f} ms "
              f"(first, with imports: {query['first_s'] * 1000:.0f} ms; budget "
              f"{QUERY_BUDGET_S * 1000:.0f} ms)")
    ok = start["median_s"] <= START_BUDGET_S and query["median_s"] <= QUERY_BUDGET_S
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
