"""/imagine on a FLUX.1 model through real discord.py dispatch (simcord): the family's notes
are private, a flag it cannot use is refused privately naming it, nothing charged."""

from __future__ import annotations

from pathlib import Path

import pytest
from bot_fakes import COST_MILLI, FakeWorker, MemoryImages, MemoryStore, RecordingEnqueuer
from conftest import World

from bot.app import BotDeps
from bot.services.resolver import RegistryResolver
from inference.registry import ModelEntry, Registry


@pytest.fixture
def world() -> World:
    store, images, enqueuer = MemoryStore(), MemoryImages(), RecordingEnqueuer()
    models = {
        "tiny": ModelEntry("tiny", str(Path.cwd()), "dir", "sd15", 20, 64),
        "tiny-flux": ModelEntry("tiny-flux", str(Path.cwd()), "dir", "flux", 4, 64),
    }
    deps = BotDeps(
        store=store,
        enqueuer=enqueuer,
        resolver=RegistryResolver(Registry(models, "tiny")),
        images=images,
        models=tuple(models),
    )
    return World(store, images, enqueuer, FakeWorker(store, images), deps)


async def test_a_weighted_prompt_on_flux_is_queued_with_a_private_note(scene):
    result = await scene.alice.slash(
        scene.channel, "imagine", prompt="a (red:1.3) fox --model tiny-flux --no snow"
    )
    assert not result.ephemeral
    job = scene.last_job()
    assert job.spec.generation.prompt == "a red fox" and job.spec.generation.sampler == "euler"
    notes = [f for f in result.followups if f.ephemeral]
    assert len(notes) == 1
    text = notes[0].content
    assert "(word:1.3)" in text and "--no" in text and "`flux`" in text

    await scene.finish(job.id)  # the grid is delivered like any other
    assert result.response.content.endswith("(fast)") and result.response.attachments


async def test_clip_skip_on_flux_is_refused_privately_and_costs_nothing(scene):
    result = await scene.alice.slash(
        scene.channel, "imagine", prompt="a fox --model tiny-flux --clip-skip 2"
    )
    (note,) = result.followups
    assert note.ephemeral and "family `flux`" in note.content
    assert "nothing was charged" in note.content
    assert scene.world.enqueuer.sent == []
    account = await scene.world.store.account(scene.alice.id)
    assert account.credits_left_milli == 25 * COST_MILLI


async def test_fast_on_a_stable_diffusion_model_is_refused_privately_and_costs_nothing(scene):
    result = await scene.alice.slash(scene.channel, "imagine", prompt="a fox --model tiny --fast")
    (note,) = result.followups
    assert note.ephemeral and "--fast" in note.content and "family `sd15`" in note.content
    assert "nothing was charged" in note.content
    assert scene.world.enqueuer.sent == []
    account = await scene.world.store.account(scene.alice.id)
    assert account.credits_left_milli == 25 * COST_MILLI


async def test_fast_and_chaos_on_flux_are_queued_with_the_job(scene):
    result = await scene.alice.slash(
        scene.channel, "imagine", prompt="a fox --model tiny-flux --fast --chaos 30"
    )
    assert not result.ephemeral
    gen = scene.last_job().spec.generation
    assert gen.fast and gen.chaos == 30
