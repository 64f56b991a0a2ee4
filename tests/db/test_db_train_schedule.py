"""Training jobs in the scheduler: a worker that does not train never claims one, and a
worker that does runs waiting painting jobs first (a run holds the GPU for minutes)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db import members
from db.models import Job, JobState
from db.plans import Plan
from db.scheduler import SchedulePolicy, WorkerView, claim_next
from tests.fixtures.db_helpers import new_user_id

POLICY = SchedulePolicy.of_plans(
    {"free": Plan(25_000, "day", max_running=3)}, "free", affinity_wait=timedelta(seconds=20)
)
START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


async def _arrive(
    session: AsyncSession, user: int, kind: str, model: str, at: datetime
) -> uuid.UUID:
    job_id = uuid.uuid4()
    await session.execute(
        insert(Job).values(
            id=job_id,
            user_id=user,
            kind=kind,
            request={"generation": {"model": model}},
            state=JobState.QUEUED.value,
            cost_milli=1000,
            created_at=at,
        )
    )
    return job_id


async def test_painting_first_and_training_only_on_workers_that_train(
    pg_session: AsyncSession,
) -> None:
    model = f"t-{uuid.uuid4().hex[:8]}"
    ann, ben = new_user_id(), new_user_id()
    for user in (ann, ben):
        await members.ensure_user(pg_session, user, "free", START)
    train = await _arrive(pg_session, ann, "train", model, START)
    paint = await _arrive(pg_session, ben, "imagine", model, START + timedelta(seconds=5))
    now = START + timedelta(seconds=10)
    painter = WorkerView("painter", frozenset({model}), trains=False)
    trainer = WorkerView("trainer", frozenset({model}), trains=True)

    first = await claim_next(pg_session, trainer, POLICY, now)
    assert first is not None and first.job_id == paint  # the older training job waits
    assert await claim_next(pg_session, painter, POLICY, now) is None  # never a training job
    second = await claim_next(pg_session, trainer, POLICY, now)
    assert second is not None and second.job_id == train
