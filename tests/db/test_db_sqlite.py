"""The embedded default: the same repositories on SQLite (migrated by the same Alembic code)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db import gallery, guilds, jobs, members, quota
from db.admission import Created, OutOfCredits, OverCaps, Replayed
from db.migrate import upgrade
from db.models import JobState
from db.sessions import create_engine, session_factory
from tests.fixtures.db_helpers import NOW, concurrently, plans, stored_balance, submission, submit
from tests.fixtures.gallery_data import finished_image

DAY = "d2026-11-23"


@pytest.fixture
async def sqlite_sessions(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'nanke.db'}")
    try:
        await upgrade(engine)
        yield session_factory(engine)
    finally:
        await engine.dispose()


async def test_job_lifecycle_and_quota(sqlite_sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sqlite_sessions.begin() as s:
        sub = submission(1, interaction_id=99)
        created = await submit(s, sub)
        assert isinstance(created, Created) and created.balance_milli == 24_000
        assert await submit(s, submission(1, interaction_id=99)) == Replayed(
            sub.job_id, JobState.QUEUED
        )
        assert await submit(s, submission(1, cost_milli=10**6)) == OutOfCredits(10**6, 24_000, DAY)
        claim = await jobs.claim(s, sub.job_id, "w1", NOW)
        assert claim is not None and claim.lease_expires_at == NOW + jobs.DEFAULT_LEASE
        assert await jobs.claim(s, sub.job_id, "w2", NOW) is None
        assert await jobs.complete(s, sub.job_id, claim.attempt, NOW)
        assert await jobs.mark_posted(s, sub.job_id, NOW, 7)

        doomed = submission(1)
        assert isinstance(await submit(s, doomed), Created)
        assert await jobs.claim(s, doomed.job_id, "w1", NOW) is not None
        later = NOW + timedelta(hours=1)
        assert (await jobs.requeue_expired(s, later)).requeued == [doomed.job_id]
        assert await jobs.cancel(s, doomed.job_id, later)
        assert await quota.refund(s, doomed.job_id, later) == 0
        assert await stored_balance(s, 1, DAY) == 24_000

        balance = await members.set_plan(s, 1, "pro", plans(), "free", NOW)
        assert balance.period_key == "m2026-11"
        change: members.UserSettingsChange = {"sampler": "euler_a", "stealth": True}
        user = await members.update_settings(s, 1, change, "free", NOW)
        assert (user.plan, user.sampler, user.stealth) == ("pro", "euler_a", True)


async def test_caps_and_holds_hold_under_concurrency(
    sqlite_sessions: async_sessionmaker[AsyncSession],
) -> None:
    capped = plans(credits=5, max_running=2, max_queued=10)
    results = await concurrently(
        sqlite_sessions, 20, lambda s, _i: submit(s, submission(2), capped)
    )
    assert sum(isinstance(r, Created) for r in results) == 5
    assert not any(isinstance(r, OverCaps) for r in results)
    async with sqlite_sessions() as s:
        assert await stored_balance(s, 2, DAY) == 0


async def test_gallery_and_guild_settings(
    sqlite_sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sqlite_sessions.begin() as s:
        fox = await gallery.share(s, await finished_image(s, 3), 3, 10, "A Red Fox in snow", NOW)
        cat = await gallery.share(
            s, await finished_image(s, 3, NOW - timedelta(days=2)), 3, 10, "a cat", NOW
        )
        await members.ensure_user(s, 4, "free", NOW)
        assert await gallery.like(s, cat.entry_id, 4, NOW)
        assert not await gallery.like(s, cat.entry_id, 4, NOW)
        found = await gallery.search(s, "red FOX", 10)
        assert [i.entry_id for i in found] == [fox.entry_id]
        assert await gallery.search(s, "100%", 10) == []
        top = await gallery.list_top(s, 10)
        assert top[0].entry_id == cat.entry_id
        trending = await gallery.list_trending(s, NOW, 10)
        assert {i.entry_id for i in trending} == {fox.entry_id, cat.entry_id}

        assert await guilds.get_settings(s, 10) == guilds.GuildSettings(10)
        updated = await guilds.update_settings(s, 10, {"banned_words": ["gore"]}, NOW)
        again = await guilds.update_settings(s, 10, {"gallery_public": False}, NOW)
        assert updated.banned_words == ["gore"]
        assert again.banned_words == ["gore"] and not again.gallery_public


def test_sqlite_timestamps_round_trip_as_utc(tmp_path: Path) -> None:
    async def run() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 't.db'}")
        await upgrade(engine)
        async with session_factory(engine).begin() as s:
            sub = submission(5)
            await submit(s, sub)
            job = await jobs.get(s, sub.job_id)
            assert job is not None and job.created_at == NOW and job.created_at.tzinfo
        await engine.dispose()

    asyncio.run(run())
