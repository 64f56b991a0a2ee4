"""Builds a GPU worker from settings (the worker's composition root) and runs Celery.

One worker per GPU, solo pool: the job runs in the worker's main thread, so the models loaded
at start stay warm and one GPU never runs two jobs. Models are loaded before the worker
consumes anything; if they cannot be, the worker exits with a message and never takes a job.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from inference.celery_app import build_celery_app, queue_name, worker_queues
from inference.errors import EngineError
from inference.events import RedisEventPublisher
from inference.storage import build_storage
from nanke.settings import Settings, SettingsError

log = logging.getLogger(__name__)


class WorkerStartError(RuntimeError):
    """The worker cannot start; the message says what to fix."""


@dataclass
class WorkerPlan:
    queues: list[str]
    models: list[str]  # registry names to load before consuming


def plan_worker(registry: Any, queues: list[str] | None) -> WorkerPlan:
    """Which queues to consume and which models that needs (all families by default)."""
    families = list(dict.fromkeys(entry.family for entry in registry.models.values()))
    chosen = queues or worker_queues(families)
    served = {queue_name(f) for f in families} | {queue_name(f, relax=True) for f in families}
    unknown = [q for q in chosen if q not in served]
    if unknown:
        raise WorkerStartError(
            f"no model in the registry serves queue(s) {', '.join(unknown)}; "
            f"this registry serves: {', '.join(sorted(served))}"
        )
    needed = {q.removeprefix("nanke.").removesuffix(".relax") for q in chosen}
    models = [name for name, entry in registry.models.items() if entry.family in needed]
    return WorkerPlan(chosen, models)


def run_worker(settings: Settings, queues: list[str] | None, name: str | None) -> int:
    """Start a Celery worker (blocks until it stops); returns its exit code."""
    if not settings.broker_url:
        raise SettingsError(
            "nanke worker needs NANKE_BROKER_URL (e.g. redis://127.0.0.1:6379/0); "
            "on a single box without Redis, `nanke run` runs an embedded worker instead"
        )
    if not settings.database_url:
        raise SettingsError(
            "nanke worker needs NANKE_DATABASE_URL pointing at the bot's Postgres database"
        )
    events_url = settings.effective_events_url
    if not events_url:
        raise SettingsError("nanke worker needs NANKE_EVENTS_URL (a Redis URL) for job events")

    from inference.registry import load_registry

    # Everything that can be checked without torch is checked first: a typo fails in 1 s.
    registry = load_registry(settings.models_file)
    plan = plan_worker(registry, queues)
    for model in plan.models:
        registry.model(model).check_files()

    import redis
    import torch

    from db.engine import create_engine, session_factory
    from inference.worker.engine import Engine, default_device
    from inference.worker.job_store import DbJobStore
    from inference.worker.loop_thread import LoopThread
    from inference.worker.runner import JobRunner
    from inference.worker.tasks import register_tasks

    device, dtype = default_device()
    engine = Engine(registry, device=device, dtype=dtype, max_models=max(2, len(plan.models)))
    for model in plan.models:
        log.info("loading model %s on %s", model, device)
        try:
            engine.pipelines.model(model)
        except EngineError:
            raise
        except (OSError, ValueError, RuntimeError, torch.OutOfMemoryError) as exc:
            raise WorkerStartError(f"cannot load model {model!r}: {exc}") from exc

    hostname = name or f"gpu@{socket.gethostname()}-{os.getpid()}"
    loop = LoopThread()
    db_engine = create_engine(settings.database_url)
    store = DbJobStore(
        session_factory(db_engine), loop.run, timedelta(seconds=settings.pipeline.lease_s)
    )
    events = RedisEventPublisher(
        redis.Redis.from_url(events_url),
        settings.pipeline.events_stream,
        maxlen=settings.pipeline.events_maxlen,
    )
    storage = build_storage(settings.storage, settings.data_dir)
    runner = JobRunner(engine, store, storage, events, settings.pipeline, owner=hostname)
    app = build_celery_app(settings.broker_url, settings.pipeline)
    register_tasks(app, runner)
    log.info("worker %s consuming %s", hostname, ", ".join(plan.queues))
    worker = app.Worker(
        hostname=hostname,
        queues=plan.queues,
        pool="solo",
        concurrency=1,
        loglevel=settings.log_level,
        without_gossip=True,
        without_mingle=True,
        without_heartbeat=True,
    )
    try:
        worker.start()
    finally:
        loop.run(db_engine.dispose())
        loop.close()
    return int(worker.exitcode or 0)
