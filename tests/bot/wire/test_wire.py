"""Real discord.py against a fake Discord on 127.0.0.1: login, command sync, /imagine, the
grid uploaded as multipart with its buttons, and a gateway drop + resume mid-job."""

from __future__ import annotations

import asyncio
import contextlib

from bot_fakes import (
    FakeWorker,
    MemoryImages,
    MemoryStore,
    RecordingEnqueuer,
    tiny_resolver,
)
from fake_discord import until

from bot.app import BotDeps, build_bot
from nanke.settings import Settings
from pipeline.events import InMemoryEvents


def _content(request) -> str:
    return request.payload.get("content") or "" if isinstance(request.payload, dict) else ""


async def test_imagine_over_the_wire_survives_a_gateway_resume(fake):
    store, images, enqueuer, events = (
        MemoryStore(),
        MemoryImages(),
        RecordingEnqueuer(),
        InMemoryEvents(),
    )
    worker = FakeWorker(store, images)
    deps = BotDeps(
        store=store,
        enqueuer=enqueuer,
        resolver=tiny_resolver(),
        images=images,
        events=events,
    )
    bot = build_bot(Settings(), deps, guild_ready_timeout=0.1)
    runner = asyncio.create_task(bot.start("fake-token"))
    try:
        done, _ = await asyncio.wait(
            [runner, asyncio.ensure_future(fake.wait_connected())],
            return_when=asyncio.FIRST_COMPLETED,
        )
        if runner in done:
            raise AssertionError(f"the bot stopped: {runner.exception()!r}")
        await asyncio.wait_for(bot.wait_until_ready(), 10)
        assert "imagine" in [c["name"] for c in fake.commands]

        interaction = await fake.send_slash("imagine", prompt="a red fox")
        await until(lambda: len(enqueuer.sent) == 1, "the job to be enqueued")
        (job_id,) = enqueuer.sent
        produced = worker.run(job_id)
        for event in produced[:-1]:  # started + progress
            events.publish(event)
        await until(
            lambda: any("%" in _content(r) for r in fake.requests),
            "a progress edit",
        )

        await fake.drop_connection()
        events.publish(produced[-1])  # the job finishes while the gateway is down
        await fake.wait_connected()  # discord.py reconnects and RESUMEs
        await fake.redeliver(interaction)  # Discord may hand the interaction over again
        await until(
            lambda: store.jobs[job_id].view.state.value == "posted" and not events.pending,
            "the result posted and every event acknowledged",
        )
        await until(lambda: fake.resumes == 1, "the resume")
        await asyncio.sleep(0.2)  # let a (wrong) second handling of the replay show itself

        assert fake.identifies == 1 and fake.resumes == 1
        callbacks = [r for r in fake.requests if r.path.endswith("/callback")]
        assert len(callbacks) == 2  # the replay's defer was refused (40060) and ignored
        assert len(enqueuer.sent) == 1 and len(store.jobs) == 1
        uploads = [r for r in fake.requests if any(n.endswith(".png") for n in r.files)]
        assert len(uploads) == 1, [(r.method, r.path) for r in uploads]
        (grid,) = uploads
        assert grid.method == "PATCH" and grid.path.endswith("/messages/@original")
        assert next(iter(grid.files.values())).startswith(b"\x89PNG")
        labels = [
            b.get("label") or b["emoji"]["name"]
            for row in grid.payload["components"]
            for b in row["components"]
        ]
        assert labels == ["U1", "U2", "U3", "U4", "V1", "V2", "V3", "V4", "🔄"]
        assert grid.payload["content"].endswith("(fast)")
    finally:
        await bot.close()
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await runner
