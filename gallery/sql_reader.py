"""`GalleryReader` over the database (`db.gallery_browse`), one session per request."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db import gallery_browse as browse
from gallery import cursor
from gallery.listing import (
    Author,
    EntryCard,
    EntryDetail,
    GalleryReader,
    GuildCard,
    ListQuery,
    Page,
    ReaderFactory,
    Recipe,
    Sort,
)
from prompt import remake

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def guild_name(guild_id: int, name: str | None = None) -> str:
    # The name Discord showed at the latest share; before any, a stable short label.
    return name or f"Server {str(guild_id)[-6:]}"


def member_name(user_id: int, name: str | None = None) -> str:
    return name or f"Member {str(user_id)[-6:]}"


def _card(row: browse.BrowseRow) -> EntryCard:
    return EntryCard(
        image_id=row.image_id,
        guild_id=row.guild_id,
        prompt=row.prompt,
        author=Author(row.user_id, member_name(row.user_id, row.author_name)),
        likes=row.like_count,
        shared_at=row.created_at,
        width=row.width,
        height=row.height,
    )


def _guild(found: browse.PublicGuild) -> GuildCard:
    return GuildCard(found.guild_id, guild_name(found.guild_id, found.name), found.entries)


def recipe_of(entry: browse.PublicEntry) -> Recipe:
    row, made = entry.row, entry.made
    return remake.recipe_of(
        remake.MadeBy(
            kind=made.kind,
            request=made.request,
            seed=made.seed,
            width=row.width,
            height=row.height,
            prompt=row.prompt,
            parent_request=made.parent_request,
            parent_seed=made.parent_seed,
        )
    )


class SqlGalleryReader(GalleryReader):
    def __init__(self, session: AsyncSession, clock: Clock = _utcnow) -> None:
        self._session = session
        self._clock = clock

    async def public_guilds(self) -> list[GuildCard]:
        return [_guild(g) for g in await browse.public_guilds(self._session)]

    async def public_guild(self, guild_id: int) -> GuildCard | None:
        found = await browse.public_guild_card(self._session, guild_id)
        if found is None:
            return None
        return GuildCard(guild_id, guild_name(guild_id, found.name))

    async def list_entries(self, guild_id: int, query: ListQuery) -> Page:
        key = cursor.decode(query.sort, query.cursor) if query.cursor else None
        now: datetime | None = None
        if query.sort is Sort.TRENDING:
            # Trending ages are measured from when page 1 was made; the cursor carries it.
            if key is None:
                now = self._clock()
            else:
                first, key = key[0], key[1:]
                assert isinstance(first, datetime)
                now = first
        page = await browse.list_entries(
            self._session,
            guild_id,
            sort=query.sort.value,
            search=query.search,
            user_id=query.member_id,
            after=key,
            limit=query.limit,
            now=now,
        )
        next_cursor = None
        if page.more and page.rows:
            last = page.rows[-1].sort_key
            next_cursor = cursor.encode(query.sort, (now, *last) if now else last)
        return Page([_card(r) for r in page.rows], next_cursor)

    async def entry(self, image_id: UUID) -> EntryDetail | None:
        found = await browse.public_entry(self._session, image_id)
        if found is None:
            return None
        card = _card(found.row)
        name = guild_name(card.guild_id, found.guild_name)
        return EntryDetail(card, name, recipe_of(found), found.storage_key)

    async def image_of_job(self, job_id: UUID) -> UUID | None:
        return await browse.public_image_of_job(self._session, job_id)


def reader_factory(
    sessions: async_sessionmaker[AsyncSession], clock: Clock = _utcnow
) -> ReaderFactory:
    """For `create_app`: a read-only session per request, rolled back at the end."""

    @asynccontextmanager
    async def open_reader() -> AsyncIterator[GalleryReader]:
        async with sessions() as session:
            try:
                yield SqlGalleryReader(session, clock)
            finally:
                await session.rollback()

    return open_reader
