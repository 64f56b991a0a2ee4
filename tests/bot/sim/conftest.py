"""Fixtures for the Discord-layer tests: the in-memory seams behind a bot built by the root."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from bot_fakes import (
    SAMPLERS,
    FakePromptError,
    FakeResolver,
    FakeWorker,
    MemoryImages,
    MemoryStore,
    RecordingEnqueuer,
    fake_parse,
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
        resolver=FakeResolver(),
        images=images,
        parse=fake_parse,
        parse_error=FakePromptError,
        samplers=SAMPLERS,
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
