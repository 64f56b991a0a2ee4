"""The composition root of the worker process (`nanke worker`): settings → registry → engine →
runner → Celery.

One worker per GPU. Celery's threads pool runs two jobs at once, but every engine call goes to
one engine thread (pipeline/engine_thread.py): the GPU runs one job at a time while the other
job's PNGs, storage writes, commit and events happen beside it, and each task still returns
(is acknowledged) only after its own commit. Models are loaded and warmed up before the worker
consumes anything; if they cannot be, the worker exits with a message and never takes a job.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from nanke.settings import Settings, SettingsError
from pipeline.celery_app import build_celery_app, queue_name, worker_queues
from pipeline.events import RedisEventPublisher
from pipeline.storage import build_storage
from pipeline.train_contract import TRAIN_QUEUE

log = logging.getLogger(__name__)


# One job on the engine thread, one storing and committing its result (pipeline/engine_thread.py).
JOBS_IN_FLIGHT = 2


class WorkerStartError(RuntimeError):
    """The worker cannot start; the message says what to fix."""


@dataclass
class WorkerPlan:
    queues: list[str]
    models: list[str]  # registry names to load before consuming


def plan_worker(
    registry: Any, queues: list[str] | None, models: list[str] | None = None, train: bool = False
) -> WorkerPlan:
    """Which queues to consume and which models that serves: `models` (their families'
    queues), or every model of the chosen queues' families (all families by default)."""
    if models:
        unknown = [m for m in models if m not in registry.models]
        if unknown:
            raise WorkerStartError(
                f"no model named {', '.join(unknown)} in the registry (models.toml); "
                f"it has: {', '.join(sorted(registry.models))}"
            )
    picked = models or list(registry.models)
    families = list(dict.fromkeys(registry.models[name].family for name in picked))
    chosen = queues or [*worker_queues(families), *([TRAIN_QUEUE] if train else [])]
    served = {queue_name(f) for f in families} | {queue_name(f, relax=True) for f in families}
    served |= {TRAIN_QUEUE} if train else set()
    unknown = [q for q in chosen if q not in served]
    if unknown:
        raise WorkerStartError(
            f"no model in the registry serves queue(s) {', '.join(unknown)}; "
            f"this registry serves: {', '.join(sorted(served))}"
        )
    needed = {q.removeprefix("nanke.").removesuffix(".relax") for q in chosen}
    if TRAIN_QUEUE in chosen:  # training runs on the served models' families
        needed |= set(families)
    return WorkerPlan(chosen, [name for name in picked if registry.models[name].family in needed])


def run_worker(
    settings: Settings,
    queues: list[str] | None,
    name: str | None,
    *,
    metrics_port: int | None = None,
) -> int:
    """Start a Celery worker (blocks until it stops); returns its exit code."""
    database_url, events_url = _required_urls(settings)
    from db.sessions import create_engine
    from inference.registry import load_registry
    from pipeline.loop_thread import LoopThread

    # Everything that can be checked without torch is checked first: a typo fails in 1 s.
    registry = load_registry(settings.models_file)
    plan = plan_worker(registry, queues, settings.worker.models, settings.worker.train)
    for model in plan.models:
        registry.model(model).check_files()
    loop = LoopThread()
    db_engine = create_engine(database_url)
    try:
        _probe_database(loop, db_engine, database_url)
        return _serve(settings, registry, plan, name, loop, db_engine, events_url, metrics_port)
    finally:
        loop.run(db_engine.dispose())
        loop.close()


def _serve(
    settings: Settings,
    registry: Any,
    plan: WorkerPlan,
    name: str | None,
    loop: Any,
    db_engine: Any,
    events_url: str,
    metrics_port: int | None = None,
) -> int:
    """Announce the worker (its heartbeat row, live while its models load), load the models,
    then consume until it stops."""
    from db.sessions import session_factory
    from pipeline.presence import WorkerPresence

    hostname = name or f"gpu@{socket.gethostname()}-{os.getpid()}"
    sessions = session_factory(db_engine)
    loaded: list[Any] = []  # the engine, once its models are loaded
    budget = settings.worker.memory_budget_gb
    presence = WorkerPresence(
        sessions,
        loop.run,
        hostname,
        plan.models,
        lambda: loaded[0].loaded_models() if loaded else [],
        lambda: int(getattr(loaded[0].engine, "model_loads", 0)) if loaded else 0,
        every_s=settings.pipeline.heartbeat_s,
        memory_budget_mb=None if budget is None else int(budget * 1024),
    )
    presence.start()
    try:
        loaded.append(_loaded_engine(settings, registry, plan.models))
        try:
            return _consume(
                settings, plan, hostname, sessions, loop, loaded[0], events_url, metrics_port
            )
        finally:
            loaded[0].close()
    finally:
        presence.stop()


