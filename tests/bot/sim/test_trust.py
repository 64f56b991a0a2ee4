"""Issue 21 (trust): authorization on the job's guild, NSFW by the posting channel, banned
words after expansion, pings, the component backstop, member-safe failure text, and U pressed
twice. Real discord.py dispatch (simcord) over the bot's services."""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace
from datetime import timedelta

from bot_fakes import COST_MILLI, png
from conftest import make_bot
from test_buttons import labels

from bot.services.ports import GuildConfig, JobState, Mode, UserPrefs
from pipeline.contracts import JobKind


async def _grid(scene, prompt: str = "a red fox", **finish):
    result = await scene.alice.slash(scene.channel, "imagine", prompt=prompt)
    job = scene.last_job()
    await scene.finish(job.id, **finish)
    return result.response, job


async def _configure(scene, guild_id: int, **changes) -> None:
    current = await scene.world.store.guild(guild_id)
    await scene.world.store.update_guild(GuildConfig(**{**current.__dict__, **changes}))
    scene.bot.intake.forget_guild(guild_id)


def _credits(scene, member) -> int:
    return scene.world.store._user(member.id).balance_milli


# --- 8: DMs cannot walk around the job's guild ------------------------------------------------
async def test_show_in_a_dm_is_refused_unless_the_gallery_shows_the_job(scene):
    _, job = await _grid(scene)
    dm = await scene.alice.user.slash("show", job_id=job.id.hex)
    assert dm.ephemeral and "Use /show in the server where it was made" in dm.response.content
    assert not dm.response.attachments

    scene.world.store.public.add(job.id)
    shown = await scene.alice.user.slash("show", job_id=job.id.hex)
    assert not shown.ephemeral and len(shown.response.attachments) == 1


async def test_buttons_pressed_in_a_dm_obey_the_jobs_guild_bans_forbid_and_words(scene):
    _, job = await _grid(scene, "a fox in gore")
    scene.world.store.public.add(job.id)
    shown = await scene.alice.user.slash("show", job_id=job.id.hex)
    sent = len(scene.world.enqueuer.sent)
    before = _credits(scene, scene.alice)

    # Banned words added since: the job's prompt is checked against the job's guild.
    await _configure(scene, scene.guild.id, banned_words=("gore",))
    refused = await scene.alice.user.click(shown.response, label="V1")
    assert refused.ephemeral and "“gore”" in refused.response.content
    await _configure(scene, scene.guild.id, banned_words=())

    await scene.world.store.set_banned(scene.guild.id, scene.alice.id, True)
    banned = await scene.alice.user.click(shown.response, label="U1")
    assert banned.ephemeral and "banned" in banned.response.content
    await scene.world.store.set_banned(scene.guild.id, scene.alice.id, False)

    await _configure(scene, scene.guild.id, allowed=False)
    forbidden = await scene.alice.user.click(shown.response, label="U2")
    assert forbidden.ephemeral and "disabled in the server this job was made in" in (
        forbidden.response.content
    )
    assert len(scene.world.enqueuer.sent) == sent and _credits(scene, scene.alice) == before

    await _configure(scene, scene.guild.id, allowed=True)
    ok = await scene.alice.user.click(shown.response, label="U2")
    assert not ok.ephemeral
    upscale = scene.last_job()
    # The follow-up belongs to the job's guild (its rules keep applying), posted where pressed.
    assert upscale.guild_id == scene.guild.id
    assert upscale.channel_id == scene.alice.user.dm_channel.id


async def test_remix_text_is_checked_against_the_jobs_guild_words(scene):
    grid, _ = await _grid(scene)
    await _configure(scene, scene.guild.id, banned_words=("gore",))
    await scene.world.store.update_prefs(scene.alice.id, UserPrefs(remix=True))
    shown = await scene.alice.click(grid, label="V1")
    submitted = await scene.alice.submit_modal(shown, {"prompt": "a go{re,ld} fox"})
    assert submitted.ephemeral and "“gore”" in submitted.response.content
    assert len(scene.world.enqueuer.sent) == 1


