"""The scheduler (#18): Postgres decides which job a free worker runs next.

A worker that is free claims the best eligible job, whatever job id its Celery message named
(the message is a doorbell; a stale one is harmless). Eligible: queued, attempts left, its
member below their plan's running cap, its model one this worker serves. Order, best first:

1. fast before relax (a relax job never starts while an eligible fast job waits);
2. a model already loaded on this worker before one that needs loading, unless the job has
   waited longer than `affinity_wait` (then it competes as if loaded: no model starves);
3. among fast jobs, round-robin across members: the member whose last job *started* longest
   ago first (`users.last_started_at`, never started first); among relax jobs, the member with
   the least relax usage this period first (credits' worth of relax jobs started), then
   round-robin;
4. the member's oldest job first.

`pick` chooses and locks the job and its member in one statement (`FOR UPDATE … SKIP
LOCKED`: two workers never wait on each other, each takes a different job). The running cap
is then counted again by the claiming UPDATE itself, whose snapshot is taken after the
member's lock was granted: a claim by another worker committed between the two statements is
seen, so no member ever runs more than their cap. Repositories never commit.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, case, false, func, or_, select, text, true, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from db.base import UTCDateTime
from db.caps import AtCap, RunningCaps, running_cap, running_of
from db.jobs import DEFAULT_LEASE, Claim
from db.models import Job, JobKind, JobState, User
from db.plans import Period

DEFAULT_AFFINITY_WAIT = timedelta(seconds=60)


@dataclass(frozen=True)
class SchedulePolicy:
    """The plans' rules the scheduler applies: running caps and relax usage periods."""

    caps: RunningCaps
    periods: Mapping[str, Period] = field(default_factory=dict)  # plan → its period
    default_period: Period = "day"
    # A job waiting longer than this no longer yields to jobs whose model is loaded.
    affinity_wait: timedelta = DEFAULT_AFFINITY_WAIT

    @classmethod
    def of_plans(
        cls,
        plans: Mapping[str, Any],
        default_plan: str,
        affinity_wait: timedelta = DEFAULT_AFFINITY_WAIT,
    ) -> SchedulePolicy:
        return cls(
            RunningCaps.of_plans(plans, default_plan),
            {name: plan.period for name, plan in plans.items()},
            plans[default_plan].period,
            affinity_wait,
        )


@dataclass(frozen=True)
class WorkerView:
    """What the scheduler needs to know about the claiming worker."""

    owner: str
    serves: frozenset[str] | None = None  # model names it may run; None: any model
    loaded: frozenset[str] = frozenset()  # models on its GPU now
    trains: bool = True  # it also runs LoRA training jobs (kind `train`, docs/training.md)


@dataclass(frozen=True)
class Idle:
    """Nothing was claimed. `ring_again`: the doorbell's job is still queued and its member
    below their cap (a worker skipped it only because it was locked a moment): publish it
    again. Otherwise the doorbell is dropped: the job is held at its member's cap (a finished
    job of theirs rings again) or it is not queued any more."""

    ring_again: bool
    held: AtCap | None = None


def job_model() -> Any:
    """SQL: the model a job runs (its request's `generation.model`), NULL when it has none."""
    return Job.request["generation"]["model"].as_string()


def period_start(period: Period, now: datetime) -> datetime:
    utc = now.astimezone(UTC)
    day = utc.replace(hour=0, minute=0, second=0, microsecond=0)
    return day if period == "day" else day.replace(day=1)


def _at(name: str) -> Any:
    return bindparam(name, type_=UTCDateTime())


def relax_usage(policy: SchedulePolicy) -> Any:
    """SQL: credits' worth of relax jobs the user row in the query started this period (from
    the bound `since_day` / `since_month`)."""
    starts = {name: _at(f"since_{p}") for name, p in policy.periods.items()}
    default = _at(f"since_{policy.default_period}")
    since = case(starts, value=User.plan, else_=default) if starts else default
    other = aliased(Job)
    return (
        select(func.coalesce(func.sum(other.cost_milli), 0))
        .where(other.user_id == User.id, other.relaxed.is_(True), other.started_at >= since)
        .correlate_except(other)
        .scalar_subquery()
    )


# Literal, not bound: the planner then uses the partial index on queued jobs.
_QUEUED = text("jobs.state = 'queued'")


