"""The community gallery in Discord: ❤️ on shared images, `/gallery new|top|trending|mine`,
`/gallery search`, and `/gallery remove` for admins.

❤️ is a DynamicItem whose custom_id (`nkg:like:<entry>`) carries the entry, so it works after a
restart; pressing it again unlikes, and the count on the button follows. Listings are
ephemeral pages of four thumbnails, each with its prompt, author, likes and the `/imagine`
command that makes it again, with ◀ / ▶ to page and Open n for the full image."""

from __future__ import annotations

import asyncio
import io
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

import discord
from discord import app_commands
from discord.ext import commands

from bot.interactions import require_admin
from bot.reporting import backstop, report, user_errors
from bot.services.errors import GalleryError
from bot.services.gallery_feed import FeedItem, FeedPage, Listing
from bot.services.upload import fit_upload
from bot.views import LikeButton, feed_of
from pipeline.thumbnails import make_thumbnail

if TYPE_CHECKING:
    from bot.app import NankeBot

log = logging.getLogger(__name__)

_EMPTY = {
    Listing.MINE: "You have not shared anything here yet: press ⭐ Share under an upscale.",
    Listing.SEARCH: "No shared image matches that search.",
}


@dataclass
class Shown:
    """One listing as a member pages through it."""

    guild_id: int
    user_id: int
    listing: Listing
    query: str | None
    page: FeedPage


def _code(text: str) -> str:
    # A prompt cannot close the code block early.
    return text.replace("```", "ʼʼʼ")[:3800]


def _embed(item: FeedItem, n: int, web: str | None) -> discord.Embed:
    title = item.prompt if len(item.prompt) <= 256 else item.prompt[:255] + "…"
    embed = discord.Embed(
        title=f"{n}. {title}"[:256],
        url=f"{web}/i/{item.image_id}" if web else None,
        description=f"by <@{item.user_id}> · ❤️ {item.likes}\n```\n{_code(item.command)}\n```",
    )
    embed.set_thumbnail(url=f"attachment://{n}.webp")
    return embed


class PageView(discord.ui.View):
    def __init__(self, cog: Gallery, shown: Shown) -> None:
        super().__init__(timeout=15 * 60)
        self.cog = cog
        self.shown = shown
        page = shown.page
        previous = discord.ui.Button[PageView](label="◀", disabled=page.page == 0, row=0)
        following = discord.ui.Button[PageView](label="▶", disabled=not page.has_next, row=0)
        previous.callback = self._previous  # type: ignore[method-assign]
        following.callback = self._next  # type: ignore[method-assign]
        self.add_item(previous)
        self.add_item(following)
        for n, item in enumerate(page.items, start=1):
            button = discord.ui.Button[PageView](label=f"Open {n}", row=1)
            button.callback = self._opener(item)  # type: ignore[method-assign]
            self.add_item(button)

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        return interaction.user.id == self.shown.user_id

    async def _previous(self, interaction: discord.Interaction) -> None:
        async with backstop(interaction):
            await self.cog.turn(interaction, self.shown, self.shown.page.page - 1)

    async def _next(self, interaction: discord.Interaction) -> None:
        async with backstop(interaction):
            await self.cog.turn(interaction, self.shown, self.shown.page.page + 1)

    async def on_error(
        self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item[Any], /
    ) -> None:
        await report(interaction, error)

    def _opener(self, item: FeedItem) -> Any:
        async def open_item(interaction: discord.Interaction) -> None:
            async with backstop(interaction):
                await self.cog.open(interaction, item)

        return open_item


