"""Upscale (4x) under an upscaled image, through discord.py's dispatch: offered only when
models.toml has an [upscaler], and a press makes a 4x job whose result ends the line."""

from __future__ import annotations

from dataclasses import replace

import pytest
from bot_fakes import COST_MILLI, tiny_resolver
from conftest import World, make_bot
from test_buttons import labels

from bot.app import BotDeps
from pipeline.contracts import JobKind, UpscaleMode


@pytest.fixture
def world(world: World) -> World:
    """The shared world with an [upscaler] configured (the bot learns it from models.toml)."""
    deps: BotDeps = replace(
        world.deps, resolver=tiny_resolver(world.deps.lora_dir, upscaler=True), upscaler=True
    )
    return replace(world, deps=deps)


async def _upscaled(scene, tile: str = "U1"):  # type: ignore[no-untyped-def]
    result = await scene.alice.slash(scene.channel, "imagine", prompt="a red fox")
    grid = scene.last_job()
    await scene.finish(grid.id)
    pressed = await scene.alice.click(result.response, label=tile)
    upscale = scene.last_job()
    await scene.finish(upscale.id)
    return pressed.response, upscale


async def test_upscale_4x_sits_beside_subtle_and_creative_and_runs_end_to_end(scene):
    message, upscale = await _upscaled(scene)
    assert labels(message)[:5] == [
        "Vary (Subtle)",
        "Vary (Strong)",
        "Upscale (Subtle)",
        "Upscale (Creative)",
        "Upscale (4x)",
    ]
    before = (await scene.world.store.account(scene.alice.id)).credits_left_milli
    pressed = await scene.alice.click(message, label="Upscale (4x)")
    job = scene.last_job()
    assert (job.kind, job.spec.upscale_mode) == (JobKind.UPSCALE, UpscaleMode.GAN_4X)
    assert job.spec.source.job_id == upscale.id and job.spec.source.index == 1
    # The tiny model's 64² tile, upscaled 2x to 128², now 4x: 512².
    assert (job.spec.generation.width, job.spec.generation.height) == (512, 512)
    assert pressed.response.content.endswith("(Waiting to start · position 1)")
    after = (await scene.world.store.account(scene.alice.id)).credits_left_milli
    assert before - after == COST_MILLI
    await scene.finish(job.id)
    done = pressed.response
    assert done.content == f"**a red fox** — Upscaled (4x) by {scene.alice.mention} (fast)"
    assert labels(done) == ["Share", "Web"]  # as large as Nanke makes images: the end
    assert done.attachments[0].filename.endswith(".png")

    # A second press shows the same 4x image and charges nothing.
    again = await scene.alice.click(message, label="Upscale (4x)")
    assert scene.last_job().id == job.id
    assert (await scene.world.store.account(scene.alice.id)).credits_left_milli == after
    assert "Upscaled (4x)" in again.response.content


async def test_another_member_cannot_press_it(scene):
    message, _ = await _upscaled(scene)
    sent = len(scene.world.enqueuer.sent)
    other = await scene.bob.click(message, label="Upscale (4x)")
    assert other.ephemeral and "Only the member who made this image" in other.response.content
    assert len(scene.world.enqueuer.sent) == sent


async def test_without_an_upscaler_there_is_no_button_and_old_ones_are_refused(scene, world):
    message, _ = await _upscaled(scene)
    # The operator removes [upscaler] from models.toml and restarts the bot.
    plain = replace(world.deps, resolver=tiny_resolver(world.deps.lora_dir), upscaler=False)
    await scene.env.restart_bot(make_bot(replace(world, deps=plain)))
    fresh, _ = await _upscaled(scene, "U2")
    assert "Upscale (Creative)" in labels(fresh) and "Upscale (4x)" not in labels(fresh)

    before = (await scene.world.store.account(scene.alice.id)).credits_left_milli
    sent = len(scene.world.enqueuer.sent)
    old = await scene.alice.click(message, label="Upscale (4x)")
    assert old.ephemeral and "Upscale (4x) is not set up on this server" in old.response.content
    assert "nothing was charged" in old.response.content
    assert len(scene.world.enqueuer.sent) == sent
    assert (await scene.world.store.account(scene.alice.id)).credits_left_milli == before
