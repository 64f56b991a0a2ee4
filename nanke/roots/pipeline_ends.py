"""What the bot's root needs from either pipeline (Celery + Redis, or the one-box thread)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class PipelineEnds:
    """The bot's ends of the job pipeline: where jobs go, where events go and come from."""

    dispatcher: Any
    publisher: Any
    reader: Any
    broker_task_ids: Callable[[], set[str]] | None
