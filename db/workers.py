"""Workers' heartbeat rows (#18): what each live GPU worker serves and has loaded, and the
queued jobs no live worker can run (failed at once, refunded, with a message that says why).
Repositories never commit."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db import quota
from db.dialect import insert
from db.models import Job, JobState, Worker
from db.scheduler import job_model

# A worker not seen for this long is presumed gone (it beats every few seconds).
DEFAULT_LIVE_WINDOW = timedelta(seconds=60)
NO_WORKER_MESSAGE = (
    "no GPU worker serves the model {model!r} right now, so this job cannot run; "
    "your credits were refunded. Try another model (/settings), or ask an operator"
)


@dataclass(frozen=True)
class LiveWorker:
    name: str
    serves: list[str]  # the models it may load
    loaded: list[str]
    memory_budget_mb: int | None
    seen_at: datetime
    loads: int
    started_at: datetime


async def beat(
    session: AsyncSession,
    name: str,
    serves: Collection[str],
    loaded: Collection[str],
    now: datetime,
    *,
    memory_budget_mb: int | None = None,
    loads: int = 0,
) -> None:
    """Insert or refresh the worker's row (called at start and every few seconds)."""
    values = {
        "serves": sorted(serves),
        "loaded": list(loaded),
        "memory_budget_mb": memory_budget_mb,
        "seen_at": now,
        "loads": loads,
    }
    await session.execute(
        insert(session, Worker)
        .values(name=name, started_at=now, **values)
        .on_conflict_do_update(index_elements=[Worker.name], set_=values)
    )


async def leave(session: AsyncSession, name: str) -> None:
    """A worker stopping cleanly removes its row."""
    await session.execute(delete(Worker).where(Worker.name == name))


async def live(
    session: AsyncSession, now: datetime, window: timedelta = DEFAULT_LIVE_WINDOW
) -> list[LiveWorker]:
    rows = await session.scalars(
        select(Worker).where(Worker.seen_at >= now - window).order_by(Worker.name)
    )
    return [
        LiveWorker(
            w.name,
            list(w.serves),
            list(w.loaded),
            w.memory_budget_mb,
            w.seen_at,
            w.loads,
            w.started_at,
        )
        for w in rows
    ]


async def fail_unservable(
    session: AsyncSession,
    now: datetime,
    window: timedelta = DEFAULT_LIVE_WINDOW,
    grace: timedelta = timedelta(0),
) -> list[tuple[uuid.UUID, str]]:
    """Fail (and refund) queued jobs older than `grace` whose model no live worker serves.
    Nothing is failed while no worker is live at all (a restart, a deploy): jobs then wait.
    Returns (job id, the member's message) for each failed job."""
    workers = await live(session, now, window)
    if not workers:
        return []
    served = sorted({model for w in workers for model in w.serves})
    model = job_model()
    before, after = NO_WORKER_MESSAGE.split("{model!r}")
    message = literal(before + "'") + func.coalesce(model, "?") + literal("'" + after)
    failed = (
        await session.execute(
            update(Job)
            .where(
                Job.state == JobState.QUEUED.value,
                Job.created_at <= now - grace,
                or_(model.is_(None), model.not_in(served)),
            )
            .values(state=JobState.FAILED.value, finished_at=now, error=message)
            .returning(Job.id, Job.error)
            .execution_options(synchronize_session=False)
        )
    ).all()
    for job_id, _ in failed:
        await quota.refund(session, job_id, now)
    return [(job_id, str(error)) for job_id, error in failed]
