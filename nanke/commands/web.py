"""`nanke web`: serve the community galleries (read-only) with uvicorn (`nanke.roots.web`
builds the app)."""

from __future__ import annotations

import click


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--root-path",
    default="",
    help="Path prefix when a reverse proxy serves the gallery under a sub-path (e.g. /gallery).",
)
@click.option(
    "--forwarded-allow-ips",
    default="127.0.0.1",
    show_default=True,
    help="Proxies trusted for X-Forwarded-For/-Proto ('*' trusts every peer).",
)
@click.option("--page-size", default=48, show_default=True, type=click.IntRange(1, 100))
def command(host: str, port: int, root_path: str, forwarded_allow_ips: str, page_size: int) -> None:
    """Serve the public community galleries on the web (read-only, works without JavaScript).

    Reads the database at NANKE_DATABASE_URL and the images in the configured storage.
    """
    import uvicorn

    from nanke.commands._database import database_errors
    from nanke.roots.web import build_web_app, probe_database
    from nanke.settings import SettingsError, load_settings
    from pipeline.storage import StorageError

    try:
        settings = load_settings()
        app = build_web_app(settings, page_size=page_size)
        with database_errors(settings):  # unreachable or unmigrated: one line, not HTTP 500s
            probe_database(settings)
    except (SettingsError, StorageError) as exc:
        raise click.ClickException(str(exc)) from exc
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        root_path=root_path.rstrip("/"),
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips,
        log_level=settings.log_level.lower(),
        server_header=False,
    )
    uvicorn.Server(config).run()
