"""Edits submitted on the web editor, posted in Discord: the bot polls the links' table (once a
second), admits each submission through intake (bot/services/editor.py) and posts the new
job's status message in the channel where Draw the region… was pressed; delivery then edits
or follows it with the result and its buttons, as for any job whose token has lapsed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from bot.interactions import waiting_text
from bot.services.delivery import CannotPost, Outgoing, cancel_button
from bot.services.editor import Admitted

if TYPE_CHECKING:
    from bot.app import NankeBot

log = logging.getLogger(__name__)
POLL_S = 1.0


async def admit_submitted(bot: NankeBot) -> list[Admitted]:
    """One pass: every submitted edit admitted (or refused), shown and handed to the workers."""
    editor = bot.editor
    assert editor is not None
    admitted = await editor.admit_submitted()
    for item in admitted:
        if item.queued is None:
            continue  # refused: the page shows the message; nothing was charged
        job = item.queued.job
        try:
            if not item.queued.replayed:
                out = Outgoing(waiting_text(item.queued), (), (cancel_button(job.id),))
                message_id = await bot.poster.send_channel(item.request.channel_id, out, job.id)
                await bot.deps.store.set_placeholder(job.id, message_id)
        except CannotPost:
            log.warning("edit %s: cannot post in channel %s", job.id, item.request.channel_id)
        finally:
            await editor.release(item.queued)
            await editor.settle(item)
    return admitted


async def run_forever(bot: NankeBot, stopping: asyncio.Event) -> None:
    assert bot.editor is not None
    try:
        if resumed := await bot.editor.resume():
            log.info("resuming %d web editor submissions left part-way", resumed)
    except Exception:
        log.exception("resuming web editor submissions failed")
    while not stopping.is_set():
        try:
            await admit_submitted(bot)
        except Exception:  # the database restarted, say: try again next turn
            log.exception("admitting web editor submissions failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), POLL_S)
