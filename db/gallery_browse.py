"""Read-only queries behind the public web gallery: public guilds, keyset-paginated listings
(new, top, trending; per member; full-text search) and one public entry with its job.

Functions take an AsyncSession and never commit. Every query applies the privacy rule itself —
the guild allows the bot and made its gallery public, the entry exists (removal deletes it) —
so no caller can forget it.

Orderings, all descending and total (the image id breaks ties), so a page boundary given as
the last row's key (keyset pagination) never skips or repeats an entry:
  new:      (created_at, image_id)
  top:      (like_count, created_at, image_id)
  trending: (score, created_at, image_id), score = likes / (age in hours + 2)², the same
            time-decayed likes as `db.gallery`'s Discord listing. The age is measured from a
            `now` the caller fixes for a whole walk through the pages (it travels in the page
            cursor), so scores do not drift between pages.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Float,
    SQLColumnExpression,
    and_,
    cast,
    func,
    literal,
    select,
    text,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncSession

from db.base import UTCDateTime
from db.models import GalleryEntry, Guild, Image, Job, MemberName

BrowseSort = Literal["new", "top", "trending"]
TRENDING_OFFSET_HOURS = 2.0
MAX_PAGE = 200


@dataclass(frozen=True)
class PublicGuild:
    guild_id: int
    entries: int
    name: str | None = None  # as Discord showed it at the latest share (None: never seen)


@dataclass(frozen=True)
class BrowseRow:
    image_id: uuid.UUID
    guild_id: int
    user_id: int
    prompt: str
    like_count: int
    created_at: datetime
    width: int
    height: int
    author_name: str | None  # the member's display name at their latest share
    sort_key: tuple[Any, ...]  # pass back as `after` for the next page


@dataclass(frozen=True)
class BrowsePage:
    rows: list[BrowseRow]
    more: bool  # another page follows the last row


@dataclass(frozen=True)
class PublicEntry:
    row: BrowseRow
    storage_key: str
    made: Provenance
    guild_name: str | None = None


def _is_public() -> ColumnElement[bool]:
    return and_(Guild.gallery_public.is_(True), Guild.allowed.is_(True))


def trending_score(dialect: str, now: datetime) -> ColumnElement[Any]:
    if dialect == "postgresql":
        # date_part gives a double (extract gives a slower numeric), and a double survives
        # the round trip through a page cursor exactly.
        seconds = literal(now.timestamp(), Float) - func.date_part("epoch", GalleryEntry.created_at)
        hours = seconds / 3600.0
        floor: ColumnElement[Any] = func.greatest(hours, 0.0)
    else:
        at = literal(now, UTCDateTime())
        hours = (func.julianday(at) - func.julianday(GalleryEntry.created_at)) * 24.0
        floor = func.max(hours, 0.0)
    # Entries shared after `now` (while someone pages) count as brand new, never negative.
    return cast(GalleryEntry.like_count, Float) / func.power(floor + TRENDING_OFFSET_HOURS, 2)


def sort_columns(
    sort: BrowseSort, dialect: str, now: datetime | None = None
) -> list[SQLColumnExpression[Any]]:
    if sort == "new":
        return [GalleryEntry.created_at, GalleryEntry.image_id]
    if sort == "top":
        return [GalleryEntry.like_count, GalleryEntry.created_at, GalleryEntry.image_id]
    if now is None:
        raise ValueError("trending needs the time its scores are measured at")
    return [trending_score(dialect, now), GalleryEntry.created_at, GalleryEntry.image_id]


def prompt_matches(search: str, dialect: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        # The same expression as the GIN index on prompts (a constant config), so it is used.
        vector = func.to_tsvector(text("'english'"), GalleryEntry.prompt)
        return vector.op("@@")(func.websearch_to_tsquery(text("'english'"), search))
    words = search.lower().split()
    return and_(*(func.lower(GalleryEntry.prompt).contains(w, autoescape=True) for w in words))


async def public_guilds(session: AsyncSession) -> list[PublicGuild]:
    """Guilds with a public gallery and at least one entry, the busiest first."""
    count = func.count(GalleryEntry.id)
    stmt = (
        select(Guild.id, count, Guild.name)
        .join(GalleryEntry, GalleryEntry.guild_id == Guild.id)
        .where(_is_public())
        .group_by(Guild.id, Guild.name)
        .order_by(count.desc(), Guild.id)
    )
    return [PublicGuild(gid, n, name) for gid, n, name in (await session.execute(stmt)).all()]


async def public_guild_card(session: AsyncSession, guild_id: int) -> PublicGuild | None:
    """The guild with its name if its gallery is public (it may have no entry yet; entries
    is not counted here)."""
    stmt = select(Guild.name).where(Guild.id == guild_id, _is_public())
    found = (await session.execute(stmt)).first()
    return PublicGuild(guild_id, 0, found[0]) if found is not None else None


async def public_guild(session: AsyncSession, guild_id: int) -> bool:
    """Whether the guild's gallery is public (it may have no entry yet)."""
    return await public_guild_card(session, guild_id) is not None


