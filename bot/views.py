"""The bot's buttons: DynamicItems whose custom_id carries what they act on, so they work after
a restart with no stored view state, and the views that hold them.

Job buttons (`nk:…`, bot.services.custom_ids) only render here: the buttons extension sets
`press_job_button` on the bot and handles presses. ❤️ (`nkg:like:<entry>`) toggles a like.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

import discord

from bot.reporting import backstop
from bot.services import custom_ids
from bot.services.custom_ids import ButtonId
from bot.services.delivery import Button
from bot.services.errors import GalleryError
from bot.services.gallery_feed import GalleryFeed

if TYPE_CHECKING:
    from bot.app import NankeBot

PressHandler = Callable[[discord.Interaction, ButtonId], Awaitable[None]]
RegionHandler = Callable[[discord.Interaction, UUID, str], Awaitable[None]]
LIKE_PATTERN = r"nkg:like:(?P<entry>[0-9a-f]{32})"

_STYLES = {
    "primary": discord.ButtonStyle.primary,
    "secondary": discord.ButtonStyle.secondary,
    "danger": discord.ButtonStyle.danger,
}


def build_view(buttons: tuple[Button, ...]) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for spec in buttons:
        if spec.url:
            view.add_item(
                discord.ui.Button(label=spec.label, url=spec.url, emoji=spec.emoji, row=spec.row)
            )
        elif spec.options:
            assert spec.custom_id is not None
            view.add_item(RegionMenu.from_spec(spec))
        else:
            assert spec.custom_id is not None
            view.add_item(JobButton.from_spec(spec))
    return view


class JobButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=custom_ids.PATTERN):
    def __init__(
        self,
        button_id: ButtonId,
        *,
        label: str = "",
        emoji: str | None = None,
        style: str = "secondary",
        row: int | None = None,
    ) -> None:
        super().__init__(
            discord.ui.Button(
                label=label or None,
                emoji=emoji,
                style=_STYLES.get(style, discord.ButtonStyle.secondary),
                custom_id=button_id.encode(),
                row=row,
            )
        )
        self.button_id = button_id

    @classmethod
    def from_spec(cls, spec: Button) -> JobButton:
        assert spec.custom_id is not None
        return cls(
            custom_ids.decode(spec.custom_id),
            label=spec.label,
            emoji=spec.emoji,
            style=spec.style,
            row=spec.row,
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> JobButton:
        return cls(custom_ids.decode(match.string))

    async def callback(self, interaction: discord.Interaction) -> None:
        # What a press does is the buttons extension's (it sets the bot's handler in setup()):
        # a view never imports a cog.
        async with backstop(interaction):
            press: PressHandler | None = getattr(interaction.client, "press_job_button", None)
            if press is None:
                raise RuntimeError("the buttons extension is not loaded")
            await press(interaction, self.button_id)


class RegionMenu(
    discord.ui.DynamicItem[discord.ui.Select[Any]], template=custom_ids.REGION_PATTERN
):
    """Vary (Region)'s preset regions under an upscaled image (`nkr:<job>`); the chosen
    region arrives as the value, which the buttons extension validates."""

    def __init__(
        self,
        job_id: UUID,
        *,
        placeholder: str = "Vary (Region)…",
        options: tuple[tuple[str, str], ...] = (),
        row: int | None = None,
    ) -> None:
        super().__init__(
            discord.ui.Select(
                custom_id=custom_ids.region_menu_id(job_id),
                placeholder=placeholder,
                options=[discord.SelectOption(label=label, value=v) for v, label in options]
                or [discord.SelectOption(label="region", value="region")],
                row=row,
            )
        )
        self.job_id = job_id

    @classmethod
    def from_spec(cls, spec: Button) -> RegionMenu:
        assert spec.custom_id is not None
        match = re.fullmatch(custom_ids.REGION_PATTERN, spec.custom_id)
        assert match is not None
        return cls(
            UUID(hex=match["job"]), placeholder=spec.label, options=spec.options, row=spec.row
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> RegionMenu:
        return cls(UUID(hex=match["job"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        async with backstop(interaction):
            choose: RegionHandler | None = getattr(interaction.client, "choose_region", None)
            if choose is None:
                raise RuntimeError("the buttons extension is not loaded")
            values = cast("dict[str, Any]", interaction.data or {}).get("values") or [""]
            await choose(interaction, self.job_id, str(values[0]))


def feed_of(bot: NankeBot) -> GalleryFeed:
    feed = bot.deps.gallery
    if feed is None:
        raise GalleryError("The gallery is not set up on this Nanke: ask its operator.")
    return feed


class LikeButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=LIKE_PATTERN):
    def __init__(self, entry_id: UUID, likes: int = 0) -> None:
        super().__init__(
            discord.ui.Button(
                label=str(likes),
                emoji="❤️",
                style=discord.ButtonStyle.secondary,
                custom_id=f"nkg:like:{entry_id.hex}",
            )
        )
        self.entry_id = entry_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: Any,
    ) -> LikeButton:
        return cls(UUID(hex=match["entry"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        bot = cast("NankeBot", interaction.client)
        async with backstop(interaction):
            result = await feed_of(bot).toggle_like(self.entry_id, interaction.user.id)
            if result is None:
                raise GalleryError("This image was removed from the gallery.")
            await interaction.response.edit_message(view=like_view(self.entry_id, result.likes))


def like_view(entry_id: UUID, likes: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(LikeButton(entry_id, likes))
    return view
