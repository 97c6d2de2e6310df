"""Item sizes follow the rules AWS documents in "DynamoDB item sizes and formats".

Each case is worked out by hand from those rules (never from an emulator's numbers): the
sandbox reports the sum as a query's data scanned, so it must not move with moto releases.
"""

from __future__ import annotations

import pytest

from wizard.sandbox.item_size import item_size, number_size, value_size


@pytest.mark.parametrize(("text", "size"), [
    ("7", 1 + 1),              # one significant digit: half a byte, rounded up, + 1
    ("42", 1 + 1),
    ("-123", 2 + 1),           # the sign is not a digit
    ("1001", 2 + 1),           # zeroes inside count
    ("100", 1 + 1),            # trailing zeroes are trimmed
    ("0.00123", 2 + 1),        # leading zeroes too: 123
    ("1.50", 1 + 1),           # 15
    ("-3.25", 2 + 1),
    ("1E+3", 1 + 1),           # the exponent is not stored as digits
    ("2.5e-7", 1 + 1),
    ("0", 0 + 1),              # zero has no significant digits: the byte of overhead
    ("-0.0", 0 + 1),
    ("9" * 38, 19 + 1),        # DynamoDB's maximum precision
    ("1" * 37, 19 + 1),
])
def test_numbers_take_a_byte_per_two_significant_digits_plus_one(text: str, size: int) -> None:
    assert number_size(text) == size
    assert value_size({"N": text}) == size


def test_scalars() -> None:
    assert value_size({"S": ""}) == 0
    assert value_size({"S": "naïve ☕"}) == len("naïve ☕".encode())  # UTF-8 bytes: 10
    assert value_size({"S": "naïve ☕"}) == 10
    assert value_size({"B": b"\x00\xff\x10"}) == 3      # raw bytes, not their base64
    assert value_size({"BOOL": False}) == 1
    assert value_size({"NULL": True}) == 1


def test_sets_are_the_sum_of_their_elements() -> None:
    assert value_size({"SS": ["ab", "ü"]}) == 2 + 2
    assert value_size({"NS": ["1", "1234", "0.5"]}) == 2 + 3 + 2
    assert value_size({"BS": [b"a", b"bc"]}) == 1 + 2


def test_lists_and_maps_cost_3_bytes_and_1_per_element() -> None:
    assert value_size({"L": []}) == 3
    assert value_size({"M": {}}) == 3
    # 3 + ("a": 1 + 1) + (7: 2 + 1)
    assert value_size({"L": [{"S": "a"}, {"N": "7"}]}) == 3 + 2 + 3
    # 3 + (name "ok" 2 + BOOL 1 + 1) + (name "n" 1 + NULL 1 + 1)
    assert value_size({"M": {"ok": {"BOOL": True}, "n": {"NULL": True}}}) == 3 + 4 + 3
    # nested: outer list 3 + (inner map (3 + ("k" 1 + "xy" 2 + 1)) + 1)
    assert value_size({"L": [{"M": {"k": {"S": "xy"}}}]}) == 3 + (3 + 4) + 1


def test_an_item_adds_each_attribute_name_in_utf8() -> None:
    item = {"Artist": {"S": "Acme"}, "Jahr": {"N": "1999"}, "Größe": {"BOOL": True}}
    assert item_size(item) == (6 + 4) + (4 + 3) + (7 + 1)
    assert item_size({}) == 0


def test_an_unknown_type_is_refused() -> None:
    with pytest.raises(ValueError, match="'X'"):
        value_size({"X": 1})
