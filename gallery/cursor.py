"""Opaque keyset cursors: the sort key of the last item shown, so the next page starts after it.

A cursor is base64url JSON `[sort, key...]`. It is opaque to clients, not secret: a forged one
can only move the page start, never reveal anything the listing would not show anyway.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from datetime import UTC, datetime
from uuid import UUID

from gallery.listing import Sort

# The keyset of each sort, newest/best first: the listing orders by these, all descending.
#   new:      (shared_at, image_id)
#   top:      (likes, shared_at, image_id)
#   trending: (now, score, shared_at, image_id) — `now` is when page 1 was made: every later
#             page measures ages from it, so scores do not drift while someone pages.
KeyValue = datetime | UUID | int | float
Key = tuple[KeyValue, ...]


# A cursor this gallery makes is a few dozen characters; anything much longer was not made here
# (and a deeply nested JSON document would exhaust the parser's recursion).
MAX_CURSOR = 512
_INT64 = 2**63
_YEARS = (2000, 3000)  # outside: not a time this gallery wrote (and Postgres may overflow)
_DAMAGED = "this page link is damaged: start again from the first page"


class CursorError(ValueError):
    """The `cursor` parameter is not one this gallery made (edited or from another sort)."""


def encode(sort: Sort, key: Key) -> str:
    parts: list[object] = [sort.value]
    for value in key:
        if isinstance(value, datetime):
            parts.append({"t": value.isoformat()})
        elif isinstance(value, UUID):
            parts.append({"u": str(value)})
        else:
            parts.append(value)
    raw = json.dumps(parts, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(sort: Sort, cursor: str) -> Key:
    if len(cursor) > MAX_CURSOR:
        raise CursorError(_DAMAGED)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        parts = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise CursorError(_DAMAGED) from exc
    expected = {Sort.NEW: "tu", Sort.TOP: "itu", Sort.TRENDING: "tftu"}[sort]
    if not isinstance(parts, list) or parts[:1] != [sort.value] or len(parts) != 1 + len(expected):
        raise CursorError("this page link belongs to another listing: start from the first page")
    key: list[KeyValue] = []
    try:
        for kind, value in zip(expected, parts[1:], strict=True):
            key.append(_value(kind, value))
    except (TypeError, ValueError, KeyError, OverflowError) as exc:
        raise CursorError(_DAMAGED) from exc
    return tuple(key)


def _value(kind: str, value: object) -> KeyValue:
    if kind == "t" and isinstance(value, dict) and isinstance(value.get("t"), str):
        parsed = datetime.fromisoformat(value["t"])
        if parsed.tzinfo is None:
            raise ValueError("naive time")
        if not _YEARS[0] <= parsed.astimezone(UTC).year <= _YEARS[1]:
            raise ValueError("time out of range")
        return parsed
    if kind == "u" and isinstance(value, dict) and isinstance(value.get("u"), str):
        return UUID(value["u"])
    if kind == "i" and isinstance(value, int) and not isinstance(value, bool):
        if not -_INT64 <= value < _INT64:
            raise ValueError("integer out of range")
        return value
    if kind == "f" and isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
        if not math.isfinite(number):
            raise ValueError("not a finite number")
        return number
    raise ValueError(f"expected {kind}")
