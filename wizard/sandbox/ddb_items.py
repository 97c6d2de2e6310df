"""Read a moto DynamoDB table as the connector sees it: plain Python items, in key order.

The emulated connector scans the whole table on every query. moto's own conversion
(``Item.to_regular_json`` and ``Item.size``) deep-copies every value and runs it through boto3's
deserializer, which took about 1.8 s of a 100 000-item query's 2 s. Scalars (strings, numbers,
booleans, nulls: nearly every attribute of a real table) are converted here directly, with
exactly moto's results (tests/sandbox/test_ddb_items.py compares them value for value); sets,
lists, maps and binaries still go through moto and boto3.
"""

from __future__ import annotations

from collections.abc import Iterator
from operator import itemgetter
from typing import Any

from boto3.dynamodb.types import DYNAMODB_CONTEXT, TypeDeserializer

_deserialize = TypeDeserializer().deserialize


def _stored_items(table: Any) -> Iterator[Any]:
    """Every moto Item of ``table`` (``Table.items``: hash -> item, or hash -> range -> item)."""
    for entry in table.items.values():
        if table.range_key_attr:
            yield from entry.values()
        else:
            yield entry


def plain_items(table: Any) -> tuple[list[dict[str, Any]], int]:
    """The table's items as plain values sorted by key, and their total size in bytes as
    DynamoDB counts it (what a scan reads). Numbers are Decimal as boto3 gives them, but
    whole numbers written without a point or exponent are int (equal values, cheaper to
    make and to classify)."""
    create_decimal = DYNAMODB_CONTEXT.create_decimal
    name_sizes: dict[str, int] = {}
    out: list[dict[str, Any]] = []
    total = 0
    for item in _stored_items(table):
        plain: dict[str, Any] = {}
        for name, attr in item.attrs.items():
            size = name_sizes.get(name)
            if size is None:
                size = name_sizes[name] = len(name.encode("utf-8"))
            kind, value = attr.type, attr.value
            if kind == "S":
                plain[name] = value
                size += len(value.encode("utf-8"))
            elif kind == "N":
                value = value if type(value) is str else str(value)
                # Whole numbers as int (equal to, and typed like, the Decimal boto3 makes
                # once the connector has typed them); the rest exactly as boto3 parses them.
                digits = value[1:] if value[:1] == "-" else value
                plain[name] = (int(value) if digits.isascii() and digits.isdigit()
                               else create_decimal(value))
                size += len(value)
            elif kind == "BOOL":
                plain[name] = value
                size += 1
            elif kind == "NULL":
                plain[name] = None
                size += 1
            else:
                plain[name] = _deserialize(attr.to_regular_json())
                size += attr.size()
            total += size
        out.append(plain)
    keys = [k for k in (table.hash_key_attr, table.range_key_attr) if k]
    if keys:
        # Key attributes are S, N or B, one type per attribute (strings and Decimals compare
        # as moto compares them; boto3's Binary does not order, its bytes do).
        binary = {a["AttributeName"] for a in table.attr if a.get("AttributeType") == "B"}
        if binary & set(keys):
            out.sort(key=lambda it: tuple(bytes(it[k].value) if k in binary else it[k]
                                          for k in keys))
        else:
            out.sort(key=itemgetter(*keys))
    return out, total


__all__ = ["plain_items"]
