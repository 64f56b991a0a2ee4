"""What /gallery and the ❤️ button need from the data layer: paged listings with each image's
`/imagine` command, like toggling, and admins' removal. Discord-free and injectable.

Inside Discord a server's members see its whole gallery (the web's "public" flag is about the
web); listings are offset-paged, which suits an ephemeral view with previous/next buttons.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db import gallery, gallery_browse, members
from db.models import GalleryEntry, Image
from prompt import remake

PER_PAGE = 4


class Listing(StrEnum):
    NEW = "new"
    TOP = "top"
    TRENDING = "trending"
    MINE = "mine"
    SEARCH = "search"


@dataclass(frozen=True)
class FeedItem:
    entry_id: uuid.UUID
    image_id: uuid.UUID
    job_id: uuid.UUID
    image_key: str
    prompt: str
    user_id: int
    likes: int
    created_at: datetime
    command: str  # the `/imagine …` that makes it again


@dataclass(frozen=True)
class FeedPage:
    items: list[FeedItem]
    page: int  # 0-based
    has_next: bool


@dataclass(frozen=True)
class LikeResult:
    liked: bool  # whether the member likes it now
    likes: int


class GalleryFeed(Protocol):
    async def page(
        self,
        guild_id: int,
        listing: Listing,
        *,
        user_id: int,
        query: str | None = None,
        page: int = 0,
        per_page: int = PER_PAGE,
    ) -> FeedPage: ...

    async def toggle_like(self, entry_id: uuid.UUID, user_id: int) -> LikeResult | None: ...

    async def find(self, guild_id: int, ref: uuid.UUID) -> uuid.UUID | None: ...

    async def remove(self, entry_id: uuid.UUID) -> bool: ...

    async def record_post(self, entry_id: uuid.UUID, channel_id: int, message_id: int) -> None:
        """Remember the gallery-channel message of an entry (so removal can delete it)."""
        ...

    async def remove_with_post(self, entry_id: uuid.UUID) -> tuple[bool, tuple[int, int] | None]:
        """Remove the entry; (whether it existed, its (channel, message) post if recorded)."""
        ...


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SqlGalleryFeed:
    """GalleryFeed on db.gallery; one transaction per call."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        default_plan: str,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._sessions = sessions
        self._default_plan = default_plan  # for a member who likes before ever painting
        self._now = clock

    async def page(
        self,
        guild_id: int,
        listing: Listing,
        *,
        user_id: int,
        query: str | None = None,
        page: int = 0,
        per_page: int = PER_PAGE,
    ) -> FeedPage:
        page = max(page, 0)
        limit, offset = per_page + 1, page * per_page
        async with self._sessions.begin() as session:
            if listing is Listing.NEW:
                rows = await gallery.list_new(session, guild_id, limit, offset)
            elif listing is Listing.TOP:
                rows = await gallery.list_top(session, guild_id, limit, offset)
            elif listing is Listing.TRENDING:
                rows = await gallery.list_trending(session, self._now(), guild_id, limit, offset)
            elif listing is Listing.MINE:
                rows = await gallery.list_by_user(session, user_id, guild_id, limit, offset)
            else:
                rows = await gallery.search(session, query or "", guild_id, limit, offset)
            shown = rows[:per_page]
            made = await gallery_browse.provenance(session, [r.image_id for r in shown])
        items = [
            FeedItem(
                entry_id=r.entry_id,
                image_id=r.image_id,
                job_id=r.job_id,
                image_key=r.image_key,
                prompt=r.prompt,
                user_id=r.user_id,
                likes=r.like_count,
                created_at=r.created_at,
                command=remake.imagine_command(remake.recipe_of(_made_by(r, made[r.image_id]))),
            )
            for r in shown
        ]
        return FeedPage(items, page, has_next=len(rows) > per_page)

    async def toggle_like(self, entry_id: uuid.UUID, user_id: int) -> LikeResult | None:
        """Like, or unlike if this member already likes it; None if the entry was removed."""
        async with self._sessions.begin() as session:
            exists = await session.scalar(
                select(GalleryEntry.id).where(GalleryEntry.id == entry_id)
            )
            if exists is None:
                return None
            await members.ensure_user(session, user_id, self._default_plan, self._now())
            liked = await gallery.like(session, entry_id, user_id, self._now())
            if not liked:
                await gallery.unlike(session, entry_id, user_id)
            likes = await session.scalar(
                select(GalleryEntry.like_count).where(GalleryEntry.id == entry_id)
            )
        return LikeResult(liked, likes or 0)

    async def find(self, guild_id: int, ref: uuid.UUID) -> uuid.UUID | None:
        """The entry of this server that `ref` names: an entry, image or job id."""
        async with self._sessions.begin() as session:
            found: uuid.UUID | None = await session.scalar(
                select(GalleryEntry.id)
                .join(Image, Image.id == GalleryEntry.image_id)
                .where(
                    GalleryEntry.guild_id == guild_id,
                    (GalleryEntry.id == ref) | (Image.id == ref) | (Image.job_id == ref),
                )
                .limit(1)
            )
        return found

    async def remove(self, entry_id: uuid.UUID) -> bool:
        async with self._sessions.begin() as session:
            return await gallery.remove(session, entry_id)

    async def record_post(self, entry_id: uuid.UUID, channel_id: int, message_id: int) -> None:
        async with self._sessions.begin() as session:
            await gallery.set_post(session, entry_id, channel_id, message_id)

    async def remove_with_post(self, entry_id: uuid.UUID) -> tuple[bool, tuple[int, int] | None]:
        async with self._sessions.begin() as session:
            removed = await gallery.remove_entry(session, entry_id)
        return (removed is not None, removed.post if removed else None)


def _made_by(row: gallery.GalleryItem, made: gallery_browse.Provenance) -> remake.MadeBy:
    return remake.MadeBy(
        kind=made.kind,
        request=made.request,
        seed=made.seed,
        width=row.width,
        height=row.height,
        prompt=row.prompt,
        parent_request=made.parent_request,
        parent_seed=made.parent_seed,
    )
