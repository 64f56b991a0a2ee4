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
@click.option(
    "--models",
    "-m",
    default=None,
    help="Comma-separated models this worker serves (registry names; default: every model). "
    "The scheduler gives it jobs for these only.",
)
@click.option(
    "--memory-gb",
    type=click.FloatRange(min=0.1),
    default=None,
    help="GPU memory for model weights: loaded models are evicted least recently used first "
    "when the next would not fit (default: keep every served model loaded).",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Serve the queue's Prometheus metrics at http://0.0.0.0:PORT/metrics "
    "(NANKE_METRICS_TOKEN, when set, is required as a bearer token).",
)
@click.option("--name", "-n", default=None, help="Worker name (default gpu@HOST-PID).")
def command(
    queues: str | None,
    models: str | None,
    memory_gb: float | None,
    metrics_port: int | None,
    name: str | None,
) -> None:
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
        served = [m.strip() for m in models.split(",") if m.strip()] if models else None
        update: dict[str, object] = {}
        if served:
            update["models"] = served
        if memory_gb is not None:
            update["memory_budget_gb"] = memory_gb
        if update:
            settings = settings.model_copy(
                update={"worker": settings.worker.model_copy(update=update)}
            )
        _beat_when_ready(settings.broker_url)
        code = run_worker(settings, chosen, name, metrics_port=metrics_port)
    except (SettingsError, WorkerStartError, EngineError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    raise SystemExit(code)


def _beat_when_ready(broker_url: str | None) -> None:
    """Liveness for `nanke healthcheck worker` (nanke/health.py): beat from the moment Celery
    consumes (models loaded) until it shuts down."""
    if not broker_url or not broker_url.startswith(("redis://", "rediss://")):
        return
    from celery import signals

    from nanke.health import WorkerBeat, clear

    clear("worker")
    beats: list[WorkerBeat] = []

    def ready(sender: object = None, **_: object) -> None:
        beat = WorkerBeat(broker_url, str(getattr(sender, "hostname", "worker")))
        beat.start()
        beats.append(beat)

    def shutdown(**_: object) -> None:
        for beat in beats:
            beat.stop()

    signals.worker_ready.connect(ready, weak=False)
    signals.worker_shutdown.connect(shutdown, weak=False)
