"""The worker's view of the job table: the data layer's fenced transitions, called from sync
code. Each call is its own committed transaction."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db import jobs
from db.jobs import Claim, NewImage
from db.models import JobState

T = TypeVar("T")
# Runs a coroutine to completion from a sync caller (a LoopThread, or the bot's loop).
CoroRunner = Callable[[Coroutine[Any, Any, Any]], Any]


def utcnow() -> datetime:
    return datetime.now(UTC)


class DbJobStore:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        run: CoroRunner,
        lease: timedelta,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._run = run
        self._lease = lease
        self._clock = clock

    def _tx(self, action: Callable[[AsyncSession], Awaitable[T]]) -> T:
        async def go() -> T:
            async with self._sessions.begin() as session:
                return await action(session)

        result: T = self._run(go())
        return result

    def claim(self, job_id: uuid.UUID, owner: str) -> Claim | None:
        return self._tx(lambda s: jobs.claim(s, job_id, owner, self._clock(), self._lease))

    def heartbeat(self, job_id: uuid.UUID, attempt: int) -> bool:
        return self._tx(lambda s: jobs.heartbeat(s, job_id, attempt, self._clock(), self._lease))

    def complete(
        self,
        job_id: uuid.UUID,
        attempt: int,
        images: Sequence[NewImage],
        result: dict[str, Any],
    ) -> bool:
        return self._tx(lambda s: jobs.complete(s, job_id, attempt, self._clock(), images, result))

    def fail(
        self, job_id: uuid.UUID, attempt: int, error: str, *, retryable: bool
    ) -> JobState | None:
        return self._tx(
            lambda s: jobs.fail(s, job_id, attempt, self._clock(), error, retryable=retryable)
        )
