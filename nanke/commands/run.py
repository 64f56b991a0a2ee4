"""`nanke run`: the bot, one embedded worker and the web app in one process, for a single box."""

from __future__ import annotations

import click

from nanke.commands.bot import start


@click.command(name="run")
@click.option("--log-level", default=None, help="DEBUG, INFO, WARNING or ERROR.")
@click.option(
    "--web-host", default="127.0.0.1", show_default=True, help="Address the web app listens on."
)
@click.option("--web-port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--no-web", is_flag=True, help="Do not serve the web app from this process.")
def command(log_level: str | None, web_host: str, web_port: int, no_web: bool) -> None:
    """Run the Discord bot with an embedded worker and the web app (galleries and the region
    editor): one process, no Redis or Celery needed.

    Uses NANKE_DATABASE_URL (default: a SQLite file in NANKE_DATA_DIR; run `nanke migrate`
    first) and the models of NANKE_MODELS_FILE. Needs NANKE_DISCORD__TOKEN. Set
    NANKE_GALLERY_URL to the web app's public address and NANKE_EDITOR_SECRET for Draw the
    region….
    """
    start(log_level, one_box=True, web=None if no_web else (web_host, web_port))
