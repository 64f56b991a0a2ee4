"""/show job_id: post a job again, with working buttons."""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

import discord
from discord import app_commands
from discord.ext import commands

from bot.interactions import requester
from bot.poster import build_view, files_of
from bot.reporting import user_errors
from bot.services import formatting
from bot.services.delivery import mention
from bot.services.errors import JobNotFound
from bot.services.ports import JobState

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
                parse_job_id(job_id), requester(interaction)
            )
            if job.state in (JobState.SUCCEEDED, JobState.POSTED) and job.result is not None:
                await interaction.response.defer(thinking=True)
                out = await self.bot.delivery.result_message(job)
                await interaction.edit_original_response(
                    content=out.content,
                    attachments=files_of(out),
                    view=build_view(out.buttons) if out.buttons else None,
                )
                return
            who = mention(job.user_id)
            if job.state is JobState.QUEUED:
                position = await self.bot.deps.store.queue_position(job.id)
                text = formatting.waiting(job.spec, who, position)
            elif job.state is JobState.RUNNING:
                text = formatting.running(job.spec, who, None)
            elif job.state is JobState.CANCELLED:
                text = formatting.cancelled(job.spec, who)
            else:
                text = formatting.failed(job.spec, who, job.error)
            await interaction.response.send_message(text)


async def setup(bot: NankeBot) -> None:
    await bot.add_cog(Show(bot))
