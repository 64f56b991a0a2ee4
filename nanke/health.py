"""Liveness for container healthchecks (docker-compose.yml, docs/deploy.md).

`nanke bot` and `nanke worker` touch a file in the temp directory while they are healthy;
`nanke healthcheck bot|worker` passes while that file is fresh. What "healthy" means:

- bot: its event loop runs and it is connected to Discord (ready, not closed);
- worker: its models are loaded, Celery is consuming, and its broker (Redis) answers. The
  worker also leaves `nanke:worker:<name>` in Redis with a short expiry, for tools that list
  live workers. A job running in the solo pool does not stop the beat (it runs on a thread).

Torch-free and cheap: the healthcheck runs every few seconds in each container.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

INTERVAL_S = 10.0
# Three missed beats: long enough for a slow loop or a Redis failover, short enough to show.
MAX_AGE_S = 3 * INTERVAL_S
WORKER_KEY = "nanke:worker:{name}"


def alive_file(role: str) -> Path:
    return Path(tempfile.gettempdir()) / f"nanke-{role}.alive"


def touch(role: str) -> None:
    path = alive_file(role)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(f"{time.time():.3f}\n")
    tmp.replace(path)


def clear(role: str) -> None:
    alive_file(role).unlink(missing_ok=True)


def age(role: str) -> float | None:
    """Seconds since the last beat, or None if there was none."""
    try:
        return max(0.0, time.time() - alive_file(role).stat().st_mtime)
    except FileNotFoundError:
        return None


async def beat_while(
    role: str, healthy: Callable[[], bool], interval_s: float = INTERVAL_S
) -> None:
    """Touch `role`'s file every interval while `healthy()` holds (run it as a task)."""
    clear(role)
    try:
        while True:
            try:
                if healthy():
                    await asyncio.to_thread(touch, role)
            except OSError:
                log.exception("cannot write the %s liveness file", role)
            await asyncio.sleep(interval_s)
    finally:
        clear(role)


class WorkerBeat:
    """A thread that pings the broker and beats while the worker is up."""

    def __init__(
        self, redis_url: str, name: str, interval_s: float = INTERVAL_S, client: Any = None
    ) -> None:
        self._name = name
        self._interval = interval_s
        self._client = client
        self._redis_url = redis_url
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="nanke-liveness", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        clear("worker")

    def beat_once(self) -> None:
        if self._client is None:
            import redis

            self._client = redis.Redis.from_url(
                self._redis_url, socket_timeout=5, socket_connect_timeout=5
            )
        value = json.dumps({"name": self._name, "pid": os.getpid(), "at": time.time()})
        self._client.set(WORKER_KEY.format(name=self._name), value, ex=int(self._interval * 3) + 1)
        touch("worker")

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.beat_once()
            except Exception as exc:  # the broker is down: no beat, the check turns red
                log.warning("worker liveness beat failed: %s", exc)
            self._stop.wait(self._interval)