async def list_entries(
    session: AsyncSession,
    guild_id: int,
    *,
    sort: BrowseSort = "new",
    search: str | None = None,
    user_id: int | None = None,
    after: Sequence[Any] | None = None,
    limit: int = 48,
    now: datetime | None = None,
) -> BrowsePage:
    """One page of a public guild's entries, starting after the row whose key is `after`.

    `now` (trending only) is the time scores are measured at: the same for every page."""
    # long: one query built from its optional parts (sort, search, author, cursor), read top down.
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be 1..{MAX_PAGE}")
    dialect = session.bind.dialect.name if session.bind else "postgresql"
    keys = sort_columns(sort, dialect, now)
    public = select(Guild.id).where(Guild.id == guild_id, _is_public()).exists()
    # Order and cut the page on gallery_entries alone, then join the page's images: the sort
    # never drags the images table along (trending must score every entry of the guild).
    labelled: list[Any] = [k.label(f"k{i}") for i, k in enumerate(keys)]
    columns: list[Any] = [
        GalleryEntry.image_id,
        GalleryEntry.guild_id,
        GalleryEntry.user_id,
        GalleryEntry.prompt,
        GalleryEntry.like_count,
        GalleryEntry.created_at,
        *labelled,
    ]
    inner = (
        select(*columns)
        .where(GalleryEntry.guild_id == guild_id, public)
        .order_by(*(k.desc() for k in labelled))  # by label: each score computed once
        .limit(limit + 1)
    )
    if user_id is not None:
        inner = inner.where(GalleryEntry.user_id == user_id)
    if search:
        inner = inner.where(prompt_matches(search, dialect))
    if after is not None:
        if len(after) != len(keys):
            raise ValueError(f"a {sort} page key has {len(keys)} values, got {len(after)}")
        inner = inner.where(tuple_(*keys) < tuple_(*after))
    page = inner.subquery("page")
    key_columns = [page.c[f"k{i}"] for i in range(len(keys))]
    stmt = (
        select(
            page.c.image_id,
            page.c.guild_id,
            page.c.user_id,
            page.c.prompt,
            page.c.like_count,
            page.c.created_at,
            Image.width,
            Image.height,
            MemberName.display_name,
            *key_columns,
        )
        .join(Image, Image.id == page.c.image_id)
        .outerjoin(
            MemberName,
            and_(MemberName.guild_id == page.c.guild_id, MemberName.user_id == page.c.user_id),
        )
        .order_by(*(k.desc() for k in key_columns))
    )
    result = (await session.execute(stmt)).all()
    rows = [_row(r[:9], tuple(r[9:])) for r in result[:limit]]
    return BrowsePage(rows, more=len(result) > limit)


def _row(values: Sequence[Any], key: tuple[Any, ...]) -> BrowseRow:
    image_id, guild_id, user_id, prompt, likes, created_at, width, height, name = values
    return BrowseRow(
        image_id, guild_id, user_id, prompt, likes, created_at, width, height, name, key
    )


