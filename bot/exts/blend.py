"""/blend: 2–5 image attachments and a dimension, no text → a 2x2 grid that fuses them
(unCLIP where configured, else the image-prompt adapter). Same checks and buttons as /imagine."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.interactions import check_can_post, defer_public, post_queued, requester
from bot.reporting import user_errors
from bot.services.errors import InvalidPrompt
from bot.services.image_uploads import check_image_size
from prompt import PromptError
from prompt.blend import DIMENSIONS, blend_params
from prompt.request import ImageRef

if TYPE_CHECKING:
    from bot.app import NankeBot

_CHOICES = [app_commands.Choice(name=f"{v} ({k})", value=k) for k, v in DIMENSIONS.items()]


class Blend(commands.Cog):
    def __init__(self, bot: NankeBot) -> None:
        self.bot = bot

    @app_commands.command(name="blend", description="Blend 2 to 5 images into four new ones")
    @app_commands.describe(
        image1="An image (PNG, JPEG, WebP, GIF)",
        image2="A second image",
        image3="A third image",
        image4="A fourth image",
        image5="A fifth image",
        dimensions="square 1:1 (default), portrait 2:3 or landscape 3:2",
    )
    @app_commands.choices(dimensions=_CHOICES)
    @app_commands.guild_only()
    async def blend(
        self,
        interaction: discord.Interaction,
        image1: discord.Attachment,
        image2: discord.Attachment,
        image3: discord.Attachment | None = None,
        image4: discord.Attachment | None = None,
        image5: discord.Attachment | None = None,
        dimensions: app_commands.Choice[str] | None = None,
    ) -> None:
        who = requester(interaction)
        attachments = [a for a in (image1, image2, image3, image4, image5) if a is not None]
        async with user_errors(interaction):
            check_can_post(interaction)
            for attachment in attachments:  # by announced size, before downloading
                check_image_size(attachment.filename, attachment.size)
            await self.bot.intake.check_guild_allows(who)
            if not await defer_public(interaction):  # reading the files may take a while
                return
            refs = []
            for attachment in attachments:
                sha256 = await self.bot.deps.images.store_upload(await attachment.read())
                refs.append(ImageRef(sha256=sha256))
            try:
                params = blend_params(tuple(refs), dimensions.value if dimensions else "1:1")
            except PromptError as exc:
                raise InvalidPrompt(f"{exc.message} (nothing was charged)") from None
            result = await self.bot.intake.submit(who, [params])
            await post_queued(self.bot, interaction, result.queued)
            if result.note:
                await interaction.followup.send(result.note[:2000], ephemeral=True)


async def setup(bot: NankeBot) -> None:
    await bot.add_cog(Blend(bot))
