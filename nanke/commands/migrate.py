"""`nanke migrate`: upgrade the database to the latest schema (a deploy step)."""

from __future__ import annotations

import asyncio

import click


@click.command(
    help="Upgrade the database (NANKE_DATABASE_URL, or the SQLite file) to the latest schema."
)
@click.option("--revision", default="head", show_default=True, help="Alembic revision to reach.")
def command(revision: str) -> None:
    from nanke.commands._database import database_errors
    from nanke.database import open_engine, safe_url
    from nanke.settings import load_settings

    settings = load_settings()

    async def run() -> str | None:
        from db.migrate import current_revision, upgrade

        async with open_engine(settings) as engine:
            await upgrade(engine, revision)
            return await current_revision(engine)

    with database_errors(settings):
        reached = asyncio.run(run())
    click.echo(f"{safe_url(settings.effective_database_url)} is at revision {reached}")