@dataclass(frozen=True)
class Provenance:
    """How an image was made: its job's kind and contract, and for an upscale the job it
    upscaled and, when that tile's image row exists, its seed."""

    kind: str
    request: dict[str, Any]  # the job contract's JSON (JobSpec)
    seed: int  # the image's own seed
    parent_request: dict[str, Any] | None
    parent_seed: int | None


async def provenance(
    session: AsyncSession, image_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Provenance]:
    """For each image, how it was made (three queries whatever the number of images)."""
    if not image_ids:
        return {}
    rows = (
        await session.execute(
            select(Image.id, Image.seed, Job.kind, Job.request, Job.parent_id, Job.tile_index)
            .join(Job, Job.id == Image.job_id)
            .where(Image.id.in_(image_ids))
        )
    ).all()
    # An upscale names the tile it started from in its contract (`source`); the parent
    # columns may be unset.
    parents: dict[uuid.UUID, tuple[uuid.UUID, int | None]] = {}
    for image_id, _, _, request, parent_id, tile in rows:
        source = request.get("source") or {}
        parent = parent_id or _uuid(source.get("job_id"))
        index = tile or source.get("index")
        if parent is not None:
            parents[image_id] = (parent, index if isinstance(index, int) else None)
    parent_ids = {p for p, _ in parents.values()}
    requests: dict[uuid.UUID, dict[str, Any]] = {}
    seeds: dict[tuple[uuid.UUID, int], int] = {}
    if parent_ids:
        found = await session.execute(select(Job.id, Job.request).where(Job.id.in_(parent_ids)))
        requests = {job_id: request for job_id, request in found.all()}
        tiles = await session.execute(
            select(Image.job_id, Image.index, Image.seed).where(Image.job_id.in_(parent_ids))
        )
        seeds = {(job_id, index): seed for job_id, index, seed in tiles.all()}
    out: dict[uuid.UUID, Provenance] = {}
    for image_id, seed, kind, request, _, _ in rows:
        parent, index = parents.get(image_id, (None, None))
        out[image_id] = Provenance(
            kind=kind,
            request=request,
            seed=seed,
            parent_request=requests.get(parent) if parent else None,
            parent_seed=seeds.get((parent, index)) if parent and index else None,
        )
    return out


async def public_entry(session: AsyncSession, image_id: uuid.UUID) -> PublicEntry | None:
    """The shared entry of an image with what made it, if its guild's gallery is public."""
    stmt = (
        select(
            GalleryEntry.image_id,
            GalleryEntry.guild_id,
            GalleryEntry.user_id,
            GalleryEntry.prompt,
            GalleryEntry.like_count,
            GalleryEntry.created_at,
            Image.width,
            Image.height,
            MemberName.display_name,
            Image.key,
            Guild.name,
        )
        .join(Image, Image.id == GalleryEntry.image_id)
        .join(Guild, Guild.id == GalleryEntry.guild_id)
        # An outer join: None when the author's name was never recorded.
        .outerjoin(
            MemberName,
            and_(
                MemberName.guild_id == GalleryEntry.guild_id,
                MemberName.user_id == GalleryEntry.user_id,
            ),
        )
        .where(GalleryEntry.image_id == image_id, _is_public())
    )
    r = (await session.execute(stmt)).first()
    if r is None:
        return None
    made = (await provenance(session, [image_id]))[image_id]
    row = _row(r[:9], (r[5], r[0]))
    return PublicEntry(row=row, storage_key=r[9], made=made, guild_name=r[10])


def _uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


async def public_image_of_job(session: AsyncSession, job_id: uuid.UUID) -> uuid.UUID | None:
    """The shared image a job made (its lowest tile), if its guild's gallery is public.

    Discord links to a job (🔗 Web on an upscale); the gallery pages are per image."""
    stmt = (
        select(GalleryEntry.image_id)
        .join(Image, Image.id == GalleryEntry.image_id)
        .join(Guild, Guild.id == GalleryEntry.guild_id)
        .where(Image.job_id == job_id, _is_public())
        .order_by(Image.index)
        .limit(1)
    )
    found: uuid.UUID | None = (await session.execute(stmt)).scalar()
    return found