def _consume(
    settings: Settings,
    plan: WorkerPlan,
    hostname: str,
    sessions: Any,
    loop: Any,
    engine: Any,
    events_url: str,
    metrics_port: int | None,
) -> int:
    """The store (claims through the scheduler), runner and Celery worker; blocks."""
    # long: one composition, in the order its parts depend on each other
    import redis

    from db.scheduler import SchedulePolicy, WorkerView
    from pipeline.job_store import DbJobStore, Scheduling
    from pipeline.runner import JobRunner
    from pipeline.tasks import register_tasks

    serves = frozenset(plan.models)
    policy = SchedulePolicy.of_plans(
        settings.plans,
        settings.default_plan,
        affinity_wait=timedelta(seconds=settings.pipeline.affinity_wait_s),
    )
    store = DbJobStore(
        sessions,
        loop.run,
        timedelta(seconds=settings.pipeline.lease_s),
        scheduling=Scheduling(
            policy,
            lambda: WorkerView(
                hostname, serves, frozenset(engine.loaded_models()), settings.worker.train
            ),
        ),
    )
    events = RedisEventPublisher(
        redis.Redis.from_url(events_url),
        settings.pipeline.events_stream,
        maxlen=settings.pipeline.events_maxlen,
    )
    storage = build_storage(settings.storage, settings.data_dir)
    runner = JobRunner(
        engine,
        store,
        storage,
        events,
        settings.pipeline,
        owner=hostname,
        fetch_policy=settings.images.policy(),
    )
    app = build_celery_app(settings.broker_url or "", settings.pipeline)
    register_tasks(app, runner)
    log.info("worker %s consuming %s", hostname, ", ".join(plan.queues))
    worker = app.Worker(
        hostname=hostname,
        queues=plan.queues,
        pool="threads",
        concurrency=JOBS_IN_FLIGHT,
        loglevel=settings.log_level,
        without_gossip=True,
        without_mingle=True,
        without_heartbeat=True,
    )
    server = None
    if metrics_port is not None:
        server = _metrics_server(settings, sessions, loop, metrics_port)
    try:
        worker.start()
    finally:
        if server is not None:
            server.shutdown()
    return int(worker.exitcode or 0)


def _metrics_server(settings: Settings, sessions: Any, loop: Any, port: int) -> Any:
    from datetime import UTC, datetime

    from db.queue_stats import queue_stats
    from pipeline.metrics import render_prometheus, serve_metrics

    async def stats() -> str:
        async with sessions() as session:
            return render_prometheus(await queue_stats(session, datetime.now(UTC)))

    token = settings.metrics_token
    secret = None if token is None else token.get_secret_value()
    log.info("metrics at http://0.0.0.0:%d/metrics", port)
    return serve_metrics(port, lambda: str(loop.run(stats(), timeout=10)), secret)


def _probe_database(loop: Any, db_engine: Any, url: str) -> None:
    """Fail at start, before saying ready, when the database is unreachable or unmigrated: a
    worker that cannot claim jobs must not take them off the queue."""
    from sqlalchemy import select

    from db.models import Job
    from nanke.database import safe_url

    async def probe() -> None:
        async with db_engine.connect() as conn:
            await conn.execute(select(Job.id).limit(1))

    try:
        loop.run(probe(), timeout=30)
    except Exception as exc:  # asyncpg, OSError, timeouts: all say the same to an operator
        cause = getattr(exc, "orig", None) or exc
        text = str(cause).lower()
        if "does not exist" in text or "no such table" in text:
            raise WorkerStartError(
                f"the database at {safe_url(url)} has no Nanke tables yet: run `nanke migrate`"
            ) from None
        raise WorkerStartError(
            f"cannot reach the database at {safe_url(url)} ({type(cause).__name__}: {cause}): "
            "is Postgres running, and is NANKE_DATABASE_URL right?"
        ) from None


def _required_urls(settings: Settings) -> tuple[str, str]:
    """The database and events URLs a worker cannot run without (the broker is checked too)."""
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
    return settings.database_url, events_url


def _loaded_engine(settings: Settings, registry: Any, models: list[str]) -> Any:
    """The engine on its own thread, with every served model loaded and warmed up, before
    the worker takes a job."""
    from inference.worker.warmup import warm_up
    from nanke.roots.cli_engine import make_engine
    from pipeline.engine_thread import EngineThread

    # Without a memory budget every served model stays loaded (as many as it serves).
    engine = make_engine(
        registry,
        library_logs=settings.library_logs,
        max_models=max(2, len(models)),
        worker=settings.worker,
        data_dir=settings.data_dir,
        require_gpu=True,
        storage=build_storage(settings.storage, settings.data_dir),
    )
    log.info("loading %s on %s (%s)", ", ".join(models), engine.device, engine.dtype)
    if settings.worker.train:
        engine = _with_training(settings, registry, engine)
    threaded = EngineThread(engine)
    if settings.worker.warmup:
        threaded.call(lambda: warm_up(engine, models))
    else:
        threaded.call(lambda: engine.load_models(models))
    return threaded


def _with_training(settings: Settings, registry: Any, engine: Any) -> Any:
    """The engine that also runs `train` jobs (a trainer per job, on the same device)."""
    from inference.worker.train_job import TrainingEngine
    from nanke.roots.trainer import make_trainer

    return TrainingEngine(
        engine,
        lambda: make_trainer(registry, settings.worker),
        build_storage(settings.storage, settings.data_dir),
        settings.data_dir / "training",
    )