def eligible(
    policy: SchedulePolicy, serves: Collection[str] | None, trains: bool = True
) -> list[Any]:
    """SQL conditions: a queued job with attempts left, its member below their running cap,
    a model in `serves` (any model when None); no training job for a worker that does not
    train."""
    conditions = [
        _QUEUED,
        Job.attempts < Job.max_attempts,
        running_of(User.id) < running_cap(policy.caps),
    ]
    if serves is not None:
        conditions.append(job_model().in_(sorted(serves)) if serves else false())
    if not trains:
        conditions.append(Job.kind != JobKind.TRAIN.value)
    return conditions


def order(policy: SchedulePolicy, loaded: Collection[str]) -> list[Any]:
    """SQL ORDER BY terms, best job first (the module's docstring says why); `waited_since`
    is bound to now - affinity_wait."""
    warm = job_model().in_(sorted(loaded)) if loaded else false()
    waited = Job.created_at <= _at("waited_since")
    return [
        Job.relaxed,
        # A training run holds the GPU for minutes: fast painting jobs go first.
        case((Job.kind == JobKind.TRAIN.value, 1), else_=0),
        case((or_(warm, waited), 0), else_=1),
        case((Job.relaxed, relax_usage(policy)), else_=0),
        User.last_started_at.asc().nulls_first(),
        Job.created_at,
        Job.id,
    ]


def bindings(policy: SchedulePolicy, now: datetime) -> dict[str, Any]:
    """The values `order` and `relax_usage` are bound to at `now`."""
    return {
        "waited_since": now - policy.affinity_wait,
        "since_day": period_start("day", now),
        "since_month": period_start("month", now),
    }


# Building and keying this statement costs far more than running it: built once per worker.
_PICKS: dict[tuple[int, frozenset[str] | None, frozenset[str], bool], Any] = {}


def _pick_statement(policy: SchedulePolicy, worker: WorkerView) -> Any:
    key = (id(policy), worker.serves, worker.loaded, worker.trains)
    statement = _PICKS.get(key)
    if statement is None:
        if len(_PICKS) > 256:
            _PICKS.clear()
        statement = (
            select(Job.id, User.id)
            .join(User, User.id == Job.user_id)
            .where(*eligible(policy, worker.serves, worker.trains))
            .where(User.id.not_in(bindparam("skip_users", expanding=True)))
            .order_by(*order(policy, worker.loaded))
            .limit(1)
            .with_for_update(of=(Job, User), skip_locked=True)
        )
        _PICKS[key] = statement
    return statement


async def pick(
    session: AsyncSession,
    worker: WorkerView,
    policy: SchedulePolicy,
    now: datetime,
    skip_users: Collection[int] = (),
) -> tuple[uuid.UUID, int] | None:
    """The best eligible job for `worker` and its member, both locked (SKIP LOCKED); None
    when there is none this worker can take now."""
    params = bindings(policy, now) | {"skip_users": list(skip_users) or [0]}
    row = (await session.execute(_pick_statement(policy, worker), params)).first()
    return None if row is None else (row[0], row[1])


_CLAIM_COLUMNS = (Job.id, Job.attempts, Job.lease_expires_at, Job.request, Job.user_id)
# A member whose cap was reached between pick and claim is skipped; this bounds the retries.
_MAX_PICKS = 8
_CLAIMS: dict[int, Any] = {}


def _claim_statement(policy: SchedulePolicy) -> Any:
    """queued → running for one picked job, its member's running jobs counted again, and the
    member's last start moved to now: one statement (data-modifying CTEs)."""
    statement = _CLAIMS.get(id(policy))
    if statement is None:
        user_id: Any = bindparam("b_user_id")
        cap = select(running_cap(policy.caps)).where(User.id == user_id).scalar_subquery()
        claimed = (
            update(Job)
            .where(Job.id == bindparam("b_job_id"), _QUEUED, running_of(user_id) < cap)
            .values(
                state=JobState.RUNNING.value,
                attempts=Job.attempts + 1,
                lease_owner=bindparam("owner"),
                lease_expires_at=_at("lease_until"),
                started_at=func.coalesce(Job.started_at, _at("now")),
            )
            .returning(*_CLAIM_COLUMNS)
            .cte("claimed")
        )
        started = (
            update(User)
            .where(User.id.in_(select(claimed.c.user_id)))
            .values(last_started_at=_at("now"))
            .cte("started")
        )
        statement = select(claimed).add_cte(started)
        _CLAIMS[id(policy)] = statement
    return statement


