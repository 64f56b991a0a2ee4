"""/imagine: validate, defer, admit, show the queue position; autocomplete for flags."""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.interactions import check_can_post, defer_public, requester, submit_requests
from bot.reporting import user_errors
from bot.services.errors import InvalidPrompt
from bot.services.from_image import check_upload_size
from bot.services.image_uploads import alias_notes, check_image_size
from prompt.request import ImageRef

if TYPE_CHECKING:
    from bot.app import NankeBot

log = logging.getLogger(__name__)


class Imagine(commands.Cog):
    def __init__(self, bot: NankeBot) -> None:
        self.bot = bot

    @app_commands.command(name="imagine", description="Create four images from a prompt")
    @app_commands.describe(
        prompt="What to paint, then flags such as --ar 16:9 --sampler euler_a",
        png="Or an A1111/Civitai image (PNG, JPEG, WebP): repaint it from its parameters",
        image="An image prompt (PNG, JPEG, WebP, GIF; --iw sets its weight)",
        image2="A second image prompt",
        image3="A third image prompt",
        image4="A fourth image prompt",
        image5="A fifth image prompt",
        control="The image for --cn canny|depth|lineart in the prompt (ControlNet)",
    )
    @app_commands.guild_only()
    async def imagine(
        self,
        interaction: discord.Interaction,
        prompt: str | None = None,
        png: discord.Attachment | None = None,
        image: discord.Attachment | None = None,
        image2: discord.Attachment | None = None,
        image3: discord.Attachment | None = None,
        image4: discord.Attachment | None = None,
        image5: discord.Attachment | None = None,
        control: discord.Attachment | None = None,
    ) -> None:
        # long: the two ways in (a prompt with image prompts, or an A1111 image), each checked
        who = requester(interaction)
        attachments = [a for a in (image, image2, image3, image4, image5) if a is not None]
        async with user_errors(interaction):
            # Parsing and the guild's rules come first: a rejection is ephemeral and free.
            check_can_post(interaction)
            notes: list[str] = []
            if png is None:
                if not prompt:
                    raise InvalidPrompt(
                        "Give a prompt, or attach an A1111 image as `png` (nothing was charged)."
                    )
                text = prompt
                if not attachments and control is None:
                    requests = await self.bot.intake.validate(who, text)
                    if not await defer_public(interaction):
                        return
                else:
                    files = [*attachments, *([control] if control else [])]
                    for attachment in files:  # by announced size, before downloading
                        check_image_size(attachment.filename, attachment.size)
                    if not await defer_public(interaction):  # reading the files may take a while
                        return
                    refs = [await self._stored(attachment) for attachment in attachments]
                    cn = await self._stored(control) if control is not None else None
                    requests = await self.bot.intake.validate(who, text, tuple(refs), cn)
                notes += alias_notes(text)
            else:
                if attachments or control is not None:
                    raise InvalidPrompt(
                        "Give image prompts with a text prompt, not with `png` (nothing was "
                        "charged)."
                    )
                if prompt:
                    raise InvalidPrompt(
                        "Give a prompt or a `png` image, not both (the image's parameters are "
                        "its prompt; Remix the result to change it). Nothing was charged."
                    )
                check_upload_size(png.size)  # before downloading anything
                if not await defer_public(interaction):  # reading the file may take a while
                    return
                data = await png.read()
                read = functools.partial(self.bot.deps.resolver.prompt_from_image, data)
                text, notes = await asyncio.to_thread(read)  # decoding: off the event loop
                requests = await self.bot.intake.validate(who, text)
                notes.append(f"From the image's parameters: `{text[:1500]}`")
            await submit_requests(self.bot, interaction, who, requests, text, notes)

    async def _stored(self, attachment: discord.Attachment) -> ImageRef:
        """An attachment through the safe intake into storage (decoded off the event loop)."""
        data = await attachment.read()
        return ImageRef(sha256=await self.bot.deps.images.store_upload(data))

    @imagine.autocomplete("prompt")
    async def prompt_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return [
            app_commands.Choice(name=c.name, value=c.value)
            for c in self.bot.catalog.suggest(current)
        ]


async def setup(bot: NankeBot) -> None:
    await bot.add_cog(Imagine(bot))
