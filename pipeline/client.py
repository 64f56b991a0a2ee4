"""The bot-side publisher: hands a job id to the GPU workers (torch-free).

It sends the task by name, so the bot never imports worker code, and uses the job id as the
Celery task id: publishing a job twice (a retry, the reconciler) is harmless because the
worker's claim on the job row decides who runs it.
"""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

from celery import Celery

from pipeline.celery_app import RUN_JOB_TASK


class JobDispatcher(Protocol):
    """What intake and the reconciler use to start a job: Celery or the embedded worker."""

    def dispatch(self, job_id: UUID, queue: str) -> None: ...

    def queue_depth(self, queue: str) -> int: ...


class CeleryJobClient:
    """Publishes jobs to the broker with `send_task`."""

    def __init__(self, app: Celery) -> None:
        self._app = app

    def dispatch(self, job_id: UUID, queue: str) -> None:
        self._app.send_task(RUN_JOB_TASK, args=[str(job_id)], task_id=str(job_id), queue=queue)

    def queue_depth(self, queue: str) -> int:
        """Messages waiting in `queue` (not those a worker holds): `queued(position)`."""
        with self._app.connection_for_write() as conn, conn.channel() as channel:
            # Not passive: kombu's Redis existence check ignores global_keyprefix, and
            # declaring a queue on Redis creates nothing.
            declared = channel.queue_declare(queue=queue, durable=True, auto_delete=False)
            return int(declared.message_count)
