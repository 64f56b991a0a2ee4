"""The LoRA store of /train on the real data layer, on Postgres and on SQLite (the embedded
default of `nanke run`): a reserved name is not usable until its job succeeds, ❌ on a running
run refunds only the part given, once, and a cancelled run frees its name."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from bot_fakes import tiny_resolver
from sqlalchemy import update

from bot.services.ports import JobState, NewJob, UserPrefs
from bot.services.sql_store import SqlStore
from bot.services.sql_training import SqlTraining
from bot.services.training import StoredLora
from db import jobs
from db.cost import train_cost_milli, train_refund_milli
from db.models import Job
from db.plans import Plan
from db.settings import PlanSettings
from pipeline.contracts import JobKind
from pipeline.train_contract import TrainJob
from prompt.request import ImagineParams, PromptPart

USER, GUILD = 31, 555


def params(caption: str) -> ImagineParams:
    return ImagineParams(prompt=caption, parts=(PromptPart(text=caption),))


@pytest.fixture
def sessions(pg_sessions):  # type: ignore[no-untyped-def]
    return pg_sessions  # test_sql_training_sqlite.py runs these on SQLite


async def test_reserve_ready_cancel_and_refund(sessions) -> None:  # type: ignore[no-untyped-def]
    store = SqlStore(
        sessions, {"free": Plan(20_000, "day")}, default_plan="free", relax_enabled=False
    )
    loras = SqlTraining(sessions)
    job_id = uuid.uuid4()
    paint = tiny_resolver().imagine(job_id, params("a photo of nkmia pet"), UserPrefs())
    key = f"loras/{USER}/{job_id}.safetensors"
    train = TrainJob(
        name="mia", subject="pet", trigger="nkmia", steps=600, resolution=512,
        image_keys=("refs/a.png",), lora_key=key,
    )  # fmt: skip
    spec = paint.model_copy(update={"kind": JobKind.TRAIN, "train": train})
    admitted = await store.admit(NewJob(None, USER, GUILD, 42, spec))
    assert admitted.job is not None and admitted.job.cost_milli == train_cost_milli(600, 512)
    row = StoredLora(
        uuid.uuid4(), USER, GUILD, "mia", "tiny", "pet", "nkmia", 0, key, job_id=job_id
    )
    assert await loras.reserve(row)
    assert not await loras.reserve(StoredLora(**{**row.__dict__, "id": uuid.uuid4()}))
    assert await loras.name_taken(USER, "mia")
    assert await loras.lookup(USER, GUILD, "mia") is None  # still training
    assert [r.ready for r in await loras.mine(USER)] == [False]
    plan = PlanSettings(credits=20, max_loras=1)
    assert "your plan's limit" in (await loras.refusal(USER, plan) or "")

    assert await loras.cancel_running(job_id, USER, 5000) is None  # queued, not running
    async with sessions.begin() as session:
        assert await jobs.claim(session, job_id, "w", datetime.now(UTC)) is not None
    before = (await store.account(USER)).credits_left_milli
    refund = train_refund_milli(admitted.job.cost_milli, 600, 150)
    assert await loras.cancel_running(job_id, USER + 1, refund) is None  # not theirs
    assert await loras.cancel_running(job_id, USER, refund) == refund
    assert await loras.cancel_running(job_id, USER, refund) is None  # once
    assert (await store.account(USER)).credits_left_milli == before + refund
    assert (await store.job(job_id)).state is JobState.CANCELLED  # type: ignore[union-attr]
    assert not await loras.name_taken(USER, "mia")  # the cancelled run freed its name
    assert await loras.refusal(USER, plan) is None


async def test_a_succeeded_run_is_usable_by_its_owner_only(sessions) -> None:  # type: ignore[no-untyped-def]
    store = SqlStore(
        sessions, {"free": Plan(20_000, "day")}, default_plan="free", relax_enabled=False
    )
    loras = SqlTraining(sessions)
    job_id = uuid.uuid4()
    paint = tiny_resolver().imagine(job_id, params("an image in nkink style"), UserPrefs())
    key = f"loras/{USER}/{job_id}.safetensors"
    train = TrainJob(
        name="ink", subject="style", trigger="nkink", steps=60, resolution=512,
        image_keys=("refs/a.png",), lora_key=key,
    )  # fmt: skip
    spec = paint.model_copy(update={"kind": JobKind.TRAIN, "train": train})
    await store.admit(NewJob(None, USER, GUILD, 42, spec))
    await loras.reserve(
        StoredLora(
            uuid.uuid4(), USER, GUILD, "ink", "tiny", "style", "nkink", 0, key, job_id=job_id
        )
    )
    async with sessions.begin() as session:
        await session.execute(update(Job).where(Job.id == job_id).values(state="succeeded"))
    await loras.set_size(job_id, 4096)
    found = await loras.lookup(USER, GUILD, "ink")
    assert found is not None and found.storage_key == key
    assert (await loras.mine(USER))[0].size_bytes == 4096
    assert await loras.lookup(USER + 1, GUILD, "ink") is None  # private
    assert await loras.publish(GUILD, USER, "ink") == "no_consent"
    assert await loras.set_consent(USER, "ink", True)
    assert await loras.publish(GUILD, USER, "ink") == "published"
    assert (await loras.lookup(USER + 1, GUILD, "ink")).storage_key == key  # type: ignore[union-attr]
    assert await loras.lookup(USER + 1, GUILD + 1, "ink") is None  # another server
    assert await loras.delete(USER, "ink") is not None
    assert await loras.lookup(USER + 1, GUILD, "ink") is None
