"""The job buttons: U1–U4, V1–V4, 🔄, ❌, the post-upscale rows (the edits live in
bot/edit_actions.py), ⭐ Share and batch confirmation.

Each is a DynamicItem whose custom_id (`nk:<action>:<job>:<n>`) carries all it needs, so old
buttons keep working after a restart. With remix on, V and 🔄 open a modal first."""

from __future__ import annotations

import asyncio
import io
from typing import TYPE_CHECKING, Any, cast

import discord

from bot.describe_actions import press_describe
from bot.edit_actions import (
    EDIT_ACTIONS,
    check_before_ack,
    choose_region,
    press_draw,
    press_edit,
)
from bot.interactions import post_queued, requester, show_job
from bot.modals import RemixModal
from bot.services import formatting
from bot.services.custom_ids import Action, ButtonId
from bot.services.delivery import mention
from bot.services.ports import DisplayNames
from bot.services.sharing import check_shareable
from bot.services.upload import fit_upload
from bot.train_actions import press_train
from bot.views import JobButton, RegionMenu, like_view
from inference.edits import PICK_PARENTS
from pipeline.contracts import JobKind, UpscaleMode
from prompt import format_prompt

if TYPE_CHECKING:
    from bot.app import NankeBot


# Button action → (job kind, upscale mode) for the buttons that make a follow-up job.
_FOLLOW_UPS: dict[Action, tuple[JobKind, UpscaleMode | None]] = {
    Action.UPSCALE: (JobKind.UPSCALE, UpscaleMode.SUBTLE),
    Action.VARY: (JobKind.VARY_SUBTLE, None),
    Action.REROLL: (JobKind.REROLL, None),
    Action.VARY_SUBTLE: (JobKind.VARY_SUBTLE, None),
    Action.VARY_STRONG: (JobKind.VARY_STRONG, None),
    Action.UPSCALE_SUBTLE: (JobKind.UPSCALE, UpscaleMode.SUBTLE),
    Action.UPSCALE_CREATIVE: (JobKind.UPSCALE, UpscaleMode.CREATIVE),
    Action.UPSCALE_4X: (JobKind.UPSCALE, UpscaleMode.GAN_4X),
}
# These ask for the prompt first when the presser has remix on.
_REMIXABLE = {Action.VARY, Action.REROLL, Action.VARY_SUBTLE, Action.VARY_STRONG}


async def _press(bot: NankeBot, interaction: discord.Interaction, pressed: ButtonId) -> None:
    who = requester(interaction)
    action = pressed.action
    if action is Action.CONFIRM:
        await bot.intake.check_confirm(pressed.job_id, who)
        await interaction.response.defer()  # acknowledge before the admissions
        result = await bot.intake.confirm(pressed.job_id, who)
        await interaction.edit_original_response(
            content=f"Running {len(result.queued)} jobs.", view=None
        )
        await post_queued(bot, interaction, result.queued, as_followups=True)
        if result.note:
            await interaction.followup.send(result.note, ephemeral=True)
        return
    if action is Action.CANCEL:
        await _cancel(bot, interaction, pressed.job_id, who)
        return
    if action is Action.TRAIN:
        await press_train(bot, interaction, pressed.job_id)
        return
    if action is Action.SHARE:
        await _share(bot, interaction, pressed)
        return
    if action is Action.DESCRIBE:  # one of /describe's prompts → its "Imagine this" box
        return await press_describe(bot, interaction, pressed)
    if action is Action.DRAW_REGION:
        return await press_draw(bot, interaction, pressed.job_id)
    if action in EDIT_ACTIONS or action in (Action.ZOOM_CUSTOM, Action.EDIT):
        await press_edit(bot, interaction, pressed)
        return
    kind, mode = _FOLLOW_UPS[action]
    parent, _ = await bot.intake.job_for_presser(pressed.job_id, who)
    if action is Action.UPSCALE and parent.kind in PICK_PARENTS:
        mode = UpscaleMode.PICK  # already full size: U picks the tile (docs/discord.md)
    await bot.intake.check_words(parent, who)  # before acknowledging: a refusal is private
    if mode is UpscaleMode.GAN_4X:  # no [upscaler] (any more), or too large: privately too
        check_before_ack(bot, parent, kind, upscale_mode=mode)
    # Grid buttons name their tile; the post-upscale row works on the one upscaled image.
    index = pressed.n or 1
    if action in _REMIXABLE:
        account = await bot.deps.store.account(who.user_id)
        if account.prefs.remix:
            await interaction.response.send_modal(
                RemixModal(
                    parent.id,
                    kind,
                    index if action is not Action.REROLL else None,
                    format_prompt(parent.spec.params),
                )
            )
            return
    # The new job gets its own message; acknowledge before the admission's transaction.
    await interaction.response.defer(thinking=True)
    queued = await bot.intake.follow_up(
        who, parent.id, kind, index if action is not Action.REROLL else None, mode
    )
    if queued.reused:  # this tile was upscaled before: show that upscale, charge nothing
        await show_job(bot, interaction, queued.job)
        return
    await post_queued(bot, interaction, (queued,))


