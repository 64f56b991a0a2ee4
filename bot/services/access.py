"""Who may act on a job, decided on the job's own guild and author, wherever the press happens.

A button or `/show` can reach a job from anywhere: its id is in every button's custom_id and in
🔗 Web links, and `/show` works in DMs. So every follow-up is authorized against **the job's
guild** (it must allow Nanke, the presser must not be banned there, its banned words apply and
its button policy decides who besides the author may press), and, when pressed in another
server, against that server's own allow state and bans too. "Buttons: everyone" lets members of
the job's server press its buttons there, never members of another server. `/show` of a job
outside its server (another server, a DM) works only for an image that server's web gallery
shows publicly.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

from bot.services.errors import BannedWord, GuildNotAllowed, JobNotFound, MemberBanned, NotYourJob
from bot.services.moderation import find_in_texts
from bot.services.permissions import check_can_press
from bot.services.ports import GuildConfig, JobView, Store
from prompt.request import ImagineParams

_GUILD_CACHE_S = 30.0

BANNED = "You are banned from using Nanke here. Ask a server admin."
_BANNED_THERE = (
    "You are banned from using Nanke in the server this job was made in, so you cannot use "
    "its buttons."
)
_NOT_ALLOWED = (
    "Nanke is not enabled on this server. A server admin can enable it with /admin allow."
)
_NOT_ALLOWED_THERE = "Nanke is disabled in the server this job was made in, so it cannot be used."
ELSEWHERE = (
    "That job was made in another server (or you are in a DM), and its gallery does not show "
    "it publicly. Use /show in the server where it was made."
)


@dataclass(frozen=True)
class Place:
    """Where an interaction happens (the guild is None in a DM)."""

    user_id: int
    guild_id: int | None


class Access:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._guilds: dict[int, tuple[GuildConfig, float]] = {}

    async def guild_config(self, guild_id: int | None) -> GuildConfig | None:
        """A guild's settings, cached briefly: /imagine reads them before its 3 s defer."""
        if guild_id is None:
            return None
        hit = self._guilds.get(guild_id)
        if hit is not None and time.monotonic() - hit[1] < _GUILD_CACHE_S:
            return hit[0]
        config = await self._store.guild(guild_id)
        self._guilds[guild_id] = (config, time.monotonic())
        return config

    def forget_guild(self, guild_id: int) -> None:
        """Called after an admin changes a guild's settings in this process."""
        self._guilds.pop(guild_id, None)

    async def check_place(self, where: Place) -> GuildConfig | None:
        """The rules of the server the member is in: Nanke allowed, the member not banned."""
        guild = await self.guild_config(where.guild_id)
        if guild is not None and not guild.allowed:
            raise GuildNotAllowed(_NOT_ALLOWED)
        if where.guild_id is not None and await self._store.is_banned(
            where.guild_id, where.user_id
        ):
            raise MemberBanned(BANNED)
        return guild

    async def job_for(
        self, job_id: UUID, where: Place, *, showing: bool = False
    ) -> tuple[JobView, GuildConfig | None]:
        """The job, when `where.user_id` may act on it from `where` (else a NankeError).

        `showing`: /show, which may post a job outside its server when that server's gallery
        shows it publicly; buttons never act across servers except for the job's author."""
        job = await self._store.job(job_id)
        if job is None:
            raise JobNotFound("That job no longer exists.")
        home = await self.guild_config(job.guild_id)
        if home is not None and not home.allowed:
            raise GuildNotAllowed(_NOT_ALLOWED_THERE)
        if job.guild_id is not None and await self._store.is_banned(job.guild_id, where.user_id):
            raise MemberBanned(_BANNED_THERE if where.guild_id != job.guild_id else BANNED)
        if where.guild_id != job.guild_id:
            await self.check_place(where)
        at_home = where.guild_id == job.guild_id
        if showing and not at_home and job.guild_id is not None:
            if not await self._store.shown_publicly(job.id):
                raise NotYourJob(ELSEWHERE)
            return job, home
        check_can_press(
            presser_id=where.user_id,
            author_id=job.user_id,
            everyone_allowed=at_home and home is not None and home.everyone_can_press,
        )
        return job, home

    @staticmethod
    def check_words(guilds: Iterable[GuildConfig | None], texts: Iterable[str | None]) -> None:
        """Every banned word of these guilds, checked in every text (prompts, negatives)."""
        words = [w for g in guilds if g is not None for w in g.banned_words]
        if words and (word := find_in_texts(list(texts), words)):
            raise BannedWord(word)


def texts_of(requests: Iterable[ImagineParams]) -> list[str | None]:
    """What moderation reads of parsed requests: each expanded prompt and its negative."""
    return [t for r in requests for t in (r.prompt, r.negative_prompt)]
