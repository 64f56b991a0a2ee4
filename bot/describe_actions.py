"""/describe's number buttons: the prompt in a prefilled box, then /imagine.

A press is authorized against the describe job's server and author like every job button
(bot/services/access.py), and the box's text is admitted exactly as a typed /imagine: the
channel's permissions, the prompt language, the server's rules and banned words (and the
describe job's server's), credits and caps (bot/interactions.py `submit_requests`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast
from uuid import UUID

import discord

from bot.interactions import check_can_post, requester, submit_requests
from bot.reporting import backstop, report
from bot.services.custom_ids import ButtonId
from bot.services.errors import JobNotFound
from pipeline.contracts import JobKind

if TYPE_CHECKING:
    from bot.app import NankeBot

MAX_PROMPT = 4000  # a modal's text box


class ImagineModal(discord.ui.Modal, title="Imagine this"):
    prompt: discord.ui.TextInput[ImagineModal] = discord.ui.TextInput(
        label="Prompt", style=discord.TextStyle.paragraph, max_length=MAX_PROMPT, custom_id="prompt"
    )

    def __init__(self, job_id: UUID, prompt: str) -> None:
        super().__init__(timeout=15 * 60)
        self.job_id = job_id
        self.prompt.default = prompt[:MAX_PROMPT]

    async def on_submit(self, interaction: discord.Interaction) -> None:
        bot = cast("NankeBot", interaction.client)
        async with backstop(interaction):
            who = requester(interaction)
            check_can_post(interaction)
            # Still theirs to run (a ban or /admin forbid since the box opened stops it).
            job, _ = await bot.intake.job_for_presser(self.job_id, who)
            text = self.prompt.value
            requests = await bot.intake.validate(who, text)
            await bot.intake.check_words(job, who, [text])  # the describe job's server too
            await interaction.response.defer(thinking=True)
            await submit_requests(bot, interaction, who, requests, text)

    async def on_error(  # type: ignore[override]
        self, interaction: discord.Interaction, error: Exception, /
    ) -> None:
        await report(interaction, error)


async def press_describe(
    bot: NankeBot, interaction: discord.Interaction, pressed: ButtonId
) -> None:
    """Number n under a describe result: its n-th prompt, in a box to run (or edit first)."""
    job, _ = await bot.intake.job_for_presser(pressed.job_id, requester(interaction))
    prompts = job.result.prompts if job.result is not None else ()
    if job.kind is not JobKind.DESCRIBE or not 1 <= pressed.n <= len(prompts):
        raise JobNotFound("That describe result has no such prompt; run /describe again.")
    await interaction.response.send_modal(ImagineModal(job.id, prompts[pressed.n - 1]))
