"""Delivery: each result reaches Discord once, in the right place, with the right buttons."""

from __future__ import annotations

import asyncio
import io
import uuid

import pytest
from bot_fakes import FakeWorker, MemoryImages, MemoryStore, tiny_resolver
from PIL import Image

from bot.services.delivery import DeliveryService, Outgoing
from bot.services.formatting import ProgressThrottle
from bot.services.intake import IntakeService, Requester
from bot.services.ports import JobState
from pipeline.contracts import JobEvent, JobKind, UpscaleMode
from pipeline.contracts import JobEventKind as EventKind
from pipeline.events import InMemoryEvents


class FakePoster:
    def __init__(self, *, live: bool = True, nsfw_channel: bool = False, limit: int = 10 << 20):
        self.live = live
        self.nsfw_channel = nsfw_channel
        self.limit = limit
        self.edits: list[Outgoing] = []
        self.channel_posts: list[tuple[int, Outgoing, uuid.UUID]] = []

    def upload_limit(self, job_id):
        return self.limit

    def channel_is_nsfw(self, channel_id):
        return self.nsfw_channel

    async def edit_live(self, job_id, out):
        if not self.live:
            return None
        self.edits.append(out)
        return 555

    async def send_channel(self, channel_id, out, nonce):
        self.channel_posts.append((channel_id, out, nonce))
        return 777

    async def close_placeholder(self, channel_id, message_id, content):
        self.closed = (channel_id, message_id, content)


class Rig:
    def __init__(self, poster: FakePoster) -> None:
        self.store = MemoryStore()
        self.images = MemoryImages()
        self.worker = FakeWorker(self.store, self.images)
        self.poster = poster
        self.now = [0.0]
        self.intake = IntakeService(
            store=self.store,
            enqueuer=_NoQueue(),
            resolver=tiny_resolver(),
        )
        self.delivery = DeliveryService(
            store=self.store,
            images=self.images,
            poster=poster,
            gallery_url="https://g.example/",
            throttle=ProgressThrottle(2.0, clock=lambda: self.now[0]),
        )

    async def imagine(self, prompt: str = "a fox"):
        who = Requester(
            interaction_id=uuid.uuid4().int % 10**12, user_id=7, guild_id=1, channel_id=99
        )
        return (await self.intake.imagine(who, prompt)).queued[0].job

    async def run(self, job_id, **kwargs):
        for event in self.worker.run(job_id, **kwargs):
            await self.delivery.handle(event)


class _NoQueue:
    async def enqueue(self, job):
        return None


@pytest.fixture
def rig() -> Rig:
    return Rig(FakePoster())


@pytest.fixture
def world_bot():
    """A NankeBot (not logged in) whose delivery posts through the fake poster."""
    from bot.app import BotDeps, build_bot
    from nanke.settings import Settings

    rig = Rig(FakePoster())
    events = InMemoryEvents()
    deps = BotDeps(
        store=rig.store,
        enqueuer=_NoQueue(),
        resolver=tiny_resolver(),
        images=rig.images,
        events=events,
    )
    bot = build_bot(Settings(), deps)
    bot.delivery = rig.delivery
    return bot, events, rig


def _labels(out: Outgoing) -> list[str]:
    return [b.label or b.emoji or "" for b in out.buttons]


async def test_a_finished_grid_edits_the_members_message_with_the_grid_and_9_buttons(rig):
    job = await rig.imagine()
    await rig.run(job.id)
    final = rig.poster.edits[-1]
    assert final.content == "**a fox** — <@7> (fast)"
    assert _labels(final) == ["U1", "U2", "U3", "U4", "V1", "V2", "V3", "V4", "🔄"]
    assert Image.open(io.BytesIO(final.files[0].data)).size == (128, 128)
    posted = await rig.store.job(job.id)
    assert posted is not None and posted.state is JobState.POSTED and posted.message_id == 555


async def test_progress_edits_are_paced_and_show_the_preview(rig):
    job = await rig.imagine()
    events = rig.worker.run(job.id)
    for event in events[:-1]:  # started + 3 progress events in the same instant
        await rig.delivery.handle(event)
    progress = [o for o in rig.poster.edits if "%" in o.content]
    assert [o.content[-5:] for o in progress] == ["(25%)"]
    assert progress[0].files[0].filename == "preview.jpg"
    rig.now[0] = 2.5
    await rig.delivery.handle(JobEvent(job_id=job.id, kind=EventKind.PROGRESS, percent=80.0))
    assert rig.poster.edits[-1].content.endswith("(80%)")


async def test_a_result_is_posted_once_even_when_its_event_arrives_twice(rig):
    job = await rig.imagine()
    await rig.run(job.id)
    before = len(rig.poster.edits)
    await rig.delivery.handle(JobEvent(job_id=job.id, kind=EventKind.SUCCEEDED))
    assert await rig.delivery.deliver(job.id) is False
    assert len(rig.poster.edits) == before


