"""What the bot's root needs from either pipeline (Celery + Redis, or the one-box thread)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.services.ports import EventSource
from pipeline.client import JobDispatcher
from pipeline.events import EventPublisher


@dataclass
class PipelineEnds:
    """The bot's ends of the job pipeline: where jobs go, where events go and come from."""

    dispatcher: JobDispatcher
    publisher: EventPublisher
    reader: EventSource
    broker_task_ids: Callable[[], set[str]] | None