# --- 9: another server's settings decide nothing about this server's jobs ---------------------
async def test_another_servers_everyone_setting_does_not_open_this_servers_jobs(scene):
    grid, job = await _grid(scene)
    other = scene.env.create_guild()
    room = other.create_text_channel("lobby")
    mallory = other.add_member(scene.env.create_user("mallory"))
    await _configure(scene, other.id, everyone_can_press=True)
    sent = len(scene.world.enqueuer.sent)

    shown = await mallory.slash(room, "show", job_id=job.id.hex)
    assert shown.ephemeral and "another server" in shown.response.content
    assert not shown.response.attachments

    # Public in its own gallery: /show may post it there, but its buttons stay the author's.
    scene.world.store.public.add(job.id)
    shown = await mallory.slash(room, "show", job_id=job.id.hex)
    assert not shown.ephemeral
    pressed = await mallory.click(shown.response, label="U1")
    assert pressed.ephemeral and "Only the member who made this image" in pressed.response.content
    assert len(scene.world.enqueuer.sent) == sent

    # "buttons: everyone" in the job's own server still lets its members press, there.
    await _configure(scene, scene.guild.id, everyone_can_press=True)
    pressed = await mallory.click(shown.response, label="U1")
    assert pressed.ephemeral and len(scene.world.enqueuer.sent) == sent
    allowed = await scene.bob.click(grid, label="U1")
    assert not allowed.ephemeral and len(scene.world.enqueuer.sent) == sent + 1


# --- 10: NSFW is decided where the image is posted ---------------------------------------------
async def test_show_withholds_flagged_tiles_in_a_channel_that_is_not_age_restricted(scene):
    adult = scene.guild.create_text_channel("after-dark")
    scene.bot.get_channel(adult.id).nsfw = True
    result = await scene.alice.slash(adult, "imagine", prompt="a fox")
    job = scene.last_job()
    await scene.finish(job.id, nsfw=(True, False, False, False))
    assert "withheld" not in result.response.content  # age-restricted: all four shown

    shown = await scene.alice.slash(scene.channel, "show", job_id=job.id.hex)
    assert "1 image was withheld by the safety checker" in shown.response.content
    assert "U1" not in labels(shown.response) and "U2" in labels(shown.response)
    again = await scene.alice.slash(adult, "show", job_id=job.id.hex)
    assert "withheld" not in again.response.content and "U1" in labels(again.response)


# --- 11: banned words after {…} expansion, in negatives too -------------------------------------
async def test_banned_words_are_checked_in_every_expanded_prompt_and_the_negative(scene):
    await _configure(scene, scene.guild.id, banned_words=("gore",))
    for prompt in ("a go{re,ld} scene", "a g\u043ere scene", "a scene --no g.o.r.e", "gore_fest"):
        refused = await scene.alice.slash(scene.channel, "imagine", prompt=prompt)
        assert refused.ephemeral and "“gore”" in refused.response.content, prompt
    assert scene.world.enqueuer.sent == []
    fine = await scene.alice.slash(scene.channel, "imagine", prompt="a gorgeous scene")
    assert not fine.ephemeral and len(scene.world.enqueuer.sent) == 1


# --- 12: a prompt pings nobody; only the author is mentioned -----------------------------------
async def test_prompt_mentions_ping_nobody_in_results_show_or_channel_posts(scene):
    victim = scene.bob
    role = scene.guild.create_role("Everyone-ish", mentionable=True)
    prompt = f"a portrait of {victim.mention} <@&{role.id}> @everyone @here"
    result = await scene.alice.slash(scene.channel, "imagine", prompt=prompt)
    job = scene.last_job()
    await scene.env.advance_time(15 * 60 + 1)  # the result becomes a channel message
    await scene.finish(job.id)
    posted = scene.channel.last_message
    assert posted.attachments
    shown = await scene.alice.slash(scene.channel, "show", job_id=job.id.hex)
    for message in (posted, shown.response.message, result.response.message):
        assert [u.id for u in message.mentions] in ([scene.alice.id], []), message.content
        assert not message.role_mentions and not message.mention_everyone
        assert victim.mention not in message.content
    assert [u.id for u in posted.mentions] == [scene.alice.id]  # the author is still told


# --- 14: component callbacks have the same backstop as slash commands --------------------------
async def test_an_unexpected_error_in_a_button_is_a_private_note_with_a_reference(
    scene, monkeypatch, caplog
):
    grid, _ = await _grid(scene)

    async def broken(*args, **kwargs):
        raise RuntimeError("database on fire at /srv/nanke/secret")

    monkeypatch.setattr(scene.world.store, "account", broken)
    with caplog.at_level(logging.ERROR, logger="bot.reporting"):
        pressed = await scene.alice.click(grid, label="U1")
    # The public "thinking…" placeholder is gone; the note is private and names a reference.
    assert pressed.response is None
    (note,) = pressed.followups
    assert note.ephemeral
    assert (
        "Something went wrong on Nanke's side (ref " in note.content and "/srv" not in note.content
    )
    assert any("database on fire" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)


