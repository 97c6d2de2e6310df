"""Federated query execution: the grants AWS enforces, the SQL, paging, spilling, cancel."""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError

from tests.sandbox.support import (
    ANALYST_ARN,
    CATALOG,
    FUNCTION_ARN,
    RESULTS_BUCKET,
    SPILL_BUCKET,
    Accounts,
    analyst_statements,
    grant_spill_bucket,
    run_query,
    setup_federation,
)
from wizard.sandbox import Sandbox

TEST_QUERY = f'SELECT * FROM "{CATALOG}"."default"."music" LIMIT 10'
DENIED = (f"GENERIC_INTERNAL_ERROR: User: {ANALYST_ARN} is not authorized to perform: "
          f"lambda:InvokeFunction on resource: {FUNCTION_ARN} ")


def test_analyst_reads_the_music_table_after_the_grants(sandbox: Sandbox,
                                                        accounts: Accounts) -> None:
    setup_federation(accounts)
    out = run_query(accounts.analyst, TEST_QUERY)
    assert out.state == "SUCCEEDED", out.reason
    assert out.rows[0] == ["artist", "songtitle", "albumtitle", "awards"]
    assert sorted(out.rows[1:]) == [
        ["Acme Band", "Happy Day", "Songs About Life", "10"],
        ["Acme Band", "PartiQL Rocks", "Another Album Title", "8"],
        ["No One You Know", "Call Me Today", "Somewhat Famous", "1"],
        ["No One You Know", "Howdy", "Somewhat Famous", "2"],
    ]
    assert out.columns == [("artist", "varchar"), ("songtitle", "varchar"),
                           ("albumtitle", "varchar"), ("awards", "bigint")]
    stats = out.execution["Statistics"]
    assert stats["DataScannedInBytes"] > 0
    assert stats["EngineExecutionTimeInMillis"] >= 0
    assert stats["TotalExecutionTimeInMillis"] >= stats["EngineExecutionTimeInMillis"]
    location = out.execution["ResultConfiguration"]["OutputLocation"]
    qid = out.execution["QueryExecutionId"]
    assert location == f"s3://{RESULTS_BUCKET}/queries/{qid}.csv"
    body = accounts.consumer.client("s3").get_object(
        Bucket=RESULTS_BUCKET, Key=f"queries/{qid}.csv")["Body"].read().decode()
    assert body.splitlines()[0] == '"artist","songtitle","albumtitle","awards"'
    assert len(body.splitlines()) == 5


def test_without_the_lambda_resource_policy(accounts: Accounts) -> None:
    setup_federation(accounts, lambda_grant=False)
    out = run_query(accounts.analyst, TEST_QUERY)
    assert out.state == "FAILED"
    assert out.reason == DENIED + ("because no resource-based policy allows the "
                                   "lambda:InvokeFunction action")
    assert out.execution["Status"]["AthenaError"]["ErrorMessage"] == out.reason


def test_without_the_identity_policy(accounts: Accounts) -> None:
    setup_federation(accounts, identity_policy=False,
                     extra_statements=analyst_statements(invoke=False))
    out = run_query(accounts.analyst, TEST_QUERY)
    assert out.state == "FAILED"
    assert out.reason == DENIED + ("because no identity-based policy allows the "
                                   "lambda:InvokeFunction action")


def test_an_explicit_deny_beats_an_allow(accounts: Accounts) -> None:
    setup_federation(accounts, extra_statements=[
        {"Sid": "NoFederation", "Effect": "Deny", "Action": "lambda:Invoke*", "Resource": "*"}])
    out = run_query(accounts.analyst, TEST_QUERY)
    assert out.state == "FAILED"
    assert out.reason == DENIED + "with an explicit deny in an identity-based policy"


def test_deny_in_a_group_policy_counts_too(accounts: Accounts) -> None:
    setup_federation(accounts)
    iam = accounts.consumer.client("iam")
    iam.create_group(GroupName="restricted")
    iam.add_user_to_group(GroupName="restricted", UserName="analyst")
    iam.put_group_policy(GroupName="restricted", PolicyName="deny", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "LAMBDA:invoke?unction",
                                                "NotResource": "arn:aws:s3:::*"}]}))
    out = run_query(accounts.analyst, TEST_QUERY)
    assert out.state == "FAILED"
    assert out.reason.endswith("with an explicit deny in an identity-based policy")


