"""Starting a job from intake: publish it to the workers and tell the member where it stands
(torch-free; the bot calls this after committing the job row)."""

from __future__ import annotations

import time
import uuid

from pipeline.client import JobDispatcher
from pipeline.contracts import JobEvent, JobEventKind
from pipeline.events import EventPublisher


def enqueue(
    dispatcher: JobDispatcher, events: EventPublisher, job_id: uuid.UUID, queue: str
) -> int:
    """Publish `job_id` on `queue`; returns (and announces) how many jobs wait before it.

    If this process dies between the commit and this call, the reconciler publishes the job.
    """
    position = dispatcher.queue_depth(queue)
    dispatcher.dispatch(job_id, queue)
    events.publish(
        JobEvent(job_id=job_id, kind=JobEventKind.QUEUED, position=position, at=time.time())
    )
    return position
