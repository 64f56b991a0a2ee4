"""A Vary (Region) job with a stored mask PNG (`edit.mask_key`, as `nanke inpaint --mask`
records it) through the worker path: the runner loads the mask from storage and hands it to
the engine on its engine thread, exactly as a Celery worker does (real Postgres, the tiny
inpainting model)."""

from __future__ import annotations

import asyncio
import io
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.admission import Created, Submission, admit
from db.models import JobKind
from inference.edits import region_spec
from pipeline.engine_thread import EngineThread
from pipeline.events import InMemoryEvents
from pipeline.job_store import DbJobStore
from pipeline.runner import JobRunner, Outcome
from pipeline.settings import PipelineSettings
from pipeline.storage import LocalStorage
from tests.fixtures.db_helpers import new_user_id, plans
from tests.inference.engine_helpers import spec
from tests.pipeline.harness import image_keys, job_row


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


async def _run(
    sessions: async_sessionmaker[AsyncSession], engine: Any, storage: LocalStorage, job: Any
) -> Outcome:
    async with sessions.begin() as session:
        created = await admit(
            session,
            Submission(
                job.job_id, new_user_id(), JobKind.VARY_REGION, job.model_dump(mode="json"), 1000
            ),
            plans(),
            default_plan="free",
            relax_enabled=False,
            now=datetime.now(UTC),
        )
    assert isinstance(created, Created)
    loop = asyncio.get_running_loop()
    store = DbJobStore(
        sessions,
        lambda coro: asyncio.run_coroutine_threadsafe(coro, loop).result(60),
        timedelta(seconds=120),
    )
    thread = EngineThread(engine)  # the worker's one engine thread
    try:
        runner = JobRunner(
            thread,
            store,
            storage,
            InMemoryEvents(),
            PipelineSettings(preview_interval_s=0),
            owner="w1",
        )
        return await asyncio.to_thread(runner.run, job.job_id)
    finally:
        thread.close()


@pytest.fixture(scope="module")
def source(registry: Any, engine: Any) -> tuple[Any, Image.Image]:
    parent = spec(registry, seed=11, steps=2)
    return parent, engine.run(parent).images[0]


def _stored(tmp_path: Path, image: Image.Image) -> LocalStorage:
    """The worker's storage, holding the image the edit starts from."""
    storage = LocalStorage(tmp_path / "images")
    storage.put(SOURCE_KEY, _png(image), "image/png")
    return storage


SOURCE_KEY = "jobs/parent/1/1.png"


async def test_a_stored_mask_is_loaded_by_the_worker(
    pg_sessions: async_sessionmaker[AsyncSession],
    registry: Any,
    engine: Any,
    source: tuple[Any, Image.Image],
    tmp_path: Path,
) -> None:
    parent, image = source
    storage = _stored(tmp_path, image)
    mask = Image.new("L", image.size, 0)
    mask.paste(255, (40, 8, 60, 30))  # a shape no preset region has
    mask_key = f"masks/{uuid.uuid4().hex}.png"
    storage.put(mask_key, _png(mask), "image/png")
    job = region_spec(parent, 1, SOURCE_KEY, registry, mask_key=mask_key, seed=61)

    assert await _run(pg_sessions, engine, storage, job) is Outcome.SUCCEEDED

    keys = await image_keys(pg_sessions, job.job_id)
    assert len(keys) == 4
    keep = np.asarray(mask) < 128
    original = np.asarray(image.convert("RGB"), dtype=np.int16)
    for key in keys:  # every tile keeps the source exactly outside the stored mask
        out = Image.open(io.BytesIO(storage.get(key))).convert("RGB")
        pixels = np.asarray(out, dtype=np.int16)
        assert np.array_equal(pixels[keep], original[keep])
        assert np.abs(pixels[~keep] - original[~keep]).mean() > 1.0  # and repaints inside


async def test_a_mask_missing_from_storage_fails_the_job_with_a_clear_message(
    pg_sessions: async_sessionmaker[AsyncSession],
    registry: Any,
    engine: Any,
    source: tuple[Any, Image.Image],
    tmp_path: Path,
) -> None:
    parent, image = source
    job = region_spec(parent, 1, SOURCE_KEY, registry, mask_key="masks/gone.png", seed=62)
    storage = _stored(tmp_path, image)  # the source is there, the mask is not

    assert await _run(pg_sessions, engine, storage, job) is Outcome.FAILED

    row = await job_row(pg_sessions, job.job_id)
    assert row.state == "failed" and row.error is not None
    assert row.error.startswith("this job's mask image is no longer stored")
