"""Gallery on Postgres: share once, like once, listings and full-text search."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db import gallery
from db.members import ensure_user
from tests.fixtures.db_helpers import NOW, concurrently, new_user_id
from tests.fixtures.gallery_data import finished_image

GUILD = 42


async def _share(
    session: AsyncSession, prompt: str, hours_ago: float = 0, guild: int = GUILD
) -> uuid.UUID:
    user = new_user_id()
    when = NOW - timedelta(hours=hours_ago)
    image = await finished_image(session, user, when)
    shared = await gallery.share(session, image, user, guild, prompt, when)
    assert shared.created
    return shared.entry_id


async def _liker(session: AsyncSession) -> int:
    user = new_user_id()
    await ensure_user(session, user, "free", NOW)
    return user


async def test_an_image_is_shared_once(pg_session: AsyncSession) -> None:
    user = new_user_id()
    image = await finished_image(pg_session, user)
    first = await gallery.share(pg_session, image, user, GUILD, "a red fox", NOW)
    again = await gallery.share(pg_session, image, user, GUILD, "a red fox", NOW)
    assert first.created and not again.created and again.entry_id == first.entry_id
    item = await gallery.get(pg_session, first.entry_id)
    assert item is not None
    assert (item.image_id, item.image_key, item.like_count) == (image, item.image_key, 0)
    assert item.image_key.endswith("/1.png")


async def test_like_once_per_user_and_unlike(pg_session: AsyncSession) -> None:
    entry = await _share(pg_session, "a red fox")
    fan, other = await _liker(pg_session), await _liker(pg_session)
    assert await gallery.like(pg_session, entry, fan, NOW)
    assert not await gallery.like(pg_session, entry, fan, NOW)
    assert await gallery.like(pg_session, entry, other, NOW)
    assert (await gallery.get(pg_session, entry)).like_count == 2
    assert await gallery.unlike(pg_session, entry, fan)
    assert not await gallery.unlike(pg_session, entry, fan)
    assert (await gallery.get(pg_session, entry)).like_count == 1


async def test_concurrent_likes_by_one_user_count_once(
    pg_sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with pg_sessions.begin() as s:
        entry = await _share(s, "a red fox")
        fan = await _liker(s)
    added = await concurrently(pg_sessions, 8, lambda s, _i: gallery.like(s, entry, fan, NOW))
    assert sorted(added) == [False] * 7 + [True]
    async with pg_sessions() as s:
        assert (await gallery.get(s, entry)).like_count == 1


async def test_listings_new_top_trending_and_per_user(pg_session: AsyncSession) -> None:
    old_hit = await _share(pg_session, "old masterpiece", hours_ago=72)
    fresh = await _share(pg_session, "fresh sketch", hours_ago=1)
    newest = await _share(pg_session, "brand new", hours_ago=0)
    elsewhere = await _share(pg_session, "other server", guild=GUILD + 1)
    for _ in range(10):
        assert await gallery.like(pg_session, old_hit, await _liker(pg_session), NOW)
    for _ in range(3):
        assert await gallery.like(pg_session, fresh, await _liker(pg_session), NOW)

    def ids(items: list[gallery.GalleryItem]) -> list[uuid.UUID]:
        return [i.entry_id for i in items]

    assert ids(await gallery.list_new(pg_session, GUILD)) == [newest, fresh, old_hit]
    assert ids(await gallery.list_top(pg_session, GUILD)) == [old_hit, fresh, newest]
    # 3 likes an hour ago beat 10 likes three days ago.
    assert ids(await gallery.list_trending(pg_session, NOW, GUILD))[:2] == [fresh, old_hit]
    assert ids(await gallery.list_new(pg_session, GUILD, limit=1, offset=1)) == [fresh]
    assert elsewhere in ids(await gallery.list_new(pg_session))
    author = (await gallery.get(pg_session, fresh)).user_id
    assert ids(await gallery.list_by_user(pg_session, author)) == [fresh]


async def test_full_text_search_stems_and_ranks(pg_session: AsyncSession) -> None:
    lighthouse = await _share(pg_session, "A lighthouse at dusk, oil painting")
    both = await _share(pg_session, "lighthouses and lighthouse keepers in the storm")
    await _share(pg_session, "a cat on a sofa")

    async def found(query: str) -> set[uuid.UUID]:
        return {i.entry_id for i in await gallery.search(pg_session, query, GUILD)}

    assert await found("lighthouses") == {lighthouse, both}  # stemmed
    assert await found("lighthouse storm") == {both}
    assert await found('"oil painting"') == {lighthouse}
    assert await found("lighthouse -storm") == {lighthouse}
    assert await found("%%") == set()
    ranked = await gallery.search(pg_session, "lighthouse", GUILD)
    assert ranked[0].entry_id == both  # mentions it twice
