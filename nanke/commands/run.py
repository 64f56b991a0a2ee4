"""`nanke run`: the bot and one embedded worker in one process, for a single box."""

from __future__ import annotations

import click


@click.command(name="run")
@click.option("--log-level", default=None, help="DEBUG, INFO, WARNING or ERROR.")
def command(log_level: str | None) -> None:
    """Run the Discord bot with an embedded worker: one process, no Redis or Celery needed.

    Uses NANKE_DATABASE_URL (default: a SQLite file in NANKE_DATA_DIR; run `nanke migrate`
    first) and the models of NANKE_MODELS_FILE. Needs NANKE_DISCORD__TOKEN.
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
            run(settings, token, embedded=True)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
