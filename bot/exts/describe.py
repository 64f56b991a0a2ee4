"""/describe: one image (an attachment, or a URL the worker fetches) → a cheap `describe` job
on the worker → four prompts, each with a button that runs it as /imagine."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.interactions import check_can_post, defer_public, post_queued, requester
from bot.reporting import user_errors
from bot.services.errors import InvalidPrompt
from bot.services.image_uploads import check_image_size
from prompt.request import ImageRef

if TYPE_CHECKING:
    from bot.app import NankeBot


class Describe(commands.Cog):
    def __init__(self, bot: NankeBot) -> None:
        self.bot = bot

    @app_commands.command(name="describe", description="Four prompts that could paint an image")
    @app_commands.describe(
        image="The image (PNG, JPEG, WebP, GIF)",
        url="Or the image's https:// address (fetched when the job runs)",
    )
    @app_commands.guild_only()
    async def describe(
        self,
        interaction: discord.Interaction,
        image: discord.Attachment | None = None,
        url: str | None = None,
    ) -> None:
        who = requester(interaction)
        async with user_errors(interaction):
            # Everything that needs no download first: a refusal is private and free.
            check_can_post(interaction)
            if (image is None) == (url is None):
                raise InvalidPrompt(
                    "Attach one image, or give its URL as `url` (not both). Nothing was charged."
                )
            await self.bot.intake.check_guild_allows(who)
            if image is not None:
                check_image_size(image.filename, image.size)  # before downloading it
                if not await defer_public(interaction):  # reading the file may take a while
                    return
                sha256 = await self.bot.deps.images.store_upload(await image.read())
                ref = ImageRef(sha256=sha256)
            else:
                assert url is not None
                ref = self.bot.intake.check_image_url(url.strip())  # the worker fetches it
                if not await defer_public(interaction):
                    return
            resolver = self.bot.deps.resolver
            queued = await self.bot.intake.admit_one(
                who, lambda job_id: resolver.describe(job_id, ref)
            )
            await post_queued(self.bot, interaction, (queued,))


async def setup(bot: NankeBot) -> None:
    await bot.add_cog(Describe(bot))
