"""What the web gallery shows, as plain typed values, and the read port it gets them through.

Pages and the JSON API render these dataclasses; `GalleryReader` is implemented over Postgres
(`gallery.sql_reader`). Every method answers only what is public: a guild whose gallery is
public, entries that were shared and not removed. Anything else is `None` / empty, so the
routes turn it into a 404 without knowing why.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol
from uuid import UUID

from prompt.remake import Recipe


class Sort(StrEnum):
    NEW = "new"
    TOP = "top"
    TRENDING = "trending"


__all__ = [
    "Author",
    "EntryCard",
    "EntryDetail",
    "GalleryReader",
    "GuildCard",
    "ListQuery",
    "Page",
    "ReaderFactory",
    "Recipe",
    "Sort",
]


@dataclass(frozen=True)
class GuildCard:
    guild_id: int
    name: str
    entries: int | None = None  # counted for the list of galleries only


@dataclass(frozen=True)
class Author:
    user_id: int
    name: str


@dataclass(frozen=True)
class EntryCard:
    """One tile of a grid: enough to draw a thumbnail with its caption."""

    image_id: UUID
    guild_id: int
    prompt: str
    author: Author
    likes: int
    shared_at: datetime
    width: int
    height: int


@dataclass(frozen=True)
class EntryDetail:
    card: EntryCard
    guild_name: str
    recipe: Recipe
    storage_key: str  # the full-size PNG in storage


@dataclass(frozen=True)
class Page:
    items: list[EntryCard]
    next_cursor: str | None = None


@dataclass(frozen=True)
class ListQuery:
    sort: Sort = Sort.NEW
    search: str | None = None
    member_id: int | None = None
    cursor: str | None = None
    limit: int = 48


class GalleryReader(Protocol):
    async def public_guilds(self) -> list[GuildCard]: ...

    async def public_guild(self, guild_id: int) -> GuildCard | None: ...

    async def list_entries(self, guild_id: int, query: ListQuery) -> Page: ...

    async def entry(self, image_id: UUID) -> EntryDetail | None: ...

    async def image_of_job(self, job_id: UUID) -> UUID | None: ...


# Opens one reader (one database session) for one request.
ReaderFactory = Callable[[], AbstractAsyncContextManager[GalleryReader]]
