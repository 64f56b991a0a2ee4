"""Interaction receipt → defer latency of /imagine, 50 at once, on real Postgres and Redis.

Real discord.py logs into the fake Discord of the wire-level tests (tests/bot/wire) on
127.0.0.1; the bot runs with the Postgres store (a fresh database, migrated) and publishes
jobs to Redis through Celery (the real client, under a key prefix of its own; no worker
runs). The fake sends N INTERACTION_CREATE events at once (N members) and times each from
sending it to receiving its defer callback: gateway parsing, command dispatch, the prompt
parser, the guild's (cached) rules, and the defer request itself.

    PYTHONPATH=. .venv/bin/python bench/defer_latency.py [--concurrency 50] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import secrets
import statistics
import sys
from pathlib import Path

import asyncpg
import discord
import yarl

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests/bot"), str(ROOT / "tests/bot/wire")]

from bot_fakes import MemoryImages, tiny_resolver  # noqa: E402
from fake_discord import FakeDiscord  # noqa: E402

from bot.app import BotDeps, build_bot  # noqa: E402
from bot.services.ports import JobView  # noqa: E402
from bot.services.sql_store import SqlStore  # noqa: E402
from db.migrate import upgrade  # noqa: E402
from db.plans import Plan  # noqa: E402
from db.sessions import create_engine, session_factory  # noqa: E402
from nanke.settings import Settings  # noqa: E402

ADMIN_DSN = os.environ.get("NANKE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


class CeleryEnqueuer:
    """The bot's real publisher (Celery `send_task` to the family queue + a `queued` event on
    the Redis stream), under a key prefix of its own so nothing else sees the bench's jobs."""

    def __init__(self, url: str) -> None:
        import redis

        from bot.services.adapters import PipelineEnqueuer
        from pipeline.broker_state import RedisBrokerState
        from pipeline.celery_app import build_celery_app
        from pipeline.client import CeleryJobClient
        from pipeline.events import RedisEventPublisher
        from pipeline.settings import PipelineSettings

        self.prefix = f"nanke-bench-{secrets.token_hex(4)}:"
        self._redis = redis.Redis.from_url(url)
        pipeline = PipelineSettings()
        app = build_celery_app(url, pipeline, key_prefix=self.prefix)
        events = RedisEventPublisher(self._redis, f"{self.prefix}events")
        self._inner = PipelineEnqueuer(CeleryJobClient(app), events, lambda model: "sd15")
        self._broker = RedisBrokerState(self._redis, key_prefix=self.prefix)

    async def enqueue(self, job: JobView) -> None:
        await self._inner.enqueue(job)

    async def count(self) -> int:
        return len(await asyncio.to_thread(self._broker.task_ids))

    async def close(self) -> None:
        keys = list(self._redis.scan_iter(match=f"{self.prefix}*", count=1000))
        if keys:
            self._redis.delete(*keys)
        self._redis.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run(
    concurrency: int, rounds: int, memory_store: bool = False, admissions: int = 4
) -> list[float]:
    # long: a benchmark script's setup, run and teardown, kept together to read in one go.
    name = f"nanke_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    engine = create_engine(url, pool_size=20, max_overflow=0)
    fake = FakeDiscord()
    enqueuer = CeleryEnqueuer("redis://127.0.0.1:6379/0")
    latencies: list[float] = []
    try:
        await upgrade(engine)
        store = SqlStore(
            session_factory(engine),
            {"free": Plan(1_000_000, "day", 100, 1000)},
            default_plan="free",
            relax_enabled=False,
        )
        base = await fake.start()
        discord.http.Route.BASE = f"{base}/api/v10"
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
        if memory_store:  # for comparison: the same path without the database
            from bot_fakes import MemoryStore

            store = MemoryStore(max_running=100, max_queued=1000)
        deps = BotDeps(
            store=store, enqueuer=enqueuer, resolver=tiny_resolver(), images=MemoryImages()
        )
        bot = build_bot(
            Settings(),
            deps,
            pump_events=False,
            guild_ready_timeout=0.1,
            admission_concurrency=admissions,
        )
        runner = asyncio.create_task(bot.start("bench-token"))
        await fake.wait_connected()
        await bot.wait_until_ready()
        users = itertools.count(10_000)
        for round_ in range(rounds + 1):  # round 0 warms pools and caches
            sent = await asyncio.gather(
                *(
                    fake.send_slash("imagine", next(users), prompt=f"a fox {i} --ar 3:2")
                    for i in range(concurrency)
                )
            )
            tokens = [p["token"] for p in sent]
            while not all(t in fake.acked_at for t in tokens):
                await asyncio.sleep(0.005)
            if round_:
                latencies += [(fake.acked_at[t] - fake.sent_at[t]) * 1000 for t in tokens]
            expected = (round_ + 1) * concurrency
            while await enqueuer.count() < expected:  # let this burst's admissions finish
                await asyncio.sleep(0.01)
        await bot.close()
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await runner
    finally:
        await fake.stop()
        await enqueuer.close()
        await engine.dispose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--memory-store", action="store_true", help="no Postgres, for comparison")
    parser.add_argument("--admissions", type=int, default=4, help="admissions in flight at once")
    args = parser.parse_args()
    latencies = asyncio.run(run(args.concurrency, args.rounds, args.memory_store, args.admissions))
    print(
        f"{len(latencies)} /imagine, {args.concurrency} at once: receipt → defer "
        f"p50 {statistics.median(latencies):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms, "
        f"max {max(latencies):.1f} ms"
    )


if __name__ == "__main__":
    main()