# --- 15: members never see operator detail -----------------------------------------------------
async def test_a_failed_job_shows_members_a_stable_message_not_the_workers_error(scene):
    await scene.alice.slash(scene.channel, "imagine", prompt="a fox")
    job = scene.last_job()
    row_error = "worker error: OSError: [Errno 28] No space left on device: '/srv/nanke/x'"
    for event in scene.world.worker.crash(job.id, row_error):
        await scene.bot.delivery.handle(event.model_copy(update={"error": None}))
    await scene.env.settle()
    shown = await scene.alice.slash(scene.channel, "show", job_id=job.id.hex)
    for text in (shown.response.content, scene.channel.history()[-1].content):
        assert "Errno" not in text and "/srv" not in text, text
    assert "error on the GPU worker; your credits were refunded" in shown.response.content


# --- 6: U pressed twice shows the first upscale, charged once ----------------------------------
async def test_pressing_u2_twice_shows_the_existing_upscale_and_charges_once(scene):
    grid, _ = await _grid(scene)
    first = await scene.alice.click(grid, label="U2")
    upscale = scene.last_job()
    charged = _credits(scene, scene.alice)
    again = await scene.alice.click(grid, label="U2")  # still queued: its status, no new job
    assert scene.last_job().id == upscale.id and _credits(scene, scene.alice) == charged
    assert "Waiting to start" in again.response.content
    await scene.finish(upscale.id)
    assert first.response.attachments
    third = await scene.alice.click(grid, label="U2")
    assert len(third.response.attachments) == 1 and "Upscaled #2" in third.response.content
    upscales = [j for j in scene.world.store.jobs.values() if j.view.kind is JobKind.UPSCALE]
    assert len(upscales) == 1 and _credits(scene, scene.alice) == charged

    # V and 🔄 stay new jobs per press; a failed upscale may be pressed again.
    await scene.alice.click(grid, label="V2")
    await scene.alice.click(grid, label="V2")
    varies = [j for j in scene.world.store.jobs.values() if j.view.kind is JobKind.VARY_SUBTLE]
    assert len(varies) == 2
    await scene.alice.click(grid, label="U3")
    failed = scene.last_job()
    scene.world.worker.crash(failed.id, "boom")
    await scene.alice.click(grid, label="U3")
    assert scene.last_job().id != failed.id
    assert scene.world.store.jobs[failed.id].view.state is JobState.FAILED
    assert _credits(scene, scene.alice) == charged - 3 * COST_MILLI


async def test_an_unexpected_error_in_a_like_or_page_button_is_reported_too(scene):
    from datetime import UTC, datetime

    from bot.services.gallery_feed import FeedItem, FeedPage

    class BrokenFeed:
        async def page(self, guild_id, listing, *, user_id, query=None, page=0):
            if page:
                raise RuntimeError("feed exploded")
            item = FeedItem(
                uuid.uuid4(),
                uuid.uuid4(),
                uuid.uuid4(),
                "k.png",
                "a fox",
                scene.alice.id,
                0,
                datetime.now(UTC),
                "/imagine prompt: a fox",
            )
            return FeedPage(items=[item], page=0, has_next=True)

        async def find(self, guild_id, ref):
            return uuid.uuid4()

        async def toggle_like(self, entry_id, user_id):
            raise RuntimeError("likes exploded")

    scene.world.images.blobs["k.png"] = png((64, 64), (1, 2, 3))
    scene.world.deps.gallery = BrokenFeed()
    listing = await scene.alice.slash(scene.channel, "gallery new")
    turned = await scene.alice.click(listing.response, label="▶")
    assert any("Something went wrong" in f.content and f.ephemeral for f in turned.followups)

    gallery = scene.guild.create_text_channel("gallery")
    await _configure(scene, scene.guild.id, gallery_channel_id=gallery.id)
    grid, _ = await _grid(scene)
    upscaled = await scene.alice.click(grid, label="U1")
    await scene.finish(scene.last_job().id)
    await scene.alice.click(upscaled.response, label="Share")
    liked = await scene.bob.click(gallery.last_message, label="0")
    assert liked.ephemeral and "Something went wrong" in liked.response.content


