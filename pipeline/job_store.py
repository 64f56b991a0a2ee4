"""The worker's view of the job table: the data layer's fenced transitions, called from sync
code. Each call is its own committed transaction.

A lost connection is not a verdict. A call that fails because the database cannot be reached
raises `StoreUnavailable`; `complete` is retried (it is idempotent for one fencing token, so a
retry after a COMMIT whose acknowledgement was lost answers True again) and raises
`CompletionUnknown` only when the database never answers."""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db import jobs, scheduler
from db.caps import AtCap, RunningCaps
from db.jobs import Claim, NewImage
from db.models import JobState
from db.scheduler import Idle, SchedulePolicy, WorkerView
from pipeline.errors import CompletionUnknown, StoreUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")
# Pauses between tries of `complete` when the database is unreachable (about 30 s in all).
COMPLETE_RETRY_DELAYS_S = (0.2, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0)
# Runs a coroutine to completion from a sync caller (a LoopThread, or the bot's loop).
CoroRunner = Callable[[Coroutine[Any, Any, Any]], Any]


def utcnow() -> datetime:
    return datetime.now(UTC)


def is_unavailable(exc: BaseException) -> bool:
    """A connection-level failure (refused, reset, dropped, timed out), not a SQL error."""
    if isinstance(exc, sa_exc.DBAPIError):
        return exc.connection_invalidated or isinstance(
            exc, sa_exc.OperationalError | sa_exc.InterfaceError
        )
    return isinstance(exc, OSError | TimeoutError | sa_exc.DisconnectionError)


class Scheduling:
    """Claim the best job for this worker (db.scheduler), whatever job the message named."""

    def __init__(self, policy: SchedulePolicy, view: Callable[[], WorkerView]) -> None:
        self.policy = policy
        self.view = view  # what this worker serves and has loaded, read at each claim


class DbJobStore:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        run: CoroRunner,
        lease: timedelta,
        clock: Callable[[], datetime] = utcnow,
        retry_delays_s: Sequence[float] = COMPLETE_RETRY_DELAYS_S,
        caps: RunningCaps | None = None,
        scheduling: Scheduling | None = None,
    ) -> None:
        self._sessions = sessions
        self._run = run
        self._lease = lease
        self._clock = clock
        self._retry_delays = retry_delays_s
        self._caps = caps  # members' running caps; None: no cap (the one-box single worker)
        self._scheduling = scheduling  # None: claim the named job itself

    def _tx(self, action: Callable[[AsyncSession], Awaitable[T]]) -> T:
        async def go() -> T:
            async with self._sessions.begin() as session:
                return await action(session)

        try:
            result: T = self._run(go())
        except Exception as exc:
            if is_unavailable(exc):
                raise StoreUnavailable(f"the database is unreachable: {exc}") from exc
            raise
        return result

    def claim(self, job_id: uuid.UUID, owner: str) -> Claim | AtCap | Idle | None:
        """With scheduling, `job_id` is a doorbell: the claim is for the best job this worker
        may run (`Claim.doorbell_queued` says whether the doorbell's own job still waits), or
        Idle when there is none."""
        sched = self._scheduling
        if sched is None:
            return self._tx(
                lambda s: jobs.claim(s, job_id, owner, self._clock(), self._lease, self._caps)
            )

        async def next_job(session: AsyncSession) -> Claim | Idle:
            view = sched.view()
            worker = WorkerView(owner, view.serves, view.loaded)
            claim = await scheduler.claim_next(
                session, worker, sched.policy, self._clock(), self._lease
            )
            if claim is None:
                return await scheduler.doorbell(session, job_id, sched.policy)
            if claim.job_id != job_id and await scheduler.still_queued(session, job_id):
                return dataclasses.replace(claim, doorbell_queued=True)
            return claim

        return self._tx(next_job)

    def member_waiting(self, user_id: int) -> bool:
        """Whether the member has a job queued (a finished job of theirs rings for it)."""
        return bool(self._tx(lambda s: scheduler.has_queued(s, user_id)))

    def heartbeat(self, job_id: uuid.UUID, attempt: int) -> bool:
        return self._tx(lambda s: jobs.heartbeat(s, job_id, attempt, self._clock(), self._lease))

    def complete(
        self,
        job_id: uuid.UUID,
        attempt: int,
        images: Sequence[NewImage],
        result: dict[str, Any],
    ) -> bool:
        """True: this attempt's result is committed. False: a stale attempt (discard its files).
        Raises CompletionUnknown when the database never confirmed either way."""
        for delay in (*self._retry_delays, None):
            try:
                return self._tx(
                    lambda s: jobs.complete(s, job_id, attempt, self._clock(), images, result)
                )
            except StoreUnavailable as exc:
                if delay is None:
                    raise CompletionUnknown(str(exc)) from exc
                log.warning(
                    "completing job %s attempt %s: %s; asking again in %.1f s",
                    job_id,
                    attempt,
                    exc,
                    delay,
                )
                time.sleep(delay)
        raise AssertionError("unreachable")

    def fail(
        self, job_id: uuid.UUID, attempt: int, error: str, *, retryable: bool
    ) -> JobState | None:
        return self._tx(
            lambda s: jobs.fail(s, job_id, attempt, self._clock(), error, retryable=retryable)
        )
