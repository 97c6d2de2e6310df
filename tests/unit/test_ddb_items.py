"""The sandbox's one adapter to moto's DynamoDB internals (wizard.sandbox.ddb_items).

Whatever moto release is installed (the lock's, or the newest in CI's canary), the connector
must read the items a user put, with the values boto3 gives back, and count their size by the
rules AWS documents (wizard.sandbox.item_size, tested on its own). The expected values here
come from boto3's deserializer and the documented rules, never from moto's private objects.
Tables live in per-test accounts of moto's process-wide backends (no server needed).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import boto3
from boto3.dynamodb.types import Binary, TypeDeserializer
from hypothesis import given, settings
from hypothesis import strategies as st

from wizard.sandbox import ddb_items
from wizard.sandbox.ddb_items import create_table, key_attributes, plain_items, tables
from wizard.sandbox.item_size import item_size

REGION = "eu-west-1"
_accounts = itertools.count(900000000000)
_deserialize = TypeDeserializer().deserialize

Wire = Mapping[str, Mapping[str, Any]]


def new_table(keys: dict[str, str], items: list[dict[str, Any]]) -> Any:
    """A table in an account of its own, filled through the adapter (CreateTable + PutItem)."""
    return create_table(str(next(_accounts)), REGION, "t", keys, items)


def as_boto3(item: Wire) -> dict[str, Any]:
    """What boto3's DynamoDB resource returns for ``item``, but whole numbers written without
    a point or exponent as int (the sandbox's documented choice: equal values)."""
    out = {}
    for name, value in item.items():
        text = value.get("N")
        plain = text is not None and text.lstrip("-").isascii() and text.lstrip("-").isdigit()
        out[name] = int(text) if plain else _deserialize(dict(value))
    return out


def typed(items: list[dict[str, Any]]) -> list[dict[str, tuple[str, Any]]]:
    """Values with their type names, so int and Decimal('1') (equal in Python) differ."""
    return [{k: (type(v).__name__, v) for k, v in it.items()} for it in items]


EVERY_TYPE = [
    {"pk": {"S": "b"}, "s": {"S": "naïve café ☕ 日本"}, "n": {"N": "42"},
     "f": {"N": "-3.25"}, "e": {"N": "1E+3"}, "z": {"N": "0.0"}, "big": {"N": "1" * 38},
     "t": {"BOOL": True}, "nul": {"NULL": True}, "bin": {"B": b"\x00\xffbytes"},
     "ss": {"SS": ["x", "y"]}, "ns": {"NS": ["1", "2.5"]}, "bs": {"BS": [b"a", b"b"]},
     "l": {"L": [{"S": "a"}, {"N": "1"}, {"M": {"k": {"BOOL": False}}}]},
     "m": {"M": {"inner": {"L": [{"NULL": True}]}, "n": {"N": "7"}}}},
    {"pk": {"S": "a"}, "s": {"S": ""}, "f": {"BOOL": False}},
    {"pk": {"S": "Ä"}, "only": {"N": "-0"}},
]


def test_every_dynamodb_type_reads_as_boto3_gives_it_and_sizes_by_the_documented_rules(
) -> None:
    table = new_table({"pk": "S"}, EVERY_TYPE)
    plain, size = plain_items(table)
    expected = [as_boto3(EVERY_TYPE[i]) for i in (1, 0, 2)]  # by key: "a" < "b" < "Ä"
    assert typed(plain) == typed(expected)
    assert size == sum(item_size(it) for it in EVERY_TYPE)
    # the second item, by hand: pk "a" (2+1) + s "" (1+0) + f BOOL (1+1)
    assert plain_items(new_table({"pk": "S"}, [EVERY_TYPE[1]]))[1] == 3 + 1 + 2
    assert plain[1]["bin"] == Binary(b"\x00\xffbytes")
    assert plain[1]["ns"] == {Decimal(1), Decimal("2.5")}
    assert plain[1]["m"] == {"inner": [None], "n": Decimal(7)}


def test_whole_numbers_come_as_int_and_the_rest_as_boto3_decimals() -> None:
    table = new_table({"pk": "S"}, [{"pk": {"S": "a"}, "i": {"N": "-42"}, "f": {"N": "2.50"},
                                     "e": {"N": "1E+3"}, "big": {"N": "9" * 38}}])
    (item,), size = plain_items(table)
    assert type(item["i"]) is int and item["i"] == -42
    assert type(item["big"]) is int and item["big"] == int("9" * 38)
    assert type(item["f"]) is Decimal and item["f"] == Decimal("2.50")
    assert type(item["e"]) is Decimal and item["e"] == 1000
    # pk 2+1, i 1+2, f 1+2 ("25"), e 1+2, big 3+20
    assert size == 3 + 3 + 3 + 3 + 23


def test_hash_and_range_tables_come_in_key_order() -> None:
    rows = [{"artist": {"S": a}, "n": {"N": n}, "x": {"S": a + n}}
            for a in ("b", "a", "c") for n in ("10", "9", "-1", "2.5")]
    table = new_table({"artist": "S", "n": "N"}, rows)
    assert key_attributes(table) == ["artist", "n"]
    plain, size = plain_items(table)
    assert [(p["artist"], p["n"]) for p in plain] == [
        (a, n) for a in ("a", "b", "c") for n in (-1, Decimal("2.5"), 9, 10)]
    assert size == sum(item_size(r) for r in rows)


def test_binary_keys_sort_by_their_bytes() -> None:
    table = new_table({"k": "B"}, [{"k": {"B": key}, "v": {"N": "1"}}
                                   for key in (b"\x02", b"\x00\x01", b"\x01")])
    plain, size = plain_items(table)
    assert [p["k"].value for p in plain] == [b"\x00\x01", b"\x01", b"\x02"]
    assert size == 3 * (1 + 1 + 1 + 2) + 1  # names k, v + a 1-byte key + N "1" (2 bytes)
    mixed = new_table({"k": "B", "r": "S"}, [{"k": {"B": key}, "r": {"S": r}}
                                             for key in (b"\x02", b"\x01") for r in ("b", "a")])
    assert [(p["k"].value, p["r"]) for p in plain_items(mixed)[0]] == [
        (b"\x01", "a"), (b"\x01", "b"), (b"\x02", "a"), (b"\x02", "b")]


def test_tables_lists_the_accounts_tables_by_name() -> None:
    account = str(next(_accounts))
    table = create_table(account, REGION, "t", {"id": "S"})
    assert list(tables(account, REGION)) == ["t"]
    assert tables(account, REGION)["t"] is table
    assert tables(account, "us-west-2") == {}
    assert plain_items(table) == ([], 0)


def test_items_written_through_the_dynamodb_api_read_back_as_a_boto3_scan() -> None:
    """The adapter against moto's own API: what a user's PutItem stores, and what boto3's
    Scan returns for it, must be what the connector reads (a moto release that changes how
    it stores items fails here, not in a query)."""
    from moto import mock_aws

    with mock_aws():
        ddb = boto3.resource("dynamodb", region_name=REGION)
        ddb.create_table(TableName="Music", BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "Artist", "KeyType": "HASH"},
                                    {"AttributeName": "Year", "KeyType": "RANGE"}],
                         AttributeDefinitions=[{"AttributeName": "Artist", "AttributeType": "S"},
                                               {"AttributeName": "Year", "AttributeType": "N"}])
        music = ddb.Table("Music")
        music.put_item(Item={"Artist": "Zoë", "Year": 1999, "Price": Decimal("1.25"),
                             "Tags": {"pop", "live"}, "Tracks": [{"n": 1, "t": "Intro"}],
                             "Cover": Binary(b"\x89PNG"), "Live": False, "Note": None})
        music.put_item(Item={"Artist": "Abba", "Year": 1976, "Plays": 10**20})
        scanned = music.scan()["Items"]
        account = boto3.client("sts", region_name=REGION).get_caller_identity()["Account"]
        plain, size = plain_items(tables(account, REGION)["Music"])
    assert plain == sorted(scanned, key=lambda it: it["Artist"])
    assert type(plain[0]["Plays"]) is int and type(plain[1]["Year"]) is int
    assert type(plain[1]["Price"]) is Decimal
    # Abba: Artist 6+4, Year 4+3, Plays 5+2; Zoë: Artist 6+4 (ë is 2 bytes), Year 4+3,
    # Price 5+3, Tags 4+7, Tracks 6+(3 + (3 + (1+2+1) + (1+5+1)) + 1), Cover 5+4, Live 4+1,
    # Note 4+1
    assert size == (10 + 7 + 7) + (10 + 7 + 8 + 11 + (6 + 18) + 9 + 5 + 5)