# --- 18: /settings refuses a model that does not exist; 11: and banned words -------------------
async def test_settings_refuses_an_unknown_model_and_banned_words(scene):
    refused = await scene.alice.slash(scene.channel, "settings", model="nope")
    assert refused.ephemeral and "There is no model named “nope”" in refused.response.content
    assert "tiny" in refused.response.content
    assert (await scene.world.store.account(scene.alice.id)).prefs.model is None
    saved = await scene.alice.slash(scene.channel, "settings", model="tiny-xl")
    assert "Saved" in saved.response.content
    await _configure(scene, scene.guild.id, banned_words=("xl",))
    banned = await scene.alice.slash(scene.channel, "settings", model="tiny-xl")
    assert banned.ephemeral and "“xl”" in banned.response.content


# --- 18: small wrongs ---------------------------------------------------------------------------
async def test_a_relax_result_says_relax(scene):
    await scene.world.store.update_prefs(scene.alice.id, UserPrefs(mode=Mode.RELAX))
    result = await scene.alice.slash(scene.channel, "imagine", prompt="a slow fox")
    await scene.finish(scene.last_job().id)
    assert result.response.content == f"**a slow fox** — {scene.alice.mention} (relax)"


async def test_show_of_a_waiting_job_is_updated_until_the_result(scene, world):
    await scene.alice.slash(scene.channel, "imagine", prompt="a patient fox")
    job = scene.last_job()
    await scene.env.restart_bot(make_bot(world))  # the original message's handle is gone
    shown = await scene.alice.slash(scene.channel, "show", job_id=job.id.hex)
    assert "Waiting to start · position 1" in shown.response.content
    await scene.finish(job.id)
    assert shown.response.attachments and labels(shown.response)[:2] == ["U1", "U2"]
    assert shown.response.content == f"**a patient fox** — {scene.alice.mention} (fast)"


async def test_the_upscale_chain_stops_at_the_models_limit_and_charges_nothing_more(scene):
    grid, _ = await _grid(scene)  # 64×64 tiles on the tiny model (base size 64)
    message = grid
    for label in ("U1", "Upscale (Subtle)", "Upscale (Creative)"):  # 128², 256², 512²?
        pressed = await scene.alice.click(message, label=label)
        if label == "Upscale (Creative)":
            break
        await scene.finish(scene.last_job().id)
        message = pressed.response
    charged = _credits(scene, scene.alice)
    notes = [f.content for f in pressed.followups if f.ephemeral]
    assert notes and "already 256×256: another 2x upscale would make 512×512" in notes[0]
    assert "nothing was charged" in notes[0]
    assert scene.last_job().spec.generation.width == 256 and _credits(scene, scene.alice) == charged


async def test_the_batch_confirmation_survives_a_restart_and_expires_after_15_minutes(scene, world):
    result = await scene.alice.slash(scene.channel, "imagine", prompt="a fox --repeat 5")
    await scene.env.restart_bot(make_bot(world))
    confirmed = await scene.alice.click(result.response, label="Run 5 jobs")
    assert len(scene.world.enqueuer.sent) == 5 and len(confirmed.followups) == 5
    assert scene.world.store.batches == {}  # used: forgotten

    late = await scene.alice.slash(scene.channel, "imagine", prompt="a cat --repeat 5")
    for batch in list(scene.world.store.batches.values()):  # 16 minutes pass
        scene.world.store.batches[batch.token] = replace(
            batch, created_at=batch.created_at - timedelta(minutes=16)
        )
    expired = await scene.alice.click(late.response, label="Run 5 jobs")
    assert expired.ephemeral and "expired (after 15 minutes)" in expired.response.content
    assert len(scene.world.enqueuer.sent) == 5


async def test_a_result_posted_elsewhere_closes_the_waiting_message(scene, world):
    waiting = await scene.alice.slash(scene.channel, "imagine", prompt="a pending fox")
    job = scene.last_job()
    assert "Waiting to start" in waiting.response.content and labels(waiting.response)
    await scene.env.restart_bot(make_bot(world))  # its interaction handle is gone
    await scene.finish(job.id)
    closed = waiting.response
    assert "Waiting to start" not in closed.content and labels(closed) == []
    assert closed.content == f"**a pending fox** — {scene.alice.mention} (result posted below)"
    posted = [m for m in scene.channel.history() if m.attachments]
    assert len(posted) == 1 and posted[0].id != closed.id

    late = await scene.alice.slash(scene.channel, "imagine", prompt="a slow fox")
    slow = scene.last_job()
    await scene.env.advance_time(15 * 60 + 1)  # the interaction token has expired
    await scene.finish(slow.id)
    assert "result posted below" in late.response.content and labels(late.response) == []
