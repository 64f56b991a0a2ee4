"""Delivery's Discord side: edits the member's interaction message while its token lives,
else posts to the channel with the job id as the nonce."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING
from uuid import UUID

import discord

from bot.services.delivery import CannotPost, Outgoing
from bot.services.upload import DEFAULT_LIMIT
from bot.views import build_view

if TYPE_CHECKING:
    from discord.ext import commands

log = logging.getLogger(__name__)

# Stop using an interaction token a little before Discord's 15 minutes run out.
_TOKEN_MARGIN = dt.timedelta(seconds=30)


def nonce_for(job_id: UUID) -> str:
    """The job id in base 36: 25 characters at most, Discord's nonce limit."""
    value, digits = job_id.int, []
    alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
    while True:
        value, rest = divmod(value, 36)
        digits.append(alphabet[rest])
        if value == 0:
            return "".join(reversed(digits))


def mentions_of(out: Outgoing) -> discord.AllowedMentions:
    """Only the job's author may be pinged; prompt text never pings (it is neutralised too)."""
    users = [discord.Object(out.notify)] if out.notify is not None else False
    return discord.AllowedMentions(everyone=False, roles=False, users=users, replied_user=False)


def files_of(out: Outgoing) -> list[discord.File]:
    import io

    return [discord.File(io.BytesIO(f.data), filename=f.filename) for f in out.files]


@dataclass
class LiveMessage:
    """A message made through an interaction: the original response or a followup."""

    interaction: discord.Interaction
    message: discord.WebhookMessage | None = None

    def alive(self) -> bool:
        return discord.utils.utcnow() < self.interaction.expires_at - _TOKEN_MARGIN

    async def edit(self, out: Outgoing) -> int:
        view = build_view(out.buttons) if out.buttons else None
        if self.message is not None:
            edited = await self.message.edit(
                content=out.content,
                attachments=files_of(out),
                view=view,
                allowed_mentions=mentions_of(out),
            )
            return edited.id
        original = await self.interaction.edit_original_response(
            content=out.content,
            attachments=files_of(out),
            view=view,
            allowed_mentions=mentions_of(out),
        )
        return original.id


class DiscordPoster:
    def __init__(self, bot: commands.Bot) -> None:
        self._bot = bot
        # A job's live messages: the one that made it, plus any /show of it while it waits.
        self._live: dict[UUID, list[LiveMessage]] = {}

    def track(
        self,
        job_id: UUID,
        interaction: discord.Interaction,
        message: discord.WebhookMessage | None = None,
        *,
        also: bool = False,
    ) -> None:
        live = LiveMessage(interaction, message)
        self._live[job_id] = [*self._live.get(job_id, []), live] if also else [live]

    def upload_limit(self, job_id: UUID) -> int:
        lives = self._live.get(job_id)
        return min(x.interaction.filesize_limit for x in lives) if lives else DEFAULT_LIMIT

    def channel_is_nsfw(self, channel_id: int) -> bool:
        channel = self._bot.get_channel(channel_id)
        is_nsfw = getattr(channel, "is_nsfw", None)
        return bool(is_nsfw()) if callable(is_nsfw) else False

    async def edit_live(self, job_id: UUID, out: Outgoing) -> int | None:
        """Edit every live message of the job; the first one's id, or None when none is left."""
        first: int | None = None
        for live in list(self._live.get(job_id, [])):
            try:
                message_id = await live.edit(out) if live.alive() else None
            except discord.NotFound:  # the member deleted it, or the token died early
                message_id = None
            if message_id is None:
                self._drop(job_id, live)
            elif first is None:
                first = message_id
        return first

    def _drop(self, job_id: UUID, live: LiveMessage) -> None:
        lives = self._live.get(job_id, [])
        if live in lives:
            lives.remove(live)
        if not lives:
            self._live.pop(job_id, None)

    async def close_placeholder(self, channel_id: int, message_id: int, content: str) -> None:
        try:
            channel = self._bot.get_channel(channel_id) or await self._bot.fetch_channel(channel_id)
            if isinstance(channel, discord.abc.Messageable):
                message = channel.get_partial_message(message_id)
                await message.edit(
                    content=content, view=None, allowed_mentions=discord.AllowedMentions.none()
                )
        except discord.HTTPException:  # deleted, or not editable: nothing is lost
            log.info("could not close the waiting message %s", message_id, exc_info=True)

    async def send_channel(self, channel_id: int, out: Outgoing, nonce: UUID) -> int:
        try:
            channel = self._bot.get_channel(channel_id) or await self._bot.fetch_channel(channel_id)
            assert isinstance(channel, discord.abc.Messageable)
            message = await channel.send(
                out.content,
                files=files_of(out),
                view=build_view(out.buttons) if out.buttons else discord.utils.MISSING,
                nonce=nonce_for(nonce),
                allowed_mentions=mentions_of(out),
            )
        except discord.Forbidden as exc:
            raise CannotPost(str(exc)) from None
        self._live.pop(nonce, None)
        return message.id

    async def send_dm(self, user_id: int, out: Outgoing) -> int:
        try:
            user = self._bot.get_user(user_id) or await self._bot.fetch_user(user_id)
            message = await user.send(out.content, files=files_of(out))
        except (discord.Forbidden, discord.NotFound) as exc:
            raise CannotPost(str(exc)) from None
        return message.id
