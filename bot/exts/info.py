"""/info: plan, credits and renewal, fast/relax mode, and the member's jobs in the queue."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.reporting import user_errors
from bot.services import formatting
from bot.services.ports import JobState

if TYPE_CHECKING:
    from bot.app import NankeBot


PRICING = (
    "**Pricing:** a 512×512 grid at 30 steps is 1 credit (bigger images and more steps cost "
    "more). Prompts are read in chunks of 75 tokens (about 300 characters): the first 3 chunks "
    "are included, each further chunk adds the price once more. Zoom Out, Pan, Make Square "
    "and Vary (Region) make a new grid and cost what its pixels and steps cost: a pan of a "
    "1024×1024 image paints four 1536×1024 images (6 credits at 30 steps), a zoom out four "
    "images at the model's size. Upscale (4x) runs no steps: a 4096×4096 result costs 0.534 "
    "credits."
)


class Info(commands.Cog):
    def __init__(self, bot: NankeBot) -> None:
        self.bot = bot

    @app_commands.command(name="info", description="Your plan, credits and jobs")
    async def info(self, interaction: discord.Interaction) -> None:
        async with user_errors(interaction):
            store = self.bot.deps.store
            account = await store.account(interaction.user.id)
            credits = account.credits_left_milli / 1000
            renews = (
                f" · renew {discord.utils.format_dt(account.renews_at, 'R')}"
                if account.renews_at
                else ""
            )
            lines = [
                f"**Plan:** {account.plan}",
                f"**Credits left:** {credits:g}{renews}",
                f"**Mode:** {account.prefs.mode.value}",
                f"**Limits:** {account.max_running} running, {account.max_queued} queued",
                PRICING,
            ]
            jobs = await store.active_jobs(interaction.user.id)
            if not jobs:
                lines.append("**Jobs:** none running or queued")
            else:
                lines.append("**Jobs:**")
                for job in jobs:
                    if job.state is JobState.RUNNING:
                        where = "running"
                    else:
                        position = await store.queue_position(job.id)
                        where = f"queued · position {position}" if position else "queued"
                        eta = await store.queue_eta(job.id, position) if position else None
                        if eta is not None:
                            where += f" · {formatting.about(eta)}"
                    prompt = formatting.shown_prompt(job.spec)[:80]
                    lines.append(f"- `{job.id.hex}` {job.kind.value} — {prompt} ({where})")
            await interaction.response.send_message("\n".join(lines), ephemeral=True)


async def setup(bot: NankeBot) -> None:
    await bot.add_cog(Info(bot))
