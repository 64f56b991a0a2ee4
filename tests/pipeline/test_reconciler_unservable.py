"""The reconciler fails a queued job whose model no live worker serves, refunds it and tells
the member why, instead of leaving it "Waiting to start" forever (#18)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db import jobs, workers
from db.admission import Created, Submission
from db.models import JobKind
from pipeline.contracts import JobEventKind
from pipeline.events import InMemoryEvents
from pipeline.reconciler import Reconciler, default_queue_of
from pipeline.settings import PipelineSettings
from tests.fixtures.db_helpers import ledger_sum, new_user_id, plans, submit
from tests.pipeline.harness import NoDispatch

NOW = datetime.now(UTC)


async def test_a_job_no_live_worker_serves_fails_with_its_reason(
    pg_sessions: async_sessionmaker[AsyncSession],
) -> None:
    member = new_user_id()
    job_id = uuid.uuid4()
    request = {"job_id": str(job_id), "generation": {"model": "retired-model"}}
    async with pg_sessions.begin() as session:
        created = await submit(
            session,
            Submission(job_id, member, JobKind.IMAGINE, request, cost_milli=1000),
            plans(),
            now=NOW - timedelta(minutes=1),
        )
        assert isinstance(created, Created)
        await workers.beat(session, "gpu-1", ["sd15"], ["sd15"], NOW)
    events = InMemoryEvents()
    reconciler = Reconciler(
        pg_sessions,
        NoDispatch(),
        events,
        PipelineSettings(),
        queue_of=default_queue_of(lambda model: "sd15"),
        clock=lambda: NOW,
        fail_unservable=True,
    )

    done = await reconciler.run_once()

    assert job_id in done.failed
    (event,) = [e.event for e in await events.read(block_s=0) if e.event.job_id == job_id]
    assert event.kind is JobEventKind.FAILED and event.job_id == job_id
    assert event.error is not None and "'retired-model'" in event.error
    assert "refunded" in event.error
    async with pg_sessions() as session:
        job = await jobs.get(session, job_id)
        assert job is not None and job.state == "failed"
        assert await ledger_sum(session, member, created.period_key or "") == 25_000


class _Recording:
    def __init__(self) -> None:
        self.sent: list[tuple[uuid.UUID, str]] = []

    def dispatch(self, job_id: uuid.UUID, queue: str) -> None:
        self.sent.append((job_id, queue))

    def queue_depth(self, queue: str) -> int:
        return 0


async def test_a_job_for_a_model_taken_out_of_models_toml_does_not_stop_republishing(
    pg_sessions: async_sessionmaker[AsyncSession],
) -> None:
    """One queued job whose model the registry no longer knows is left alone; the jobs beside
    it that the broker lost are still published again."""
    member = new_user_id()
    retired, kept = uuid.uuid4(), uuid.uuid4()
    async with pg_sessions.begin() as session:
        for job_id, model in ((retired, "retired-model"), (kept, "sd15")):
            request = {"job_id": str(job_id), "generation": {"model": model}}
            created = await submit(
                session,
                Submission(job_id, member, JobKind.IMAGINE, request, cost_milli=1000),
                plans(),
                now=NOW - timedelta(minutes=1),
            )
            assert isinstance(created, Created)

    def family_of(model: str) -> str:
        if model != "sd15":
            raise LookupError(f"unknown model {model!r}")
        return "sd15"

    dispatcher = _Recording()
    reconciler = Reconciler(
        pg_sessions,
        dispatcher,
        InMemoryEvents(),
        PipelineSettings(),
        queue_of=default_queue_of(family_of),
        broker_task_ids=set,  # the broker lost everything
        clock=lambda: NOW,
    )

    done = await reconciler.run_once()

    assert kept in done.republished and retired not in done.republished
    assert [job_id for job_id, _ in dispatcher.sent if job_id in (kept, retired)] == [kept]
