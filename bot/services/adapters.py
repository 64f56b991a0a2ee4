"""The bot's ports (bot.services.ports) implemented on the job pipeline: storage read off the
event loop, and enqueueing on a model family's queue. The Postgres store is `sql_store`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from bot.services.errors import InvalidPrompt
from bot.services.ports import JobView
from pipeline.celery_app import queue_name
from pipeline.contracts import JobKind
from pipeline.enqueue import enqueue
from pipeline.image_intake import ImageRefused, store_bytes
from pipeline.train_contract import TRAIN_QUEUE


class StorageImages:
    """The pipeline's storage, read off the event loop."""

    def __init__(self, storage: Any) -> None:
        self._storage = storage

    async def read(self, key: str) -> bytes:
        data: bytes = await asyncio.to_thread(self._storage.get, key)
        return data

    async def delete(self, key: str) -> None:
        """Remove one stored object (a deleted member's LoRA)."""
        await asyncio.to_thread(self._storage.delete_prefix, key)

    async def store_upload(self, data: bytes) -> str:
        try:  # decoding and re-encoding: off the event loop
            stored = await asyncio.to_thread(store_bytes, self._storage, data)
        except ImageRefused as exc:
            raise InvalidPrompt(f"{exc} Nothing was charged.") from None
        return stored.sha256


class PipelineEnqueuer:
    """Publishes a job to its model family's queue (relax queue when admitted uncharged) and
    announces its place in line, as the pipeline's `enqueue` does."""

    def __init__(self, dispatcher: Any, events: Any, family_of: Callable[[str], str]) -> None:
        self._dispatcher = dispatcher
        self._events = events
        self._family_of = family_of

    async def enqueue(self, job: JobView) -> None:
        queue = queue_name(self._family_of(job.spec.generation.model), relax=job.relaxed)
        if job.kind is JobKind.TRAIN:  # training runs have their own queue (docs/training.md)
            queue = TRAIN_QUEUE
        await asyncio.to_thread(enqueue, self._dispatcher, self._events, job.id, queue)
