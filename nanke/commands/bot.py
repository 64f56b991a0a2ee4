"""`nanke bot`: run the Discord bot (no torch in this process). `nanke run` shares `start`."""

from __future__ import annotations

import click


def start(log_level: str | None, *, one_box: bool, web: tuple[str, int] | None = None) -> None:
    """Load settings, check the token, run the bot; every expected failure is one line."""
    from nanke.settings import SettingsError, load_settings, require_token

    overrides = {"log_level": log_level} if log_level else {}
    try:
        settings = load_settings(**overrides)
        token = require_token(settings.discord)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None

    from nanke.commands._database import database_errors
    from nanke.roots.bot import run_bot

    try:
        with database_errors(settings):
            run_bot(settings, token, one_box=one_box, web=web)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


@click.command(name="bot")
@click.option("--log-level", default=None, help="DEBUG, INFO, WARNING or ERROR.")
def command(log_level: str | None) -> None:
    """Run the Discord bot: slash commands, buttons and delivery of results.

    Needs NANKE_DISCORD__TOKEN (see docs/discord.md). Jobs run on `nanke worker` processes.
    """
    start(log_level, one_box=False)
