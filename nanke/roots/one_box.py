"""The worker half of the one-box process (`nanke run`): the same JobRunner a Celery worker
uses, on a thread of the bot's process, fed by an in-process queue; its database calls run on
the bot's event loop and its events stay in memory. `nanke.roots.bot` composes the rest."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Coroutine
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from inference.registry import Registry
from nanke.roots.cli_engine import make_engine
from nanke.roots.pipeline_ends import PipelineEnds
from nanke.settings import Settings


def start_embedded_worker(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    registry: Registry,
    stack: AsyncExitStack,
) -> PipelineEnds:
    """Start the worker thread; `stack` stops it on exit (the running job finishes, queued
    ones stay queued in the database)."""
    from pipeline.events import InMemoryEvents
    from pipeline.in_process import InProcessDispatcher
    from pipeline.job_store import DbJobStore
    from pipeline.runner import JobRunner
    from pipeline.storage import build_storage

    loop = asyncio.get_running_loop()

    def on_bot_loop(coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, loop).result()

    from pipeline.engine_thread import EngineThread

    events = InMemoryEvents(maxlen=settings.pipeline.events_maxlen)
    storage = build_storage(settings.storage, settings.data_dir)
    painter = make_engine(
        registry,
        library_logs=settings.library_logs,
        worker=settings.worker,
        data_dir=settings.data_dir,
        storage=storage,
    )
    if settings.worker.train:  # /train on one box: the same engine trains (docs/training.md)
        from inference.worker.train_job import TrainingEngine
        from nanke.roots.trainer import make_trainer

        painter = TrainingEngine(
            painter,
            lambda: make_trainer(registry, settings.worker),
            storage,
            settings.data_dir / "training",
        )
    engine = EngineThread(painter)
    runner = JobRunner(
        engine,
        DbJobStore(sessions, on_bot_loop, timedelta(seconds=settings.pipeline.lease_s)),
        storage,
        events,
        settings.pipeline,
        owner=f"embedded@{socket.gethostname()}",
        fetch_policy=settings.images.policy(),
    )
    # Two jobs in flight: one on the engine thread, one storing and committing its result.
    dispatcher = InProcessDispatcher(runner, workers=2)
    dispatcher.start()

    async def stop() -> None:
        await asyncio.to_thread(dispatcher.stop, 60)
        await asyncio.to_thread(engine.close)

    stack.push_async_callback(stop)
    return PipelineEnds(dispatcher, events, events, dispatcher.task_ids)