async def test_after_the_interaction_window_the_result_goes_to_the_channel_with_a_nonce():
    rig = Rig(FakePoster(live=False))
    job = await rig.imagine()
    await rig.run(job.id)
    ((channel_id, out, nonce),) = rig.poster.channel_posts
    assert channel_id == 99 and nonce == job.id
    assert "<@7>" in out.content and len(out.buttons) == 9
    posted = await rig.store.job(job.id)
    assert posted is not None and posted.message_id == 777


async def test_flagged_tiles_are_withheld_outside_nsfw_channels(rig):
    job = await rig.imagine()
    await rig.run(job.id, nsfw=(False, True, False, False))
    final = rig.poster.edits[-1]
    assert "1 image was withheld" in final.content
    assert "U2" not in _labels(final) and "V2" not in _labels(final)
    grid = Image.open(io.BytesIO(final.files[0].data)).convert("RGB")
    assert grid.getpixel((96, 32)) == (32, 32, 32)  # tile 2 blanked
    assert grid.getpixel((32, 32)) == (200, 40, 40)  # tile 1 kept


async def test_flagged_tiles_are_shown_in_an_nsfw_channel():
    rig = Rig(FakePoster(nsfw_channel=True))
    job = await rig.imagine()
    await rig.run(job.id, nsfw=(True, True, True, True))
    assert len(rig.poster.edits[-1].buttons) == 9


async def test_an_upscale_gets_the_vary_upscale_share_and_web_buttons(rig):
    parent = await rig.imagine()
    await rig.run(parent.id)
    who = Requester(interaction_id=5, user_id=7, guild_id=1, channel_id=99)
    up = await rig.intake.follow_up(who, parent.id, JobKind.UPSCALE, 3, UpscaleMode.SUBTLE)
    await rig.run(up.job.id)
    final = rig.poster.edits[-1]
    assert _labels(final) == [
        "Vary (Subtle)",
        "Vary (Strong)",
        "Upscale (Subtle)",
        "Upscale (Creative)",
        "Zoom Out 2x",
        "Zoom Out 1.5x",
        "Custom Zoom",
        "⬅️",
        "➡️",
        "⬆️",
        "⬇️",
        "Vary (Region)…",
        "Share",
        "Web",
    ]
    rows = [b.row for b in final.buttons]
    assert max(rows) <= 4 and all(rows.count(r) <= 5 for r in rows), "Discord's 5×5"
    assert final.buttons[-1].url == f"https://g.example/j/{up.job.id.hex}"
    assert final.content.startswith("**a fox** — Upscaled #3 by <@7>")


async def test_an_oversized_result_is_shrunk_to_the_upload_limit():
    rig = Rig(FakePoster(limit=300))
    job = await rig.imagine()
    await rig.run(job.id)
    final = rig.poster.edits[-1]
    assert len(final.files[0].data) <= 300
    assert "to fit" in final.content


async def test_a_failed_job_tells_the_member_it_was_refunded(rig):
    job = await rig.imagine()
    for event in rig.worker.crash(job.id, "the GPU ran out of memory"):
        await rig.delivery.handle(event)
    assert rig.poster.edits[-1].content.endswith(
        "(Failed: the GPU ran out of memory · credits refunded)"
    )


async def test_one_failing_job_never_stops_the_event_pump(world_bot):
    bot, events, rig = world_bot
    broken = await rig.imagine("broken")
    fine = await rig.imagine("fine")
    for event in rig.worker.run(broken.id):
        events.publish(event)
    del rig.images.blobs[f"{broken.id}/grid.png"]  # storage lost the grid
    for event in rig.worker.run(fine.id):
        events.publish(event)
    pump = asyncio.create_task(bot.pump_events())
    try:
        for _ in range(500):
            fine_job = await rig.store.job(fine.id)
            if fine_job.state is JobState.POSTED and not events.pending:
                break
            await asyncio.sleep(0.01)
    finally:
        pump.cancel()
    assert not events.pending  # every event handled and acknowledged
    assert (await rig.store.job(fine.id)).state is JobState.POSTED
    assert (await rig.store.job(broken.id)).state is JobState.SUCCEEDED  # left for the reconciler


async def test_the_reconciler_hands_over_an_already_claimed_job(rig):
    job = await rig.imagine()
    rig.worker.run(job.id)  # succeeded, but its event never reached the bot
    assert await rig.store.claim_delivery(job.id)  # the reconciler's claim
    assert not await rig.delivery.deliver(job.id)  # a second poster backs off
    assert await rig.delivery.deliver(job.id, claimed=True)
    posted = await rig.store.job(job.id)
    assert posted is not None and posted.state is JobState.POSTED
