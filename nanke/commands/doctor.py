"""`nanke doctor`: check a deployment, one line per check; exit 1 if any failed."""

from __future__ import annotations

import os

import click


@click.command(name="doctor")
@click.option(
    "--offline",
    is_flag=True,
    help="Do not call Discord to check the token (only that one is set).",
)
@click.option(
    "--discord-api",
    default=None,
    metavar="URL",
    help="Discord's REST base (default https://discord.com/api/v10; a test fake's "
    "NANKE_SMOKE_DISCORD_URL/api/v10 when that is set).",
)
def command(offline: bool, discord_api: str | None) -> None:
    """Check this deployment with the settings the services use (env and .env):

    \b
    database  reachable and migrated to the latest revision
    broker    Redis answers (skipped on one box without NANKE_BROKER_URL)
    models    models.toml loads and every model's files (and the [upscaler] file) are there
    packs     the /pack prompt packs file in use (NANKE_PACKS_FILE, else the shipped one) loads
    gpu       CUDA devices with their memory, or "no GPU" (skipped without torch)
    discord   the bot token is accepted by Discord (GET /users/@me)
    gallery   NANKE_GALLERY_URL/healthz answers (skipped when not set)
    editor    the web app there serves the region editor and accepts links signed with
              NANKE_EDITOR_SECRET (skipped when either is not set)

    Exits 0 when nothing failed (skipped checks are fine), 1 otherwise.
    """
    from nanke.doctor import DISCORD_API, run_checks
    from nanke.settings import load_settings

    settings = load_settings()
    fake = os.environ.get("NANKE_SMOKE_DISCORD_URL")
    api = discord_api or (f"{fake.rstrip('/')}/api/v10" if fake else DISCORD_API)
    checks = run_checks(settings, api=api, offline=offline)
    for check in checks:
        click.echo(check.line())
    failed = [c.name for c in checks if c.ok is False]
    if failed:
        click.echo(f"{len(failed)} check(s) failed: {', '.join(failed)}", err=True)
        raise SystemExit(1)
