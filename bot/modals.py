"""The boxes a button can open: Remix (edit the prompt first), Custom Zoom (factor, prompt,
--ar) and Edit… (an instruction for the edit model). All admit their job through the same
intake as the buttons, so the same checks and prices apply, and all report errors like every
other interaction (bot/reporting.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import discord

from bot.interactions import post_queued, requester
from bot.reporting import backstop, report
from bot.services.errors import InvalidPrompt
from pipeline.contracts import EditSpec, JobKind

if TYPE_CHECKING:
    from bot.app import NankeBot

ZOOM_RANGE = (1.0, 2.0)


class RemixModal(discord.ui.Modal, title="Remix"):
    prompt: discord.ui.TextInput[RemixModal] = discord.ui.TextInput(
        label="Prompt", style=discord.TextStyle.paragraph, max_length=4000, custom_id="prompt"
    )

    def __init__(
        self,
        parent_id: Any,
        kind: JobKind,
        index: int | None,
        prompt: str,
        edit: EditSpec | None = None,
    ) -> None:
        super().__init__(timeout=15 * 60)
        self.parent_id = parent_id
        self.kind = kind
        self.index = index
        self.edit = edit
        self.prompt.default = prompt[:4000]

    async def on_submit(self, interaction: discord.Interaction) -> None:
        bot = cast("NankeBot", interaction.client)
        async with backstop(interaction):
            queued = await bot.intake.follow_up(
                requester(interaction),
                self.parent_id,
                self.kind,
                self.index,
                remix_prompt=self.prompt.value,
                edit=self.edit,
            )
            await post_queued(bot, interaction, (queued,))

    async def on_error(  # type: ignore[override]
        self, interaction: discord.Interaction, error: Exception, /
    ) -> None:
        await report(interaction, error)


def parse_factor(text: str) -> float:
    """The Custom Zoom factor as typed ("1.8", "2x", "1,5"), from 1.0 to 2.0."""
    cleaned = text.strip().lower().removesuffix("x").replace(",", ".").strip()
    try:
        factor = float(cleaned)
    except ValueError:
        factor = float("nan")
    low, high = ZOOM_RANGE
    if not low <= factor <= high:  # also refuses nan and inf
        raise InvalidPrompt(
            f"The zoom factor must be a number from {low:g} to {high:g}, like 1.5 "
            "(nothing was charged)"
        )
    return factor


class CustomZoomModal(discord.ui.Modal, title="Custom Zoom"):
    factor: discord.ui.TextInput[CustomZoomModal] = discord.ui.TextInput(
        label="Zoom out (1.0 to 2.0)", max_length=8, custom_id="factor", default="2"
    )
    prompt: discord.ui.TextInput[CustomZoomModal] = discord.ui.TextInput(
        label="Prompt", style=discord.TextStyle.paragraph, max_length=4000, custom_id="prompt"
    )
    aspect: discord.ui.TextInput[CustomZoomModal] = discord.ui.TextInput(
        label="Aspect ratio (--ar), empty keeps the image's",
        max_length=11,
        required=False,
        custom_id="ar",
    )

    def __init__(self, parent_id: Any, prompt: str) -> None:
        super().__init__(timeout=15 * 60)
        self.parent_id = parent_id
        self.prompt.default = prompt[:4000]

    async def on_submit(self, interaction: discord.Interaction) -> None:
        bot = cast("NankeBot", interaction.client)
        async with backstop(interaction):
            factor = parse_factor(self.factor.value)
            text = self.prompt.value
            ratio = self.aspect.value.strip()
            if ratio:  # the prompt language validates it like any --ar
                text = f"{text} --ar {ratio}"
            queued = await bot.intake.follow_up(
                requester(interaction),
                self.parent_id,
                JobKind.ZOOM,
                1,
                remix_prompt=text,
                edit=EditSpec(factor=factor),
            )
            await post_queued(bot, interaction, (queued,))

    async def on_error(  # type: ignore[override]
        self, interaction: discord.Interaction, error: Exception, /
    ) -> None:
        await report(interaction, error)


class EditModal(discord.ui.Modal, title="Edit"):
    """Edit… under an upscaled image: what to change, applied by the server's edit model."""

    instruction: discord.ui.TextInput[EditModal] = discord.ui.TextInput(
        label="What to change",
        placeholder="make it night · add a red hat · turn it into a watercolour",
        style=discord.TextStyle.paragraph,
        max_length=1000,
        custom_id="instruction",
    )

    def __init__(self, parent_id: Any) -> None:
        super().__init__(timeout=15 * 60)
        self.parent_id = parent_id

    async def on_submit(self, interaction: discord.Interaction) -> None:
        bot = cast("NankeBot", interaction.client)
        async with backstop(interaction):
            # The instruction goes through the same parse, words and price as a remix.
            queued = await bot.intake.follow_up(
                requester(interaction),
                self.parent_id,
                JobKind.EDIT,
                1,
                remix_prompt=self.instruction.value,
            )
            await post_queued(bot, interaction, (queued,))

    async def on_error(  # type: ignore[override]
        self, interaction: discord.Interaction, error: Exception, /
    ) -> None:
        await report(interaction, error)
