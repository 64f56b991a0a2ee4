"""The failure tests' rig: short pipeline timings, the worker zygote, a private Redis, real
`nanke worker` processes and what the bot process holds (sessions, Celery, events, the
reconciler). Its fixtures are registered for tests/pipeline by conftest.py."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis
import redis.asyncio as aredis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.sessions import create_engine, session_factory
from inference.registry import Registry, load_registry
from pipeline.broker_state import RedisBrokerState
from pipeline.celery_app import build_celery_app, queue_name
from pipeline.client import CeleryJobClient
from pipeline.contracts import JobEventKind
from pipeline.enqueue import enqueue
from pipeline.events import RedisEventPublisher, RedisEventReader
from pipeline.reconciler import Reconciler, default_queue_of
from pipeline.settings import PipelineSettings
from tests.fixtures.redis_server import PrivateRedis
from tests.pipeline.harness import (
    Workers,
    Zygote,
    job_row,
    spec_for,
    submit,
    wait_for,
)

# Short timings so failures resolve in seconds. The visibility timeout (3 s) is shorter than
# the slow jobs below on purpose: Redis then hands a running job to the idle worker too.
PIPELINE = PipelineSettings(
    job_timeout_s=2,
    visibility_timeout_s=3,
    lease_s=3,
    heartbeat_s=0.5,
    reconcile_interval_s=0.5,
    republish_after_s=0,
    preview_interval_s=0.5,
)
# Failure jobs make one tile (the tiny model takes ~0.3-1 s a step here, batch of one).
SLOW_STEPS = 8  # several seconds: time to hit the job mid-run
FAST_STEPS = 1
QUEUE = queue_name("sd15")
_users = itertools.count(5_000_000_000_000)


def next_user() -> int:
    return next(_users)


@pytest.fixture(scope="module")
def zygote() -> Iterator[Zygote]:
    z = Zygote()
    yield z
    z.close()


@pytest.fixture(scope="module")
def models_file(zygote: Zygote, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return zygote.build_models(tmp_path_factory.mktemp("tiny-models"))


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.kill()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture
def workers(
    zygote: Zygote,
    models_file: Path,
    broker: PrivateRedis,
    postgres_url: str,
    data_dir: Path,
    tmp_path: Path,
) -> Iterator[Workers]:
    env = {
        "NANKE_DATABASE_URL": postgres_url,
        "NANKE_BROKER_URL": broker.url,
        "NANKE_MODELS_FILE": str(models_file),
        "NANKE_DATA_DIR": str(data_dir),
        "NANKE_LOG_LEVEL": "INFO",
        # A preview every 2nd step (the default adapts to the measured step time).
        "NANKE_WORKER__PREVIEW_EVERY_STEPS": "2",
        "NANKE_WORKER__THREADS": "1",
        # No GPU in CI: a worker paints on the CPU only when told to.
        "NANKE_WORKER__DEVICE": "cpu",
        **{f"NANKE_PIPELINE__{k.upper()}": str(v) for k, v in PIPELINE.model_dump().items()},
    }
    pool = Workers(zygote, env, tmp_path)
    yield pool
    pool.stop_all()


class Rig:
    """What the bot process holds: sessions, the Celery client, events and the reconciler."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], broker: PrivateRedis, registry: Registry
    ) -> None:
        self.sessions = sessions
        self.registry = registry
        self.url = broker.url
        self.redis = redis.Redis.from_url(broker.url)
        self.client = CeleryJobClient(build_celery_app(broker.url, PIPELINE))
        self.events = RedisEventPublisher(self.redis, PIPELINE.events_stream)
        self.broker_state = RedisBrokerState(self.redis)
        self.reconciler = Reconciler(
            sessions,
            self.client,
            self.events,
            PIPELINE,
            queue_of=default_queue_of(lambda model: registry.model(model).family),
            broker_task_ids=self.broker_state.task_ids,
        )

    async def job(
        self,
        prompt: str = "a lighthouse",
        steps: int = FAST_STEPS,
        batch: int = 1,
        user_id: int | None = None,
    ) -> uuid.UUID:
        spec = spec_for(self.registry, prompt, steps, batch)
        job_id = await submit(self.sessions, spec, user_id or next_user())
        await asyncio.to_thread(enqueue, self.client, self.events, job_id, QUEUE)
        return job_id

    async def state(self, job_id: uuid.UUID) -> str:
        return (await job_row(self.sessions, job_id)).state

    async def wait_state(self, job_id: uuid.UUID, states: set[str], timeout: float) -> float:
        async def reached() -> bool:
            return await self.state(job_id) in states

        return await wait_for(
            reached, timeout, f"job {job_id} to reach {states}", tick=self.reconciler.run_once
        )

    async def wait_progress(self, job_id: uuid.UUID, timeout: float = 60) -> None:
        """Until the job has made at least one denoising step (it is mid-run)."""
        reader = RedisEventReader(
            aredis.Redis.from_url(self.url),
            PIPELINE.events_stream,
            consumer="probe",
            group=f"probe-{uuid.uuid4().hex[:6]}",
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for delivered in await reader.read(block_s=0.2):
                event = delivered.event
                if event.job_id == job_id and event.kind is JobEventKind.PROGRESS:
                    return
        raise AssertionError(f"job {job_id} made no progress in {timeout}s")


@pytest.fixture
async def rig(postgres_url: str, broker: PrivateRedis, models_file: Path) -> AsyncIterator[Rig]:
    engine = create_engine(postgres_url, pool_size=5, max_overflow=0)
    broker.client().flushall()
    yield Rig(session_factory(engine), broker, load_registry(models_file))
    await engine.dispose()
