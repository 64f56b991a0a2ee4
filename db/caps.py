"""Per-member running caps (#21): a member runs at most their plan's `max_running` jobs at
once; the rest wait, queued, while other members' jobs go ahead.

The cap is a condition of the claim (`db.jobs.claim`), decided in SQL with the member's row
locked, so two workers claiming two of one member's jobs at once count one after the other.
`running_of` and `running_cap` are SQL expressions, so a claim that picks the next job itself
(`… WHERE running_of(jobs.user_id) < running_cap(caps) … FOR UPDATE SKIP LOCKED`) can use them
as they are.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from db.models import Job, JobState, User


@dataclass(frozen=True)
class RunningCaps:
    """How many jobs one member may have running at once: their plan's `max_running` (a plan
    missing from the configuration counts as `default`)."""

    by_plan: Mapping[str, int]
    default: int

    @classmethod
    def of_plans(cls, plans: Mapping[str, Any], default_plan: str) -> RunningCaps:
        return cls({n: p.max_running for n, p in plans.items()}, plans[default_plan].max_running)


@dataclass(frozen=True)
class AtCap:
    """A claim refused because the job's member already runs `limit` jobs: the job stays
    queued, untouched, for a later claim (the reconciler publishes it again)."""

    job_id: uuid.UUID
    user_id: int
    running: int
    limit: int


def running_of(user_id: Any) -> Any:
    """SQL: how many jobs the user `user_id` (a column or value) has running."""
    other = aliased(Job)  # the outer query may select from jobs too: never correlate this one
    return (
        select(func.count())
        .select_from(other)
        .where(other.user_id == user_id, other.state == JobState.RUNNING.value)
        .correlate_except(other)
        .scalar_subquery()
    )


def running_cap(caps: RunningCaps) -> Any:
    """SQL: the running cap of the user row in the query (`users.plan` → max_running)."""
    if not caps.by_plan:
        return literal(caps.default)
    return case(dict(caps.by_plan), value=User.plan, else_=caps.default)


async def at_running_cap(
    session: AsyncSession, job_id: uuid.UUID, caps: RunningCaps
) -> AtCap | None:
    """Lock the job's member (as admission does), then count their running jobs: two workers
    claiming two of one member's jobs at once count one after the other. AtCap when no
    running slot is free; None when the job may be claimed (or is not queued at all).

    Two statements on purpose: under READ COMMITTED the count must take its snapshot after
    the lock is granted, or it would miss a claim committed while this one waited."""
    member = (
        await session.execute(
            select(User.id, running_cap(caps))
            .join(Job, Job.user_id == User.id)
            .where(Job.id == job_id, Job.state == JobState.QUEUED.value)
            .with_for_update(of=User)
        )
    ).first()
    if member is None:
        return None
    user_id, limit = member
    running = int(await session.scalar(select(running_of(user_id))) or 0)
    return AtCap(job_id, user_id, running, limit) if running >= limit else None
