"""The U/V/🔄 loop, the post-upscale buttons, remix, cancel, restarts and late results."""

from __future__ import annotations

from bot_fakes import COST_MILLI
from conftest import make_bot

from bot.services.ports import GuildConfig, JobState, UserPrefs
from pipeline.contracts import JobKind, UpscaleMode


def labels(message) -> list[str | None]:
    """Button labels of an interaction response (dicts) or a channel message (discord.py)."""
    out = []
    for row in message.components:
        for c in row["components"] if isinstance(row, dict) else row.children:
            out.append(c.get("label") if isinstance(c, dict) else c.label)
    return out


async def _grid(scene, prompt: str = "a red fox"):
    result = await scene.alice.slash(scene.channel, "imagine", prompt=prompt)
    job = scene.last_job()
    await scene.finish(job.id)
    return result.response, job


async def test_u2_posts_the_upscaled_tile_with_its_own_buttons(scene):
    grid, parent = await _grid(scene)
    pressed = await scene.alice.click(grid, label="U2")
    upscale = scene.last_job()
    assert upscale.kind is JobKind.UPSCALE and upscale.spec.source.index == 2
    assert upscale.spec.source.job_id == parent.id
    assert pressed.response.content.endswith("(Waiting to start · position 1)")
    await scene.finish(upscale.id)
    message = pressed.response
    assert message.content == f"**a red fox** — Upscaled #2 by {scene.alice.mention} (fast)"
    assert labels(message) == [
        "Vary (Subtle)",
        "Vary (Strong)",
        "Upscale (Subtle)",
        "Upscale (Creative)",
        # The editing rows (tests/bot/sim/test_edit_buttons.py); pans are arrows only and the
        # Vary (Region) presets are a menu. Make Square only under a wide or tall image.
        "Zoom Out 2x",
        "Zoom Out 1.5x",
        "Custom Zoom",
        None,
        None,
        None,
        None,
        None,
        "Share",
        "Web",
    ]
    web = message.components[4]["components"][1]
    assert web["url"] == f"https://gallery.example/j/{upscale.id.hex}"
    assert message.attachments[0].filename.endswith(".png")


async def test_v3_and_reroll_make_new_grids(scene):
    grid, parent = await _grid(scene)
    vary = await scene.alice.click(grid, label="V3")
    job = scene.last_job()
    assert job.kind is JobKind.VARY_SUBTLE and job.spec.source.index == 3
    await scene.finish(job.id)
    assert labels(vary.response)[:4] == ["U1", "U2", "U3", "U4"]
    assert "Variations (Subtle) #3" in vary.response.content

    reroll = await scene.alice.click(grid, custom_id=f"nk:r:{parent.id.hex}:0")
    job = scene.last_job()
    assert job.kind is JobKind.REROLL and job.spec.params == parent.spec.params
    await scene.finish(job.id)
    assert len(labels(reroll.response)) == 9


async def test_each_post_upscale_button_makes_the_right_job(scene):
    grid, _ = await _grid(scene)
    pressed = await scene.alice.click(grid, label="U1")
    upscale = scene.last_job()
    await scene.finish(upscale.id)
    expected = {
        "Vary (Subtle)": (JobKind.VARY_SUBTLE, None),
        "Vary (Strong)": (JobKind.VARY_STRONG, None),
        "Upscale (Subtle)": (JobKind.UPSCALE, UpscaleMode.SUBTLE),
        "Upscale (Creative)": (JobKind.UPSCALE, UpscaleMode.CREATIVE),
    }
    for label, (kind, mode) in expected.items():
        await scene.alice.click(pressed.response, label=label)
        job = scene.last_job()
        assert (job.kind, job.spec.upscale_mode) == (kind, mode), label
        assert job.spec.source.job_id == upscale.id


async def test_another_members_click_gets_an_ephemeral_note_unless_the_server_allows_it(scene):
    grid, _ = await _grid(scene)
    sent = len(scene.world.enqueuer.sent)
    other = await scene.bob.click(grid, label="U1")
    assert other.ephemeral and "Only the member who made this image" in other.response.content
    assert len(scene.world.enqueuer.sent) == sent
    await scene.world.store.update_guild(GuildConfig(scene.guild.id, everyone_can_press=True))
    scene.bot.intake.forget_guild(scene.guild.id)
    allowed = await scene.bob.click(grid, label="U1")
    assert not allowed.ephemeral and scene.last_job().user_id == scene.bob.id


