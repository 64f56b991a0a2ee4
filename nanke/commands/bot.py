"""`nanke bot`: run the Discord bot (no torch in this process)."""

from __future__ import annotations

import click


@click.command(name="bot")
@click.option("--log-level", default=None, help="DEBUG, INFO, WARNING or ERROR.")
def command(log_level: str | None) -> None:
    """Run the Discord bot: slash commands, buttons and delivery of results.

    Needs NANKE_DISCORD__TOKEN (see docs/discord.md). Jobs run on `nanke worker` processes.
    """
    from nanke.settings import SettingsError, load_settings

    overrides = {"log_level": log_level} if log_level else {}
    try:
        settings = load_settings(**overrides)
        token = settings.discord.require_token()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None

    from bot.__main__ import run
    from nanke.commands._database import database_errors

    try:
        with database_errors(settings):
            run(settings, token)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
