"""JobRunner decisions on real databases: failures, retries, stale attempts, duplicates; and
the embedded in-process worker on SQLite (the `nanke run` path).

The engine here is a small stand-in that returns real PNGs instantly and can fail on cue, so
each branch runs in milliseconds; the real engine runs under the same runner in
test_failures.py.
"""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db import jobs
from db.migrate import upgrade
from db.sessions import create_engine, session_factory
from inference.errors import UnknownLoraError
from pipeline.contracts import JobEventKind, JobSpec
from pipeline.events import InMemoryEvents
from pipeline.in_process import InProcessDispatcher
from pipeline.job_store import DbJobStore
from pipeline.runner import RETRY_MESSAGE, JobRunner, Outcome
from pipeline.settings import PipelineSettings
from pipeline.storage import LocalStorage
from tests.pipeline.harness import image_keys, job_row, ledger_kinds, submit

SETTINGS = PipelineSettings(preview_interval_s=0)
_users = iter(range(6_000_000_000_000, 7_000_000_000_000))


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), "teal").save(buf, format="PNG")
    return buf.getvalue()


class StandInEngine:
    """Returns a real 2x2 result at once; `before` runs first (to fail or interfere)."""

    def __init__(self) -> None:
        self.before: Callable[[JobSpec], None] = lambda spec: None
        self.prompts: list[str] = []
        self.nsfw: list[bool] | None = None  # the safety checker's verdict; None: all clear
        # The real engine's LoRA manager: the one box points it at members' stored LoRAs.
        self.loras = SimpleNamespace(fetch_stored=None)

    def run(self, spec: JobSpec, source: Any, on_progress: Any) -> Any:
        self.before(spec)
        self.prompts.append(spec.generation.prompt)
        for step in (1, 2):
            on_progress(step, 2, np.zeros((4, 4, 8, 8), dtype=np.float32))
        n = spec.generation.batch
        return type(
            "Out",
            (),
            {
                "pngs": [_png()] * n,
                "grid_png": _png(),
                "seeds": [spec.generation.seed + i for i in range(n)],
                "width": 64,
                "height": 64,
                "infotexts": ["a prompt\nSteps: 2"] * n,
                "timings_ms": {"denoise": 1.0},
                "nsfw": self.nsfw or [False] * n,
            },
        )()


def _spec(prompt: str = "a fox") -> JobSpec:
    from pipeline.contracts import JobKind
    from prompt.request import Generation, ImagineParams, PromptPart

    parts = (PromptPart(text=prompt),)
    return JobSpec(
        job_id=uuid.uuid4(),
        kind=JobKind.IMAGINE,
        params=ImagineParams(prompt=prompt, parts=parts),
        generation=Generation(
            model="tiny",
            prompt=prompt,
            parts=parts,
            width=64,
            height=64,
            steps=2,
            cfg=7,
            sampler="euler",
            seed=1,
        ),
    )


class Setup:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], tmp: Path) -> None:
        self.sessions = sessions
        loop = asyncio.get_running_loop()
        # The runner runs on a thread (as in `nanke run`); the database stays on this loop,
        # whose connections the sessions' pool holds.
        self.on_loop: Callable[[Any], Any] = lambda coro: asyncio.run_coroutine_threadsafe(
            coro, loop
        ).result(30)
        self.engine = StandInEngine()
        self.events = InMemoryEvents()
        self.storage = LocalStorage(tmp / "images")
        self.requeued: list[uuid.UUID] = []
        self.store = DbJobStore(sessions, self.on_loop, timedelta(seconds=60))

    def runner(self, owner: str = "w1") -> JobRunner:
        return JobRunner(
            self.engine,
            self.store,
            self.storage,
            self.events,
            SETTINGS,
            owner=owner,
            requeue=self.requeued.append,
        )

    async def job(self, prompt: str = "a fox") -> uuid.UUID:
        return await submit(self.sessions, _spec(prompt), next(_users))

    def kinds(self, job_id: uuid.UUID) -> list[JobEventKind]:
        return [d.event.kind for d in list(self.events._queue) if d.event.job_id == job_id]


