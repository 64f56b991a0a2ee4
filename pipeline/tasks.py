"""The Celery task: registered by name on a worker's app, never imported by the bot.

A delivery the worker could not claim because the database was unreachable is not acked: it
goes back to the head of its queue (after a pause that grows while the outage lasts), so the
job runs as soon as the database answers again instead of waiting for the reconciler."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from celery import Celery
from celery.exceptions import Reject

from pipeline.celery_app import RUN_JOB_TASK
from pipeline.client import CeleryJobClient
from pipeline.errors import StoreUnavailable
from pipeline.runner import JobRunner, Outcome

log = logging.getLogger(__name__)
# Pause before handing back a delivery the database outage kept us from claiming.
BACKOFF_S = (0.5, 1.0, 2.0, 5.0, 10.0)


def register_tasks(app: Celery, runner: JobRunner) -> Callable[..., Any]:
    client = CeleryJobClient(app)
    outage = [0]  # consecutive deliveries handed back because the database was unreachable

    @app.task(name=RUN_JOB_TASK, bind=True, acks_late=True, reject_on_worker_lost=True)
    def run_job(self: Any, job_id: str) -> str:
        try:
            job = uuid.UUID(job_id)
        except (TypeError, ValueError):
            log.error("dropping a task with an invalid job id %r", job_id)
            return "invalid"
        queue = (self.request.delivery_info or {}).get("routing_key") or app.conf.task_default_queue
        try:
            outcome: Outcome = runner.run(job, requeue=lambda j: client.dispatch(j, queue))
        except StoreUnavailable as exc:
            pause = BACKOFF_S[min(outage[0], len(BACKOFF_S) - 1)]
            outage[0] += 1
            log.warning("job %s: could not claim (%s); handed back in %.1f s", job, exc, pause)
            time.sleep(pause)
            raise Reject(str(exc), requeue=True) from None
        outage[0] = 0
        return outcome.value

    return run_job