async def claim_next(
    session: AsyncSession,
    worker: WorkerView,
    policy: SchedulePolicy,
    now: datetime,
    lease: timedelta = DEFAULT_LEASE,
) -> Claim | None:
    """queued → running for the best job `worker` may run now; None when there is none."""
    skipped: list[int] = []
    for _ in range(_MAX_PICKS):
        picked = await pick(session, worker, policy, now, skipped)
        if picked is None:
            return None
        job_id, user_id = picked
        # Counted again after the member's lock was granted (a fresh statement snapshot).
        params = {
            "b_job_id": job_id,
            "b_user_id": user_id,
            "owner": worker.owner,
            "lease_until": now + lease,
            "now": now,
        }
        row = (await session.execute(_claim_statement(policy), params)).first()
        if row is None:
            skipped.append(user_id)
            continue
        return Claim(row[0], row[1], row[2], row[3], row[4])
    return None


@dataclass(frozen=True)
class Waiting:
    """A queued job, as `line` needs it."""

    id: uuid.UUID
    user_id: int
    relaxed: bool
    created_at: datetime
    cost_milli: int


@dataclass(frozen=True)
class Member:
    last_started_at: datetime | None
    relax_usage: int = 0


def line(waiting: Iterable[Waiting], members: Mapping[int, Member]) -> Iterator[uuid.UUID]:
    """The order in which workers claiming one after another start these jobs: `order`,
    replayed in Python (each start moves its member to the back of the round and adds to
    their relax usage). Running caps and loaded models are left out: queue positions use it
    for the jobs of one model, which every worker serving that model ranks alike."""
    queues: dict[tuple[bool, int], deque[Waiting]] = {}
    for job in sorted(waiting, key=lambda j: (j.created_at, j.id)):
        queues.setdefault((job.relaxed, job.user_id), deque()).append(job)
    last: dict[int, tuple[int, Any]] = {}
    usage: dict[int, int] = {}
    for user, member in members.items():
        last[user] = (0, 0) if member.last_started_at is None else (1, member.last_started_at)
        usage[user] = member.relax_usage
    starts = 0
    while queues:

        def rank(key: tuple[bool, int]) -> tuple[Any, ...]:
            relaxed, user = key
            head = queues[key][0]
            return (
                relaxed,
                usage.get(user, 0) if relaxed else 0,
                last.get(user, (0, 0)),
                head.created_at,
                head.id,
            )

        best = min(queues, key=rank)
        job = queues[best].popleft()
        if not queues[best]:
            del queues[best]
        starts += 1
        last[job.user_id] = (2, starts)  # started now: after every earlier start
        if job.relaxed:
            usage[job.user_id] = usage.get(job.user_id, 0) + job.cost_milli
        yield job.id


async def doorbell(session: AsyncSession, job_id: uuid.UUID, policy: SchedulePolicy) -> Idle:
    """What to do with a doorbell that claimed nothing (see `Idle`)."""
    row = (
        await session.execute(
            select(User.id, running_of(User.id), running_cap(policy.caps))
            .join(Job, Job.user_id == User.id)
            .where(Job.id == job_id, Job.state == JobState.QUEUED.value)
        )
    ).first()
    if row is None:
        return Idle(ring_again=False)
    user_id, running, limit = row
    if running >= limit:
        return Idle(ring_again=False, held=AtCap(job_id, user_id, running, limit))
    return Idle(ring_again=True)


async def still_queued(session: AsyncSession, job_id: uuid.UUID) -> bool:
    state = await session.scalar(select(Job.state).where(Job.id == job_id))
    return state == JobState.QUEUED.value


async def has_queued(session: AsyncSession, user_id: int) -> bool:
    """Whether the member has a job waiting (a finished job of theirs rings for it)."""
    found = await session.scalar(
        select(true())
        .where(and_(Job.user_id == user_id, Job.state == JobState.QUEUED.value))
        .limit(1)
    )
    return bool(found)
