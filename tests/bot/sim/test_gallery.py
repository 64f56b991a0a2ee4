"""The gallery in Discord through real discord.py dispatch (simcord) on Postgres: ❤️ on the
gallery post, /gallery listings with paging, Open, and admins' removal."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from bot_fakes import png
from PIL import Image

from bot.services.gallery_feed import SqlGalleryFeed
from bot.services.ports import DisplayNames, GuildConfig
from db import gallery, members
from db.models import Image as ImageRow
from db.models import Job
from tests.gallery.seed import spec

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def world(world, pg_sessions):  # type: ignore[no-untyped-def]
    world.deps.gallery = SqlGalleryFeed(pg_sessions, default_plan="free")
    world.sessions = pg_sessions
    return world


async def _shared(scene, user, prompt: str, *, minutes: int, job_id=None) -> uuid.UUID:  # type: ignore[no-untyped-def]
    """What ⭐ Share leaves in the database: a job, its image and a gallery entry."""
    job_id = job_id or uuid.uuid4()
    image_id = uuid.uuid4()
    when = T0 + timedelta(minutes=minutes)
    key = f"jobs/{job_id}/1.png"
    async with scene.world.sessions.begin() as session:
        await members.ensure_user(session, user.id, "free", T0)
        session.add(
            Job(
                id=job_id,
                user_id=user.id,
                kind="upscale",
                request=spec(job_id, prompt),
                state="posted",
                created_at=when,
                guild_id=scene.guild.id,
            )
        )
        await session.flush()
        session.add(
            ImageRow(
                id=image_id,
                job_id=job_id,
                index=1,
                key=key,
                width=512,
                height=768,
                seed=1234,
                created_at=when,
            )
        )
        await session.flush()
        shared = await gallery.share(session, image_id, user.id, scene.guild.id, prompt, when)
    scene.world.images.blobs.setdefault(key, png((64, 96), (minutes * 20 % 256, 90, 160)))
    return shared.entry_id


def _labels(message) -> list[str]:  # type: ignore[no-untyped-def]
    out = []
    for row in message.components:
        for c in row["components"] if isinstance(row, dict) else row.children:
            out.append(c.get("label") if isinstance(c, dict) else c.label)
    return out


async def test_share_posts_with_a_like_button_that_toggles(scene):  # type: ignore[no-untyped-def]
    channel = scene.guild.create_text_channel("gallery")
    await scene.world.store.update_guild(GuildConfig(scene.guild.id, gallery_channel_id=channel.id))
    scene.bot.intake.forget_guild(scene.guild.id)
    await scene.alice.slash(scene.channel, "imagine", prompt="a red fox")
    await scene.finish(scene.last_job().id)
    grid = scene.channel.history()[-1]
    pressed = await scene.alice.click(grid, label="U1")
    upscale = scene.last_job()
    await scene.finish(upscale.id)
    await _shared(scene, scene.alice, "a red fox", minutes=1, job_id=upscale.id)
    await scene.alice.click(pressed.response, label="Share")
    # The web gallery's names, as Discord showed them to the bot at this share.
    assert scene.world.store.shared_names == [DisplayNames(scene.guild.name, "alice")]
    assert scene.guild.name
    post = channel.last_message
    assert _labels(post) == ["0"]
    await scene.bob.click(post, label="0")
    assert _labels(channel.last_message) == ["1"]
    await scene.mod.click(channel.last_message, label="1")
    assert _labels(channel.last_message) == ["2"]
    await scene.bob.click(channel.last_message, label="2")  # pressing again unlikes
    assert _labels(channel.last_message) == ["1"]


async def test_gallery_pages_show_thumbnails_prompts_likes_and_commands(scene):  # type: ignore[no-untyped-def]
    for n in range(6):
        await _shared(
            scene, scene.alice if n % 2 else scene.bob, f"lighthouse number {n}", minutes=n
        )
    first = await scene.alice.slash(scene.channel, "gallery new")
    assert first.ephemeral
    page = first.response
    assert [e.title for e in page.embeds] == [
        f"{i}. lighthouse number {5 - i + 1}" for i in range(1, 5)
    ]
    assert "/imagine lighthouse number 5 --ar 2:3" in page.embeds[0].description
    assert len(page.attachments) == 4
    with Image.open(io.BytesIO(await page.attachments[0].read())) as thumb:
        assert thumb.format == "WEBP"
    assert _labels(page)[:2] == ["◀", "▶"]
    turned = await scene.alice.click(page, label="▶")
    second = turned.response
    assert [e.title for e in second.embeds] == ["1. lighthouse number 1", "2. lighthouse number 0"]
    opened = await scene.alice.click(second, label="Open 2")
    full = opened.response  # the deferred reply, completed by the followup
    assert full.ephemeral and full.attachments
    assert "```\n/imagine lighthouse number 0" in full.content
    mine = await scene.alice.slash(scene.channel, "gallery mine")
    assert [e.title for e in mine.response.embeds] == [
        "1. lighthouse number 5",
        "2. lighthouse number 3",
        "3. lighthouse number 1",
    ]
    found = await scene.bob.slash(scene.channel, "gallery search", query="number -lighthouse")
    assert "No shared image matches" in found.response.content


async def test_admins_remove_entries_everywhere(scene):  # type: ignore[no-untyped-def]
    entry = await _shared(scene, scene.alice, "a removable castle", minutes=1)
    denied = await scene.alice.slash(scene.channel, "gallery remove", image=str(entry))
    assert denied.ephemeral and "for Nanke admins" in denied.response.content
    done = await scene.mod.slash(scene.channel, "gallery remove", image=str(entry))
    assert done.ephemeral and done.response.content.startswith("Removed")
    empty = await scene.mod.slash(scene.channel, "gallery new")
    assert "Nothing has been shared here yet" in empty.response.content
    again = await scene.mod.slash(scene.channel, "gallery remove", image=str(entry))
    assert "No image of this server's gallery has that id" in again.response.content


async def test_removing_an_entry_deletes_its_gallery_channel_post(scene):  # type: ignore[no-untyped-def]
    """Issue 21 item 18: the post's channel and message are stored at ⭐ Share (migration
    0003) and /gallery remove deletes the post with the entry."""
    channel = scene.guild.create_text_channel("gallery")
    await scene.world.store.update_guild(GuildConfig(scene.guild.id, gallery_channel_id=channel.id))
    scene.bot.intake.forget_guild(scene.guild.id)
    await scene.alice.slash(scene.channel, "imagine", prompt="a red fox")
    await scene.finish(scene.last_job().id)
    pressed = await scene.alice.click(scene.channel.history()[-1], label="U1")
    upscale = scene.last_job()
    await scene.finish(upscale.id)
    entry = await _shared(scene, scene.alice, "a red fox", minutes=1, job_id=upscale.id)
    await scene.alice.click(pressed.response, label="Share")
    assert len(channel.history()) == 1
    done = await scene.mod.slash(scene.channel, "gallery remove", image=str(entry))
    assert done.ephemeral and f"its post in {channel.mention} was deleted" in done.response.content
    assert channel.history() == []
    # An entry shared before its post was recorded is removed all the same.
    older = await _shared(scene, scene.alice, "an old castle", minutes=2)
    done = await scene.mod.slash(scene.channel, "gallery remove", image=str(older))
    assert done.response.content == "Removed: it is gone from /gallery and from the web gallery."
