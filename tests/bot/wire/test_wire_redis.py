"""`nanke bot`'s wiring on Postgres + Redis (no worker running): /imagine publishes the job to
its model family's Celery queue, and the queued event comes back through the Redis stream's
consumer group to the member's message."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

from fake_discord import until

from bot.app import build_bot
from nanke.roots.bot import open_deps
from nanke.settings import Settings
from pipeline.broker_state import RedisBrokerState

MODELS_TOML = '[[models]]\nname = "tiny"\nsource = "."\nfamily = "sd15"\ndefault = true\n'


async def test_imagine_reaches_the_celery_queue_and_the_event_stream(
    fake, postgres_url, private_redis, tmp_path
):
    (tmp_path / "models.toml").write_text(MODELS_TOML)
    settings = Settings(
        database_url=postgres_url,
        broker_url=private_redis.url,
        models_file=tmp_path / "models.toml",
        data_dir=tmp_path,
    )
    async with open_deps(settings) as deps:
        bot = build_bot(settings, deps, guild_ready_timeout=0.1)
        runner = asyncio.create_task(bot.start("fake-token"))
        try:
            await fake.wait_connected()
            await asyncio.wait_for(bot.wait_until_ready(), 10)
            await fake.send_slash("imagine", prompt="a red fox")
            broker = RedisBrokerState(private_redis.client())
            await until(lambda: len(broker.task_ids()) == 1, "the job on the Celery queue")
            (job_id,) = broker.task_ids()
            assert private_redis.client().llen("nanke.sd15") == 1
            job = await deps.store.job(uuid.UUID(job_id))
            assert job is not None and job.spec.params.prompt == "a red fox"

            def edited() -> list[str]:
                return [
                    r.payload.get("content") or ""
                    for r in fake.requests
                    if r.method == "PATCH" and isinstance(r.payload, dict)
                ]

            await until(lambda: len(edited()) >= 2, "the queued event's edit via the stream")
            assert all(e.endswith("(Waiting to start · position 1)") for e in edited())
            # No worker runs here: cancel the job, or other tests sharing this database would
            # find it queued (their reconciler would republish it to their workers).
            assert await deps.store.cancel(job.id)
        finally:
            await bot.close()
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await runner
