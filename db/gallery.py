"""Community gallery: share (once per image), like/unlike (once per user), listings, search.

Never commits. Like counts are kept on the entry and changed in the same statement pair as the
like row, so listings by top/trending need no aggregate over likes.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnClause,
    Select,
    and_,
    delete,
    func,
    literal,
    literal_column,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from db.base import UTCDateTime
from db.dialect import dialect_name, hours_between, insert
from db.models import GalleryEntry, GalleryLike, Guild, Image, MemberName

# A listing query (entry columns joined with its image).
_Query = Select[*tuple[Any, ...]]

# Trending score = likes / (age in hours + 2)²: new likes count most, old hits fade.
_TRENDING_OFFSET_HOURS = 2.0
_FTS_CONFIG: ColumnClause[Any] = literal_column("'english'")


@dataclass(frozen=True)
class Shared:
    entry_id: uuid.UUID
    created: bool  # False: this image was already in the gallery


@dataclass(frozen=True)
class GalleryItem:
    entry_id: uuid.UUID
    image_id: uuid.UUID
    job_id: uuid.UUID
    image_key: str
    width: int
    height: int
    user_id: int
    guild_id: int | None
    prompt: str
    like_count: int
    created_at: datetime


async def share(
    session: AsyncSession,
    image_id: uuid.UUID,
    user_id: int,
    guild_id: int | None,
    prompt: str,
    now: datetime,
) -> Shared:
    entry_id = uuid.uuid4()
    created = await session.execute(
        insert(session, GalleryEntry)
        .values(
            id=entry_id,
            image_id=image_id,
            user_id=user_id,
            guild_id=guild_id,
            prompt=prompt,
            like_count=0,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=[GalleryEntry.image_id])
        .returning(GalleryEntry.id)
    )
    if created.first() is not None:
        return Shared(entry_id, True)
    existing = await session.scalar(
        select(GalleryEntry.id).where(GalleryEntry.image_id == image_id)
    )
    assert existing is not None
    return Shared(existing, False)


# Discord's limits: a server name is at most 100 characters, a display name 32.
NAME_MAX = 100


def _clean(name: str | None) -> str | None:
    """A name to show: control characters and surrounding blanks dropped, None if empty."""
    if name is None:
        return None
    kept = "".join(c for c in name if c.isprintable()).strip()
    return kept[:NAME_MAX] or None


async def record_names(
    session: AsyncSession,
    guild_id: int,
    guild_name: str | None,
    user_id: int,
    member_name: str | None,
    now: datetime,
) -> None:
    """Remember the names the web gallery shows, as Discord showed them at this share: the
    server's and the member's display name there (the latest share wins)."""
    guild_name, member_name = _clean(guild_name), _clean(member_name)
    if guild_name is not None:
        await session.execute(
            insert(session, Guild)
            .values(id=guild_id, name=guild_name, created_at=now, updated_at=now)
            .on_conflict_do_update(index_elements=[Guild.id], set_={"name": guild_name})
        )
    if member_name is not None:
        stmt = insert(session, MemberName).values(
            guild_id=guild_id, user_id=user_id, display_name=member_name, updated_at=now
        )
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=[MemberName.guild_id, MemberName.user_id],
                set_={"display_name": member_name, "updated_at": now},
            )
        )


async def like(session: AsyncSession, entry_id: uuid.UUID, user_id: int, now: datetime) -> bool:
    """True if this added a like; a second like by the same user changes nothing."""
    added = await session.execute(
        insert(session, GalleryLike)
        .values(entry_id=entry_id, user_id=user_id, created_at=now)
        .on_conflict_do_nothing()
        .returning(GalleryLike.entry_id)
    )
    if added.first() is None:
        return False
    await _bump(session, entry_id, +1)
    return True


async def unlike(session: AsyncSession, entry_id: uuid.UUID, user_id: int) -> bool:
    removed = await session.execute(
        delete(GalleryLike)
        .where(GalleryLike.entry_id == entry_id, GalleryLike.user_id == user_id)
        .returning(GalleryLike.entry_id)
        .execution_options(synchronize_session=False)
    )
    if removed.first() is None:
        return False
    await _bump(session, entry_id, -1)
    return True


async def _bump(session: AsyncSession, entry_id: uuid.UUID, by: int) -> None:
    await session.execute(
        update(GalleryEntry)
        .where(GalleryEntry.id == entry_id)
        .values(like_count=GalleryEntry.like_count + by)
        .execution_options(synchronize_session=False)
    )


async def get(session: AsyncSession, entry_id: uuid.UUID) -> GalleryItem | None:
    rows = await _items(session, _base().where(GalleryEntry.id == entry_id))
    return rows[0] if rows else None


async def list_new(
    session: AsyncSession, guild_id: int | None = None, limit: int = 50, offset: int = 0
) -> list[GalleryItem]:
    stmt = _scoped(guild_id).order_by(GalleryEntry.created_at.desc(), GalleryEntry.id)
    return await _items(session, stmt.limit(limit).offset(offset))


async def list_top(
    session: AsyncSession, guild_id: int | None = None, limit: int = 50, offset: int = 0
) -> list[GalleryItem]:
    stmt = _scoped(guild_id).order_by(
        GalleryEntry.like_count.desc(), GalleryEntry.created_at.desc(), GalleryEntry.id
    )
    return await _items(session, stmt.limit(limit).offset(offset))


async def list_trending(
    session: AsyncSession,
    now: datetime,
    guild_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[GalleryItem]:
    age = hours_between(session, literal(now, UTCDateTime()), GalleryEntry.created_at)
    aged = age + _TRENDING_OFFSET_HOURS
    score = GalleryEntry.like_count / (aged * aged)
    stmt = _scoped(guild_id).order_by(score.desc(), GalleryEntry.created_at.desc())
    return await _items(session, stmt.limit(limit).offset(offset))


async def list_by_user(
    session: AsyncSession,
    user_id: int,
    guild_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[GalleryItem]:
    stmt = _scoped(guild_id).where(GalleryEntry.user_id == user_id)
    stmt = stmt.order_by(GalleryEntry.created_at.desc(), GalleryEntry.id)
    return await _items(session, stmt.limit(limit).offset(offset))


async def search(
    session: AsyncSession,
    query: str,
    guild_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[GalleryItem]:
    """Prompts matching `query`: Postgres full-text search (stemmed, ranked); on SQLite every
    word must appear as a substring, case-insensitively."""
    words = re.findall(r"\w+", query.lower())
    if not words:
        return []
    stmt = _scoped(guild_id)
    if dialect_name(session) == "postgresql":
        vector = func.to_tsvector(_FTS_CONFIG, GalleryEntry.prompt)  # matches the GIN index
        tsquery = func.websearch_to_tsquery(_FTS_CONFIG, query)
        stmt = stmt.where(vector.op("@@")(tsquery)).order_by(
            func.ts_rank(vector, tsquery).desc(), GalleryEntry.created_at.desc()
        )
    else:
        prompt = func.lower(GalleryEntry.prompt)
        stmt = stmt.where(
            and_(*(prompt.like(f"%{_escape_like(w)}%", escape="\\") for w in words))
        ).order_by(GalleryEntry.created_at.desc())
    return await _items(session, stmt.limit(limit).offset(offset))


def _escape_like(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _base() -> _Query:
    return select(
        GalleryEntry.id,
        GalleryEntry.image_id,
        Image.job_id,
        Image.key,
        Image.width,
        Image.height,
        GalleryEntry.user_id,
        GalleryEntry.guild_id,
        GalleryEntry.prompt,
        GalleryEntry.like_count,
        GalleryEntry.created_at,
    ).join(Image, Image.id == GalleryEntry.image_id)


def _scoped(guild_id: int | None) -> _Query:
    stmt = _base()
    return stmt if guild_id is None else stmt.where(GalleryEntry.guild_id == guild_id)


async def _items(session: AsyncSession, stmt: _Query) -> list[GalleryItem]:
    rows = await session.execute(stmt)
    return [GalleryItem(*row) for row in rows]


async def remove(session: AsyncSession, entry_id: uuid.UUID) -> bool:
    """An admin's removal: the entry and its likes go, so it disappears from every listing,
    the web gallery included. True if there was such an entry."""
    return await remove_entry(session, entry_id) is not None


@dataclass(frozen=True)
class Removed:
    # Where the entry was posted on Discord (channel, message); None if never recorded.
    post: tuple[int, int] | None


async def remove_entry(session: AsyncSession, entry_id: uuid.UUID) -> Removed | None:
    """`remove`, saying where the entry was posted; None when there was no such entry."""
    removed = await session.execute(
        delete(GalleryEntry)
        .where(GalleryEntry.id == entry_id)
        .returning(GalleryEntry.post_channel_id, GalleryEntry.post_message_id)
        .execution_options(synchronize_session=False)
    )
    row = removed.first()
    if row is None:
        return None
    channel, message = row
    return Removed((int(channel), int(message)) if channel and message else None)


async def set_post(
    session: AsyncSession, entry_id: uuid.UUID, channel_id: int, message_id: int
) -> None:
    """Record the gallery-channel message that shows this entry."""
    await session.execute(
        update(GalleryEntry)
        .where(GalleryEntry.id == entry_id)
        .values(post_channel_id=channel_id, post_message_id=message_id)
        .execution_options(synchronize_session=False)
    )
