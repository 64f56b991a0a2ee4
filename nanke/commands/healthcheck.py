"""`nanke healthcheck bot|worker|web`: the containers' healthchecks (exit 0 healthy, 1 not)."""

from __future__ import annotations

import click


@click.command(name="healthcheck")
@click.argument("role", type=click.Choice(["bot", "worker", "web"]))
@click.option(
    "--max-age",
    default=None,
    type=float,
    help="bot, worker: seconds the last liveness beat may be old (default 30).",
)
@click.option(
    "--url",
    default="http://127.0.0.1:8080/healthz",
    show_default=True,
    help="web: the gallery's health URL.",
)
def command(role: str, max_age: float | None, url: str) -> None:
    """Exit 0 if this container's Nanke process is healthy, 1 if not (with the reason).

    bot and worker beat a file in the temp directory while they work (nanke/health.py); web
    asks the gallery's /healthz. Meant for Docker healthchecks: run it inside the container.
    """
    if role == "web":
        import urllib.error
        import urllib.request

        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            raise click.ClickException(f"gallery answered {exc.code} at {url}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise click.ClickException(f"gallery not answering at {url}: {exc}") from None
        if status != 200:
            raise click.ClickException(f"gallery answered {status} at {url}")
        click.echo(f"web: ok ({url})")
        return

    from nanke.health import MAX_AGE_S, age

    limit = MAX_AGE_S if max_age is None else max_age
    seconds = age(role)
    if seconds is None:
        raise click.ClickException(f"{role}: no liveness beat yet (starting, or not running)")
    if seconds > limit:
        raise click.ClickException(
            f"{role}: last liveness beat {seconds:.0f} s ago (more than {limit:.0f} s)"
        )
    click.echo(f"{role}: ok (beat {seconds:.0f} s ago)")