def test_start_query_needs_athena_permission(accounts: Accounts) -> None:
    setup_federation(accounts, identity_policy=False, extra_statements=[
        s for s in analyst_statements() if s["Sid"] != "RunQueries"])
    with pytest.raises(ClientError) as err:
        run_query(accounts.analyst, TEST_QUERY)
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"
    assert err.value.response["Error"]["Message"] == (
        f"User: {ANALYST_ARN} is not authorized to perform: athena:StartQueryExecution on "
        "resource: arn:aws:athena:us-east-1:222222222222:workgroup/primary because no "
        "identity-based policy allows the athena:StartQueryExecution action")


def test_results_bucket_needs_put_object(accounts: Accounts) -> None:
    setup_federation(accounts, identity_policy=False, extra_statements=[
        s for s in analyst_statements() if s["Sid"] != "Results"])
    out = run_query(accounts.analyst, TEST_QUERY)
    assert out.state == "FAILED"
    assert out.reason.startswith(f"Access denied when writing output to url: s3://{RESULTS_BUCKET}")


def test_missing_output_location(accounts: Accounts) -> None:
    setup_federation(accounts)
    with pytest.raises(ClientError, match="No output location provided"):
        accounts.analyst.client("athena").start_query_execution(QueryString=TEST_QUERY)


def test_owner_admin_queries_its_own_catalog_without_grants(accounts: Accounts) -> None:
    setup_federation(accounts, lambda_grant=False, identity_policy=False)
    out = run_query(accounts.owner, TEST_QUERY,
                    output="s3://xacct-sandbox-spill-111111111111/owner-results/")
    assert out.state == "SUCCEEDED", out.reason
    assert len(out.rows) == 5


def test_large_results_need_the_spill_grant_small_ones_do_not(sandbox: Sandbox,
                                                             accounts: Accounts) -> None:
    setup_federation(accounts, spill_grant=False)
    sandbox.spill_threshold_bytes = 200
    small = run_query(accounts.analyst, f'SELECT count(*) FROM "{CATALOG}"."default"."music"')
    assert small.state == "SUCCEEDED", small.reason
    assert small.rows == [["_col0"], ["4"]]
    large = run_query(accounts.analyst, TEST_QUERY)
    assert large.state == "FAILED"
    assert f"s3://{SPILL_BUCKET}/athena-spill/" in large.reason
    assert "spill bucket" in large.reason and "Access Denied" in large.reason
    assert large.reason.endswith(
        "because no resource-based policy allows the s3:GetObject action")

    grant_spill_bucket(accounts)
    again = run_query(accounts.analyst, TEST_QUERY)
    assert again.state == "SUCCEEDED", again.reason
    assert len(again.rows) == 5
    spilled = accounts.owner.client("s3").list_objects_v2(Bucket=SPILL_BUCKET,
                                                          Prefix="athena-spill/")
    assert spilled["KeyCount"] >= 1


def test_unknown_catalog_and_table(accounts: Accounts) -> None:
    setup_federation(accounts)
    out = run_query(accounts.analyst, 'SELECT * FROM "x"."default"."music"')
    assert (out.state, out.reason) == ("FAILED", "SYNTAX_ERROR: line 1:15: Catalog 'x' does "
                                                 "not exist")
    out = run_query(accounts.analyst, f"SELECT *\nFROM {CATALOG}.default.nope")
    assert out.state == "FAILED"
    assert "Requested resource not found: Table: nope not found" in out.reason
    out = run_query(accounts.analyst, f"SELECT * FROM {CATALOG}.other.music")
    assert out.reason == "SCHEMA_NOT_FOUND: line 1:15: Schema 'other' does not exist"


def test_sql_filters_order_limit_aggregates(accounts: Accounts) -> None:
    setup_federation(accounts)
    q = f'"{CATALOG}"."default"."music"'
    out = run_query(accounts.analyst,
                    f"SELECT songtitle, awards FROM {q} WHERE awards > 1 AND artist LIKE 'Acme%' "
                    "ORDER BY awards DESC")
    assert out.rows == [["songtitle", "awards"], ["Happy Day", "10"], ["PartiQL Rocks", "8"]]
    out = run_query(accounts.analyst, f"SELECT songtitle FROM {q} ORDER BY songtitle LIMIT 2")
    assert out.rows == [["songtitle"], ["Call Me Today"], ["Happy Day"]]
    out = run_query(accounts.analyst,
                    f"SELECT artist, COUNT(*) AS n, SUM(awards) AS total, avg(awards) FROM {q} "
                    "GROUP BY artist ORDER BY artist")
    assert out.rows == [["artist", "n", "total", "_col3"], ["Acme Band", "2", "18", "9.0"],
                        ["No One You Know", "2", "3", "1.5"]]
    assert out.columns == [("artist", "varchar"), ("n", "bigint"), ("total", "bigint"),
                           ("_col3", "double")]
    out = run_query(accounts.analyst,
                    f"WITH top AS (SELECT * FROM {q} WHERE awards >= 8) "
                    "SELECT count(*) AS c, max(awards) / 3 AS third FROM top")
    assert out.rows == [["c", "third"], ["2", "3"]]


