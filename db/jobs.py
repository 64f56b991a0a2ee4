"""The job state machine, enforced by conditional UPDATEs in SQL; never commits.

    queued → running → succeeded → posted
    running → queued     (lease expired or retryable failure, attempts left)
    running → failed     (attempts exhausted or non-retryable error) → refund
    queued  → cancelled  → refund

Every transition is one `UPDATE … WHERE state = … RETURNING`: whoever's statement matches
wins, everyone else gets None/False, so no Python read can race another process. The attempt
number handed out by `claim` is the fencing token: only that attempt may heartbeat, complete
or fail the job.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, false, func, insert, literal, null, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db import quota
from db.base import UTCDateTime
from db.caps import AtCap, RunningCaps, at_running_cap
from db.models import Image, Job, JobState

DEFAULT_LEASE = timedelta(minutes=5)
# A poster that has not marked a job posted within this long is presumed dead.
DEFAULT_POSTING_TIMEOUT = timedelta(minutes=2)
# A failure the bot never showed (its event was lost) is still told this long after.
FAILURE_NOTICE_WINDOW = timedelta(hours=6)


@dataclass(frozen=True)
class Claim:
    job_id: uuid.UUID
    attempt: int  # the fencing token
    lease_expires_at: datetime
    request: dict[str, Any]
    user_id: int | None = None  # the job's member (the scheduler's claims say it)
    # The scheduler claimed another job than the doorbell named, and that one still waits.
    doorbell_queued: bool = False


@dataclass(frozen=True)
class NewImage:
    index: int  # tile 1..4
    key: str
    width: int
    height: int
    seed: int
    id: uuid.UUID = field(default_factory=uuid.uuid4)


@dataclass(frozen=True)
class Requeued:
    requeued: list[uuid.UUID]  # back to queued: send them to a worker again
    failed: list[uuid.UUID]  # out of attempts: failed and refunded, tell their users


async def get(session: AsyncSession, job_id: uuid.UUID) -> Job | None:
    return await session.get(Job, job_id, populate_existing=True)


async def images(session: AsyncSession, job_id: uuid.UUID) -> list[Image]:
    rows = await session.scalars(select(Image).where(Image.job_id == job_id).order_by(Image.index))
    return list(rows)


async def claim(
    session: AsyncSession,
    job_id: uuid.UUID,
    owner: str,
    now: datetime,
    lease: timedelta = DEFAULT_LEASE,
    caps: RunningCaps | None = None,
) -> Claim | AtCap | None:
    """queued → running for one worker; None if someone else has it or it is not queued;
    AtCap (nothing written) when `caps` are given and its member already runs their plan's
    `max_running` jobs."""
    if caps is not None:
        held = await at_running_cap(session, job_id, caps)
        if held is not None:
            return held
    row = (
        await session.execute(
            _claim_update(owner, now, lease).where(Job.id == job_id).returning(*_CLAIM_COLUMNS)
        )
    ).first()
    return None if row is None else Claim(row[0], row[1], row[2], row[3])


def _at(now: datetime) -> Any:
    return literal(now, UTCDateTime())


_CLAIM_COLUMNS = (Job.id, Job.attempts, Job.lease_expires_at, Job.request)


def _claim_update(owner: str, now: datetime, lease: timedelta) -> Any:
    return (
        update(Job)
        .where(Job.state == JobState.QUEUED.value, Job.attempts < Job.max_attempts)
        .values(
            state=JobState.RUNNING.value,
            attempts=Job.attempts + 1,
            lease_owner=owner,
            lease_expires_at=now + lease,
            started_at=func.coalesce(Job.started_at, _at(now)),
        )
        .execution_options(synchronize_session=False)
    )


def _current(job_id: uuid.UUID, attempt: int) -> Any:
    return and_(Job.id == job_id, Job.state == JobState.RUNNING.value, Job.attempts == attempt)


async def heartbeat(
    session: AsyncSession,
    job_id: uuid.UUID,
    attempt: int,
    now: datetime,
    lease: timedelta = DEFAULT_LEASE,
) -> bool:
    """Extend the lease; False means this attempt lost the job: stop working on it."""
    row = await session.execute(
        update(Job)
        .where(_current(job_id, attempt))
        .values(lease_expires_at=now + lease)
        .returning(Job.id)
        .execution_options(synchronize_session=False)
    )
    return row.first() is not None


async def complete(
    session: AsyncSession,
    job_id: uuid.UUID,
    attempt: int,
    now: datetime,
    new_images: Sequence[NewImage] = (),
    result: dict[str, Any] | None = None,
) -> bool:
    """running → succeeded for the current attempt only, with its images; settles the hold.

    Idempotent for one fencing token: if this attempt's completion already committed (its
    COMMIT's acknowledgement was lost and the caller retries), it is True again and writes
    nothing more. False means a stale attempt: its output must be discarded."""
    row = await session.execute(
        update(Job)
        .where(_current(job_id, attempt))
        .values(state=JobState.SUCCEEDED.value, finished_at=now, result=result, error=None)
        .returning(Job.id)
        .execution_options(synchronize_session=False)
    )
    if row.first() is None:
        return await completed_by(session, job_id, attempt)
    if new_images:
        await session.execute(
            insert(Image),
            [
                {
                    "id": image.id,
                    "job_id": job_id,
                    "index": image.index,
                    "key": image.key,
                    "width": image.width,
                    "height": image.height,
                    "seed": image.seed,
                    "created_at": now,
                }
                for image in new_images
            ],
        )
    await quota.settle(session, job_id, now)
    return True


async def completed_by(session: AsyncSession, job_id: uuid.UUID, attempt: int) -> bool:
    """Whether `attempt` is the attempt that completed the job (succeeded or already posted)."""
    row = (await session.execute(select(Job.state, Job.attempts).where(Job.id == job_id))).first()
    done = (JobState.SUCCEEDED.value, JobState.POSTED.value)
    return row is not None and row[0] in done and row[1] == attempt


async def fail(
    session: AsyncSession,
    job_id: uuid.UUID,
    attempt: int,
    now: datetime,
    error: str,
    retryable: bool = False,
) -> JobState | None:
    """The current attempt failed: back to queued if retryable with attempts left, else failed
    and refunded. Returns the new state, or None for a stale attempt."""
    requeue = (Job.attempts < Job.max_attempts) if retryable else false()
    row = (
        await session.execute(
            update(Job)
            .where(_current(job_id, attempt))
            .values(
                state=case((requeue, JobState.QUEUED.value), else_=JobState.FAILED.value),
                error=error[:2000],
                finished_at=case((requeue, null()), else_=_at(now)),
                lease_owner=case((requeue, null()), else_=Job.lease_owner),
                lease_expires_at=case((requeue, null()), else_=Job.lease_expires_at),
            )
            .returning(Job.state)
            .execution_options(synchronize_session=False)
        )
    ).first()
    if row is None:
        return None
    state = JobState(row[0])
    if state is JobState.FAILED:
        await quota.refund(session, job_id, now)
    return state


async def cancel(
    session: AsyncSession, job_id: uuid.UUID, now: datetime, user_id: int | None = None
) -> bool:
    """queued → cancelled (by its owner when user_id is given), refunded; False otherwise."""
    conditions = [Job.id == job_id, Job.state == JobState.QUEUED.value]
    if user_id is not None:
        conditions.append(Job.user_id == user_id)
    row = await session.execute(
        update(Job)
        .where(*conditions)
        .values(state=JobState.CANCELLED.value, finished_at=now)
        .returning(Job.id)
        .execution_options(synchronize_session=False)
    )
    if row.first() is None:
        return False
    await quota.refund(session, job_id, now)
    return True


async def requeue_expired(session: AsyncSession, now: datetime, limit: int = 100) -> Requeued:
    """Running jobs whose lease ran out: back to queued while attempts are left, else failed
    and refunded (the attempt cap Celery itself does not have)."""
    expired = and_(Job.state == JobState.RUNNING.value, Job.lease_expires_at < now)
    batch = (
        select(Job.id)
        .where(expired)
        .order_by(Job.lease_expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    requeued = await session.scalars(
        update(Job)
        .where(Job.id.in_(batch), expired, Job.attempts < Job.max_attempts)
        .values(state=JobState.QUEUED.value, lease_owner=None, lease_expires_at=None)
        .returning(Job.id)
        .execution_options(synchronize_session=False)
    )
    requeued_ids = list(requeued)
    failed = await session.scalars(
        update(Job)
        .where(Job.id.in_(batch), expired, Job.attempts >= Job.max_attempts)
        .values(
            state=JobState.FAILED.value,
            finished_at=now,
            error="the job's worker stopped responding on every attempt",
        )
        .returning(Job.id)
        .execution_options(synchronize_session=False)
    )
    failed_ids = list(failed)
    for job_id in failed_ids:
        await quota.refund(session, job_id, now)
    return Requeued(requeued_ids, failed_ids)


def _to_post() -> Any:
    """Succeeded, or failed with the failure not yet shown to the member."""
    failed_unshown = and_(Job.state == JobState.FAILED.value, Job.posted_at.is_(None))
    return (Job.state == JobState.SUCCEEDED.value) | failed_unshown


async def mark_posting(
    session: AsyncSession,
    job_id: uuid.UUID,
    now: datetime,
    timeout: timedelta = DEFAULT_POSTING_TIMEOUT,
) -> bool:
    """Claim a succeeded job, or a failed one whose failure was never shown, for posting (one
    poster at a time; a dead poster's claim lapses)."""
    row = await session.execute(
        update(Job)
        .where(
            Job.id == job_id,
            _to_post(),
            (Job.posting_since.is_(None)) | (Job.posting_since < now - timeout),
        )
        .values(posting_since=now)
        .returning(Job.id)
        .execution_options(synchronize_session=False)
    )
    return row.first() is not None


async def set_placeholder(session: AsyncSession, job_id: uuid.UUID, message_id: int) -> None:
    """The job's "Waiting to start" message, kept in `message_id` until the result's own
    message replaces it (mark_posted), so a result posted elsewhere can close it."""
    await session.execute(
        update(Job)
        .where(Job.id == job_id, Job.state.in_(_UNPOSTED))
        .values(message_id=message_id)
        .execution_options(synchronize_session=False)
    )


_UNPOSTED = (JobState.QUEUED.value, JobState.RUNNING.value, JobState.SUCCEEDED.value)


async def mark_posted(
    session: AsyncSession, job_id: uuid.UUID, now: datetime, message_id: int | None
) -> bool:
    """succeeded → posted (a failed job: its failure shown), recording the Discord message;
    False if it was already posted."""
    succeeded = Job.state == JobState.SUCCEEDED.value
    row = await session.execute(
        update(Job)
        .where(Job.id == job_id, _to_post())
        .values(
            state=case((succeeded, JobState.POSTED.value), else_=Job.state),
            posted_at=now,
            message_id=message_id,
        )
        .returning(Job.id)
        .execution_options(synchronize_session=False)
    )
    return row.first() is not None


async def unposted(
    session: AsyncSession,
    now: datetime,
    timeout: timedelta = DEFAULT_POSTING_TIMEOUT,
    limit: int = 100,
) -> list[Job]:
    """Succeeded jobs nobody is posting, and failed jobs of the last FAILURE_NOTICE_WINDOW
    whose failure nobody showed (the event was lost): for the reconciler to deliver."""
    recent_failure = and_(
        Job.state == JobState.FAILED.value, Job.finished_at >= now - FAILURE_NOTICE_WINDOW
    )
    rows = await session.scalars(
        select(Job)
        .where(
            _to_post(),
            (Job.state == JobState.SUCCEEDED.value) | recent_failure,
            (Job.posting_since.is_(None)) | (Job.posting_since < now - timeout),
        )
        .order_by(Job.finished_at)
        .limit(limit)
    )
    return list(rows)
