"""Run the bot: `python -m bot` or `nanke bot` (`nanke run` adds an embedded worker).
The composition root of the bot process."""

from __future__ import annotations

import asyncio
import logging

from bot.app import build_bot
from bot.wiring import open_deps
from nanke.health import beat_while
from nanke.settings import Settings, load_settings


async def _main(settings: Settings, token: str, embedded: bool) -> None:
    async with open_deps(settings, embedded=embedded) as deps:
        bot = build_bot(settings, deps)
        # Liveness for `nanke healthcheck bot` (the compose healthcheck): loop alive + connected.
        beat = asyncio.create_task(
            beat_while("bot", lambda: bot.is_ready() and not bot.is_closed())
        )
        try:
            async with bot:
                await bot.start(token)
        finally:
            beat.cancel()


def run(settings: Settings, token: str, *, embedded: bool = False) -> None:
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # discord.py never logs the token, but its HTTP debug lines are noisy.
    logging.getLogger("discord.http").setLevel(logging.WARNING)
    asyncio.run(_main(settings, token, embedded))


if __name__ == "__main__":
    settings = load_settings()
    run(settings, settings.discord.require_token())