@app_commands.guild_only()
class Gallery(commands.GroupCog, group_name="gallery", group_description="This server's gallery"):
    def __init__(self, bot: NankeBot) -> None:
        self.bot = bot
        super().__init__()

    async def _show(
        self, interaction: discord.Interaction, listing: Listing, query: str | None = None
    ) -> None:
        async with user_errors(interaction):
            feed = feed_of(self.bot)
            assert interaction.guild_id is not None
            await interaction.response.defer(ephemeral=True, thinking=True)
            page = await feed.page(
                interaction.guild_id, listing, user_id=interaction.user.id, query=query
            )
            shown = Shown(interaction.guild_id, interaction.user.id, listing, query, page)
            await self._render(interaction, shown)

    async def turn(self, interaction: discord.Interaction, shown: Shown, number: int) -> None:
        async with user_errors(interaction):
            await interaction.response.defer()
            page = await feed_of(self.bot).page(
                shown.guild_id,
                shown.listing,
                user_id=shown.user_id,
                query=shown.query,
                page=max(number, 0),
            )
            shown = Shown(shown.guild_id, shown.user_id, shown.listing, shown.query, page)
            await self._render(interaction, shown)

    async def _render(self, interaction: discord.Interaction, shown: Shown) -> None:
        page = shown.page
        title = f"**{shown.listing.value}**" + (f" · “{shown.query}”" if shown.query else "")
        if not page.items:
            empty = _EMPTY.get(shown.listing, "Nothing has been shared here yet.")
            text = empty if page.page == 0 else "That was the last page."
            await interaction.edit_original_response(
                content=f"{title}\n{text}", embeds=[], attachments=[], view=None
            )
            return
        web = self.bot.settings.gallery_url
        web = web.rstrip("/") if web else None
        thumbs = await asyncio.gather(*(self._thumbnail(i.image_key) for i in page.items))
        files = [
            discord.File(io.BytesIO(data), filename=f"{n}.webp")
            for n, data in enumerate(thumbs, start=1)
        ]
        await interaction.edit_original_response(
            content=f"{title} · page {page.page + 1}",
            embeds=[_embed(item, n, web) for n, item in enumerate(page.items, start=1)],
            attachments=files,
            view=PageView(self, shown),
        )

    async def _thumbnail(self, key: str) -> bytes:
        png = await self.bot.deps.images.read(key)
        return await asyncio.to_thread(make_thumbnail, png, 256)

    async def open(self, interaction: discord.Interaction, item: FeedItem) -> None:
        """The full image and its command, for this member only."""
        async with user_errors(interaction):
            await interaction.response.defer(ephemeral=True, thinking=True)
            png = await self.bot.deps.images.read(item.image_key)
            upload = await asyncio.to_thread(fit_upload, png, f"nanke_{item.image_id.hex[:8]}")
            await interaction.followup.send(
                f"**{item.prompt[:1500]}** — by <@{item.user_id}> · ❤️ {item.likes}\n"
                f"Make it again (copy, then edit if you like):\n```\n{_code(item.command)}\n```",
                file=discord.File(io.BytesIO(upload.data), filename=upload.filename),
                ephemeral=True,
                allowed_mentions=discord.AllowedMentions.none(),
            )

    @app_commands.command(name="new", description="The newest shared images")
    async def new(self, interaction: discord.Interaction) -> None:
        await self._show(interaction, Listing.NEW)

    @app_commands.command(name="top", description="The most liked shared images")
    async def top(self, interaction: discord.Interaction) -> None:
        await self._show(interaction, Listing.TOP)

    @app_commands.command(name="trending", description="What is being liked right now")
    async def trending(self, interaction: discord.Interaction) -> None:
        await self._show(interaction, Listing.TRENDING)

    @app_commands.command(name="mine", description="The images you shared")
    async def mine(self, interaction: discord.Interaction) -> None:
        await self._show(interaction, Listing.MINE)

    @app_commands.command(name="search", description="Shared images whose prompt matches")
    @app_commands.describe(query='Words of the prompt; "exact phrase" and -exclusion work')
    async def search(
        self, interaction: discord.Interaction, query: app_commands.Range[str, 1, 200]
    ) -> None:
        await self._show(interaction, Listing.SEARCH, query)

    @app_commands.command(name="remove", description="Admins: take an image out of the gallery")
    @app_commands.describe(image="The image, job or entry id (from its gallery page or /info)")
    async def remove(self, interaction: discord.Interaction, image: str) -> None:
        async with user_errors(interaction):
            require_admin(self.bot, interaction)
            assert interaction.guild_id is not None
            try:
                ref = UUID(image.strip().rsplit("/", 1)[-1])
            except ValueError:
                raise GalleryError(
                    f"“{image[:40]}” is not an image id: use the id at the end of its gallery "
                    "page's address, or the job id."
                ) from None
            feed = feed_of(self.bot)
            entry_id = await feed.find(interaction.guild_id, ref)
            removed, post = (
                (False, None) if entry_id is None else await feed.remove_with_post(entry_id)
            )
            if not removed:
                raise GalleryError("No image of this server's gallery has that id.")
            await interaction.response.send_message(
                "Removed: it is gone from /gallery and from the web gallery"
                + await self._delete_post(post),
                ephemeral=True,
            )

    async def _delete_post(self, post: tuple[int, int] | None) -> str:
        """Delete the entry's gallery-channel post; the rest of the removal's message."""
        if post is None:
            return "."
        channel_id, message_id = post
        try:
            channel = self.bot.get_channel(channel_id) or await self.bot.fetch_channel(channel_id)
            if not isinstance(channel, discord.abc.Messageable):
                raise TypeError("not a text channel")
            await channel.get_partial_message(message_id).delete()
        except discord.NotFound:
            return " (its post in the gallery channel was already deleted)."
        except (discord.HTTPException, TypeError):
            log.warning(
                "could not delete gallery post %s/%s", channel_id, message_id, exc_info=True
            )
            return (
                f", but its post in <#{channel_id}> could not be deleted (Nanke lacks Manage "
                "Messages there?): delete it by hand."
            )
        return f", and its post in <#{channel_id}> was deleted."


async def setup(bot: NankeBot) -> None:
    bot.add_dynamic_items(LikeButton)
    await bot.add_cog(Gallery(bot))
