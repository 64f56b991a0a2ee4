"""`nanke run`: the bot and one embedded worker in one process, for a single box."""

from __future__ import annotations

import click

from nanke.commands.bot import start


@click.command(name="run")
@click.option("--log-level", default=None, help="DEBUG, INFO, WARNING or ERROR.")
def command(log_level: str | None) -> None:
    """Run the Discord bot with an embedded worker: one process, no Redis or Celery needed.

    Uses NANKE_DATABASE_URL (default: a SQLite file in NANKE_DATA_DIR; run `nanke migrate`
    first) and the models of NANKE_MODELS_FILE. Needs NANKE_DISCORD__TOKEN.
    """
    start(log_level, one_box=True)
