"""Per-member running caps (#21 item 4): a claim is refused while the job's member already
runs their plan's max_running jobs; the job stays queued and untouched; other members' jobs
are claimed as usual; at most max_queued jobs may wait."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db import jobs
from db.admission import Created, OverCaps
from db.caps import AtCap, RunningCaps
from db.jobs import Claim
from tests.fixtures.db_helpers import NOW, concurrently, new_user_id, plans, submission, submit

CAPS = RunningCaps.of_plans(plans(max_running=3), "free")


async def _queued(session: AsyncSession, user: int, count: int) -> list[uuid.UUID]:
    ids = []
    for _ in range(count):
        created = await submit(session, submission(user))
        assert isinstance(created, Created)
        ids.append(created.job_id)
    return ids


async def test_a_fourth_job_of_one_member_is_not_started(pg_session: AsyncSession) -> None:
    member, other = new_user_id(), new_user_id()
    mine = await _queued(pg_session, member, 4)
    (theirs,) = await _queued(pg_session, other, 1)
    for job_id in mine[:3]:
        assert isinstance(await jobs.claim(pg_session, job_id, "w", NOW, caps=CAPS), Claim)

    held = await jobs.claim(pg_session, mine[3], "w4", NOW, caps=CAPS)
    assert held == AtCap(mine[3], member, running=3, limit=3)
    job = await jobs.get(pg_session, mine[3])
    assert job is not None and (job.state, job.attempts, job.lease_owner) == ("queued", 0, None)
    # Another member's job goes ahead.
    assert isinstance(await jobs.claim(pg_session, theirs, "w4", NOW, caps=CAPS), Claim)

    # One of the member's jobs ends: the held job may start now.
    assert await jobs.complete(pg_session, mine[0], 1, NOW)
    assert isinstance(await jobs.claim(pg_session, mine[3], "w4", NOW, caps=CAPS), Claim)


async def test_the_cap_follows_the_plan(pg_session: AsyncSession) -> None:
    member = new_user_id()
    ids = await _queued(pg_session, member, 2)
    one = RunningCaps({"free": 1, "pro": 10}, 1)
    assert isinstance(await jobs.claim(pg_session, ids[0], "w", NOW, caps=one), Claim)
    assert isinstance(await jobs.claim(pg_session, ids[1], "w", NOW, caps=one), AtCap)
    # A plan that is no longer configured counts as the default plan.
    assert isinstance(
        await jobs.claim(pg_session, ids[1], "w", NOW, caps=RunningCaps({}, 1)), AtCap
    )


async def test_workers_claiming_one_members_jobs_at_once_start_at_most_the_cap(
    pg_sessions: async_sessionmaker[AsyncSession],
) -> None:
    member = new_user_id()
    async with pg_sessions.begin() as session:
        ids = await _queued(session, member, 6)
    claims = await concurrently(
        pg_sessions, 6, lambda s, i: jobs.claim(s, ids[i], f"worker-{i}", NOW, caps=CAPS)
    )
    assert sum(isinstance(c, Claim) for c in claims) == 3
    assert sum(isinstance(c, AtCap) for c in claims) == 3


async def test_at_most_max_queued_jobs_wait(pg_session: AsyncSession) -> None:
    member = new_user_id()
    plan_map = plans(max_running=3, max_queued=10)
    ids = await _queued(pg_session, member, 13)  # 3 will run, 10 wait
    assert isinstance(await submit(pg_session, submission(member), plan_map), OverCaps)
    for job_id in ids[:3]:
        assert isinstance(await jobs.claim(pg_session, job_id, "w", NOW, caps=CAPS), Claim)
    # Still 10 waiting behind 3 running: full.
    assert isinstance(await submit(pg_session, submission(member), plan_map), OverCaps)
    await jobs.cancel(pg_session, ids[5], NOW)
    assert isinstance(await submit(pg_session, submission(member), plan_map), Created)
