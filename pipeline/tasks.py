"""The Celery task: registered by name on a worker's app, never imported by the bot."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from celery import Celery

from pipeline.celery_app import RUN_JOB_TASK
from pipeline.client import CeleryJobClient
from pipeline.runner import JobRunner, Outcome

log = logging.getLogger(__name__)


def register_tasks(app: Celery, runner: JobRunner) -> Callable[..., Any]:
    client = CeleryJobClient(app)

    @app.task(name=RUN_JOB_TASK, bind=True, acks_late=True, reject_on_worker_lost=True)
    def run_job(self: Any, job_id: str) -> str:
        try:
            job = uuid.UUID(job_id)
        except (TypeError, ValueError):
            log.error("dropping a task with an invalid job id %r", job_id)
            return "invalid"
        queue = (self.request.delivery_info or {}).get("routing_key") or app.conf.task_default_queue
        outcome: Outcome = runner.run(job, requeue=lambda j: client.dispatch(j, queue))
        return outcome.value

    return run_job
