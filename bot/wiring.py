"""Builds the bot's dependencies from settings: the data layer, the pipeline's client, events
and storage, the engine's registry. Called by the composition roots (`nanke bot`,
`nanke run`); nothing here runs at import."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

from bot.app import BotDeps
from bot.services.engine_resolver import RegistryResolver
from bot.services.gallery_feed import SqlGalleryFeed
from bot.services.ports import JobView
from bot.services.sql_store import SqlStore
from nanke.settings import Settings, SettingsError


class StorageImages:
    """The pipeline's storage, read off the event loop."""

    def __init__(self, storage: Any) -> None:
        self._storage = storage

    async def read(self, key: str) -> bytes:
        data: bytes = await asyncio.to_thread(self._storage.get, key)
        return data


class PipelineEnqueuer:
    """Publishes a job to its model family's queue (relax queue when admitted uncharged) and
    announces its place in line, as the pipeline's `enqueue` does."""

    def __init__(self, dispatcher: Any, events: Any, family_of: Callable[[str], str]) -> None:
        self._dispatcher = dispatcher
        self._events = events
        self._family_of = family_of

    async def enqueue(self, job: JobView) -> None:
        from inference.celery_app import queue_name
        from inference.enqueue import enqueue

        queue = queue_name(self._family_of(job.spec.generation.model), relax=job.relaxed)
        await asyncio.to_thread(enqueue, self._dispatcher, self._events, job.id, queue)


Deliver = Callable[[UUID], Awaitable[None]]


async def _probe(sessions: Any) -> None:
    """Fail at start, not at a member's first /imagine, when the database is unreachable or
    not migrated to the bot's tables (the caller turns that into one line)."""
    from sqlalchemy import select

    from db.models import GuildBan

    async with sessions() as session:
        await session.execute(select(GuildBan.guild_id).limit(1))


@asynccontextmanager
async def open_deps(settings: Settings, *, embedded: bool = False) -> AsyncIterator[BotDeps]:
    """Everything the bot needs. Jobs go to Celery on NANKE_BROKER_URL and events come from
    Redis; with `embedded` (`nanke run`) a worker thread in this process runs them (it loads
    the models, and torch, here) and events stay in memory."""
    import redis
    import redis.asyncio as aioredis

    from db.engine import create_engine, session_factory
    from inference.errors import RegistryError
    from inference.events import RedisEventPublisher, RedisEventReader
    from inference.reconciler import Reconciler, default_queue_of
    from inference.registry import load_registry
    from inference.storage import build_storage

    # Configuration first (cheap, and the most likely mistakes), then the services.
    events_url = settings.effective_events_url
    if not embedded:
        if not settings.broker_url:
            raise SettingsError(
                "nanke bot needs NANKE_BROKER_URL (e.g. redis://127.0.0.1:6379/0) to reach "
                "its workers; on a single box without Redis, run `nanke run` instead"
            )
        if not events_url:
            raise SettingsError("nanke bot needs NANKE_EVENTS_URL (a Redis URL) for job events")
    try:
        registry = load_registry(settings.models_file)
    except RegistryError as exc:
        raise SettingsError(exc.message) from None

    def family_of(model: str) -> str:
        entry = registry.models.get(model)
        return entry.family if entry else registry.model().family

    db_engine = create_engine(settings.effective_database_url)
    sessions = session_factory(db_engine)
    try:
        await _probe(sessions)
    except BaseException:
        await db_engine.dispose()
        raise
    clients: list[Any] = []
    broker_task_ids: Callable[[], set[str]] | None = None
    dispatcher: Any
    if embedded:
        from inference.worker.embedded import start_embedded_worker

        dispatcher, events = start_embedded_worker(
            settings, sessions, asyncio.get_running_loop(), registry
        )
        publisher: Any = events
        reader: Any = events
        broker_task_ids = dispatcher.task_ids
    else:
        assert settings.broker_url is not None and events_url is not None
        from inference.broker_state import RedisBrokerState
        from inference.celery_app import build_celery_app
        from inference.client import CeleryJobClient

        dispatcher = CeleryJobClient(build_celery_app(settings.broker_url, settings.pipeline))
        sync_redis = redis.Redis.from_url(events_url)
        async_redis = aioredis.from_url(events_url)
        clients += [sync_redis, async_redis]
        publisher = RedisEventPublisher(
            sync_redis, settings.pipeline.events_stream, maxlen=settings.pipeline.events_maxlen
        )
        # A stable consumer name: after a restart this bot re-reads what it had not handled.
        reader = RedisEventReader(
            async_redis,
            settings.pipeline.events_stream,
            consumer=os.environ.get("NANKE_BOT_NAME", f"bot@{socket.gethostname()}"),
        )
        broker = RedisBrokerState(redis.Redis.from_url(settings.broker_url))
        broker_task_ids = broker.task_ids

    store = SqlStore(
        sessions,
        settings.plans,
        default_plan=settings.default_plan,
        relax_enabled=settings.relax_mode,
    )

    def reconciler(deliver: Deliver) -> Reconciler:
        return Reconciler(
            sessions,
            dispatcher,
            publisher,
            settings.pipeline,
            queue_of=default_queue_of(family_of),
            broker_task_ids=broker_task_ids,
            deliver=deliver,
        )

    try:
        yield BotDeps(
            store=store,
            enqueuer=PipelineEnqueuer(dispatcher, publisher, family_of),
            resolver=RegistryResolver(registry),
            images=StorageImages(build_storage(settings.storage, settings.data_dir)),
            models=tuple(sorted(registry.models)),
            lora_dir=registry.lora_dir,
            events=reader,
            reconciler=reconciler,
            gallery=SqlGalleryFeed(sessions, default_plan=settings.default_plan),
        )
    finally:
        if embedded:  # finish the running job; queued ones stay queued in the database
            await asyncio.to_thread(dispatcher.stop, 60)
        for client in clients:
            close = getattr(client, "aclose", None) or client.close
            result = close()
            if asyncio.iscoroutine(result):
                await result
        await db_engine.dispose()
