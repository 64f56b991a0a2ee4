"""/edit: an instruction ("make it night", "add a red hat") applied to an attached image by
the server's edit model (FLUX.1 Kontext, or FLUX.2 [klein] with up to 2 more reference
images) → a 2x2 grid with the usual U/V/🔄. Edit… under an upscaled image does the same for
that image (bot/edit_actions.py). Every refusal is private and free (docs/discord.md)."""

from __future__ import annotations

import io
import uuid
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands
from PIL import Image

from bot.interactions import check_can_post, defer_public, post_queued, requester
from bot.reporting import user_errors
from bot.services.edit_intake import admit_edit, check_instruction
from bot.services.errors import InvalidPrompt
from bot.services.image_uploads import check_image_size
from bot.services.prompt_checks import sentence
from pipeline.image_intake import reference_key
from prompt.request import ImageRef

if TYPE_CHECKING:
    from bot.app import NankeBot

# Stands in for the attachments while the request is checked before anything is uploaded.
_UNSTORED = ImageRef(sha256="0" * 64)


class Edit(commands.Cog):
    def __init__(self, bot: NankeBot) -> None:
        self.bot = bot

    @app_commands.command(name="edit", description="Change an image by instruction")
    @app_commands.describe(
        image="The image to edit (PNG, JPEG, WebP, GIF)",
        instruction="What to change, e.g. make it night, add a red hat",
        reference1="A reference image (models that take several: FLUX.2 [klein])",
        reference2="A second reference image",
    )
    @app_commands.guild_only()
    async def edit(
        self,
        interaction: discord.Interaction,
        image: discord.Attachment,
        instruction: app_commands.Range[str, 1, 1000],
        reference1: discord.Attachment | None = None,
        reference2: discord.Attachment | None = None,
    ) -> None:
        who = requester(interaction)
        attachments = [a for a in (image, reference1, reference2) if a is not None]
        async with user_errors(interaction):
            check_can_post(interaction)
            for attachment in attachments:  # by announced size, before downloading
                check_image_size(attachment.filename, attachment.size)
            params = await check_instruction(self.bot.intake, who, instruction)
            try:  # the edit model, the image count and the flags, before any upload
                placeholders = (_UNSTORED,) * len(attachments)
                self.bot.deps.resolver.edit(uuid.uuid4(), params, placeholders, (64, 64))
            except self.bot.deps.resolve_errors as exc:
                raise InvalidPrompt(sentence(str(exc))) from None
            if not await defer_public(interaction):  # reading the files may take a while
                return
            refs = []
            for attachment in attachments:  # the safe intake: decoded, limited, re-encoded
                data = await attachment.read()
                refs.append(ImageRef(sha256=await self.bot.deps.images.store_upload(data)))
            size = await self._size(refs[0])
            queued, notes = await admit_edit(
                self.bot.intake,
                self.bot.deps.resolver,
                who,
                params,
                tuple(refs),
                size,
            )
            await post_queued(self.bot, interaction, (queued,))
            if notes:
                await interaction.followup.send("\n".join(notes)[:2000], ephemeral=True)

    async def _size(self, ref: ImageRef) -> tuple[int, int]:
        """The stored (checked, re-encoded) image's size: it frames the result."""
        assert ref.sha256 is not None
        data = await self.bot.deps.images.read(reference_key(ref.sha256))
        with Image.open(io.BytesIO(data)) as image:  # the header only
            return image.size


async def setup(bot: NankeBot) -> None:
    await bot.add_cog(Edit(bot))
