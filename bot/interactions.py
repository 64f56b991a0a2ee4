"""Small helpers the cogs share: who is asking, and sending a job's status message."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord

from bot.services import formatting
from bot.services.delivery import cancel_button, mention
from bot.services.errors import CannotPostHere
from bot.services.intake import Queued, Requester
from bot.services.permissions import check_admin
from bot.views import build_view

if TYPE_CHECKING:
    from bot.app import NankeBot


def requester(interaction: discord.Interaction) -> Requester:
    return Requester(
        interaction_id=interaction.id,
        user_id=interaction.user.id,
        guild_id=interaction.guild_id,
        channel_id=interaction.channel_id or 0,
    )


def waiting_text(queued: Queued) -> str:
    return formatting.waiting(queued.job.spec, mention(queued.job.user_id), queued.position)


def waiting_view(queued: Queued) -> discord.ui.View:
    return build_view((cancel_button(queued.job.id),))


def require_admin(bot: NankeBot, interaction: discord.Interaction) -> None:
    member = interaction.user
    manage = isinstance(member, discord.Member) and member.guild_permissions.manage_guild
    check_admin(user_id=member.id, admin_ids=bot.admin_ids, manage_guild=manage)


async def post_queued(
    bot: NankeBot,
    interaction: discord.Interaction,
    jobs: tuple[Queued, ...],
    *,
    as_followups: bool = False,
) -> None:
    """Show each new job's status, then hand the jobs to the workers: the first in the
    interaction's own message, the others as followups. Delivery edits these messages while
    the interaction token lives, so they exist before a worker can report anything."""
    try:
        await _show_queued(bot, interaction, jobs, as_followups)
    finally:
        await bot.intake.release(jobs)


async def _show_queued(
    bot: NankeBot, interaction: discord.Interaction, jobs: tuple[Queued, ...], as_followups: bool
) -> None:
    for i, queued in enumerate(jobs):
        text, view = waiting_text(queued), waiting_view(queued)
        if i == 0 and not as_followups:
            if interaction.response.is_done():
                await interaction.edit_original_response(content=text, view=view)
            else:
                await interaction.response.send_message(text, view=view)
            bot.poster.track(queued.job.id, interaction)
        else:
            message = await interaction.followup.send(text, view=view, wait=True)
            bot.poster.track(queued.job.id, interaction, message)


# What a result needs in its channel once the 15-minute interaction window is over.
_POST_PERMISSIONS = (("send_messages", "Send Messages"), ("attach_files", "Attach Files"))


def check_can_post(interaction: discord.Interaction) -> None:
    """Refuse, before anything is charged, a job whose result the bot could not post in this
    channel later (interaction replies need no channel permission; a late post does)."""
    if interaction.guild_id is None:
        return
    perms = interaction.app_permissions
    needed = list(_POST_PERMISSIONS)
    if isinstance(interaction.channel, discord.Thread):
        needed[0] = ("send_messages_in_threads", "Send Messages in Threads")
    missing = [label for attr, label in needed if not getattr(perms, attr)]
    if missing:
        names = " and ".join(f"**{m}**" for m in missing)
        raise CannotPostHere(
            f"I can't post results in this channel: I'm missing the {names} permission here. "
            "Ask a server admin to grant it, or use another channel (nothing was charged)."
        )
