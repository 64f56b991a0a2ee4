from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from gallery import cursor
from gallery.listing import Sort

WHEN = datetime(2026, 11, 23, 1, 2, 3, 456789, tzinfo=UTC)
ID = uuid.uuid4()


@pytest.mark.parametrize(
    ("sort", "key"),
    [
        (Sort.NEW, (WHEN, ID)),
        (Sort.TOP, (7, WHEN, ID)),
        (Sort.TRENDING, (WHEN, 0.0123456789012345, WHEN, ID)),
    ],
)
def test_round_trip_is_exact(sort: Sort, key: tuple[object, ...]) -> None:
    token = cursor.encode(sort, key)  # type: ignore[arg-type]
    assert token.isascii() and "=" not in token
    assert cursor.decode(sort, token) == key


@pytest.mark.parametrize(
    "token", ["", "!!!", "bm90IGpzb24", cursor.encode(Sort.NEW, (WHEN, ID))[:-4]]
)
def test_damaged_cursors_are_refused(token: str) -> None:
    with pytest.raises(cursor.CursorError, match="first page"):
        cursor.decode(Sort.NEW, token)


def test_a_cursor_only_fits_its_own_sort() -> None:
    with pytest.raises(cursor.CursorError, match="another listing"):
        cursor.decode(Sort.TOP, cursor.encode(Sort.NEW, (WHEN, ID)))
