"""Quota balances per (user, period) and the ledger behind them; never commits.

Every balance change is one conditional statement, so concurrent callers cannot over-debit or
refund twice: the debit is `UPDATE … WHERE balance >= cost RETURNING`, and a hold ends at most
once because the ledger has a unique (job, kind) key plus a unique settle-or-refund per job.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, literal, select, update
from sqlalchemy import insert as sa_insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.base import Base, UTCDateTime
from db.cost import format_credits
from db.dialect import insert
from db.models import Job, JobState, LedgerKind, QuotaBalance, QuotaLedger
from db.plans import PlanLimits, period_key

_SETTLED_STATES = (JobState.SUCCEEDED.value, JobState.POSTED.value)
_REFUNDED_STATES = (JobState.FAILED.value, JobState.CANCELLED.value)


class QuotaError(ValueError):
    """A quota operation an operator asked for cannot be done (message says why)."""


@dataclass(frozen=True)
class Balance:
    user_id: int
    period_key: str
    allowance_milli: int
    balance_milli: int


async def ensure_period(
    session: AsyncSession, user_id: int, plan: PlanLimits, now: datetime
) -> str:
    """This period's key, its balance row created (with the plan's allowance) if missing."""
    await create_period(session, user_id, plan, now)
    return period_key(plan.period, now)


async def create_period(
    session: AsyncSession, user_id: int, plan: PlanLimits, now: datetime
) -> bool:
    """Create this period's balance row; False if it already existed."""
    key = period_key(plan.period, now)
    created = await session.execute(
        insert(session, QuotaBalance)
        .values(
            user_id=user_id,
            period_key=key,
            allowance_milli=plan.credits_milli,
            balance_milli=plan.credits_milli,
        )
        .on_conflict_do_nothing()
        .returning(QuotaBalance.user_id)
    )
    if created.first() is None:
        return False
    await _ledger(session, user_id, None, LedgerKind.ALLOWANCE, plan.credits_milli, key, now)
    return True


# Built once: the admission path runs these for every job (no per-call statement building).
_BALANCES = Base.metadata.tables[QuotaBalance.__tablename__]
_balances = _BALANCES.c
_DEBIT = (
    update(_BALANCES)
    .where(
        _balances.user_id == bindparam("b_user"),
        _balances.period_key == bindparam("b_period"),
        _balances.balance_milli >= bindparam("b_cost"),
    )
    .values(balance_milli=_balances.balance_milli - bindparam("b_cost"))
    .returning(_balances.balance_milli)
)
_INSERT_LEDGER = sa_insert(Base.metadata.tables[QuotaLedger.__tablename__])


async def debit(session: AsyncSession, user_id: int, key: str, cost_milli: int) -> int | None:
    """Take `cost_milli` from the balance if it is there; the new balance, or None."""
    row = await session.execute(_DEBIT, {"b_user": user_id, "b_period": key, "b_cost": cost_milli})
    return row.scalar_one_or_none()


async def record_hold(
    session: AsyncSession,
    user_id: int,
    job_id: uuid.UUID,
    key: str,
    cost_milli: int,
    now: datetime,
) -> None:
    """The ledger row for a debit already taken (the job row must exist)."""
    await _ledger(session, user_id, job_id, LedgerKind.HOLD, -cost_milli, key, now)


async def settle(session: AsyncSession, job_id: uuid.UUID, now: datetime) -> bool:
    """Turn a succeeded job's hold into a charge; False if there is no hold, it already ended
    or the job has not succeeded."""
    return await _end_hold(session, job_id, LedgerKind.SETTLE, now) is not None


async def refund(session: AsyncSession, job_id: uuid.UUID, now: datetime) -> int:
    """Give a failed or cancelled job's hold back to the period it came from, exactly once;
    returns the milli-credits refunded (0 if none was due)."""
    ended = await _end_hold(session, job_id, LedgerKind.REFUND, now)
    if ended is None:
        return 0
    user_id, key, amount = ended
    await session.execute(
        update(QuotaBalance)
        .where(QuotaBalance.user_id == user_id, QuotaBalance.period_key == key)
        .values(balance_milli=QuotaBalance.balance_milli + amount)
        .execution_options(synchronize_session=False)
    )
    return amount


