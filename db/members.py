"""Users: their plan and their /imagine defaults; never commits."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Literal, TypedDict

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from db import quota
from db.dialect import insert
from db.models import User
from db.plans import PlanLimits


class UnknownPlanError(ValueError):
    """An admin named a plan that is not configured."""


class UserSettingsChange(TypedDict, total=False):
    sampler: str | None
    aspect_ratio: str | None
    model: str | None
    quality: float | None
    remix: bool
    stealth: bool
    mode: Literal["fast", "relax"]


async def ensure_user(
    session: AsyncSession, user_id: int, default_plan: str, now: datetime
) -> None:
    """Create the user on first contact, on the default plan (no-op if they exist)."""
    await session.execute(
        insert(session, User)
        .values(id=user_id, plan=default_plan, created_at=now, updated_at=now)
        .on_conflict_do_nothing()
    )


async def get_user(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id, populate_existing=True)


async def lock_user(
    session: AsyncSession, user_id: int, default_plan: str, now: datetime
) -> tuple[str, str]:
    """Create the user if new, and lock their row until the transaction ends (serialises one
    user's intake); one statement. Returns (plan, mode)."""
    stmt = insert(session, User).values(
        id=user_id, plan=default_plan, created_at=now, updated_at=now
    )
    # A no-op DO UPDATE, not DO NOTHING: it locks the existing row and returns it.
    row = (
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=[User.id], set_={"plan": User.plan}
            ).returning(User.plan, User.mode)
        )
    ).one()
    return row[0], row[1]


async def update_settings(
    session: AsyncSession,
    user_id: int,
    changes: UserSettingsChange,
    default_plan: str,
    now: datetime,
) -> User:
    await ensure_user(session, user_id, default_plan, now)
    if changes:
        await session.execute(
            update(User)
            .where(User.id == user_id)
            .values(**changes, updated_at=now)
            .execution_options(synchronize_session=False)
        )
    user = await get_user(session, user_id)
    assert user is not None
    return user


async def set_plan(
    session: AsyncSession,
    user_id: int,
    plan_name: str,
    plans: Mapping[str, PlanLimits],
    default_plan: str,
    now: datetime,
) -> quota.Balance:
    """Move a user to another plan; this period's allowance follows it at once."""
    plan = plans.get(plan_name)
    if plan is None:
        raise UnknownPlanError(
            f"no plan named {plan_name!r}; configured plans: {', '.join(sorted(plans))}"
        )
    await ensure_user(session, user_id, default_plan, now)
    await session.execute(
        update(User)
        .where(User.id == user_id)
        .values(plan=plan_name, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return await quota.adjust_allowance(session, user_id, plan, now)


def plan_of(
    user: User | str | None, plans: Mapping[str, PlanLimits], default_plan: str
) -> tuple[str, PlanLimits]:
    """The plan of a user (or plan name); one removed from the configuration falls back to
    the default."""
    name = user.plan if isinstance(user, User) else user
    if name is None or name not in plans:
        name = default_plan
    return name, plans[name]
