"""/show job_id: post a job again, with working buttons.

Authorized on the job's guild and author (bot/services/access.py): outside its server (another
server, a DM) only a job that server's web gallery shows publicly. What it posts is decided by
the channel it is posted in (flagged images withheld unless that channel is age-restricted),
the prompt never pings anyone, and a job still waiting or running is kept up to date."""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

import discord
from discord import app_commands
from discord.ext import commands

from bot.interactions import requester, show_job
from bot.reporting import user_errors
from bot.services.errors import JobNotFound

if TYPE_CHECKING:
    from bot.app import NankeBot


def parse_job_id(text: str) -> UUID:
    try:
        return UUID(text.strip())
    except ValueError:
        raise JobNotFound(
            f"“{text[:40]}” is not a job id. Job ids are 32 hex digits, as /info shows them."
        ) from None


class Show(commands.Cog):
    def __init__(self, bot: NankeBot) -> None:
        self.bot = bot

    @app_commands.command(name="show", description="Post one of your jobs again, with buttons")
    @app_commands.describe(job_id="The job id, as /info shows it")
    async def show(self, interaction: discord.Interaction, job_id: str) -> None:
        async with user_errors(interaction):
            job, _ = await self.bot.intake.job_for_presser(
                parse_job_id(job_id), requester(interaction), showing=True
            )
            await show_job(self.bot, interaction, job)


async def setup(bot: NankeBot) -> None:
    await bot.add_cog(Show(bot))