async def _end_hold(
    session: AsyncSession, job_id: uuid.UUID, kind: LedgerKind, now: datetime
) -> tuple[int, str, int] | None:
    # One INSERT … SELECT from the hold row: no hold → nothing inserted; an earlier settle or
    # refund → the unique index turns this into a no-op, even for concurrent callers.
    hold = select(
        QuotaLedger.user_id,
        QuotaLedger.job_id,
        literal(kind.value),
        (-QuotaLedger.amount_milli if kind is LedgerKind.REFUND else literal(0)),
        QuotaLedger.period_key,
        literal(now, UTCDateTime()),
    ).where(
        QuotaLedger.job_id == job_id,
        QuotaLedger.kind == LedgerKind.HOLD.value,
        # Only a finished job's hold can end: settled on success, refunded on failure/cancel.
        Job.id == QuotaLedger.job_id,
        Job.state.in_(_SETTLED_STATES if kind is LedgerKind.SETTLE else _REFUNDED_STATES),
    )
    row = (
        await session.execute(
            insert(session, QuotaLedger)
            .from_select(
                ["user_id", "job_id", "kind", "amount_milli", "period_key", "created_at"], hold
            )
            .on_conflict_do_nothing()
            .returning(QuotaLedger.user_id, QuotaLedger.period_key, QuotaLedger.amount_milli)
        )
    ).first()
    return None if row is None else (row[0], row[1], row[2])


async def balance(session: AsyncSession, user_id: int, plan: PlanLimits, now: datetime) -> Balance:
    """This period's balance; a period nobody has touched yet shows the full allowance."""
    key = period_key(plan.period, now)
    row = await session.get(QuotaBalance, (user_id, key), populate_existing=True)
    if row is None:
        return Balance(user_id, key, plan.credits_milli, plan.credits_milli)
    return Balance(user_id, key, row.allowance_milli, row.balance_milli)


async def grant(
    session: AsyncSession,
    user_id: int,
    plan: PlanLimits,
    amount_milli: int,
    now: datetime,
    note: str | None = None,
) -> Balance:
    """Add credits to this period (negative takes them away, never below zero)."""
    key = await ensure_period(session, user_id, plan, now)
    new = await session.execute(
        update(QuotaBalance)
        .where(
            QuotaBalance.user_id == user_id,
            QuotaBalance.period_key == key,
            QuotaBalance.balance_milli + amount_milli >= 0,
        )
        .values(balance_milli=QuotaBalance.balance_milli + amount_milli)
        .returning(QuotaBalance.allowance_milli, QuotaBalance.balance_milli)
        .execution_options(synchronize_session=False)
    )
    row = new.first()
    if row is None:
        current = await balance(session, user_id, plan, now)
        raise QuotaError(
            f"user {user_id} has {format_credits(current.balance_milli)} credits left in "
            f"{key}: cannot take {format_credits(-amount_milli)}"
        )
    await _ledger(session, user_id, None, LedgerKind.GRANT, amount_milli, key, now, note)
    return Balance(user_id, key, row[0], row[1])


async def adjust_allowance(
    session: AsyncSession, user_id: int, plan: PlanLimits, now: datetime
) -> Balance:
    """After a plan change: move this period's allowance to the new plan's, keeping usage."""
    key = await ensure_period(session, user_id, plan, now)
    current = (
        await session.execute(
            select(QuotaBalance)
            .where(QuotaBalance.user_id == user_id, QuotaBalance.period_key == key)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    delta = plan.credits_milli - current.allowance_milli
    change = max(delta, -current.balance_milli)  # usage beyond the new allowance is forgiven
    if delta:
        current.allowance_milli = plan.credits_milli
        current.balance_milli += change
        await session.flush()
        await _ledger(session, user_id, None, LedgerKind.ADJUST, change, key, now)
    return Balance(user_id, key, current.allowance_milli, current.balance_milli)


async def _ledger(
    session: AsyncSession,
    user_id: int,
    job_id: uuid.UUID | None,
    kind: LedgerKind,
    amount_milli: int,
    key: str,
    now: datetime,
    note: str | None = None,
) -> None:
    await session.execute(
        _INSERT_LEDGER,
        {
            "user_id": user_id,
            "job_id": job_id,
            "kind": kind.value,
            "amount_milli": amount_milli,
            "period_key": key,
            "note": note,
            "created_at": now,
        },
    )
