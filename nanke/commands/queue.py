"""`nanke queue stats`: the queue per model (waiting, running, oldest wait), the live workers
and model loads per hour — what to watch when scaling (docs/pipeline.md)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import click


@click.group(name="queue", help="Look at the job queue.")
def command() -> None:
    pass


@command.command(name="stats")
@click.option("--prometheus", is_flag=True, help="Print Prometheus text format instead of a table.")
def stats(prometheus: bool) -> None:
    """Per model: jobs waiting (fast, relax), running, the oldest wait, live workers serving it
    and holding it loaded; then each live worker and model loads per hour."""
    from nanke.commands._database import database_errors
    from nanke.database import open_engine
    from nanke.settings import load_settings

    settings = load_settings()

    async def run() -> str:
        from db.queue_stats import queue_stats
        from db.sessions import session_factory
        from pipeline.metrics import render_prometheus, render_table

        async with open_engine(settings) as engine, session_factory(engine)() as session:
            found = await queue_stats(session, datetime.now(UTC))
        return render_prometheus(found) if prometheus else render_table(found)

    with database_errors(settings):
        click.echo(asyncio.run(run()))
