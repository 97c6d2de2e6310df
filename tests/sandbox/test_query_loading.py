"""The sandbox's loader: tricky text survives the trip DynamoDB -> DuckDB -> GetQueryResults,
and only the columns a query names are loaded (so aggregates over wide tables stay cheap)."""

from __future__ import annotations

from tests.sandbox.support import CATALOG, Accounts, run_query, setup_federation

TRICKY = ["naïve café ☕", 'say "hi", then \'bye\'', "line one\nline two", "tab\there", "",
          "comma, semicolon; pipe|", "日本語のテキスト", "a\\backslash"]


def test_unicode_quotes_newlines_and_nulls_round_trip(accounts: Accounts) -> None:
    setup_federation(accounts)
    ddb = accounts.owner.client("dynamodb")
    for i, text in enumerate(TRICKY):
        item = {"Artist": {"S": "Tricky"}, "SongTitle": {"S": f"t{i:02d}"},
                "Note": {"S": text}}
        if i % 2:
            item["Extra"] = {"N": str(i)}
        ddb.put_item(TableName="Music", Item=item)
    out = run_query(accounts.analyst, f'SELECT songtitle, note, extra FROM "{CATALOG}".'
                    "\"default\".music WHERE artist = 'Tricky' ORDER BY songtitle")
    assert out.state == "SUCCEEDED", out.reason
    got = out.rows[1:]
    assert [r[1] for r in got] == TRICKY
    assert [r[2] for r in got] == [None if i % 2 == 0 else str(i) for i in range(len(TRICKY))]


def test_aggregates_and_filters_name_only_the_columns_they_need(accounts: Accounts) -> None:
    setup_federation(accounts)
    ddb = accounts.owner.client("dynamodb")
    # a column whose values DuckDB could not even type consistently must not matter when the
    # query does not name it
    ddb.put_item(TableName="Music", Item={"Artist": {"S": "Wide"}, "SongTitle": {"S": "x"},
                                          "Blob": {"B": b"\x00\x01"}, "Awards": {"N": "3"}})
    out = run_query(accounts.analyst,
                    f"SELECT artist, count(*) AS n, sum(awards) AS total FROM {CATALOG}."
                    "default.music GROUP BY artist ORDER BY artist")
    assert out.state == "SUCCEEDED", out.reason
    assert out.rows[1:] == [["Acme Band", "2", "18"], ["No One You Know", "2", "3"],
                            ["Wide", "1", "3"]]
