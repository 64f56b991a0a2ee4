"""The embedded default: the same JobRunner on a thread of the bot's process, fed by an
in-process queue instead of Celery (`nanke run` on a single box, no Redis needed).

Queues are served like a Celery worker serves its -Q list: every fast queue before any relax
queue, first in first out within each.
"""

from __future__ import annotations

import functools
import itertools
import logging
import queue
import threading
import uuid
from collections import Counter

from pipeline.celery_app import RELAX_SUFFIX
from pipeline.runner import JobRunner

log = logging.getLogger(__name__)

_STOP = uuid.UUID(int=0)


class InProcessDispatcher:
    """A `JobDispatcher` whose worker is a thread running `runner` one job at a time."""

    def __init__(self, runner: JobRunner, workers: int = 1) -> None:
        """`workers` > 1 runs that many jobs at once: give the runner an `EngineThread` so
        the engine stays serial while one job's storage and commit overlap the next job."""
        self._runner = runner
        self._queue: queue.PriorityQueue[tuple[int, int, uuid.UUID, str]] = queue.PriorityQueue()
        self._order = itertools.count()
        self._lock = threading.Lock()
        # Waiting or running jobs, like a broker's messages (a job may be held twice).
        self._held: Counter[tuple[uuid.UUID, str]] = Counter()
        self._threads = [
            threading.Thread(target=self._work, name=f"nanke-embedded-worker-{i}", daemon=True)
            for i in range(workers)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Finish the running jobs, then stop (queued jobs stay queued in the database)."""
        for _ in self._threads:
            self._queue.put((-1, -1, _STOP, ""))
        for thread in self._threads:
            thread.join(timeout)

    def dispatch(self, job_id: uuid.UUID, queue: str) -> None:
        with self._lock:
            self._held[(job_id, queue)] += 1
        rank = 1 if queue.endswith(RELAX_SUFFIX) else 0
        self._queue.put((rank, next(self._order), job_id, queue))

    def queue_depth(self, queue: str) -> int:
        with self._lock:
            return sum(n for (_, q), n in self._held.items() if q == queue)

    def task_ids(self) -> set[str]:
        with self._lock:
            return {str(job_id) for job_id, _ in +self._held}

    def _redispatch(self, queue: str, job_id: uuid.UUID) -> None:
        self.dispatch(job_id, queue)

    def _work(self) -> None:
        while True:
            _, _, job_id, name = self._queue.get()
            if job_id == _STOP:
                return
            try:
                self._runner.run(job_id, requeue=functools.partial(self._redispatch, name))
            except Exception:  # the job stays in the database; the reconciler retries it
                log.exception("embedded worker: job %s crashed the runner", job_id)
            finally:
                with self._lock:
                    self._held[(job_id, name)] -= 1
                    self._held = +self._held  # drop zero counts
