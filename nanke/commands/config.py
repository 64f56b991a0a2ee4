"""`nanke config env-table`: every NANKE_ variable, from `Settings`, as a markdown table."""

from __future__ import annotations

from pathlib import Path

import click


@click.group(name="config", help="Settings: the table of every NANKE_ variable.")
def command() -> None:
    pass


@command.command("env-table")
@click.option(
    "--write",
    "page",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Replace the generated table in this markdown page (between its env-table markers) "
    "instead of printing it, e.g. docs/deploy.md.",
)
def env_table(page: Path | None) -> None:
    """Print every NANKE_ variable with its default and meaning, generated from the settings
    types (sections use __, e.g. NANKE_PIPELINE__LEASE_S). Secrets show no default."""
    from nanke.env_table import TableError, markdown, write_into

    try:
        table = markdown()
        if page is None:
            click.echo(table, nl=False)
            return
        changed = write_into(page, table)
    except TableError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{page}: {'table updated' if changed else 'already up to date'}")