numbers = st.one_of(st.integers(-10**30, 10**30).map(str),
                    st.floats(-1e125, 1e125).filter(lambda f: f == 0 or abs(f) > 1e-129)
                    .map(repr))  # DynamoDB's range: magnitudes 1e-130 to 1e126
scalars = st.one_of(
    st.text(max_size=20).map(lambda s: {"S": s}),
    numbers.map(lambda n: {"N": n}),
    st.booleans().map(lambda b: {"BOOL": b}),
    st.just({"NULL": True}),
    st.binary(min_size=1, max_size=8).map(lambda b: {"B": b}),
)
values = st.recursive(
    st.one_of(scalars,
              st.sets(st.text(max_size=5), min_size=1, max_size=3).map(lambda s: {"SS": list(s)}),
              st.sets(st.integers(-999, 999), min_size=1, max_size=3)
              .map(lambda s: {"NS": [str(n) for n in s]})),
    lambda inner: st.one_of(st.lists(inner, max_size=3).map(lambda v: {"L": v}),
                            st.dictionaries(st.text(max_size=4), inner, max_size=3)
                            .map(lambda v: {"M": v})),
    max_leaves=6)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.dictionaries(st.text(min_size=1, max_size=8).filter(lambda k: k != "pk"),
                                values, max_size=6), max_size=8))
def test_arbitrary_items_read_as_boto3_gives_them(rows: list[dict[str, Any]]) -> None:
    items = {str(i * 7 % 11): {"pk": {"N": str(i * 7 % 11)}, **attrs}
             for i, attrs in enumerate(rows)}  # later puts replace earlier ones, as in DynamoDB
    plain, size = plain_items(new_table({"pk": "N"}, list(items.values())))
    expected = [as_boto3(items[k]) for k in sorted(items, key=int)]
    assert typed(plain) == typed(expected)
    assert size == sum(item_size(it) for it in items.values())


def test_the_adapter_is_the_only_sandbox_module_reading_moto_dynamodb() -> None:
    """Every other sandbox module goes through ddb_items for DynamoDB (athena.py's table
    lookup excepted until it moves here: see ALLOWED)."""
    import pathlib

    sandbox = pathlib.Path(ddb_items.__file__).parent
    allowed = {"ddb_items.py", "athena.py"}
    offenders = [p.name for p in sandbox.glob("*.py") if p.name not in allowed
                 and ('"dynamodb"' in p.read_text() or "moto.dynamodb" in p.read_text())]
    assert offenders == []
