"""Counted nouns for people: "1 change", "3 changes", "1 policy", "2 policies".

The messages are English only, and the nouns they count are few and regular, so a small rule
plus a table of exceptions is all that is needed (a library such as inflect would be heavier
than the problem).
"""

from __future__ import annotations

_IRREGULAR = {"is": "are", "was": "were", "has": "have", "this": "these", "it": "they"}


def plural(n: int, singular: str, many: str = "") -> str:
    """``singular`` or its plural for ``n`` (``many`` when the rule would be wrong)."""
    if n == 1:
        return singular
    if many:
        return many
    if singular in _IRREGULAR:
        return _IRREGULAR[singular]
    if singular.endswith("y") and singular[-2:-1] not in "aeiou":
        return singular[:-1] + "ies"
    if singular.endswith(("s", "x", "ch", "sh")):
        return singular + "es"
    return singular + "s"


def count(n: int, singular: str, many: str = "") -> str:
    """``"1 change"`` / ``"3 changes"`` / ``"1,000 rows"``."""
    return f"{n:,} {plural(n, singular, many)}"
