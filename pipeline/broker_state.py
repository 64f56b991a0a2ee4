"""Which job ids the broker holds right now (torch-free), so the reconciler can re-publish
queued jobs the broker lost (Redis flushed, or a publish that never happened).

Knows kombu's Redis layout: each queue is a list (plus one list per priority step), and
messages a worker has taken but not acknowledged sit in the `unacked` hash.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from pipeline.celery_app import QUEUE_PREFIX

log = logging.getLogger(__name__)


def _task_id(raw: bytes | str) -> str | None:
    try:
        message = json.loads(raw)
    except ValueError:
        return None
    if isinstance(message, list):  # unacked entries are [message, exchange, routing_key]
        message = message[0] if message else {}
    headers = message.get("headers") if isinstance(message, dict) else None
    task_id = headers.get("id") if isinstance(headers, dict) else None
    return str(task_id) if task_id else None


class RedisBrokerState:
    def __init__(self, redis: Any, *, key_prefix: str = "") -> None:
        self._redis = redis  # a sync redis.Redis on the broker's database
        self._prefix = key_prefix

    def task_ids(self) -> set[str]:
        ids: set[str] = set()
        for key in self._redis.scan_iter(match=f"{self._prefix}{QUEUE_PREFIX}*", count=1000):
            if self._redis.type(key) in (b"list", "list"):
                ids.update(filter(None, map(_task_id, self._redis.lrange(key, 0, -1))))
        unacked = self._redis.hvals(f"{self._prefix}unacked")
        ids.update(filter(None, map(_task_id, unacked)))
        return ids
