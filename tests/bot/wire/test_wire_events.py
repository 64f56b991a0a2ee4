"""`nanke bot` on Postgres + Redis when the events stream misbehaves (#21 item 3): after Redis
drops every client connection mid-run (CLIENT KILL) the bot's event pump reconnects, resumes
its consumer group and the next job shows progress again; a job whose `failed` event never
arrives is still told to its member by the reconciler ("Failed: … · credits refunded").

No GPU worker runs here: the test publishes the job events to the stream as a worker does."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime

from fake_discord import until

from bot.app import build_bot
from db import jobs
from nanke.roots.bot import open_deps
from nanke.settings import Settings
from pipeline.broker_state import RedisBrokerState
from pipeline.contracts import JobEvent, JobEventKind
from pipeline.events import RedisEventPublisher
from pipeline.settings import PipelineSettings

MODELS_TOML = '[[models]]\nname = "tiny"\nsource = "."\nfamily = "sd15"\ndefault = true\n'
PIPELINE = PipelineSettings(reconcile_interval_s=0.3, republish_after_s=3600)


async def test_progress_survives_a_redis_connection_drop_and_lost_failures_are_told(
    fake, postgres_url, private_redis, tmp_path
):
    (tmp_path / "models.toml").write_text(MODELS_TOML)
    settings = Settings(
        database_url=postgres_url,
        broker_url=private_redis.url,
        models_file=tmp_path / "models.toml",
        data_dir=tmp_path,
        pipeline=PIPELINE,
    )
    broker = RedisBrokerState(private_redis.client())

    async def imagine(prompt: str) -> uuid.UUID:
        before = broker.task_ids()
        await fake.send_slash("imagine", prompt=prompt)
        await until(lambda: len(broker.task_ids() - before) == 1, f"the job for {prompt!r}")
        (job_id,) = broker.task_ids() - before
        return uuid.UUID(job_id)

    def edits_of(prompt: str) -> list[str]:
        return [
            r.payload.get("content") or ""
            for r in fake.requests
            if r.method == "PATCH"
            and isinstance(r.payload, dict)
            and f"**{prompt}**" in (r.payload.get("content") or "")
        ]

    def progress(job_id: uuid.UUID, percent: float) -> None:
        event = JobEvent(job_id=job_id, kind=JobEventKind.PROGRESS, attempt=1, percent=percent)
        RedisEventPublisher(private_redis.client(), PIPELINE.events_stream).publish(event)

    async with open_deps(settings) as deps:
        bot = build_bot(settings, deps, guild_ready_timeout=0.1)
        runner = asyncio.create_task(bot.start("fake-token"))
        first = second = None
        try:
            await fake.wait_connected()
            await asyncio.wait_for(bot.wait_until_ready(), 10)
            first = await imagine("first")
            progress(first, 40)
            await until(lambda: any("(40%)" in e for e in edits_of("first")), "first's progress")

            # Redis drops every client (the bot's blocking XREADGROUP included).
            private_redis.client().client_kill_filter(_type="normal", skipme=True)

            second = await imagine("second")
            progress(second, 60)
            await until(
                lambda: any("(60%)" in e for e in edits_of("second")),
                "second's progress after the drop",
                timeout=20,
            )

            # The second job fails on its worker, and the `failed` event is lost.
            async with deps.store._sessions.begin() as session:
                now = datetime.now(UTC)
                claim = await jobs.claim(session, second, "gpu-1", now)
                assert claim is not None
                await jobs.fail(session, second, claim.attempt, now, "worker error: boom")
            await until(
                lambda: any("Failed" in e and "credits refunded" in e for e in edits_of("second")),
                "the reconciler to tell the failure",
                timeout=20,
            )
            assert not any("boom" in e for e in edits_of("second"))  # operator detail stays

            # Told once: the row records it, so no later pass (or a late event) tells it again.
            async def told_once() -> bool:
                async with deps.store._sessions() as session:
                    row = await jobs.get(session, second)
                assert row is not None and row.state == "failed"
                return row.posted_at is not None

            deadline = asyncio.get_running_loop().time() + 10
            while not await told_once():
                assert asyncio.get_running_loop().time() < deadline, "the notice was not recorded"
                await asyncio.sleep(0.05)
            async with deps.store._sessions.begin() as session:
                assert not await jobs.mark_posting(session, second, datetime.now(UTC))
            assert len([e for e in edits_of("second") if "Failed" in e]) == 1
        finally:
            if first is not None:
                await deps.store.cancel(first)  # other tests' reconcilers share this database
            await bot.close()
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await runner
