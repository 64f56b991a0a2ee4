"""Refusals over the wire (#21 items 7 and 16): real discord.py against the fake Discord, the
bot wired by `nanke bot`'s composition root on Postgres + Redis.

- A prompt holding a lone surrogate (half an emoji, which no database stores) is refused as a
  prompt, privately and free, instead of crashing admission.

- /imagine in a channel where the bot lacks Send Messages (or Attach Files) is refused before
  anything is charged, naming the missing permission.
- A late result (after the 15-minute interaction window) that the channel refuses with 403 is
  sent to the member by DM, and the job is marked posted: no retry loop."""

from __future__ import annotations

import asyncio
import contextlib
import io
import uuid
from datetime import UTC, datetime

import pytest
from fake_discord import until
from PIL import Image

from bot.app import build_bot
from db import jobs
from db.jobs import NewImage
from nanke.roots.bot import open_deps
from nanke.settings import Settings
from pipeline.broker_state import RedisBrokerState
from pipeline.contracts import JobResult
from pipeline.storage import build_storage

MODELS_TOML = '[[models]]\nname = "tiny"\nsource = "."\nfamily = "sd15"\ndefault = true\n'
SEND_MESSAGES = 1 << 11


@pytest.fixture
async def wired(fake, postgres_url, private_redis, tmp_path):
    (tmp_path / "models.toml").write_text(MODELS_TOML)
    settings = Settings(
        database_url=postgres_url,
        broker_url=private_redis.url,
        models_file=tmp_path / "models.toml",
        data_dir=tmp_path,
    )
    async with open_deps(settings) as deps:
        # No event pump or reconciler: the test delivers by hand, with nothing racing it.
        bot = build_bot(settings, deps, guild_ready_timeout=0.1, pump_events=False)
        runner = asyncio.create_task(bot.start("fake-token"))
        try:
            await fake.wait_connected()
            await asyncio.wait_for(bot.wait_until_ready(), 10)
            yield bot, deps, settings, RedisBrokerState(private_redis.client())
        finally:
            await bot.close()
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await runner


async def test_imagine_where_the_bot_cannot_post_is_refused_before_charging(fake, wired):
    _, deps, _, broker = wired
    fake.app_permissions &= ~SEND_MESSAGES
    await fake.send_slash("imagine", prompt="a red fox")

    def refusals() -> list[dict]:
        return [
            r.payload["data"]
            for r in fake.requests
            if r.path.endswith("/callback") and r.payload.get("type") == 4
        ]

    await until(lambda: len(refusals()) == 1, "the refusal")
    (reply,) = refusals()
    assert "**Send Messages**" in reply["content"] and "nothing was charged" in reply["content"]
    assert reply["flags"] & 64  # ephemeral
    assert await deps.store.active_jobs(fake.user_id) == []
    assert broker.task_ids() == set()


def _refusals(fake) -> list[dict]:
    return [
        r.payload["data"]
        for r in fake.requests
        if r.path.endswith("/callback") and r.payload.get("type") == 4
    ]


async def test_a_prompt_with_a_lone_surrogate_is_refused_not_crashed(fake, wired):
    _, deps, _, broker = wired
    await fake.send_slash("imagine", prompt="a fox \ud83e in the snow")
    await until(lambda: len(_refusals(fake)) == 1, "the refusal")
    (reply,) = _refusals(fake)
    assert "not valid text" in reply["content"] and "nothing was charged" in reply["content"]
    assert reply["flags"] & 64
    assert await deps.store.active_jobs(fake.user_id) == []
    assert broker.task_ids() == set()


async def test_a_late_result_the_channel_refuses_goes_by_dm_once(fake, wired):
    bot, deps, settings, broker = wired
    await fake.send_slash("imagine", prompt="a lighthouse")
    await until(lambda: len(broker.task_ids()) == 1, "the job")
    job_id = uuid.UUID(next(iter(broker.task_ids())))
    await _finish(deps, settings, job_id)

    bot.poster._live.clear()  # 15 minutes later: the interaction token is dead
    fake.forbidden_channels.add(fake.channel_id)
    assert await bot.delivery.deliver(job_id)

    refused = [r for r in fake.requests if r.path == f"/channels/{fake.channel_id}/messages"]
    dms = [r for r in fake.requests if r.path == f"/channels/{fake.dm_channel_id}/messages"]
    assert len(refused) == 1 and len(dms) == 1
    assert any(name.endswith(".png") for name in dms[0].files)
    assert "could not post this in" in dms[0].payload["content"]
    job = await deps.store.job(job_id)
    assert job is not None and job.state.value == "posted"
    # Posted: neither a replayed event nor the reconciler tries again.
    assert not await bot.delivery.deliver(job_id)
    async with deps.store._sessions() as session:
        assert await jobs.unposted(session, datetime.now(UTC)) == []


async def _finish(deps, settings, job_id: uuid.UUID) -> None:
    """What a worker does: claim, store a grid and its tiles, complete."""
    storage = build_storage(settings.storage, settings.data_dir)
    png = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 80, 40)).save(png, "PNG")
    keys = [f"jobs/{job_id}/1/{n}.png" for n in range(1, 5)]
    for key in [*keys, f"jobs/{job_id}/1/grid.png"]:
        storage.put(key, png.getvalue())
    result = JobResult(
        job_id=job_id,
        image_keys=tuple(keys),
        grid_key=f"jobs/{job_id}/1/grid.png",
        seeds=(1, 2, 3, 4),
        width=64,
        height=64,
        infotext="a lighthouse",
    )
    images = [NewImage(n, k, 64, 64, n) for n, k in enumerate(keys, start=1)]
    async with deps.store._sessions.begin() as session:
        now = datetime.now(UTC)
        claim = await jobs.claim(session, job_id, "gpu-1", now)
        assert claim is not None
        assert await jobs.complete(session, job_id, 1, now, images, result.model_dump(mode="json"))
