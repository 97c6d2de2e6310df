"""The one place the sandbox reaches into moto's DynamoDB internals.

moto has no public API for "this account's tables" or "every item of a table"; its backend and
model objects change between releases (5.2.6 changed ``Item.size``, for one). Everything the
sandbox needs from them goes through the few functions here, so a moto release that moves them
breaks this module and its tests (tests/unit/test_ddb_items.py, run against the locked moto and,
in CI's canary, the newest one) rather than queries all over the sandbox.

What it relies on from moto: ``get_backend("dynamodb")[account][region]`` with ``.tables``,
``create_table`` and ``put_item``; a table's ``items`` (hash -> item, or hash -> range -> item),
``hash_key_attr``, ``range_key_attr`` and ``attr``; an item's ``attrs`` (name -> value with
``type``, ``value`` and ``to_regular_json()``).

Reading is fast on purpose: the emulated connector scans the whole table on every query, and
moto's own conversion (``Item.to_regular_json``) deep-copies every value and runs it through
boto3's deserializer, which took about 1.8 s of a 100 000-item query's 2 s. Scalars (nearly
every attribute of a real table) are converted here directly; sets, lists, maps and binaries go
through moto's wire form and boto3. Sizes follow AWS's documented rules (item_size), not moto's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from operator import itemgetter
from typing import Any

from boto3.dynamodb.types import DYNAMODB_CONTEXT, TypeDeserializer

from wizard.sandbox.item_size import number_size, value_size

_deserialize = TypeDeserializer().deserialize


def tables(account_id: str, region: str) -> dict[str, Any]:
    """The account's DynamoDB tables in the region, by name (a snapshot)."""
    from moto.backends import get_backend

    return dict(get_backend("dynamodb")[account_id][region].tables)


def key_attributes(table: Any) -> list[str]:
    """The table's key attribute names: [hash] or [hash, range]."""
    return [k for k in (table.hash_key_attr, table.range_key_attr) if k]


def create_table(account_id: str, region: str, name: str, keys: Mapping[str, str],
                 items: Iterable[Mapping[str, Mapping[str, Any]]] = ()) -> Any:
    """Create an on-demand table and put ``items`` (wire form) into it, as CreateTable and
    PutItem would; ``keys`` is {attribute: type} with the hash key first (then the range key)."""
    from moto.backends import get_backend

    backend = get_backend("dynamodb")[account_id][region]
    schema = [{"AttributeName": attr, "KeyType": kind}
              for attr, kind in zip(keys, ("HASH", "RANGE"), strict=False)]
    table = backend.create_table(
        name, schema=schema, throughput=None,
        attr=[{"AttributeName": a, "AttributeType": t} for a, t in keys.items()],
        global_indexes=None, indexes=None, streams=None, billing_mode="PAY_PER_REQUEST",
        sse_specification=None, tags=[], deletion_protection_enabled=False,
        warm_throughput=None,
    )
    for item in items:
        backend.put_item(name, dict(item))
    return table


def _stored_items(table: Any) -> Iterator[Any]:
    """Every moto Item of ``table`` (``Table.items``: hash -> item, or hash -> range -> item)."""
    for entry in table.items.values():
        if table.range_key_attr:
            yield from entry.values()
        else:
            yield entry


def plain_items(table: Any) -> tuple[list[dict[str, Any]], int]:
    """The table's items as boto3 deserializes them, sorted by key, and their total size in
    bytes by DynamoDB's documented rules (what a scan reads: the query's data scanned).

    Numbers are Decimal as boto3 gives them, but whole numbers written without a point or
    exponent are int (equal values, cheaper to make and to classify); numbers in sets, lists
    and maps stay boto3's Decimals."""
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
                digits = value[1:] if value[:1] == "-" else value
                if digits.isascii() and digits.isdigit():
                    plain[name] = int(value)
                    size += (len(digits.strip("0")) + 1) // 2 + 1  # number_size, inlined
                else:
                    plain[name] = create_decimal(value)
                    size += number_size(value)
            elif kind == "BOOL":
                plain[name] = value
                size += 1
            elif kind == "NULL":
                plain[name] = None
                size += 1
            else:
                wire = attr.to_regular_json()
                plain[name] = _deserialize(wire)
                size += value_size(wire)
            total += size
        out.append(plain)
    keys = key_attributes(table)
    if keys:
        # Key attributes are S, N or B, one type per attribute (strings and Decimals compare
        # as DynamoDB orders them; boto3's Binary does not order, its bytes do).
        binary = {a["AttributeName"] for a in table.attr if a.get("AttributeType") == "B"}
        if binary & set(keys):
            out.sort(key=lambda it: tuple(bytes(it[k].value) if k in binary else it[k]
                                          for k in keys))
        else:
            out.sort(key=itemgetter(*keys))
    return out, total


__all__ = ["create_table", "key_attributes", "plain_items", "tables"]
