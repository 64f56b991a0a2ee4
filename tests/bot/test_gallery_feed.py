"""The bot's gallery feed on Postgres: pages for /gallery, ❤️ toggling, admins' removal."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.gallery_feed import Listing, SqlGalleryFeed
from prompt import parse_prompt
from tests.gallery.seed import ALICE, LIKERS, NOW, PRIVATE, PUBLIC, PUBLIC_ENTRIES, Seeded, seed


@pytest.fixture
async def seeded(pg_sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[Seeded]:
    async with pg_sessions.begin() as session:
        seeded = await seed(session)
    yield seeded  # committed: the feed reads with its own sessions


@pytest.fixture
def feed(pg_sessions: async_sessionmaker[AsyncSession]) -> SqlGalleryFeed:
    return SqlGalleryFeed(pg_sessions, default_plan="free", clock=lambda: NOW)


async def _all(feed: SqlGalleryFeed, listing: Listing, **kw: object) -> list[str]:
    prompts: list[str] = []
    for number in range(20):
        page = await feed.page(PUBLIC, listing, user_id=ALICE, page=number, per_page=3, **kw)  # type: ignore[arg-type]
        assert len(page.items) <= 3
        prompts += [item.prompt for item in page.items]
        if not page.has_next:
            return prompts
    raise AssertionError("paging did not end")


async def test_listings_page_through_the_servers_gallery(
    feed: SqlGalleryFeed, seeded: Seeded
) -> None:
    newest = [p for p, *_ in sorted(PUBLIC_ENTRIES, key=lambda e: -e[2])] + ["castle on a hill"]
    assert await _all(feed, Listing.NEW) == newest
    top = await _all(feed, Listing.TOP)
    assert top[:3] == [
        "red fox sleeping in snow",
        "watercolor fox cub",
        "a lighthouse at dusk, oil painting",
    ]
    assert sorted(await _all(feed, Listing.TRENDING)) == sorted(newest)
    mine = await _all(feed, Listing.MINE)
    assert mine == [
        p
        for p in newest
        if p in {e[0] for e in PUBLIC_ENTRIES if e[1] == ALICE} | {"castle on a hill"}
    ]
    assert sorted(await _all(feed, Listing.SEARCH, query="lighthouse")) == sorted(
        p for p in newest if "lighthouse" in p
    )
    # Inside Discord, a server whose web gallery is private still sees its own gallery.
    private = await feed.page(PRIVATE, Listing.NEW, user_id=ALICE)
    assert [i.prompt for i in private.items] == [f"secret art of {PRIVATE}"]


async def test_each_item_carries_a_command_that_parses(
    feed: SqlGalleryFeed, seeded: Seeded
) -> None:
    page = await feed.page(PUBLIC, Listing.NEW, user_id=ALICE, per_page=10)
    for item in page.items:
        [params] = parse_prompt(item.command.removeprefix("/imagine "))
        assert params.seed is not None and params.model == "sd15"
    castle = next(i for i in page.items if i.prompt == "castle on a hill")
    assert "--seed 5002" in castle.command  # the upscaled tile's seed


async def test_like_toggles_once_per_member(feed: SqlGalleryFeed, seeded: Seeded) -> None:
    image_id = seeded.by_prompt["lighthouse in a storm, dramatic waves"]  # 0 likes
    entry_id = seeded.entries[image_id]
    first = await feed.toggle_like(entry_id, ALICE)
    assert first is not None and (first.liked, first.likes) == (True, 1)
    again = await feed.toggle_like(entry_id, ALICE)
    assert again is not None and (again.liked, again.likes) == (False, 0)
    results = await asyncio.gather(*(feed.toggle_like(entry_id, u) for u in LIKERS[:10]))
    assert all(r is not None and r.liked for r in results)
    top = await feed.page(PUBLIC, Listing.NEW, user_id=ALICE, per_page=10)
    assert next(i.likes for i in top.items if i.entry_id == entry_id) == 10
    assert await feed.toggle_like(uuid.uuid4(), ALICE) is None
    newcomer = 929_000_000_000_001  # has never painted: no account yet
    liked = await feed.toggle_like(entry_id, newcomer)
    assert liked is not None and (liked.liked, liked.likes) == (True, 11)


async def test_find_and_remove(feed: SqlGalleryFeed, seeded: Seeded) -> None:
    image_id = seeded.by_prompt["red fox sleeping in snow"]
    entry_id = seeded.entries[image_id]
    for ref in (entry_id, image_id, seeded.jobs[image_id]):
        assert await feed.find(PUBLIC, ref) == entry_id
    assert await feed.find(PRIVATE, image_id) is None  # another server's entry
    assert await feed.remove(entry_id)
    assert not await feed.remove(entry_id)
    assert "red fox sleeping in snow" not in await _all(feed, Listing.NEW)
    assert await feed.toggle_like(entry_id, ALICE) is None
