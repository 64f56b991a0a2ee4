"""The Celery app for GPU jobs, built on demand from settings (torch-free; nothing at import).

Queues: one per model family (`nanke.<family>`), plus a relax queue per family
(`nanke.<family>.relax`) for jobs that may wait. A worker consumes its queues in the order
given, fast ones first: with kombu's Redis transport and `queue_order_strategy="priority"`,
each fetch is a single `BRPOP fast… relax…` and Redis pops from the first non-empty list, so a
relax job only runs when no fast job is waiting (never preempting one already running).

Results live in Postgres, not Celery: no result backend, the task id is the job id.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from celery import Celery

from pipeline.settings import PipelineSettings

APP_NAME = "nanke"
# The bot publishes by this name and never imports the task's code.
RUN_JOB_TASK = "nanke.run_job"
QUEUE_PREFIX = "nanke."
RELAX_SUFFIX = ".relax"
DEFAULT_FAMILY = "sd15"


def queue_name(family: str, *, relax: bool = False) -> str:
    """The queue for one model family, e.g. `nanke.sdxl` or `nanke.sdxl.relax`."""
    if not family or not all(c.isalnum() or c in "_-" for c in family):
        raise ValueError(f"invalid model family {family!r}: use letters, digits, '_' or '-'")
    return f"{QUEUE_PREFIX}{family}{RELAX_SUFFIX if relax else ''}"


def worker_queues(families: Iterable[str]) -> list[str]:
    """Every family's fast queue, then every relax queue: the order a worker serves them."""
    names = list(dict.fromkeys(families))
    return [queue_name(f) for f in names] + [queue_name(f, relax=True) for f in names]


def transport_options(pipeline: PipelineSettings, *, key_prefix: str = "") -> dict[str, Any]:
    options: dict[str, Any] = {
        # Redis re-delivers an unacked message after this; it must outlast the longest job.
        "visibility_timeout": pipeline.visibility_timeout_s,
        # Keep the -Q order on every fetch (default round-robin would rotate relax first).
        "queue_order_strategy": "priority",
        # Sweep for messages whose worker vanished every few seconds, not every 100 s.
        "unacked_restore_throttle": 1,
        "unacked_restore_interval": min(10.0, max(1.0, pipeline.visibility_timeout_s / 2)),
    }
    if key_prefix:
        options["global_keyprefix"] = key_prefix
    return options


def build_celery_app(
    broker_url: str, pipeline: PipelineSettings, *, key_prefix: str = ""
) -> Celery:
    """A Celery app configured for long GPU jobs. `key_prefix` namespaces every Redis key
    (tests; several deployments on one Redis)."""
    app = Celery(APP_NAME, broker=broker_url, set_as_current=False)
    app.conf.update(
        # Ack after the task returns, so a worker that dies mid-job leaves the message for
        # another; a lost pool child requeues instead of acking.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # One job at a time per worker (and per GPU); never hoard queued jobs.
        worker_prefetch_multiplier=1,
        worker_concurrency=1,
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        event_serializer="json",
        # Postgres holds results and state.
        result_backend=None,
        task_ignore_result=True,
        task_store_errors_even_if_ignored=False,
        task_default_queue=queue_name(DEFAULT_FAMILY),
        task_create_missing_queues=True,
        broker_transport_options=transport_options(pipeline, key_prefix=key_prefix),
        broker_connection_retry_on_startup=True,
        # A running job must not be dropped when the broker connection blips: the job's
        # lease, not the connection, decides who owns it.
        worker_cancel_long_running_tasks_on_connection_loss=False,
        worker_hijack_root_logger=False,
        enable_utc=True,
    )
    return app
