"""What ▶ Start training does (the button under /train's summary), beside the other buttons."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import discord

from bot.interactions import post_queued, requester
from bot.services.errors import NankeError
from bot.services.training import TrainingService

if TYPE_CHECKING:
    from bot.app import NankeBot


class TrainingOff(NankeError):
    pass


def training_service(bot: NankeBot) -> TrainingService:
    if bot.training is None:
        raise TrainingOff("Training LoRAs is not set up on this Nanke (no `loras` table).")
    return bot.training


async def press_train(bot: NankeBot, interaction: discord.Interaction, token: uuid.UUID) -> None:
    """▶ Start training: the held price and the job; the summary message becomes the job's."""
    who = requester(interaction)
    service = training_service(bot)
    service.check_pending(token, who)  # before acknowledging: a refusal is private
    await interaction.response.defer()
    queued = await service.begin(token, who)
    await post_queued(bot, interaction, (queued,))
