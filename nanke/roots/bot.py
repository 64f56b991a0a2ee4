"""The composition root of the bot process (`nanke bot`) and of the one-box process (`nanke run`,
the bot plus an embedded worker): settings → registry → database → pipeline → bot.

Jobs go to Celery on NANKE_BROKER_URL and events come from Redis; in one-box mode a worker thread
in this process runs them (it loads the models, and torch, here) and events stay in memory.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING
from uuid import UUID

from bot.app import BotDeps, build_bot
from nanke.roots.pipeline_ends import PipelineEnds
from nanke.settings import Settings, SettingsError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from bot.app import NankeBot
    from inference.packs import Pack
    from inference.registry import Registry


def run_bot(
    settings: Settings, token: str, *, one_box: bool = False, web: tuple[str, int] | None = None
) -> None:
    """Run the bot until it is stopped (blocks). `web` (host, port): serve the web app (the
    galleries and the region editor) in this process too, as `nanke run` does."""
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # discord.py never logs the token, but its HTTP debug lines are noisy.
    logging.getLogger("discord.http").setLevel(logging.WARNING)

    async def main() -> None:
        from nanke.health import beat_while

        async with open_deps(settings, one_box=one_box) as deps, build_bot(settings, deps) as bot:
            # Liveness for `nanke healthcheck bot` (the compose healthcheck): loop alive and
            # connected to Discord.
            beat = asyncio.create_task(
                beat_while("bot", lambda: bot.is_ready() and not bot.is_closed())
            )
            site = asyncio.create_task(_serve_web(settings, *web)) if web else None
            try:
                await _start(bot, token)
            finally:
                beat.cancel()
                if site is not None:
                    site.cancel()

    asyncio.run(main())


async def _serve_web(settings: Settings, host: str, port: int) -> None:
    """The web app on this process's loop (one box: the editor's links need it)."""
    import uvicorn

    from nanke.roots.web import build_web_app

    app = build_web_app(settings, page_size=48)
    config = uvicorn.Config(
        app, host=host, port=port, log_level=settings.log_level.lower(), server_header=False
    )
    try:
        await uvicorn.Server(config).serve()
    except SystemExit:  # uvicorn exits when it cannot listen: the bot runs on without it
        logging.getLogger(__name__).error(
            "the web app could not listen on %s:%s (in use?); Draw the region… links will "
            "not open until it can (`nanke run --web-port`)",
            host,
            port,
        )


async def _start(bot: NankeBot, token: str) -> None:
    """bot.start, with Discord's own failures said as one line each (never "database")."""
    import aiohttp
    import discord

    try:
        await bot.start(token)
    except discord.LoginFailure:
        raise SettingsError(
            "Discord refused the bot token (NANKE_DISCORD__TOKEN): copy it again from the "
            "developer portal (Bot → Reset Token)"
        ) from None
    except (aiohttp.ClientError, discord.GatewayNotFound, OSError) as exc:
        raise DiscordUnreachable(
            f"cannot reach Discord (discord.com): {type(exc).__name__}: {exc}; "
            "is this machine online, and can it reach discord.com on port 443?"
        ) from None


class DiscordUnreachable(SettingsError):
    """Discord's API or gateway could not be reached at start."""


