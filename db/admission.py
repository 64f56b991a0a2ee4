"""Admission: hold quota + insert the job, in the caller's transaction (the bot commits).

The user's row is locked first, so one user's concurrent submissions (gateway replays
included) run one after another: the replay check, the cap count and the debit all see every
earlier submission. Different users never wait on each other.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db import members, quota
from db.base import Base
from db.models import Job, JobKind, JobState
from db.plans import PlanLimits, period_key

DEFAULT_MAX_ATTEMPTS = 3
# Core insert: no ORM bookkeeping on the hot path.
_INSERT_JOB = insert(Base.metadata.tables[Job.__tablename__])


@dataclass(frozen=True)
class Submission:
    job_id: uuid.UUID  # also inside `request`: the bot mints it before building the JobSpec
    user_id: int
    kind: JobKind
    request: Mapping[str, Any]  # the job contract's JSON
    cost_milli: int  # db.cost.job_cost_milli(...)
    interaction_id: int | None = None  # idempotency key: a replay returns the first job
    guild_id: int | None = None
    channel_id: int | None = None
    parent_id: uuid.UUID | None = None
    tile_index: int | None = None
    max_attempts: int = DEFAULT_MAX_ATTEMPTS


@dataclass(frozen=True)
class Created:
    job_id: uuid.UUID
    relaxed: bool  # admitted without charge, to run at low priority
    charged_milli: int
    balance_milli: int | None  # after the hold; None when relaxed
    period_key: str | None


@dataclass(frozen=True)
class Replayed:
    job_id: uuid.UUID
    state: JobState


@dataclass(frozen=True)
class OutOfCredits:
    needed_milli: int
    balance_milli: int
    period_key: str


@dataclass(frozen=True)
class OverCaps:
    active: int  # queued + running jobs the user already has
    limit: int


Admission = Created | Replayed | OutOfCredits | OverCaps


async def admit(
    session: AsyncSession,
    submission: Submission,
    plans: Mapping[str, PlanLimits],
    *,
    default_plan: str,
    relax_enabled: bool,
    now: datetime,
) -> Admission:
    """Admit one job or say why not. Writes nothing but the user's first-contact rows unless
    the job is created; the caller commits (or rolls back) the transaction."""
    # long: the whole admission is one transaction's steps in order (caps, hold, insert); split,
    # the locking order between them would no longer be visible in one place.
    if submission.cost_milli < 0:
        raise ValueError("cost_milli must not be negative")
    user_id = submission.user_id
    plan_name, mode = await members.lock_user(session, user_id, default_plan, now)

    # One round trip for all checks while the user's row is locked. A replay is the same
    # interaction, or the same job id (the bot derives each job id of a batch from it).
    same = Job.id == submission.job_id
    if submission.interaction_id is not None:
        same = or_(same, Job.interaction_id == submission.interaction_id)
    replay_of = select(Job.id).where(same).limit(1).scalar_subquery()

    def count_of(state: JobState) -> Any:
        where = (Job.user_id == user_id, Job.state == state.value)
        return select(func.count()).select_from(Job).where(*where).scalar_subquery()

    replay_id, queued, running = (
        await session.execute(
            select(replay_of, count_of(JobState.QUEUED), count_of(JobState.RUNNING))
        )
    ).one()
    if replay_id is not None:
        state = (await session.execute(select(Job.state).where(Job.id == replay_id))).scalar_one()
        return Replayed(replay_id, JobState(state))

    _, plan = members.plan_of(plan_name, plans, default_plan)
    # At most max_queued jobs may wait. Workers start at most max_running of one member's
    # jobs (db.caps), so the queued jobs that will wait are those beyond the free slots.
    limit = plan.max_running + plan.max_queued
    if queued + min(running, plan.max_running) >= limit:
        return OverCaps(queued + running, limit)

    relaxed = relax_enabled and mode == "relax"
    key: str | None = None
    balance: int | None = None
    if not relaxed:
        key = period_key(plan.period, now)
        balance = await quota.debit(session, user_id, key, submission.cost_milli)
        if balance is None and await quota.create_period(session, user_id, plan, now):
            # First job of the period: its balance row did not exist yet.
            balance = await quota.debit(session, user_id, key, submission.cost_milli)
        if balance is None:
            if not relax_enabled:
                current = await quota.balance(session, user_id, plan, now)
                return OutOfCredits(submission.cost_milli, current.balance_milli, key)
            relaxed, key = True, None

    await session.execute(
        _INSERT_JOB,
        {
            "id": submission.job_id,
            "user_id": user_id,
            "kind": JobKind(submission.kind).value,
            "request": dict(submission.request),
            "parent_id": submission.parent_id,
            "tile_index": submission.tile_index,
            "state": JobState.QUEUED.value,
            "relaxed": relaxed,
            "max_attempts": submission.max_attempts,
            "cost_milli": submission.cost_milli,
            "quota_period": key,
            "created_at": now,
            "guild_id": submission.guild_id,
            "channel_id": submission.channel_id,
            "interaction_id": submission.interaction_id,
        },
    )
    if key is None:
        return Created(submission.job_id, True, 0, None, None)
    await quota.record_hold(session, user_id, submission.job_id, key, submission.cost_milli, now)
    return Created(submission.job_id, False, submission.cost_milli, balance, key)


async def admit_in_transaction(
    sessions: async_sessionmaker[AsyncSession],
    submission: Submission,
    plans: Mapping[str, PlanLimits],
    *,
    default_plan: str,
    relax_enabled: bool,
    now: datetime,
) -> Admission:
    """`admit` in a transaction of its own, committed on return (what the bot calls)."""
    async with sessions.begin() as session:
        return await admit(
            session,
            submission,
            plans,
            default_plan=default_plan,
            relax_enabled=relax_enabled,
            now=now,
        )