def display_names(interaction: discord.Interaction, author_id: int) -> DisplayNames:
    """The server's name and the author's display name there, as this interaction shows them
    (the bot has no members intent: another member's name only if it happens to be cached)."""
    guild = interaction.guild
    if interaction.user.id == author_id:
        member: discord.abc.User | None = interaction.user
    else:
        member = guild.get_member(author_id) if guild else None
    return DisplayNames(
        guild=guild.name if guild else None, member=member.display_name if member else None
    )


async def _cancel(bot: NankeBot, interaction: discord.Interaction, job_id: Any, who: Any) -> None:
    if bot.training is not None:  # a running training run: the unused part back
        job, refunded = await bot.training.cancel(job_id, who)
    else:
        job, refunded = await bot.intake.cancel(job_id, who), None
    text = formatting.cancelled(job.spec, mention(job.user_id), refunded)
    await interaction.response.edit_message(content=text, view=None)


async def _share(bot: NankeBot, interaction: discord.Interaction, pressed: ButtonId) -> None:
    """⭐: post the upscaled image to the server's gallery channel, once."""
    job, guild = await bot.intake.job_for_presser(pressed.job_id, requester(interaction))
    author = await bot.deps.store.account(job.user_id)
    check_shareable(job, author, guild)
    assert guild is not None and guild.gallery_channel_id is not None and job.result is not None
    shared = await bot.deps.store.share(
        job.id, 1, interaction.user.id, display_names(interaction, job.user_id)
    )
    channel = f"<#{guild.gallery_channel_id}>"
    if not shared.created:
        await interaction.response.send_message(f"Already shared to {channel}.", ephemeral=True)
        return
    await interaction.response.defer(ephemeral=True, thinking=True)
    png = await bot.deps.images.read(job.result.image_keys[0])
    upload = await asyncio.to_thread(fit_upload, png, f"nanke_{job.id.hex[:8]}")
    target = bot.get_channel(guild.gallery_channel_id) or await bot.fetch_channel(
        guild.gallery_channel_id
    )
    assert isinstance(target, discord.abc.Messageable)
    entry_id = await bot.deps.gallery.find(guild.guild_id, job.id) if bot.deps.gallery else None
    posted = await target.send(
        f"**{formatting.shown_prompt(job.spec)}** — by {mention(job.user_id)}",
        file=discord.File(io.BytesIO(upload.data), filename=upload.filename),
        allowed_mentions=discord.AllowedMentions.none(),
        view=like_view(entry_id, 0) if entry_id else discord.utils.MISSING,
    )
    if entry_id and bot.deps.gallery:  # /gallery remove deletes this post with the entry
        await bot.deps.gallery.record_post(entry_id, posted.channel.id, posted.id)
    await interaction.followup.send(f"Shared to {channel}. ⭐", ephemeral=True)


async def _on_press(interaction: discord.Interaction, pressed: ButtonId) -> None:
    bot = cast("NankeBot", interaction.client)
    await _press(bot, interaction, pressed)  # inside JobButton.callback's backstop


async def setup(bot: NankeBot) -> None:
    bot.press_job_button = _on_press
    bot.choose_region = choose_region
    bot.add_dynamic_items(JobButton, RegionMenu)
