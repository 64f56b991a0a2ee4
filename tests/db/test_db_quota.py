"""Quota ledger: refunds exactly once, periods, grants, plan changes, and the cost formula."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db import jobs, members, quota
from db.admission import Created
from db.cost import credits_to_milli, format_credits, job_cost_milli
from db.models import Job, LedgerKind, QuotaBalance, QuotaLedger
from db.plans import Plan, period_key
from tests.fixtures.db_helpers import (
    NOW,
    concurrently,
    ledger_sum,
    new_user_id,
    plans,
    stored_balance,
    submission,
    submit,
)

DAY = "d2026-11-23"


@pytest.mark.parametrize(
    ("width", "height", "steps", "images", "milli"),
    [
        (512, 512, 30, 4, 1000),  # the default SD 1.5 grid is one credit
        (512, 512, 30, 1, 250),
        (1024, 1024, 30, 4, 4000),
        (512, 512, 15, 4, 500),
        (768, 512, 30, 4, 1500),
        (64, 64, 1, 1, 1),  # tiny jobs round up, never free
    ],
)
def test_cost_formula(width: int, height: int, steps: int, images: int, milli: int) -> None:
    assert job_cost_milli(width, height, steps, images) == milli


@pytest.mark.parametrize(("chunks", "milli"), [(1, 1000), (3, 1000), (4, 2000), (20, 18000)])
def test_long_prompts_cost_a_base_price_per_chunk_beyond_the_third(chunks: int, milli: int) -> None:
    """Issue 21 item 13: price follows work (every step attends to every 75-token chunk)."""
    assert job_cost_milli(512, 512, 30, 4, chunks=chunks) == milli


def test_cost_rejects_nonsense_and_credits_parse() -> None:
    with pytest.raises(ValueError, match="steps"):
        job_cost_milli(512, 512, 0, 4)
    assert credits_to_milli("2.5") == 2500
    with pytest.raises(ValueError, match="3 decimals"):
        credits_to_milli("0.0001")
    assert format_credits(2500) == "2.5" and format_credits(-1000) == "-1"


def test_period_keys_by_plan() -> None:
    assert period_key("day", datetime(2026, 11, 23, 23, 59, 59, tzinfo=UTC)) == "d2026-11-23"
    assert period_key("day", datetime(2026, 11, 24, tzinfo=UTC)) == "d2026-11-24"
    assert period_key("month", datetime(2026, 11, 30, 23, 59, tzinfo=UTC)) == "m2026-11"
    tokyo = datetime(2026, 11, 24, 8, 0, tzinfo=timezone(timedelta(hours=9)))
    assert period_key("day", tokyo) == "d2026-11-23"  # keys are UTC whatever the clock's zone


async def _held_job(session: AsyncSession, user: int, now: datetime = NOW) -> uuid.UUID:
    result = await submit(session, submission(user), now=now)
    assert isinstance(result, Created)
    return result.job_id


async def _refund_rows(session: AsyncSession, job_id: uuid.UUID) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(QuotaLedger)
        .where(QuotaLedger.job_id == job_id, QuotaLedger.kind == LedgerKind.REFUND.value)
    )
    return int(count or 0)


async def test_ten_concurrent_refunds_refund_once(
    pg_sessions: async_sessionmaker[AsyncSession],
) -> None:
    for _ in range(5):
        user = new_user_id()
        async with pg_sessions.begin() as s:
            job_id = await _held_job(s, user)
            # A failed job whose hold is still out (as if an operator failed it by hand).
            await s.execute(update(Job).where(Job.id == job_id).values(state="failed"))
        amounts = await concurrently(
            pg_sessions, 10, lambda s, _i, j=job_id: quota.refund(s, j, NOW)
        )
        assert sorted(amounts) == [0] * 9 + [1000]
        async with pg_sessions() as s:
            assert await _refund_rows(s, job_id) == 1
            assert await stored_balance(s, user, DAY) == 25_000


async def test_ten_concurrent_cancels_refund_once(
    pg_sessions: async_sessionmaker[AsyncSession],
) -> None:
    for _ in range(5):
        user = new_user_id()
        async with pg_sessions.begin() as s:
            job_id = await _held_job(s, user)
        cancelled = await concurrently(
            pg_sessions, 10, lambda s, _i, j=job_id: jobs.cancel(s, j, NOW)
        )
        assert sorted(cancelled) == [False] * 9 + [True]
        async with pg_sessions() as s:
            assert await _refund_rows(s, job_id) == 1
            assert await stored_balance(s, user, DAY) == 25_000


async def test_a_hold_is_settled_or_refunded_never_both(pg_session: AsyncSession) -> None:
    user = new_user_id()
    job_id = await _held_job(pg_session, user)
    assert await quota.refund(pg_session, job_id, NOW) == 0  # still queued: nothing due
    assert not await quota.settle(pg_session, job_id, NOW)
    assert await jobs.cancel(pg_session, job_id, NOW)  # refunds
    assert await quota.refund(pg_session, job_id, NOW) == 0
    assert not await quota.settle(pg_session, job_id, NOW)
    other = await _held_job(pg_session, user)
    assert await jobs.claim(pg_session, other, "w1", NOW) is not None
    assert await jobs.complete(pg_session, other, 1, NOW)  # settles
    assert not await quota.settle(pg_session, other, NOW)
    assert await quota.refund(pg_session, other, NOW) == 0
    assert await stored_balance(pg_session, user, DAY) == 24_000
    assert await ledger_sum(pg_session, user, DAY) == 24_000


async def test_ledger_refuses_a_second_outcome_even_written_directly(
    pg_session: AsyncSession,
) -> None:
    user = new_user_id()
    job_id = await _held_job(pg_session, user)
    assert await jobs.claim(pg_session, job_id, "w1", NOW) is not None
    assert await jobs.complete(pg_session, job_id, 1, NOW)
    pg_session.add(
        QuotaLedger(
            user_id=user,
            job_id=job_id,
            kind=LedgerKind.REFUND.value,
            amount_milli=1000,
            period_key=DAY,
            created_at=NOW,
        )
    )
    with pytest.raises(IntegrityError):
        async with pg_session.begin_nested():
            await pg_session.flush()


async def test_balance_can_never_go_negative_in_sql(pg_session: AsyncSession) -> None:
    user = new_user_id()
    await _held_job(pg_session, user)
    row = await pg_session.get(QuotaBalance, (user, DAY))
    assert row is not None
    row.balance_milli = -1
    with pytest.raises(IntegrityError):
        async with pg_session.begin_nested():
            await pg_session.flush()


async def test_debits_straddling_a_period_boundary(
    pg_sessions: async_sessionmaker[AsyncSession],
) -> None:
    before = datetime(2026, 11, 23, 23, 59, 59, 999_999, tzinfo=UTC)
    after = before + timedelta(microseconds=1)
    two_credits = plans(credits=2, max_running=100, max_queued=100)
    for _ in range(3):
        user = new_user_id()
        results = await concurrently(
            pg_sessions,
            10,
            lambda s, i, u=user: submit(
                s, submission(u), two_credits, now=before if i % 2 else after
            ),
        )
        created = [r for r in results if isinstance(r, Created)]
        # Each period has its own 2 credits: 2 debits land in each, none in both.
        assert (
            sorted(r.period_key or "" for r in created) == ["d2026-11-23"] * 2 + ["d2026-11-24"] * 2
        )
        async with pg_sessions() as s:
            for key in ("d2026-11-23", "d2026-11-24"):
                assert await stored_balance(s, user, key) == 0
                assert await ledger_sum(s, user, key) == 0
            holds = (
                await s.execute(
                    select(QuotaLedger.job_id, func.count(func.distinct(QuotaLedger.period_key)))
                    .where(QuotaLedger.user_id == user, QuotaLedger.kind == "hold")
                    .group_by(QuotaLedger.job_id)
                )
            ).all()
            assert len(holds) == 4 and all(periods == 1 for _, periods in holds)


async def test_refund_goes_back_to_the_period_it_came_from(pg_session: AsyncSession) -> None:
    user = new_user_id()
    job_id = await _held_job(pg_session, user, now=NOW)
    tomorrow = NOW + timedelta(days=1)
    await _held_job(pg_session, user, now=tomorrow)
    assert await jobs.cancel(pg_session, job_id, tomorrow)
    assert await stored_balance(pg_session, user, "d2026-11-23") == 25_000
    assert await stored_balance(pg_session, user, "d2026-11-24") == 24_000


async def test_grant_adds_to_this_period_and_is_ledgered(pg_session: AsyncSession) -> None:
    user = new_user_id()
    await members.ensure_user(pg_session, user, "free", NOW)
    free = plans()["free"]
    balance = await quota.grant(pg_session, user, free, 5000, NOW, note="contest prize")
    assert balance == quota.Balance(user, DAY, 25_000, 30_000)
    assert await ledger_sum(pg_session, user, DAY) == 30_000
    with pytest.raises(quota.QuotaError, match="30 credits left"):
        await quota.grant(pg_session, user, free, -31_000, NOW)
    taken = await quota.grant(pg_session, user, free, -30_000, NOW)
    assert taken.balance_milli == 0


async def test_plan_change_moves_this_periods_allowance(pg_session: AsyncSession) -> None:
    user = new_user_id()
    plan_map = {"free": Plan(25_000), "plus": Plan(100_000), "trial": Plan(5_000)}
    await submit(pg_session, submission(user, cost_milli=10_000), plan_map)
    up = await members.set_plan(pg_session, user, "plus", plan_map, "free", NOW)
    assert up == quota.Balance(user, DAY, 100_000, 90_000)
    down = await members.set_plan(pg_session, user, "trial", plan_map, "free", NOW)
    assert down == quota.Balance(user, DAY, 5_000, 0)  # never below zero
    assert await ledger_sum(pg_session, user, DAY) == 0
    with pytest.raises(members.UnknownPlanError, match="configured plans: free, plus, trial"):
        await members.set_plan(pg_session, user, "gold", plan_map, "free", NOW)


async def test_monthly_plan_uses_month_keys(pg_session: AsyncSession) -> None:
    user = new_user_id()
    await members.set_plan(pg_session, user, "pro", plans(), "free", NOW)
    result = await submit(pg_session, submission(user), plans())
    assert isinstance(result, Created) and result.period_key == "m2026-11"
    shown = await quota.balance(pg_session, user, plans()["pro"], NOW + timedelta(days=3))
    assert shown == quota.Balance(user, "m2026-11", 500_000, 499_000)
    fresh = await quota.balance(pg_session, user, plans()["pro"], NOW + timedelta(days=10))
    assert fresh == quota.Balance(user, "m2026-12", 500_000, 500_000)
