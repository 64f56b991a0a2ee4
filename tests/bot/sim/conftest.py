"""Fixtures for the Discord-layer tests: the in-memory seams behind a bot built by the root."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from bot_fakes import (
    FakeWorker,
    MemoryImages,
    MemoryStore,
    RecordingEnqueuer,
    tiny_resolver,
)

from bot.app import BotDeps, NankeBot, build_bot
from nanke.settings import Settings


@dataclass
class World:
    store: MemoryStore
    images: MemoryImages
    enqueuer: RecordingEnqueuer
    worker: FakeWorker
    deps: BotDeps


@pytest.fixture
def world(tmp_path) -> World:  # type: ignore[no-untyped-def]
    store, images, enqueuer = MemoryStore(), MemoryImages(), RecordingEnqueuer()
    lora_dir = tmp_path / "loras"
    lora_dir.mkdir()
    for name in ("watercolor", "water_v2", "ink", "pixel-art"):
        (lora_dir / f"{name}.safetensors").write_bytes(b"")
    deps = BotDeps(
        store=store,
        enqueuer=enqueuer,
        resolver=tiny_resolver(lora_dir),
        images=images,
        models=("tiny", "tiny-xl"),
        lora_dir=lora_dir,
        admin_ids=frozenset({4242}),
    )
    return World(store, images, enqueuer, FakeWorker(store, images), deps)


def make_bot(world) -> NankeBot:  # type: ignore[no-untyped-def]
    settings = Settings(gallery_url="https://gallery.example")
    # Events are driven by each test (see deliver()), not by a forever task.
    return build_bot(settings, world.deps, pump_events=False)


@pytest.fixture
def simcord_bot(world):  # type: ignore[no-untyped-def]
    return make_bot(world)


@dataclass
class Scene:
    """A guild with an art channel, two members and an admin, plus helpers."""

    env: object
    world: World
    guild: object
    channel: object
    alice: object
    bob: object
    mod: object

    @property
    def bot(self) -> NankeBot:
        return self.env.bot  # type: ignore[attr-defined, no-any-return]

    async def finish(self, job_id, **kwargs):  # type: ignore[no-untyped-def]
        """Run a queued job on the fake worker and hand its events to the bot's delivery."""
        for event in self.world.worker.run(job_id, **kwargs):
            await self.bot.delivery.handle(event)
        await self.env.settle()  # type: ignore[attr-defined]

    def last_job(self):  # type: ignore[no-untyped-def]
        return self.world.store.jobs[self.world.enqueuer.sent[-1]].view


@pytest.fixture
def scene(simcord_env, world) -> Scene:  # type: ignore[no-untyped-def]
    import discord

    env = simcord_env
    guild = env.create_guild()
    channel = guild.create_text_channel("art")
    mods = guild.create_role("Mods", permissions=discord.Permissions(manage_guild=True))
    return Scene(
        env=env,
        world=world,
        guild=guild,
        channel=channel,
        alice=guild.add_member(env.create_user("alice")),
        bob=guild.add_member(env.create_user("bob")),
        mod=guild.add_member(env.create_user("mod"), roles=[mods]),
    )
