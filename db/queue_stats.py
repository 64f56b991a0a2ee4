"""What an autoscaler and an operator need from the queue (#18): per model, the jobs waiting
(fast and relax), running, the oldest wait, and the live workers that serve or hold it; model
loads per hour across the live workers. Read-only; repositories never commit."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db import workers
from db.models import Job, JobState
from db.scheduler import job_model


@dataclass
class ModelStats:
    model: str
    queued_fast: int = 0
    queued_relax: int = 0
    running: int = 0
    oldest_wait_s: float = 0.0
    workers: int = 0  # live workers that serve it
    loaded_on: int = 0  # live workers that have it loaded now


@dataclass
class QueueStats:
    models: list[ModelStats] = field(default_factory=list)
    workers: list[workers.LiveWorker] = field(default_factory=list)
    loads_per_hour: float = 0.0  # model loads per hour, all live workers together


async def queue_stats(
    session: AsyncSession, now: datetime, window: timedelta = workers.DEFAULT_LIVE_WINDOW
) -> QueueStats:
    model = job_model()
    active = (JobState.QUEUED.value, JobState.RUNNING.value)
    rows = (
        await session.execute(
            select(model, Job.state, Job.relaxed, func.count(), func.min(Job.created_at))
            .where(Job.state.in_(active))
            .group_by(model, Job.state, Job.relaxed)
        )
    ).all()
    live = await workers.live(session, now, window)
    by_model: dict[str, ModelStats] = {}

    def of(name: str) -> ModelStats:
        return by_model.setdefault(name, ModelStats(name))

    for name, state, relaxed, count, oldest in rows:
        stats = of(name or "?")
        if state == JobState.RUNNING.value:
            stats.running += count
            continue
        if relaxed:
            stats.queued_relax += count
        else:
            stats.queued_fast += count
        stats.oldest_wait_s = max(stats.oldest_wait_s, (now - oldest).total_seconds())
    for worker in live:
        for name in worker.serves:
            of(name).workers += 1
        for name in worker.loaded:
            of(name).loaded_on += 1
    per_hour = sum(w.loads / max((now - w.started_at).total_seconds() / 3600, 1 / 60) for w in live)
    return QueueStats(sorted(by_model.values(), key=lambda s: s.model), live, per_hour)