def test_table_name_forms_and_case(accounts: Accounts) -> None:
    setup_federation(accounts)
    ctx = {"Catalog": CATALOG, "Database": "default"}
    for sql, context in [
        (f'SELECT count(*) FROM "{CATALOG}"."default"."music"', None),
        (f"SELECT count(*) FROM {CATALOG.upper()}.DEFAULT.MUSIC", None),
        ('SELECT count(*) FROM "default"."music"', {"Catalog": CATALOG}),
        ("SELECT count(*) FROM music m", ctx),
    ]:
        out = run_query(accounts.analyst, sql, context=context)
        assert out.state == "SUCCEEDED", (sql, out.reason)
        assert out.rows[1] == ["4"], sql


def test_two_tables_differing_only_by_case_are_ambiguous(accounts: Accounts) -> None:
    setup_federation(accounts)
    accounts.owner.client("dynamodb").create_table(
        TableName="MUSIC", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
    out = run_query(accounts.analyst, TEST_QUERY)
    assert out.state == "FAILED"
    assert "Multiple tables resolved from case insensitive name music: [MUSIC, Music]" \
        in out.reason


def test_a_column_whose_type_the_items_mix_is_varchar(accounts: Accounts) -> None:
    setup_federation(accounts)
    ddb = accounts.owner.client("dynamodb")
    ddb.put_item(TableName="Music", Item={
        "Artist": {"S": "The Mixers"}, "SongTitle": {"S": "Blend"},
        "Awards": {"S": "many"}, "Year": {"N": "2024.5"}})
    ddb.put_item(TableName="Music", Item={
        "Artist": {"S": "The Mixers"}, "SongTitle": {"S": "Whole"}, "Year": {"N": "2020"},
        "Tags": {"L": [{"S": "a"}, {"N": "1"}]}, "Live": {"BOOL": True}})
    out = run_query(accounts.analyst,
                    f'SELECT songtitle, awards, year, tags, live FROM "{CATALOG}"."default".'
                    "music WHERE artist = 'The Mixers' ORDER BY songtitle")
    assert out.state == "SUCCEEDED", out.reason
    assert dict(out.columns) == {"songtitle": "varchar", "awards": "varchar",
                                 "year": "double", "tags": "varchar", "live": "boolean"}
    assert out.rows[1:] == [["Blend", "many", "2024.5", None, None],
                            ["Whole", None, "2020.0", '["a",1]', "true"]]
    everything = run_query(accounts.analyst, f"SELECT awards FROM {CATALOG}.default.music "
                                             "WHERE artist = 'Acme Band' ORDER BY 1")
    assert everything.rows[1:] == [["10"], ["8"]]  # varchar now: string order


def test_paging_a_2500_row_result(accounts: Accounts) -> None:
    setup_federation(accounts)
    table = accounts.owner.resource("dynamodb").Table("Music")
    with table.batch_writer() as batch:
        for i in range(2496):
            batch.put_item(Item={"Artist": f"Artist {i // 100:02d}",
                                 "SongTitle": f"Song {i:04d}", "Awards": i})
    out = run_query(accounts.analyst, f"SELECT * FROM {CATALOG}.default.music")
    assert out.state == "SUCCEEDED", out.reason
    assert len(out.rows) == 2501  # header + 2500
    athena = accounts.analyst.client("athena")
    qid = out.execution["QueryExecutionId"]
    first = athena.get_query_results(QueryExecutionId=qid)
    assert len(first["ResultSet"]["Rows"]) == 1000
    assert first["ResultSet"]["Rows"][0]["Data"][0]["VarCharValue"] == "artist"
    second = athena.get_query_results(QueryExecutionId=qid, NextToken=first["NextToken"],
                                      MaxResults=1000)
    third = athena.get_query_results(QueryExecutionId=qid, NextToken=second["NextToken"])
    assert len(second["ResultSet"]["Rows"]) == 1000
    assert len(third["ResultSet"]["Rows"]) == 501
    assert "NextToken" not in third
    small = athena.get_query_results(QueryExecutionId=qid, MaxResults=7)
    assert len(small["ResultSet"]["Rows"]) == 7 and "NextToken" in small


def test_stop_query_execution_cancels(sandbox: Sandbox, accounts: Accounts) -> None:
    setup_federation(accounts)
    sandbox.query_latency = 5.0
    athena = accounts.analyst.client("athena")
    qid = athena.start_query_execution(
        QueryString=TEST_QUERY, ResultConfiguration={"OutputLocation": "s3://"
                                                     f"{RESULTS_BUCKET}/queries/"}
    )["QueryExecutionId"]
    assert athena.get_query_execution(
        QueryExecutionId=qid)["QueryExecution"]["Status"]["State"] == "QUEUED"
    with pytest.raises(ClientError, match="has not yet finished"):
        athena.get_query_results(QueryExecutionId=qid)
    started = time.monotonic()
    athena.stop_query_execution(QueryExecutionId=qid)
    state = athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]["Status"]
    assert state["State"] == "CANCELLED"
    with pytest.raises(ClientError, match="Final query state: CANCELLED"):
        athena.get_query_results(QueryExecutionId=qid)
    sandbox.reset()  # waits for the worker: it must notice the cancel at once
    assert time.monotonic() - started < 2.0


