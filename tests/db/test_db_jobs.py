"""The job state machine: claims, fencing, leases, retries, cancel, posting."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db import jobs, quota
from db.admission import Created
from db.jobs import NewImage
from db.models import JobState
from tests.fixtures.db_helpers import (
    NOW,
    concurrently,
    new_user_id,
    stored_balance,
    submission,
    submit,
)

LEASE = timedelta(minutes=5)
DAY = "d2026-11-23"


async def _queued(session: AsyncSession, user: int | None = None, **extra: object) -> uuid.UUID:
    result = await submit(session, submission(user or new_user_id(), **extra))
    assert isinstance(result, Created)
    return result.job_id


async def _state(session: AsyncSession, job_id: uuid.UUID) -> str:
    job = await jobs.get(session, job_id)
    assert job is not None
    return job.state


async def test_two_workers_claiming_one_job_one_wins(
    pg_sessions: async_sessionmaker[AsyncSession],
) -> None:
    for _ in range(10):
        async with pg_sessions.begin() as s:
            job_id = await _queued(s)
        claims = await concurrently(
            pg_sessions, 2, lambda s, i, j=job_id: jobs.claim(s, j, f"worker-{i}", NOW)
        )
        winners = [c for c in claims if c is not None]
        assert len(winners) == 1
        assert winners[0].attempt == 1 and winners[0].request["job_id"] == str(job_id)


async def test_claim_sets_lease_and_request(pg_session: AsyncSession) -> None:
    job_id = await _queued(pg_session)
    claim = await jobs.claim(pg_session, job_id, "w1", NOW, LEASE)
    assert claim is not None
    assert (claim.attempt, claim.lease_expires_at) == (1, NOW + LEASE)
    job = await jobs.get(pg_session, job_id)
    assert job is not None
    assert (job.state, job.lease_owner, job.started_at) == ("running", "w1", NOW)
    assert await jobs.claim(pg_session, job_id, "w2", NOW) is None


async def test_complete_stores_images_and_settles(pg_session: AsyncSession) -> None:
    user = new_user_id()
    job_id = await _queued(pg_session, user)
    claim = await jobs.claim(pg_session, job_id, "w1", NOW)
    assert claim is not None
    tiles = [NewImage(i, f"jobs/{job_id}/{i}.png", 512, 512, 100 + i) for i in range(1, 5)]
    assert await jobs.complete(pg_session, job_id, claim.attempt, NOW, tiles, {"grid": "g.png"})
    stored = await jobs.images(pg_session, job_id)
    assert [(i.index, i.seed) for i in stored] == [(1, 101), (2, 102), (3, 103), (4, 104)]
    job = await jobs.get(pg_session, job_id)
    assert job is not None and job.state == "succeeded" and job.result == {"grid": "g.png"}
    # Settled: a later refund attempt gives nothing back.
    assert await quota.refund(pg_session, job_id, NOW) == 0
    assert await stored_balance(pg_session, user, DAY) == 24_000


async def test_stale_attempt_cannot_heartbeat_complete_or_fail(pg_session: AsyncSession) -> None:
    job_id = await _queued(pg_session)
    first = await jobs.claim(pg_session, job_id, "w1", NOW, LEASE)
    assert first is not None
    later = NOW + LEASE + timedelta(seconds=1)
    assert (await jobs.requeue_expired(pg_session, later)).requeued == [job_id]
    second = await jobs.claim(pg_session, job_id, "w2", later, LEASE)
    assert second is not None and second.attempt == 2
    assert not await jobs.heartbeat(pg_session, job_id, first.attempt, later)
    assert not await jobs.complete(pg_session, job_id, first.attempt, later)
    assert await jobs.fail(pg_session, job_id, first.attempt, later, "boom") is None
    assert await _state(pg_session, job_id) == "running"
    assert await jobs.heartbeat(pg_session, job_id, second.attempt, later)
    assert await jobs.complete(pg_session, job_id, second.attempt, later)


async def test_requeued_job_cannot_be_completed_by_its_old_attempt(
    pg_session: AsyncSession,
) -> None:
    job_id = await _queued(pg_session)
    claim = await jobs.claim(pg_session, job_id, "w1", NOW, LEASE)
    assert claim is not None
    await jobs.requeue_expired(pg_session, NOW + 2 * LEASE)
    assert not await jobs.complete(pg_session, job_id, claim.attempt, NOW + 2 * LEASE)
    assert await _state(pg_session, job_id) == "queued"


async def test_heartbeat_keeps_the_lease_alive(pg_session: AsyncSession) -> None:
    job_id = await _queued(pg_session)
    claim = await jobs.claim(pg_session, job_id, "w1", NOW, LEASE)
    assert claim is not None
    assert await jobs.heartbeat(pg_session, job_id, 1, NOW + timedelta(minutes=4), LEASE)
    result = await jobs.requeue_expired(pg_session, NOW + timedelta(minutes=6))
    assert job_id not in result.requeued and job_id not in result.failed


async def test_expired_lease_requeued_until_cap_then_failed_and_refunded(
    pg_session: AsyncSession,
) -> None:
    user = new_user_id()
    job_id = await _queued(pg_session, user)
    assert await stored_balance(pg_session, user, DAY) == 24_000
    now = NOW
    for attempt in (1, 2, 3):
        claim = await jobs.claim(pg_session, job_id, f"w{attempt}", now, LEASE)
        assert claim is not None and claim.attempt == attempt
        now += LEASE + timedelta(seconds=1)
        result = await jobs.requeue_expired(pg_session, now)
        if attempt < 3:
            assert result.requeued == [job_id] and result.failed == []
            assert await _state(pg_session, job_id) == "queued"
        else:
            assert result.requeued == [] and result.failed == [job_id]
    job = await jobs.get(pg_session, job_id)
    assert job is not None and job.state == "failed" and job.attempts == 3
    assert job.error and "stopped responding" in job.error
    assert await stored_balance(pg_session, user, DAY) == 25_000
    assert await jobs.claim(pg_session, job_id, "w4", now) is None


async def test_fail_retryable_requeues_then_fails(pg_session: AsyncSession) -> None:
    user = new_user_id()
    job_id = await _queued(pg_session, user, max_attempts=2)
    claim = await jobs.claim(pg_session, job_id, "w1", NOW)
    assert claim is not None
    assert await jobs.fail(pg_session, job_id, 1, NOW, "CUDA OOM", retryable=True) == (
        JobState.QUEUED
    )
    job = await jobs.get(pg_session, job_id)
    assert job is not None and job.lease_owner is None and job.finished_at is None
    assert await stored_balance(pg_session, user, DAY) == 24_000
    assert await jobs.claim(pg_session, job_id, "w2", NOW) is not None
    assert await jobs.fail(pg_session, job_id, 2, NOW, "CUDA OOM", retryable=True) == (
        JobState.FAILED
    )
    assert await stored_balance(pg_session, user, DAY) == 25_000


async def test_non_retryable_failure_fails_at_once_and_refunds(pg_session: AsyncSession) -> None:
    user = new_user_id()
    job_id = await _queued(pg_session, user)
    assert await jobs.claim(pg_session, job_id, "w1", NOW) is not None
    assert await jobs.fail(pg_session, job_id, 1, NOW, "unknown LoRA 'x'") == JobState.FAILED
    job = await jobs.get(pg_session, job_id)
    assert job is not None and job.error == "unknown LoRA 'x'" and job.finished_at == NOW
    assert await stored_balance(pg_session, user, DAY) == 25_000


async def test_cancel_only_queued_jobs_of_their_owner(pg_session: AsyncSession) -> None:
    user = new_user_id()
    job_id = await _queued(pg_session, user)
    assert not await jobs.cancel(pg_session, job_id, NOW, user_id=user + 1)
    assert await jobs.cancel(pg_session, job_id, NOW, user_id=user)
    assert await stored_balance(pg_session, user, DAY) == 25_000
    assert not await jobs.cancel(pg_session, job_id, NOW)  # terminal: stays cancelled
    assert await jobs.claim(pg_session, job_id, "w1", NOW) is None
    running = await _queued(pg_session, user)
    assert await jobs.claim(pg_session, running, "w1", NOW) is not None
    assert not await jobs.cancel(pg_session, running, NOW)


async def test_posting_is_claimed_once_and_posted_once(pg_session: AsyncSession) -> None:
    job_id = await _queued(pg_session)
    assert not await jobs.mark_posting(pg_session, job_id, NOW)  # not finished yet
    assert await jobs.claim(pg_session, job_id, "w1", NOW) is not None
    assert await jobs.complete(pg_session, job_id, 1, NOW)
    assert job_id in [j.id for j in await jobs.unposted(pg_session, NOW)]
    assert await jobs.mark_posting(pg_session, job_id, NOW)
    assert not await jobs.mark_posting(pg_session, job_id, NOW + timedelta(seconds=10))
    assert job_id not in [j.id for j in await jobs.unposted(pg_session, NOW)]
    # A poster that died: its claim lapses and the reconciler may deliver.
    later = NOW + timedelta(minutes=3)
    assert job_id in [j.id for j in await jobs.unposted(pg_session, later)]
    assert await jobs.mark_posting(pg_session, job_id, later)
    assert await jobs.mark_posted(pg_session, job_id, later, message_id=555)
    assert not await jobs.mark_posted(pg_session, job_id, later, message_id=556)
    job = await jobs.get(pg_session, job_id)
    assert job is not None and job.state == "posted" and job.message_id == 555
