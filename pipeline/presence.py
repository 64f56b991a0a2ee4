"""A worker's heartbeat row in Postgres (#18): which models it serves and has loaded, beaten
every few seconds from a thread, removed when it stops. The bot reads these rows to fail jobs
no live worker can run; `nanke queue stats` and /metrics show them."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db import workers

log = logging.getLogger(__name__)


class WorkerPresence:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        run: Callable[[Coroutine[Any, Any, Any]], Any],
        name: str,
        serves: list[str],
        loaded: Callable[[], list[str]],
        loads: Callable[[], int],
        *,
        every_s: float,
        memory_budget_mb: int | None = None,
    ) -> None:
        self._sessions, self._run, self.name = sessions, run, name
        self._serves, self._loaded, self._loads = serves, loaded, loads
        self._every, self._budget = every_s, memory_budget_mb
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="nanke-presence", daemon=True)

    def beat(self) -> None:
        async def go() -> None:
            async with self._sessions.begin() as session:
                await workers.beat(
                    session,
                    self.name,
                    self._serves,
                    self._loaded(),
                    datetime.now(UTC),
                    memory_budget_mb=self._budget,
                    loads=self._loads(),
                )

        self._run(go())

    def start(self) -> None:
        try:
            self.beat()
        except Exception:  # the database was just probed: a blip; the thread beats again
            log.warning("worker %s: first heartbeat row not written", self.name, exc_info=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self._every + 5)

        async def go() -> None:
            async with self._sessions.begin() as session:
                await workers.leave(session, self.name)

        try:
            self._run(go())
        except Exception:  # its row goes stale and stops counting as live
            log.warning("could not remove worker %s's heartbeat row", self.name)

    def _loop(self) -> None:
        while not self._stop.wait(self._every):
            try:
                self.beat()
            except Exception:  # the database blipped: beat again next time
                log.warning("worker %s: heartbeat row not written", self.name, exc_info=True)