def test_query_ids_are_private_to_the_account(accounts: Accounts) -> None:
    setup_federation(accounts)
    out = run_query(accounts.analyst, TEST_QUERY)
    with pytest.raises(ClientError, match="was not found"):
        accounts.owner.client("athena").get_query_execution(
            QueryExecutionId=out.execution["QueryExecutionId"])
    with pytest.raises(ClientError, match="was not found"):
        accounts.analyst.client("athena").get_query_execution(QueryExecutionId="nope")


def test_work_group_and_plain_glue_queries_still_reach_moto(accounts: Accounts) -> None:
    setup_federation(accounts)
    wg = accounts.analyst.client("athena").get_work_group(WorkGroup="primary")
    assert wg["WorkGroup"]["Name"] == "primary"
    admin = accounts.consumer.client("athena")
    qid = admin.start_query_execution(
        QueryString="CREATE DATABASE sales",
        ResultConfiguration={"OutputLocation": f"s3://{RESULTS_BUCKET}/q/"})["QueryExecutionId"]
    assert admin.get_query_execution(QueryExecutionId=qid)["QueryExecution"]["Query"] == \
        "CREATE DATABASE sales"


def test_a_federated_query_is_fast(accounts: Accounts) -> None:
    setup_federation(accounts)
    run_query(accounts.analyst, TEST_QUERY)  # warm-up (imports, first connection)
    started = time.perf_counter()
    out = run_query(accounts.analyst, TEST_QUERY)
    elapsed = time.perf_counter() - started
    assert out.state == "SUCCEEDED"
    assert elapsed < 1.0, f"a Music query took {elapsed:.3f}s"



def test_queries_outside_federated_catalogs(accounts: Accounts) -> None:
    setup_federation(accounts)
    out = run_query(accounts.analyst, "SELECT 1 + 1 AS two, 'x' || 'y' AS xy")
    assert out.rows == [["two", "xy"], ["2", "xy"]]
    out = run_query(accounts.analyst, "SELECT * FROM music")
    assert out.reason == "TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.default.music' " \
                         "does not exist"
    out = run_query(accounts.analyst, "SELEC * FROM music", context={"Catalog": CATALOG})
    assert out.reason.startswith("SYNTAX_ERROR: line 1:")


def test_list_query_executions_includes_federated_ones(accounts: Accounts) -> None:
    setup_federation(accounts, extra_statements=[
        {"Effect": "Allow", "Action": "athena:ListQueryExecutions", "Resource": "*"}])
    first = run_query(accounts.analyst, TEST_QUERY).execution["QueryExecutionId"]
    second = run_query(accounts.analyst, TEST_QUERY).execution["QueryExecutionId"]
    ids = accounts.analyst.client("athena").list_query_executions()["QueryExecutionIds"]
    assert ids[:2] == [second, first]