@pytest.fixture
async def setup(
    pg_sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> AsyncIterator[Setup]:
    yield Setup(pg_sessions, tmp_path)


async def test_success_writes_images_settles_and_reports(setup: Setup) -> None:
    job_id = await setup.job()
    assert await asyncio.to_thread(setup.runner().run, job_id) is Outcome.SUCCEEDED
    assert await ledger_kinds(setup.sessions, job_id) == ["hold", "settle"]
    keys = await image_keys(setup.sessions, job_id)
    assert keys == [f"jobs/{job_id}/1/{i}.png" for i in (1, 2, 3, 4)]
    assert setup.storage.exists(f"jobs/{job_id}/1/grid.png")
    assert setup.kinds(job_id) == [
        JobEventKind.STARTED,
        JobEventKind.PROGRESS,
        JobEventKind.PROGRESS,
        JobEventKind.SUCCEEDED,
    ]
    # A duplicate delivery of the finished job does nothing.
    assert await asyncio.to_thread(setup.runner("w2").run, job_id) is Outcome.SKIPPED
    assert await ledger_kinds(setup.sessions, job_id) == ["hold", "settle"]


async def test_safety_flags_are_stored_with_the_result_and_sent_in_the_event(
    setup: Setup,
) -> None:
    setup.engine.nsfw = [False, True, False, False]
    job_id = await setup.job()
    assert await asyncio.to_thread(setup.runner().run, job_id) is Outcome.SUCCEEDED
    job = await job_row(setup.sessions, job_id)
    assert job.result is not None and job.result["nsfw"] == [False, True, False, False]
    done = [d.event for d in list(setup.events._queue) if d.event.job_id == job_id][-1]
    assert done.result is not None and done.result.nsfw == (False, True, False, False)


async def test_a_user_fixable_engine_error_fails_and_refunds_at_once(setup: Setup) -> None:
    def unknown_lora(spec: JobSpec) -> None:
        raise UnknownLoraError("unknown LoRA 'x'; available: ink")

    setup.engine.before = unknown_lora
    job_id = await setup.job()
    assert await asyncio.to_thread(setup.runner().run, job_id) is Outcome.FAILED
    job = await job_row(setup.sessions, job_id)
    assert (job.state, job.attempts, job.error) == ("failed", 1, "unknown LoRA 'x'; available: ink")
    assert await ledger_kinds(setup.sessions, job_id) == ["hold", "refund"]
    assert setup.kinds(job_id)[-1] is JobEventKind.FAILED
    assert setup.requeued == []


async def test_operator_detail_stays_in_the_row_and_out_of_the_members_event(
    setup: Setup,
) -> None:
    """Issue 21 item 15: a damaged LoRA's path and the library's words are for operators."""
    from inference.errors import ModelFileError
    from pipeline.errors import member_message

    def damaged(spec: JobSpec) -> None:
        raise ModelFileError("LoRA 'x' could not be loaded", detail="/srv/loras/x.st: bad header")

    setup.engine.before = damaged
    job_id = await setup.job()
    assert await asyncio.to_thread(setup.runner().run, job_id) is Outcome.FAILED
    job = await job_row(setup.sessions, job_id)
    assert job.error is not None and "/srv/loras/x.st: bad header" in job.error
    assert member_message(job.error) == "LoRA 'x' could not be loaded"
    failed = [d.event for d in setup.events._queue if d.event.kind is JobEventKind.FAILED]
    assert [e.error for e in failed] == ["LoRA 'x' could not be loaded"]
    crash = "worker error: OSError: [Errno 28] No space left on device"
    assert member_message(crash) == RETRY_MESSAGE


async def test_unexpected_errors_retry_until_the_attempt_cap(setup: Setup) -> None:
    def broken(spec: JobSpec) -> None:
        raise RuntimeError("CUDA error: an illegal memory access")

    setup.engine.before = broken
    job_id = await setup.job()
    outcomes = [await asyncio.to_thread(setup.runner().run, job_id) for _ in range(3)]
    assert outcomes == [Outcome.REQUEUED, Outcome.REQUEUED, Outcome.FAILED]
    assert setup.requeued == [job_id, job_id]  # published again after each retryable failure
    job = await job_row(setup.sessions, job_id)
    assert (job.state, job.attempts) == ("failed", 3)
    assert job.error == "worker error: RuntimeError: CUDA error: an illegal memory access"
    assert await ledger_kinds(setup.sessions, job_id) == ["hold", "refund"]
    failed = [d.event for d in setup.events._queue if d.event.kind is JobEventKind.FAILED]
    assert [e.error for e in failed] == [RETRY_MESSAGE]  # no internals shown to the member


async def test_a_stale_attempt_discards_its_output(setup: Setup) -> None:
    job_id = await setup.job()

    def taken_over(spec: JobSpec) -> None:
        # While attempt 1 runs, its lease lapses and attempt 2 claims the job elsewhere.
        async def takeover() -> None:
            later = datetime.now(UTC) + timedelta(hours=1)
            async with setup.sessions.begin() as session:
                assert (await jobs.requeue_expired(session, later)).requeued == [job_id]
            async with setup.sessions.begin() as session:
                assert await jobs.claim(session, job_id, "w2", later) is not None

        setup.on_loop(takeover())

    setup.engine.before = taken_over
    assert await asyncio.to_thread(setup.runner().run, job_id) is Outcome.STALE
    job = await job_row(setup.sessions, job_id)
    assert (job.state, job.attempts, job.lease_owner) == ("running", 2, "w2")
    assert setup.storage.list(f"jobs/{job_id}/") == []
    assert await image_keys(setup.sessions, job_id) == []
    assert await ledger_kinds(setup.sessions, job_id) == ["hold"]
    assert JobEventKind.SUCCEEDED not in setup.kinds(job_id)


async def test_embedded_worker_on_sqlite_serves_fast_before_relax(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'nanke.db'}")
    await upgrade(engine)
    sessions = session_factory(engine)
    loop = asyncio.get_running_loop()

    def on_bot_loop(coro: Any) -> Any:  # what `nanke run` does: the bot's loop serves the DB
        return asyncio.run_coroutine_threadsafe(coro, loop).result(30)

    fake = StandInEngine()
    events = InMemoryEvents()
    store = DbJobStore(sessions, on_bot_loop, timedelta(seconds=60))
    runner = JobRunner(fake, store, LocalStorage(tmp_path / "img"), events, SETTINGS, owner="me")
    dispatcher = InProcessDispatcher(runner)
    relax = [await submit(sessions, _spec(f"relax {i}"), next(_users)) for i in range(2)]
    fast = await submit(sessions, _spec("fast"), next(_users))
    for job_id in relax:
        dispatcher.dispatch(job_id, "nanke.sd15.relax")
    dispatcher.dispatch(fast, "nanke.sd15")
    assert dispatcher.queue_depth("nanke.sd15.relax") == 2
    assert dispatcher.task_ids() == {str(j) for j in [*relax, fast]}

    dispatcher.start()
    done: set[uuid.UUID] = set()
    while len(done) < 3:
        for delivered in await events.read(block_s=10):
            if delivered.event.kind is JobEventKind.SUCCEEDED:
                done.add(delivered.event.job_id)
    await asyncio.to_thread(dispatcher.stop, 10)
    assert fake.prompts == ["fast", "relax 0", "relax 1"]
    assert dispatcher.task_ids() == set()
    for job_id in [*relax, fast]:
        assert (await job_row(sessions, job_id)).state == "succeeded"
    await engine.dispose()


async def test_a_variation_whose_source_image_is_gone_fails_without_retry(setup: Setup) -> None:
    from pipeline.contracts import JobKind, SourceImage

    spec = _spec().model_copy(
        update={
            "kind": JobKind.VARY_SUBTLE,
            "source": SourceImage(job_id=uuid.uuid4(), index=1, key="jobs/x/1/1.png"),
        }
    )
    job_id = await submit(setup.sessions, spec, next(_users))
    assert await asyncio.to_thread(setup.runner().run, job_id) is Outcome.FAILED
    job = await job_row(setup.sessions, job_id)
    assert job.error is not None and "no longer stored" in job.error
    assert await ledger_kinds(setup.sessions, job_id) == ["hold", "refund"]


async def test_start_embedded_worker_wires_a_job_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import types
    from contextlib import AsyncExitStack

    from inference.registry import parse_registry
    from nanke.roots.one_box import start_embedded_worker
    from nanke.settings import Settings
    from pipeline.settings import StorageSettings

    # The real engine module imports torch (tens of seconds here); the builder's wiring is
    # what this test is about, so the stand-in engine takes its place.
    stand_in = StandInEngine()
    fake = types.ModuleType("inference.worker.engine")
    fake.Engine = types.SimpleNamespace(  # type: ignore[attr-defined]
        from_settings=lambda registry, worker, **_: stand_in
    )
    monkeypatch.setitem(__import__("sys").modules, "inference.worker.engine", fake)

    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'nanke.db'}")
    await upgrade(engine)
    sessions = session_factory(engine)
    (tmp_path / "m").mkdir()
    registry = parse_registry(
        {"models": [{"name": "tiny", "source": "m", "family": "sd15"}]}, tmp_path
    )
    settings = Settings(data_dir=tmp_path, storage=StorageSettings())
    async with AsyncExitStack() as stack:
        ends = start_embedded_worker(settings, sessions, registry, stack)
        job_id = await submit(sessions, _spec(), next(_users))
        ends.dispatcher.dispatch(job_id, "nanke.sd15")
        kinds: list[JobEventKind] = []
        while JobEventKind.SUCCEEDED not in kinds:
            batch = await ends.reader.read(block_s=10)
            assert batch, "no event from the embedded worker"
            kinds += [d.event.kind for d in batch]
    assert (await job_row(sessions, job_id)).state == "succeeded"
    assert LocalStorage(tmp_path / "images").exists(f"jobs/{job_id}/1/grid.png")
    await engine.dispose()
