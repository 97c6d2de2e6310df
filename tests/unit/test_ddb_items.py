"""The sandbox connector's fast item reader gives exactly what moto's own conversion gives.

wizard.sandbox.ddb_items converts scalars itself (moto's path deep-copies every value and was
most of a large query's time); these tests hold it to moto's ``Item.to_regular_json``,
``Item.size`` and ``Table.all_items`` order on every DynamoDB type, on standalone moto tables
(no server, no global state).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from moto.dynamodb.models.table import Table

from wizard.sandbox.ddb_items import plain_items


def make_table(hash_key: tuple[str, str], range_key: tuple[str, str] | None = None) -> Table:
    schema = [{"AttributeName": hash_key[0], "KeyType": "HASH"}]
    attr = [{"AttributeName": hash_key[0], "AttributeType": hash_key[1]}]
    if range_key:
        schema.append({"AttributeName": range_key[0], "KeyType": "RANGE"})
        attr.append({"AttributeName": range_key[0], "AttributeType": range_key[1]})
    return Table("t", "123456789012", "us-east-1", schema=schema, attr=attr,
                 billing_mode="PAY_PER_REQUEST")


def moto_view(table: Table) -> tuple[list[dict[str, Any]], int]:
    items = table.all_items()
    return [it.to_regular_json() for it in items], sum(it.size() for it in items)


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


def test_every_dynamodb_type_converts_and_sizes_as_moto_does() -> None:
    table = make_table(("pk", "S"))
    for item in EVERY_TYPE:
        table.put_item(item)
    assert plain_items(table) == moto_view(table)


def test_whole_numbers_come_as_int_and_the_rest_as_boto3_decimals() -> None:
    table = make_table(("pk", "S"))
    table.put_item({"pk": {"S": "a"}, "i": {"N": "-42"}, "f": {"N": "2.50"},
                    "e": {"N": "1E+3"}, "big": {"N": "9" * 38}})
    (item,), _ = plain_items(table)
    assert type(item["i"]) is int and item["i"] == -42
    assert type(item["big"]) is int and item["big"] == int("9" * 38)
    assert type(item["f"]) is Decimal and item["f"] == Decimal("2.50")
    assert type(item["e"]) is Decimal and item["e"] == 1000


def test_hash_and_range_tables_come_in_key_order() -> None:
    table = make_table(("artist", "S"), ("n", "N"))
    for artist in ("b", "a", "c"):
        for n in ("10", "9", "-1", "2.5"):
            table.put_item({"artist": {"S": artist}, "n": {"N": n}, "x": {"S": artist + n}})
    plain, size = plain_items(table)
    assert (plain, size) == moto_view(table)
    assert [(p["artist"], p["n"]) for p in plain][:4] == [
        ("a", Decimal("-1")), ("a", Decimal("2.5")), ("a", Decimal("9")), ("a", Decimal("10"))]


def test_binary_keys_sort_by_their_bytes() -> None:
    table = make_table(("k", "B"))
    for key in (b"\x02", b"\x00\x01", b"\x01"):
        table.put_item({"k": {"B": key}, "v": {"N": "1"}})
    assert plain_items(table) == moto_view(table)
    mixed = make_table(("k", "B"), ("r", "S"))
    for key in (b"\x02", b"\x01"):
        for r in ("b", "a"):
            mixed.put_item({"k": {"B": key}, "r": {"S": r}})
    assert plain_items(mixed) == moto_view(mixed)


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


@settings(max_examples=60, deadline=None)
@given(st.lists(st.dictionaries(st.text(min_size=1, max_size=8).filter(lambda k: k != "pk"),
                                scalars, max_size=6), max_size=8))
def test_arbitrary_scalar_items_match_moto(rows: list[dict[str, Any]]) -> None:
    table = make_table(("pk", "N"))
    for i, attrs in enumerate(rows):
        table.put_item({"pk": {"N": str(i * 7 % 11)}, **attrs})
    assert plain_items(table) == moto_view(table)
