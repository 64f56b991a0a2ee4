"""How every error reaches a member: an ephemeral, specific message, never a traceback.

Nanke's own errors (bot.services.errors) carry their message; anything else is logged with a
reference the member can quote, and the member never sees a traceback."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import discord
from discord import app_commands

from bot.services.errors import NankeError

log = logging.getLogger(__name__)


def message_for(error: BaseException) -> str:
    if isinstance(error, app_commands.CommandInvokeError | app_commands.TransformerError):
        inner = error.__cause__ or getattr(error, "original", None)
        if inner is not None:
            error = inner
    if isinstance(error, NankeError):
        return error.message
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Slow down: try again in {error.retry_after:.0f} s."
    if isinstance(error, app_commands.CheckFailure):
        return "You cannot use this command here."
    ref = uuid.uuid4().hex[:8]
    log.error("unexpected error (ref %s)", ref, exc_info=error)
    return f"Something went wrong on Nanke's side (ref {ref}). Please try again in a moment."


async def report(interaction: discord.Interaction, error: BaseException) -> None:
    """Tell the member what went wrong, whatever state the interaction is in."""
    text = message_for(error)
    try:
        if interaction.response.is_done():
            deferred = discord.InteractionResponseType.deferred_channel_message
            if interaction.response.type is deferred:
                # A public "thinking…" placeholder must not stay behind, and Discord makes the
                # first followup edit it (keeping it public): complete it, then delete it.
                with suppress(discord.HTTPException):
                    await interaction.edit_original_response(content="…")
                    await interaction.delete_original_response()
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.response.send_message(text, ephemeral=True)
    except discord.HTTPException:
        log.warning("could not report an error to the member", exc_info=True)


@asynccontextmanager
async def user_errors(interaction: discord.Interaction) -> AsyncIterator[None]:
    """Turn Nanke's own errors inside a command, button or modal into the member's message.

    They are expected outcomes (a bad prompt, no credits), not faults, so they stop here;
    anything else propagates to the tree's or view's error handler, which logs it."""
    try:
        yield
    except NankeError as error:
        await report(interaction, error)


@asynccontextmanager
async def backstop(interaction: discord.Interaction) -> AsyncIterator[None]:
    """Every button, select and modal callback runs inside this: whatever it raises reaches
    the member as `report` words it (ephemeral, a reference id for the unexpected), never as
    Discord's "This interaction failed" or a "thinking…" left behind; the traceback goes
    only to the log. (Slash commands get the same from the tree's error handler.)"""
    try:
        yield
    except Exception as error:
        await report(interaction, error)
