"""Small helpers the cogs share: who is asking, and sending a job's status message."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import discord

from bot.poster import files_of, mentions_of
from bot.services import formatting
from bot.services.custom_ids import Action, ButtonId
from bot.services.delivery import Button, Outgoing, cancel_button, mention
from bot.services.errors import CannotPostHere
from bot.services.intake import Queued, Requester
from bot.services.permissions import check_admin
from bot.services.ports import JobState, JobView
from bot.views import build_view
from pipeline.errors import member_message
from prompt.extra_networks import extra_network_note
from prompt.request import ImagineParams

log = logging.getLogger(__name__)

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
            if not interaction.response.is_done():
                await interaction.response.defer(thinking=True)
            original = await interaction.edit_original_response(content=text, view=view)
            bot.poster.track(queued.job.id, interaction)
            message_id = original.id
        else:
            message = await interaction.followup.send(text, view=view, wait=True)
            bot.poster.track(queued.job.id, interaction, message)
            message_id = message.id
        # Remembered so a result posted elsewhere later (restart, 15 minutes) can close it.
        await bot.deps.store.set_placeholder(queued.job.id, message_id)


async def show_job(bot: NankeBot, interaction: discord.Interaction, job: JobView) -> None:
    """Post an existing job where this interaction happened (/show, an upscale pressed again):
    its result, decided for this channel, or its status; only its author may be pinged."""
    if not interaction.response.is_done():
        await interaction.response.defer(thinking=True)
    if job.state in (JobState.SUCCEEDED, JobState.POSTED) and job.result is not None:
        out = await bot.delivery.result_message(job, interaction.channel_id)
    else:
        out = Outgoing(await _status(bot, job), notify=job.user_id)
        if job.state is JobState.QUEUED:
            out = Outgoing(out.content, buttons=(cancel_button(job.id),), notify=job.user_id)
    await interaction.edit_original_response(
        content=out.content,
        attachments=files_of(out),
        view=build_view(out.buttons) if out.buttons else None,
        allowed_mentions=mentions_of(out),
    )
    if job.state in (JobState.QUEUED, JobState.RUNNING):
        # Delivery edits this message too as the job moves on (progress, then the result).
        bot.poster.track(job.id, interaction, also=True)


async def _status(bot: NankeBot, job: JobView) -> str:
    who = mention(job.user_id)
    if job.state is JobState.QUEUED:
        position = await bot.deps.store.queue_position(job.id)
        return formatting.waiting(job.spec, who, position)
    if job.state is JobState.RUNNING:
        return formatting.running(job.spec, who, None)
    if job.state is JobState.CANCELLED:
        return formatting.cancelled(job.spec, who)
    # The row keeps operator detail (paths, OS errors); the member sees the stable text.
    return formatting.failed(job.spec, who, member_message(job.error))


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


# Discord's codes for an interaction already acknowledged (a replay after a gateway resume,
# handled by its first delivery) and for one past its 3 s window.
_ALREADY_ACKNOWLEDGED = 40060
_UNKNOWN_INTERACTION = 10062


async def defer_public(interaction: discord.Interaction) -> bool:
    """Defer publicly; False when this delivery of the interaction must do nothing more."""
    try:
        await interaction.response.defer(thinking=True)
    except discord.HTTPException as exc:
        if exc.code == _ALREADY_ACKNOWLEDGED:
            log.info("interaction %s was replayed; its first delivery owns it", interaction.id)
            return False
        if exc.code == _UNKNOWN_INTERACTION:
            # Arrived too late (e.g. missed during a gateway outage): nothing was charged,
            # and the member sees Discord's "interaction failed" and can simply retry.
            log.warning("interaction %s expired before it could be acknowledged", interaction.id)
            return False
        raise
    return True


async def submit_requests(
    bot: NankeBot,
    interaction: discord.Interaction,
    who: Requester,
    requests: Sequence[ImagineParams],
    prompt: str,
    notes: Sequence[str] = (),
    asking: str = "This prompt makes **{n} jobs**, each charged like one /imagine.",
) -> None:
    """Admit validated /imagine requests (typed, a /describe prompt's box, a /pack) on a
    deferred interaction: their status messages, or a ✅ confirmation for a large batch
    (`asking`, with {n} the number of jobs); then the private notes."""
    result = await bot.intake.submit(who, requests)
    if result.confirm_token is not None:
        confirm = Button(
            f"Run {result.pending_count} jobs",
            0,
            ButtonId(Action.CONFIRM, result.confirm_token).encode(),
            emoji="✅",
            style="primary",
        )
        await interaction.edit_original_response(
            content=f"{asking.replace('{n}', str(result.pending_count))} Run them all?",
            view=build_view((confirm,)),
        )
        return
    await post_queued(bot, interaction, result.queued)
    private = [result.note, extra_network_note(prompt), "\n".join(notes) or None]
    for note in private:
        if note:
            await interaction.followup.send(note[:2000], ephemeral=True)