@asynccontextmanager
async def open_deps(settings: Settings, *, one_box: bool = False) -> AsyncIterator[BotDeps]:
    """Everything the bot needs, closed again on exit."""
    # long: the composition root: every dependency of the bot, built in the order it opens
    from bot.services.adapters import PipelineEnqueuer, StorageImages
    from bot.services.gallery_feed import SqlGalleryFeed
    from bot.services.resolver import RegistryResolver
    from bot.services.sql_editor import SqlEditorLinks
    from bot.services.sql_store import SqlStore
    from bot.services.sql_training import SqlTraining
    from db.sessions import create_engine, session_factory
    from pipeline.reconciler import Reconciler, default_queue_of
    from pipeline.storage import build_storage

    if not one_box:
        _require_broker(settings)
    registry = _load_registry(settings)
    packs = load_packs_setting(settings)

    def family_of(model: str) -> str:
        entry = registry.models.get(model)
        return entry.family if entry else registry.model().family

    async with AsyncExitStack() as stack:
        db_engine = create_engine(settings.effective_database_url)
        stack.push_async_callback(db_engine.dispose)
        sessions = session_factory(db_engine)
        await _probe(sessions)
        if one_box:
            from nanke.roots.one_box import start_embedded_worker

            ends = start_embedded_worker(settings, sessions, registry, stack)
        else:
            ends = _remote_pipeline(settings, stack)

        def reconciler(deliver: Callable[[UUID], Awaitable[None]]) -> Reconciler:
            return Reconciler(
                sessions,
                ends.dispatcher,
                ends.publisher,
                settings.pipeline,
                queue_of=default_queue_of(family_of),
                broker_task_ids=ends.broker_task_ids,
                deliver=deliver,
                fail_unservable=not one_box,
            )

        yield BotDeps(
            store=SqlStore(
                sessions,
                settings.plans,
                default_plan=settings.default_plan,
                relax_enabled=settings.relax_mode,
            ),
            enqueuer=PipelineEnqueuer(ends.dispatcher, ends.publisher, family_of),
            resolver=RegistryResolver(registry),
            images=StorageImages(build_storage(settings.storage, settings.data_dir)),
            image_policy=settings.images.policy(),
            models=tuple(sorted(registry.models)),
            lora_dir=registry.lora_dir,
            events=ends.reader,
            reconciler=reconciler,
            gallery=SqlGalleryFeed(sessions, default_plan=settings.default_plan),
            editor_links=SqlEditorLinks(sessions),
            upscaler=registry.upscaler is not None,
            edit_model=registry.edit is not None,
            loras=SqlTraining(sessions),
            plans=settings.plans,
            packs=packs,
        )


def _require_broker(settings: Settings) -> None:
    if not settings.broker_url:
        raise SettingsError(
            "nanke bot needs NANKE_BROKER_URL (e.g. redis://127.0.0.1:6379/0) to reach "
            "its workers; on a single box without Redis, run `nanke run` instead"
        )
    if not settings.effective_events_url:
        raise SettingsError("nanke bot needs NANKE_EVENTS_URL (a Redis URL) for job events")


def _load_registry(settings: Settings) -> Registry:
    from inference.errors import RegistryError
    from inference.registry import load_registry

    try:
        return load_registry(settings.models_file)
    except RegistryError as exc:
        raise SettingsError(exc.message) from None


def load_packs_setting(settings: Settings) -> dict[str, Pack]:
    """NANKE_PACKS_FILE's packs (else the shipped ones), checked at start: a bad file is one
    line naming it and what to fix, not an error at a member's first /pack."""
    from inference.errors import RegistryError
    from inference.packs import DEFAULT_PACKS, load_packs

    try:
        return load_packs(settings.packs_file or DEFAULT_PACKS)
    except RegistryError as exc:
        raise SettingsError(f"NANKE_PACKS_FILE: {exc.message}") from None


async def _probe(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Fail at start, not at a member's first /imagine, when the database is unreachable or
    not migrated to the bot's tables (the caller turns that into one line)."""
    from sqlalchemy import select

    from db.models import GuildBan

    async with sessions() as session:
        await session.execute(select(GuildBan.guild_id).limit(1))


def _remote_pipeline(settings: Settings, stack: AsyncExitStack) -> PipelineEnds:
    """Celery for jobs, a Redis stream for events."""
    import redis
    import redis.asyncio as aioredis

    from pipeline.broker_state import RedisBrokerState
    from pipeline.celery_app import build_celery_app
    from pipeline.client import CeleryJobClient
    from pipeline.events import RedisEventPublisher, RedisEventReader

    assert settings.broker_url is not None and settings.effective_events_url is not None
    events_url = settings.effective_events_url
    sync_redis = redis.Redis.from_url(events_url)
    stack.callback(sync_redis.close)
    async_redis = aioredis.from_url(events_url)
    stack.push_async_callback(async_redis.aclose)
    broker_redis = redis.Redis.from_url(settings.broker_url)
    stack.callback(broker_redis.close)
    return PipelineEnds(
        dispatcher=CeleryJobClient(build_celery_app(settings.broker_url, settings.pipeline)),
        publisher=RedisEventPublisher(
            sync_redis, settings.pipeline.events_stream, maxlen=settings.pipeline.events_maxlen
        ),
        # A stable consumer name: after a restart this bot re-reads what it had not handled.
        reader=RedisEventReader(
            async_redis,
            settings.pipeline.events_stream,
            consumer=settings.bot_name or f"bot@{socket.gethostname()}",
        ),
        broker_task_ids=RedisBrokerState(broker_redis).task_ids,
    )
