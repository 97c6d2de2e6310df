"""DynamoDB item sizes by the rules AWS documents ("DynamoDB item sizes and formats").

The sandbox reports a query's "data scanned" as the size of the items the connector read. AWS
publishes how DynamoDB sizes an item; computing it from those rules (rather than from whatever
the emulator stores) keeps the number stable across moto releases and close to what AWS bills:

* an attribute is its name's UTF-8 bytes plus its value's size;
* String: UTF-8 bytes; Binary: raw bytes; Boolean and Null: 1 byte;
* Number: 1 byte per two significant digits (leading and trailing zeroes trimmed) plus 1 byte;
* List and Map: 3 bytes plus, per element, its size and 1 byte (a Map element also counts its
  key's UTF-8 bytes, being a named attribute);
* String, Number and Binary sets: the sum of their elements' sizes.

Values are in DynamoDB's wire form (``{"S": "x"}``, ``{"N": "1.5"}``, ``{"B": b"..."}``...).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def number_size(text: str) -> int:
    """Bytes of a Number given as DynamoDB's decimal text ("-1.50", "1E+3", "0.0012").

    Zero has no significant digits, so it is the 1 byte of overhead alone.
    """
    mantissa = text.lstrip("+-").lower().partition("e")[0]
    significant = len(mantissa.replace(".", "").strip("0"))
    return (significant + 1) // 2 + 1


def value_size(value: Mapping[str, Any]) -> int:
    """Bytes of one attribute value in wire form, without its name."""
    ((kind, data),) = value.items()
    if kind == "S":
        return len(data.encode("utf-8"))
    if kind == "N":
        return number_size(data)
    if kind == "B":
        return len(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode("utf-8")) for s in data)
    if kind == "NS":
        return sum(number_size(n) for n in data)
    if kind == "BS":
        return sum(len(b) for b in data)
    if kind == "L":
        return 3 + sum(value_size(v) + 1 for v in data)
    if kind == "M":
        return 3 + sum(len(k.encode("utf-8")) + value_size(v) + 1 for k, v in data.items())
    raise ValueError(f"not a DynamoDB attribute type: {kind!r}")


def item_size(item: Mapping[str, Mapping[str, Any]]) -> int:
    """Bytes of a whole item in wire form: every attribute's name and value."""
    return sum(len(name.encode("utf-8")) + value_size(v) for name, v in item.items())


__all__ = ["item_size", "number_size", "value_size"]
