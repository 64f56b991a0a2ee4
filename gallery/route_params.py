"""Path and query values shared by pages and the API; anything malformed is a plain 404/400."""

from __future__ import annotations

import unicodedata
from uuid import UUID

from fastapi import HTTPException

from gallery.listing import GalleryReader, GuildCard, ListQuery, Sort

MAX_SEARCH = 200
PAGE_SIZE = 48
MAX_PAGE_SIZE = 100
_SNOWFLAKE_MAX = 2**63 - 1


def snowflake(value: str) -> int:
    """A Discord id from the path; anything else is a page that does not exist."""
    # isascii: str.isdigit() also accepts superscripts ('²') that int() refuses.
    if not (value.isascii() and value.isdigit()) or len(value) > 20 or int(value) > _SNOWFLAKE_MAX:
        raise HTTPException(404)
    return int(value)


async def public_guild(reader: GalleryReader, value: str) -> GuildCard:
    """The guild from the path when its gallery is public; any other guild does not exist."""
    card = await reader.public_guild(snowflake(value))
    if card is None:
        raise HTTPException(404)
    return card


def image_id(value: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise HTTPException(404) from None


def list_query(
    sort: str | None,
    q: str | None,
    cursor: str | None,
    *,
    member_id: int | None = None,
    limit: int = PAGE_SIZE,
) -> ListQuery:
    try:
        chosen = Sort(sort or Sort.NEW)
    except ValueError:
        raise HTTPException(400, "sort must be new, top or trending") from None
    if q is not None and any(
        unicodedata.category(c) in ("Cc", "Cs") and not c.isspace() for c in q
    ):
        raise HTTPException(400, "the search text contains control characters: type plain words")
    search = " ".join((q or "").split())[:MAX_SEARCH] or None
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise HTTPException(400, f"limit must be between 1 and {MAX_PAGE_SIZE}")
    return ListQuery(
        sort=chosen, search=search, member_id=member_id, cursor=cursor or None, limit=limit
    )
