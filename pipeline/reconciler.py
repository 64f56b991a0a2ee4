"""The reconciler: makes every job end exactly once, whatever crashed (torch-free).

It runs as an asyncio task in the bot process (the bot already owns the database sessions,
the broker client and delivery), every `pipeline.reconcile_interval_s`. Each pass:

1. requeues running jobs whose lease expired (their worker died or hung) and publishes them
   again; jobs out of attempts are failed and refunded, and a `failed` event tells the bot;
2. fails (and refunds) queued jobs whose model no live worker serves (workers' heartbeat rows,
   `db.workers`), telling the member why;
3. publishes again queued jobs the broker no longer holds (Redis flushed or lost them, or the
   bot died between committing a job and publishing it), once they are older than
   `pipeline.republish_after_s`;
4. hands succeeded-but-unposted jobs to the delivery callback, after claiming them for
   posting (`mark_posting`), so two passes or two bots never post one job twice;
5. deletes region editor links (`region_links`) that expired more than
   `LINK_GRACE` ago and are unused or settled (their tokens no longer verify).

Several bot processes may run it at once: every step is a fenced SQL transition, and a job
published twice is dropped by the second worker's claim.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db import jobs, region_links, workers
from db.models import Job, JobKind, JobState
from pipeline.celery_app import queue_name
from pipeline.client import JobDispatcher
from pipeline.contracts import JobEvent, JobEventKind
from pipeline.events import EventPublisher
from pipeline.settings import PipelineSettings
from pipeline.train_contract import TRAIN_QUEUE

log = logging.getLogger(__name__)

# Expired editor links are kept this much longer (clock skew between the web app and here).
LINK_GRACE = timedelta(minutes=5)
OUT_OF_ATTEMPTS = "the job's worker stopped responding on every attempt; your credits were refunded"

# Job → queue name; the default sends every job to its family's queue (relax when relaxed).
QueueOf = Callable[[Job], str]
Deliver = Callable[[uuid.UUID], Awaitable[None]]


def default_queue_of(family_of: Callable[[str], str]) -> QueueOf:
    def queue_of(job: Job) -> str:
        if job.kind == JobKind.TRAIN:
            return TRAIN_QUEUE
        model = (job.request.get("generation") or {}).get("model", "")
        return queue_name(family_of(model), relax=job.relaxed)

    return queue_of


@dataclass
class Pass:
    requeued: list[uuid.UUID] = field(default_factory=list)
    failed: list[uuid.UUID] = field(default_factory=list)
    republished: list[uuid.UUID] = field(default_factory=list)
    delivered: list[uuid.UUID] = field(default_factory=list)
    links_deleted: int = 0  # spent region editor links


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Reconciler:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        dispatcher: JobDispatcher,
        events: EventPublisher,
        settings: PipelineSettings,
        *,
        queue_of: QueueOf,
        broker_task_ids: Callable[[], set[str]] | None = None,
        deliver: Deliver | None = None,
        clock: Callable[[], datetime] = _utcnow,
        fail_unservable: bool = False,
    ) -> None:
        """`fail_unservable`: fail queued jobs no live `nanke worker` serves (set it where
        such workers run jobs; the one-box embedded worker keeps no heartbeat row)."""
        self._sessions = sessions
        self._dispatcher = dispatcher
        self._events = events
        self._settings = settings
        self._queue_of = queue_of
        self._broker_task_ids = broker_task_ids
        self._deliver = deliver
        self._clock = clock
        self._fail_unservable_on = fail_unservable

    async def run_once(self) -> Pass:
        result = Pass()
        now = self._clock()
        async with self._sessions.begin() as session:
            expired = await jobs.requeue_expired(session, now)
        result.failed = expired.failed
        for job_id in expired.failed:
            await self._publish(
                JobEvent(job_id=job_id, kind=JobEventKind.FAILED, error=OUT_OF_ATTEMPTS)
            )
        if expired.requeued:
            result.requeued = await self._dispatch_ids(expired.requeued)
        if self._fail_unservable_on:
            result.failed += await self._fail_unservable(now)
        result.republished = await self._republish_lost(now, set(expired.requeued))
        if self._deliver is not None:
            result.delivered = await self._deliver_unposted(now)
        async with self._sessions.begin() as session:
            result.links_deleted = await region_links.delete_spent(session, now - LINK_GRACE)
        if result.requeued or result.failed or result.republished:
            log.info(
                "reconciler: requeued %d, failed %d, republished %d",
                len(result.requeued),
                len(result.failed),
                len(result.republished),
            )
        return result

    async def run_forever(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception:  # keep reconciling through database or broker outages
                log.exception("reconciler pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._settings.reconcile_interval_s)

    async def _dispatch_ids(self, ids: list[uuid.UUID]) -> list[uuid.UUID]:
        async with self._sessions() as session:
            rows = await session.scalars(select(Job).where(Job.id.in_(ids)))
            found = list(rows)
        return [job.id for job in found if await self._send(job)]

    async def _send(self, job: Job) -> bool:
        """Publish one job to its queue. A job whose model this server no longer knows (taken
        out of models.toml while it waited) is skipped, not allowed to stop the whole pass."""
        try:
            queue = self._queue_of(job)
        except Exception as exc:
            log.warning("reconciler: job %s has no queue (%s); left queued", job.id, exc)
            return False
        await asyncio.to_thread(self._dispatcher.dispatch, job.id, queue)
        return True

    async def _republish_lost(self, now: datetime, just_sent: set[uuid.UUID]) -> list[uuid.UUID]:
        if self._broker_task_ids is None:
            return []
        cutoff = now - timedelta(seconds=self._settings.republish_after_s)
        async with self._sessions() as session:
            rows = await session.scalars(
                select(Job)
                .where(Job.state == JobState.QUEUED.value, Job.created_at <= cutoff)
                .order_by(Job.created_at)
                .limit(1000)
            )
            queued = [job for job in rows if job.id not in just_sent]
        if not queued:
            return []
        held = await asyncio.to_thread(self._broker_task_ids)
        lost = [job for job in queued if str(job.id) not in held]
        return [job.id for job in lost if await self._send(job)]

    async def _fail_unservable(self, now: datetime) -> list[uuid.UUID]:
        """Queued jobs for a model no live worker serves fail now, refunded, with a message
        that says so, instead of waiting forever (nothing fails while no worker is live)."""
        async with self._sessions.begin() as session:
            failed = await workers.fail_unservable(
                session,
                now,
                window=timedelta(seconds=self._settings.worker_live_s),
                grace=timedelta(seconds=self._settings.republish_after_s),
            )
        for job_id, message in failed:
            await self._publish(JobEvent(job_id=job_id, kind=JobEventKind.FAILED, error=message))
        return [job_id for job_id, _ in failed]

    async def _deliver_unposted(self, now: datetime) -> list[uuid.UUID]:
        assert self._deliver is not None
        async with self._sessions() as session:
            waiting = [job.id for job in await jobs.unposted(session, now)]
        handed = []
        for job_id in waiting:
            async with self._sessions.begin() as session:
                claimed = await jobs.mark_posting(session, job_id, now)
            if claimed:
                try:
                    await self._deliver(job_id)
                except Exception:  # its posting claim lapses and a later pass retries
                    log.exception("delivering job %s failed", job_id)
                    continue
                handed.append(job_id)
        return handed

    async def _publish(self, event: JobEvent) -> None:
        try:
            await asyncio.to_thread(self._events.publish, event)
        except Exception:
            log.exception("could not publish %s event for job %s", event.kind, event.job_id)
