"""What a member sees of the queue: their active jobs and a job's place in line.
Repositories take a session and never commit."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime

from sqlalchemy import select, true
from sqlalchemy.ext.asyncio import AsyncSession

from db import scheduler, workers
from db.caps import RunningCaps
from db.models import Job, JobState, User

# Relax usage is counted per UTC day here (the default plans' period).
_POLICY = scheduler.SchedulePolicy(RunningCaps({}, 1))

_ACTIVE = (JobState.QUEUED.value, JobState.RUNNING.value)


async def active_jobs(session: AsyncSession, user_id: int) -> list[Job]:
    rows = await session.scalars(
        select(Job).where(Job.user_id == user_id, Job.state.in_(_ACTIVE)).order_by(Job.created_at)
    )
    return list(rows)


async def queue_position(session: AsyncSession, job_id: uuid.UUID) -> int | None:
    """1 + the queued jobs the scheduler starts before this one, replaying its order
    (db.scheduler.line) over the queued jobs for the same model; None when not queued."""
    job = await session.get(Job, job_id, populate_existing=True)
    if job is None or job.state != JobState.QUEUED.value:
        return None
    model = scheduler.job_model()
    same_model = model.is_(None) if job.model_name is None else model == job.model_name
    rows = (
        await session.execute(
            select(Job.id, Job.user_id, Job.relaxed, Job.created_at, Job.cost_milli)
            .where(Job.state == JobState.QUEUED.value, same_model)
            .where(Job.relaxed.is_(False) if not job.relaxed else true())
        )
    ).all()
    users = {row[1] for row in rows}
    members = (
        await session.execute(
            select(User.id, User.last_started_at, scheduler.relax_usage(_POLICY)).where(
                User.id.in_(users)
            ),
            scheduler.bindings(_POLICY, datetime.now(UTC)),
        )
    ).all()
    waiting = [scheduler.Waiting(r[0], r[1], r[2], r[3], r[4]) for r in rows]
    state = {m[0]: scheduler.Member(m[1], int(m[2] or 0)) for m in members}
    for position, picked in enumerate(scheduler.line(waiting, state), start=1):
        if picked == job_id:
            return position
    return None


# Recent finished jobs of a model whose run time predicts the next ones'.
_ETA_SAMPLE = 50


async def queue_eta(
    session: AsyncSession, job_id: uuid.UUID, position: int, now: datetime
) -> float | None:
    """Seconds until the job at `position` starts, about: the jobs ahead, shared among the
    live workers that serve its model, times that model's recent mean run time. None without
    any finished job of the model to measure."""
    job = await session.get(Job, job_id)
    if job is None:
        return None
    model = scheduler.job_model()
    same_model = model.is_(None) if job.model_name is None else model == job.model_name
    recent = (
        await session.execute(
            select(Job.started_at, Job.finished_at)
            .where(
                same_model,
                Job.state.in_((JobState.SUCCEEDED.value, JobState.POSTED.value)),
                Job.started_at.is_not(None),
                Job.finished_at.is_not(None),
            )
            .order_by(Job.finished_at.desc())
            .limit(_ETA_SAMPLE)
        )
    ).all()
    runs = [(end - start).total_seconds() for start, end in recent if start and end]
    if not runs:
        return None
    mean = sum(runs) / len(runs)
    serving = [w for w in await workers.live(session, now) if job.model_name in w.serves]
    rounds = math.ceil(position / max(1, len(serving)))
    return max(0.0, mean) * rounds


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
