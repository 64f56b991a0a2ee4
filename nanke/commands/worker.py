"""`nanke worker`: one Celery GPU worker (one engine thread), warmed up before its first job."""

from __future__ import annotations

import logging

import click


@click.command(name="worker")
@click.option(
    "--queues",
    "-Q",
    default=None,
    help="Comma-separated queues in the order to serve them (default: every model family's "
    "fast queue, then the relax queues), e.g. nanke.sdxl,nanke.sdxl.relax.",
)
@click.option("--name", "-n", default=None, help="Worker name (default gpu@HOST-PID).")
def command(queues: str | None, name: str | None) -> None:
    """Run a GPU worker: claims jobs, runs the engine, stores images, reports events."""
    from inference.errors import EngineError
    from nanke.roots.worker import WorkerStartError, run_worker
    from nanke.settings import SettingsError, load_settings

    try:
        settings = load_settings()
        logging.basicConfig(
            level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
        chosen = [q.strip() for q in queues.split(",") if q.strip()] if queues else None
        code = run_worker(settings, chosen, name)
    except (SettingsError, WorkerStartError, EngineError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    raise SystemExit(code)
