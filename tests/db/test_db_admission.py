"""Admission (hold quota + insert job): results, idempotency, caps and credits under load."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db import jobs, members
from db.admission import Created, OutOfCredits, OverCaps, Replayed, admit_in_transaction
from db.models import Job, JobState, LedgerKind, QuotaLedger
from tests.fixtures.db_helpers import (
    NOW,
    ONE_CREDIT,
    concurrently,
    ledger_sum,
    new_user_id,
    plans,
    stored_balance,
    submission,
    submit,
)

ROUNDS = 3  # each concurrency scenario is repeated with fresh users


async def _count(session: AsyncSession, *where: object) -> int:
    return int(await session.scalar(select(func.count()).select_from(Job).where(*where)) or 0)


async def test_created_job_is_queued_with_a_hold(pg_session: AsyncSession) -> None:
    user = new_user_id()
    sub = submission(user, cost_milli=1500, interaction_id=new_user_id(), guild_id=7)
    result = await submit(pg_session, sub)
    assert result == Created(sub.job_id, False, 1500, 23_500, "d2026-11-23")
    job = await jobs.get(pg_session, sub.job_id)
    assert job is not None
    assert (job.state, job.kind, job.cost_milli, job.attempts) == ("queued", "imagine", 1500, 0)
    assert job.request == dict(sub.request)
    assert job.guild_id == 7 and job.created_at == NOW
    assert await ledger_sum(pg_session, user, "d2026-11-23") == 23_500
    user_row = await members.get_user(pg_session, user)
    assert user_row is not None and user_row.plan == "free"


async def test_replayed_interaction_returns_the_first_job(pg_session: AsyncSession) -> None:
    user, interaction = new_user_id(), new_user_id()
    first = await submit(pg_session, submission(user, interaction_id=interaction))
    again = await submit(pg_session, submission(user, interaction_id=interaction))
    assert isinstance(first, Created)
    assert again == Replayed(first.job_id, JobState.QUEUED)
    assert await stored_balance(pg_session, user, "d2026-11-23") == 24_000


async def test_out_of_credits_writes_no_job(pg_session: AsyncSession) -> None:
    user = new_user_id()
    result = await submit(pg_session, submission(user, cost_milli=30_000))
    assert result == OutOfCredits(30_000, 25_000, "d2026-11-23")
    assert await _count(pg_session, Job.user_id == user) == 0
    assert await stored_balance(pg_session, user, "d2026-11-23") == 25_000


async def test_relax_mode_queues_uncharged_when_out_of_credits(pg_session: AsyncSession) -> None:
    user = new_user_id()
    sub = submission(user, cost_milli=30_000)
    result = await submit(pg_session, sub, relax=True)
    assert result == Created(sub.job_id, True, 0, None, None)
    job = await jobs.get(pg_session, sub.job_id)
    assert job is not None and job.relaxed and job.quota_period is None
    holds = await pg_session.scalar(
        select(func.count()).select_from(QuotaLedger).where(QuotaLedger.job_id == sub.job_id)
    )
    assert holds == 0
    # Members who chose relax mode are never charged while relax is enabled.
    await members.update_settings(pg_session, user, {"mode": "relax"}, "free", NOW)
    cheap = await submit(pg_session, submission(user), relax=True)
    assert isinstance(cheap, Created) and cheap.relaxed
    # With relax disabled the same member is charged as usual.
    charged = await submit(pg_session, submission(user), relax=False)
    assert isinstance(charged, Created) and not charged.relaxed and charged.charged_milli == 1000


async def test_caps_count_queued_and_running(pg_session: AsyncSession) -> None:
    user = new_user_id()
    small = plans(max_running=1, max_queued=1)
    first = await submit(pg_session, submission(user), small)
    assert isinstance(first, Created)
    assert await jobs.claim(pg_session, first.job_id, "w1", NOW) is not None
    assert isinstance(await submit(pg_session, submission(user), small), Created)
    assert await submit(pg_session, submission(user), small) == OverCaps(2, 2)
    # Finishing a job frees a slot.
    assert await jobs.complete(pg_session, first.job_id, 1, NOW)
    assert isinstance(await submit(pg_session, submission(user), small), Created)


async def test_unknown_plan_falls_back_to_default(pg_session: AsyncSession) -> None:
    user = new_user_id()
    await members.set_plan(pg_session, user, "pro", plans(), "free", NOW)
    only_free = {"free": plans()["free"]}
    result = await submit(pg_session, submission(user), only_free)
    assert isinstance(result, Created) and result.period_key == "d2026-11-23"


async def test_200_concurrent_holds_with_10_credits(
    pg_sessions: async_sessionmaker[AsyncSession],
) -> None:
    ten_credits = plans(credits=10, max_running=500, max_queued=500)
    for _ in range(2):  # 400 contended transactions: the slowest test, so two rounds
        user = new_user_id()
        results = await concurrently(
            pg_sessions,
            200,
            lambda s, _i, user=user: submit(s, submission(user), ten_credits),
        )
        created = [r for r in results if isinstance(r, Created)]
        assert len(created) == 10
        assert all(isinstance(r, OutOfCredits) for r in results if not isinstance(r, Created))
        async with pg_sessions() as s:
            assert await stored_balance(s, user, "d2026-11-23") == 0
            assert await ledger_sum(s, user, "d2026-11-23") == 0
            assert await _count(s, Job.user_id == user) == 10


async def test_50_concurrent_submissions_against_caps(
    pg_sessions: async_sessionmaker[AsyncSession],
) -> None:
    capped = plans(credits=1000, max_running=3, max_queued=10)
    for _ in range(ROUNDS):
        user = new_user_id()
        results = await concurrently(
            pg_sessions, 50, lambda s, _i, user=user: submit(s, submission(user), capped)
        )
        assert sum(isinstance(r, Created) for r in results) == 13
        assert sum(isinstance(r, OverCaps) for r in results) == 37
        async with pg_sessions() as s:
            assert await _count(s, Job.user_id == user) == 13
            assert await stored_balance(s, user, "d2026-11-23") == 1_000_000 - 13 * ONE_CREDIT


async def test_same_interaction_five_times_concurrently(
    pg_sessions: async_sessionmaker[AsyncSession],
) -> None:
    for _ in range(ROUNDS * 3):
        user, interaction = new_user_id(), new_user_id()
        results = await concurrently(
            pg_sessions,
            5,
            lambda s, _i, u=user, i=interaction: submit(s, submission(u, interaction_id=i)),
        )
        created = [r for r in results if isinstance(r, Created)]
        assert len(created) == 1
        replay = Replayed(created[0].job_id, JobState.QUEUED)
        assert all(r == replay for r in results if r is not created[0])
        async with pg_sessions() as s:
            assert await _count(s, Job.interaction_id == interaction) == 1
            holds = await s.scalar(
                select(func.count())
                .select_from(QuotaLedger)
                .where(QuotaLedger.user_id == user, QuotaLedger.kind == LedgerKind.HOLD.value)
            )
            assert holds == 1
            assert await stored_balance(s, user, "d2026-11-23") == 24_000


async def test_admit_in_transaction_commits(pg_sessions: async_sessionmaker[AsyncSession]) -> None:
    user = new_user_id()
    sub = submission(user)
    result = await admit_in_transaction(
        pg_sessions, sub, plans(), default_plan="free", relax_enabled=False, now=NOW
    )
    assert isinstance(result, Created)
    async with pg_sessions() as s:
        assert await jobs.get(s, sub.job_id) is not None
