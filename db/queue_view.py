"""What a member sees of the queue: their active jobs and a job's place in line.
Repositories take a session and never commit."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Job, JobState

_ACTIVE = (JobState.QUEUED.value, JobState.RUNNING.value)


async def active_jobs(session: AsyncSession, user_id: int) -> list[Job]:
    rows = await session.scalars(
        select(Job).where(Job.user_id == user_id, Job.state.in_(_ACTIVE)).order_by(Job.created_at)
    )
    return list(rows)


async def queue_position(session: AsyncSession, job_id: uuid.UUID) -> int | None:
    """1 + the queued jobs served before this one (fast before relaxed, then oldest first,
    as workers claim them); None when the job is not queued."""
    job = await session.get(Job, job_id, populate_existing=True)
    if job is None or job.state != JobState.QUEUED.value:
        return None
    older = (Job.created_at < job.created_at) | (
        (Job.created_at == job.created_at) & (Job.id < job.id)
    )
    fast = Job.relaxed.is_(False)
    # A relaxed job waits for every fast job and older relaxed ones; a fast one for older fast.
    ahead_of_it = (fast | older) if job.relaxed else (fast & older)
    ahead = await session.scalar(
        select(func.count())
        .select_from(Job)
        .where(Job.state == JobState.QUEUED.value, Job.id != job.id, ahead_of_it)
    )
    return int(ahead or 0) + 1


async def live_children(
    session: AsyncSession, parent_id: uuid.UUID, kind: str, tile_index: int | None
) -> list[Job]:
    """The parent's follow-ups of this kind and tile that are not failed or cancelled, oldest
    first (an upscale pressed again reuses the first)."""
    dead = (JobState.FAILED.value, JobState.CANCELLED.value)
    rows = await session.scalars(
        select(Job)
        .where(
            Job.parent_id == parent_id,
            Job.kind == kind,
            Job.tile_index.is_(None) if tile_index is None else Job.tile_index == tile_index,
            Job.state.not_in(dead),
        )
        .order_by(Job.created_at, Job.id)
    )
    return list(rows)