async def test_with_remix_on_vary_opens_a_modal_and_uses_the_edited_prompt(scene):
    grid, _ = await _grid(scene)
    await scene.world.store.update_prefs(scene.alice.id, UserPrefs(remix=True))
    shown = await scene.alice.click(grid, label="V1")
    assert shown.modal is not None and shown.modal["title"] == "Remix"
    sent = len(scene.world.enqueuer.sent)
    assert sent == 1  # nothing queued until the modal is submitted
    submitted = await scene.alice.submit_modal(shown, {"prompt": "a blue fox"})
    job = scene.last_job()
    assert job.kind is JobKind.VARY_SUBTLE and job.spec.params.prompt == "a blue fox"
    assert submitted.response.content.startswith("**a blue fox**")


async def test_cancel_on_a_queued_job_refunds_it(scene):
    result = await scene.alice.slash(scene.channel, "imagine", prompt="a fox")
    job = scene.last_job()
    pressed = await scene.alice.click(result.response, label="Cancel")
    assert "Cancelled · credits refunded" in pressed.response.content
    assert labels(pressed.response) == []
    assert scene.world.store.jobs[job.id].view.state is JobState.CANCELLED
    account = await scene.world.store.account(scene.alice.id)
    assert account.credits_left_milli == 25 * COST_MILLI


async def test_old_buttons_work_after_a_restart_and_results_go_to_the_channel(scene, world):
    grid, _ = await _grid(scene)
    pending = await scene.alice.slash(scene.channel, "imagine", prompt="a pending fox")
    pending_job = scene.last_job()
    await scene.env.restart_bot(make_bot(world))

    pressed = await scene.alice.click(grid, label="U4")
    assert scene.last_job().kind is JobKind.UPSCALE
    assert pressed.response.content.endswith("(Waiting to start · position 2)")

    # The job queued before the restart lost its interaction handle: it is posted to the
    # channel, mentioning the member, exactly once.
    await scene.finish(pending_job.id)
    posted = [m for m in scene.channel.history() if "a pending fox" in m.content and m.attachments]
    assert len(posted) == 1 and scene.alice.mention in posted[0].content
    assert posted[0].id != pending.response.id
    await scene.bot.delivery.deliver(pending_job.id)
    await scene.env.settle()
    assert len([m for m in scene.channel.history() if m.attachments]) == 2


async def test_a_result_after_15_minutes_is_a_new_channel_message_for_the_member(scene):
    result = await scene.alice.slash(scene.channel, "imagine", prompt="a slow fox")
    job = scene.last_job()
    await scene.env.advance_time(15 * 60 + 1)
    await scene.finish(job.id)
    assert not result.response.attachments  # the dead interaction message was not touched
    last = scene.channel.last_message
    assert last.content == f"**a slow fox** — {scene.alice.mention} (fast)"
    assert len(last.attachments) == 1 and len(labels(last)) == 9
    assert scene.world.store.jobs[job.id].view.message_id == last.id


async def test_flagged_images_are_withheld_in_a_non_nsfw_channel(scene):
    await scene.alice.slash(scene.channel, "imagine", prompt="a fox")
    job = scene.last_job()
    await scene.finish(job.id, nsfw=(True, False, False, False))
    message = scene.channel.history()[-1]
    assert "1 image was withheld by the safety checker" in message.content
    assert "U1" not in labels(message) and "U2" in labels(message)


async def test_share_posts_an_upscale_to_the_gallery_channel_once(scene):
    gallery = scene.guild.create_text_channel("gallery")
    await scene.world.store.update_guild(GuildConfig(scene.guild.id, gallery_channel_id=gallery.id))
    scene.bot.intake.forget_guild(scene.guild.id)
    grid, _ = await _grid(scene)
    pressed = await scene.alice.click(grid, label="U1")
    await scene.finish(scene.last_job().id)
    shared = await scene.alice.click(pressed.response, label="Share")
    assert shared.ephemeral and f"Shared to {gallery.mention}" in shared.response.content
    again = await scene.alice.click(pressed.response, label="Share")
    assert again.ephemeral and "Already shared" in again.response.content
    assert len(gallery.history()) == 1 and gallery.last_message.attachments


async def test_stealth_images_are_never_shared(scene):
    gallery = scene.guild.create_text_channel("gallery")
    await scene.world.store.update_guild(GuildConfig(scene.guild.id, gallery_channel_id=gallery.id))
    scene.bot.intake.forget_guild(scene.guild.id)
    await scene.alice.slash(scene.channel, "settings", stealth=True)
    grid, _ = await _grid(scene)
    pressed = await scene.alice.click(grid, label="U2")
    await scene.finish(scene.last_job().id)
    refused = await scene.alice.click(pressed.response, label="Share")
    assert refused.ephemeral and "stealth" in refused.response.content
    assert gallery.history() == []
