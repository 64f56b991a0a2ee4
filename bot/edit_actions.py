"""The editing row under an upscaled image: Zoom Out, Custom Zoom, Pan, Make Square, Edit…
and the Vary (Region) menu (docs/discord.md). Authorized like every job button (the job's guild and
author), checked against the banned words, and with Remix on they open the prompt box first."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast
from uuid import UUID, uuid4

import discord

from bot.interactions import post_queued, requester
from bot.modals import CustomZoomModal, EditModal, RemixModal
from bot.services.custom_ids import Action, ButtonId
from bot.services.errors import InvalidPrompt, StaleButton
from bot.services.ports import JobView
from inference.canvas import REGIONS
from pipeline.contracts import EditSpec, JobKind, PanDirection, UpscaleMode
from prompt import format_prompt

if TYPE_CHECKING:
    from bot.app import NankeBot

EDIT_ACTIONS: dict[Action, tuple[JobKind, EditSpec]] = {
    Action.ZOOM_2: (JobKind.ZOOM, EditSpec(factor=2.0)),
    Action.ZOOM_15: (JobKind.ZOOM, EditSpec(factor=1.5)),
    Action.PAN_LEFT: (JobKind.PAN, EditSpec(direction=PanDirection.LEFT)),
    Action.PAN_RIGHT: (JobKind.PAN, EditSpec(direction=PanDirection.RIGHT)),
    Action.PAN_UP: (JobKind.PAN, EditSpec(direction=PanDirection.UP)),
    Action.PAN_DOWN: (JobKind.PAN, EditSpec(direction=PanDirection.DOWN)),
    Action.SQUARE: (JobKind.SQUARE, EditSpec()),
}


async def press_edit(bot: NankeBot, interaction: discord.Interaction, pressed: ButtonId) -> None:
    if pressed.action is Action.ZOOM_CUSTOM:
        who = requester(interaction)
        parent, _ = await bot.intake.job_for_presser(pressed.job_id, who)
        await bot.intake.check_words(parent, who)
        prompt = format_prompt(parent.spec.params)
        await interaction.response.send_modal(CustomZoomModal(parent.id, prompt))
        return
    if pressed.action is Action.EDIT:
        who = requester(interaction)
        parent, _ = await bot.intake.job_for_presser(pressed.job_id, who)
        await bot.intake.check_words(parent, who)
        check_before_ack(bot, parent, JobKind.EDIT)  # no edit model: refused privately
        await interaction.response.send_modal(EditModal(parent.id))
        return
    kind, edit = EDIT_ACTIONS[pressed.action]
    await _edit(bot, interaction, pressed.job_id, kind, edit)


async def press_draw(bot: NankeBot, interaction: discord.Interaction, job_id: UUID) -> None:
    """Draw the region…: a private link to the web editor (signed, 15 minutes, usable once)."""
    if bot.editor is None:
        raise StaleButton("The region editor is not set up here; use the Vary (Region) menu.")
    url = await bot.editor.link_for(requester(interaction), job_id)
    view = discord.ui.View()
    view.add_item(discord.ui.Button(label="Open the region editor", url=url, emoji="🖌️"))
    await interaction.response.send_message(
        "Draw the region to repaint on this page. The link is yours alone: it works once, "
        "for 15 minutes.",
        view=view,
        ephemeral=True,
    )


async def choose_region(interaction: discord.Interaction, job_id: UUID, region: str) -> None:
    """A preset picked in the Vary (Region) menu (a client can send any value: checked)."""
    if region not in REGIONS:
        raise StaleButton("That region is not one Nanke knows; pick one from the menu.")
    bot = cast("NankeBot", interaction.client)
    await _edit(bot, interaction, job_id, JobKind.VARY_REGION, EditSpec(region=region))


async def _edit(
    bot: NankeBot, interaction: discord.Interaction, job_id: UUID, kind: JobKind, edit: EditSpec
) -> None:
    who = requester(interaction)
    parent, _ = await bot.intake.job_for_presser(job_id, who)
    await bot.intake.check_words(parent, who)  # before acknowledging: a refusal is private
    check_before_ack(bot, parent, kind, edit=edit)
    account = await bot.deps.store.account(who.user_id)
    if account.prefs.remix:
        prompt = format_prompt(parent.spec.params)
        await interaction.response.send_modal(RemixModal(parent.id, kind, 1, prompt, edit))
        return
    await interaction.response.defer(thinking=True)
    queued = await bot.intake.follow_up(who, parent.id, kind, 1, edit=edit)
    await post_queued(bot, interaction, (queued,))


def check_before_ack(
    bot: NankeBot,
    parent: JobView,
    kind: JobKind,
    *,
    edit: EditSpec | None = None,
    upscale_mode: UpscaleMode | None = None,
) -> None:
    """Sizes, the model's pixel limit and what is configured (pure, no database) before
    acknowledging, so a pan too far, a square image or an Upscale (4x) with no upscaler is
    refused privately; intake checks it all again."""
    if parent.result is None:
        return  # intake says the job has no images yet
    try:
        key = parent.result.image_keys[0]
        bot.deps.resolver.follow_up(
            uuid4(), parent.spec, kind, 1, key, upscale_mode=upscale_mode, edit=edit
        )
    except bot.deps.resolve_errors as exc:
        message = str(exc)
        raise InvalidPrompt(f"{message[:1].upper()}{message[1:]} (nothing was charged)") from None
