"""The scheduler's invariants over random arrivals, against real Postgres (#18).

Hypothesis draws members (plans with different running caps), workers (which models each
serves and has loaded) and a random interleaving of arrivals (fast or relax, any model),
claims and finishes. Before every claim the test reads the queue as it stands and checks the
job the worker got against what a member would call fair:

- no member ever runs more than their plan's cap;
- a worker never gets a job for a model it does not serve;
- a relax job never starts while a fast job the worker could run waits;
- among fast jobs, the member whose last job started longest ago goes first (round-robin);
  among relax jobs, the member with the least relax usage this period;
- nothing is claimed only when nothing was eligible;
- in the end every job runs, or fails with a message (and a refund) because no worker serves
  its model.

A second test lets several workers claim at once, each on its own connection.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from db import jobs, members, queue_view, workers
from db.models import Job, JobState, User
from db.plans import Plan
from db.scheduler import SchedulePolicy, WorkerView, claim_next, period_start
from db.sessions import create_engine, session_factory
from tests.fixtures.db_helpers import new_user_id
from tests.fixtures.postgres import truncate_all

PLANS = {"free": Plan(25_000, "day", max_running=1), "pro": Plan(500_000, "day", max_running=2)}
POLICY = SchedulePolicy.of_plans(PLANS, "free", affinity_wait=timedelta(seconds=20))
START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Arrive:
    member: int
    model: int
    relaxed: bool


@dataclass(frozen=True)
class ClaimBy:
    worker: int


@dataclass(frozen=True)
class Finish:
    pick: int
    failed: bool


Step = Arrive | ClaimBy | Finish


@dataclass(frozen=True)
class Seen:
    """A queued job as the test reads it before a claim."""

    id: uuid.UUID
    user_id: int
    model: str
    relaxed: bool
    created_at: datetime


@pytest.fixture(scope="module")
def runner() -> Iterator[asyncio.Runner]:
    with asyncio.Runner() as run:
        yield run


@pytest.fixture(scope="module")
def engine(runner: asyncio.Runner, postgres_url: str) -> Iterator[AsyncEngine]:
    db = create_engine(postgres_url, pool_size=6, max_overflow=0)
    yield db
    # The session's database is shared: leave no queued or leased jobs for later tests'
    # reconcilers and workers to pick up.
    runner.run(truncate_all(db))
    runner.run(db.dispose())


async def _arrive(
    session: AsyncSession, user: int, model: str, relaxed: bool, at: datetime
) -> None:
    await session.execute(
        insert(Job).values(
            id=uuid.uuid4(),
            user_id=user,
            kind="imagine",
            request={"generation": {"model": model}},
            state=JobState.QUEUED.value,
            relaxed=relaxed,
            cost_milli=1000,
            created_at=at,
        )
    )


async def _running(session: AsyncSession, users: list[int]) -> dict[int, int]:
    rows = await session.execute(
        select(Job.user_id, func.count())
        .where(Job.user_id.in_(users), Job.state == JobState.RUNNING.value)
        .group_by(Job.user_id)
    )
    return {user: int(n) for user, n in rows.all()}


async def _queued(session: AsyncSession, users: list[int]) -> list[Seen]:
    rows = await session.execute(
        select(Job.id, Job.user_id, Job.request, Job.relaxed, Job.created_at).where(
            Job.user_id.in_(users), Job.state == JobState.QUEUED.value
        )
    )
    return [Seen(r[0], r[1], r[2]["generation"]["model"], r[3], r[4]) for r in rows.all()]


async def _relax_usage(session: AsyncSession, users: list[int], now: datetime) -> dict[int, int]:
    rows = await session.execute(
        select(Job.user_id, func.sum(Job.cost_milli))
        .where(
            Job.user_id.in_(users),
            Job.relaxed.is_(True),
            Job.started_at >= period_start("day", now),
        )
        .group_by(Job.user_id)
    )
    return {user: int(n) for user, n in rows.all()}


async def _last_started(session: AsyncSession, users: list[int]) -> dict[int, datetime | None]:
    rows = await session.execute(select(User.id, User.last_started_at).where(User.id.in_(users)))
    return {user: at for user, at in rows.all()}


def _first(value: datetime | None) -> tuple[int, datetime]:
    """Round-robin order: never started first, then longest ago."""
    return (0, START) if value is None else (1, value)


async def _check_claim(
    sessions: async_sessionmaker[AsyncSession],
    worker: WorkerView,
    users: list[int],
    plan_of: dict[int, str],
    now: datetime,
) -> uuid.UUID | None:
    # long: reads the queue, claims, and states each invariant of the claim in one place
    async with sessions() as session:
        queued = await _queued(session, users)
        running = await _running(session, users)
        usage = await _relax_usage(session, users, now)
        last = await _last_started(session, users)

    def cap(user: int) -> int:
        return PLANS[plan_of[user]].max_running

    assert worker.serves is not None
    eligible = [
        j for j in queued if j.model in worker.serves and running.get(j.user_id, 0) < cap(j.user_id)
    ]
    async with sessions.begin() as session:
        claim = await claim_next(session, worker, POLICY, now)
    if claim is None:
        assert not eligible, "a worker found nothing although a job was eligible"
        return None
    got = next((j for j in eligible if j.id == claim.job_id), None)
    assert got is not None, "the worker got a job it may not run (model, cap or not queued)"

    def tier(job: Seen) -> int:
        warm = job.model in worker.loaded or job.created_at <= now - POLICY.affinity_wait
        return 0 if warm else 1

    if got.relaxed:
        assert not [j for j in eligible if not j.relaxed], "a relax job started before a fast one"
    rivals = [j for j in eligible if j.relaxed == got.relaxed and tier(j) < tier(got)]
    assert not rivals, "a job whose model is not loaded went before one whose model is"
    peers = [j for j in eligible if j.relaxed == got.relaxed and tier(j) == tier(got)]
    if got.relaxed:
        least = min(usage.get(j.user_id, 0) for j in peers)
        assert usage.get(got.user_id, 0) == least, "relax: a member with more usage went first"
        peers = [j for j in peers if usage.get(j.user_id, 0) == least]
    earliest = min(_first(last[j.user_id]) for j in peers)
    assert _first(last[got.user_id]) == earliest, "round-robin: a member was served out of turn"
    return claim.job_id


async def _finish(
    sessions: async_sessionmaker[AsyncSession],
    users: list[int],
    pick: int,
    failed: bool,
    now: datetime,
) -> None:
    async with sessions.begin() as session:
        rows = (
            await session.execute(
                select(Job.id, Job.attempts)
                .where(Job.user_id.in_(users), Job.state == JobState.RUNNING.value)
                .order_by(Job.started_at, Job.id)
            )
        ).all()
        if not rows:
            return
        job_id, attempt = rows[pick % len(rows)]
        if failed:
            await jobs.fail(session, job_id, attempt, now, "engine error", retryable=True)
        else:
            assert await jobs.complete(session, job_id, attempt, now)


async def _scenario(
    sessions: async_sessionmaker[AsyncSession],
    plan_names: list[str],
    served: list[tuple[set[int], set[int]]],
    steps: list[Step],
) -> None:
    tag = uuid.uuid4().hex[:8]
    models = [f"m{i}-{tag}" for i in range(3)]
    users = [new_user_id() for _ in plan_names]
    plan_of = dict(zip(users, plan_names, strict=True))
    pool = [
        WorkerView(
            f"w{i}-{tag}",
            frozenset(models[m] for m in serves),
            frozenset(models[m] for m in loaded & serves),
        )
        for i, (serves, loaded) in enumerate(served)
    ]
    now = START
    async with sessions.begin() as session:
        for user, plan in plan_of.items():
            await members.ensure_user(session, user, plan, now)
    for step in steps:
        now += timedelta(seconds=3)
        if isinstance(step, Arrive):
            async with sessions.begin() as session:
                await _arrive(session, users[step.member], models[step.model], step.relaxed, now)
        elif isinstance(step, ClaimBy):
            await _check_claim(sessions, pool[step.worker], users, plan_of, now)
        else:
            await _finish(sessions, users, step.pick, step.failed, now)
        async with sessions() as session:
            running = await _running(session, users)
        assert all(n <= PLANS[plan_of[u]].max_running for u, n in running.items())

    # Drain: every worker claims and completes until none finds work.
    while True:
        now += timedelta(seconds=3)
        async with sessions() as session:
            busy = sum((await _running(session, users)).values())
        for _ in range(busy):
            await _finish(sessions, users, 0, False, now)
        claims = [await _check_claim(sessions, worker, users, plan_of, now) for worker in pool]
        if not any(claims):
            break
    async with sessions.begin() as session:
        for worker in pool:
            await workers.beat(session, worker.owner, worker.serves or (), worker.loaded, now)
        failed = await workers.fail_unservable(session, now)
    served_models = {m for w in pool for m in w.serves or ()}
    async with sessions() as session:
        assert not await _queued(session, users), "a job was left waiting forever"
        ended = await session.scalars(
            select(Job).where(Job.user_id.in_(users), Job.state == JobState.FAILED.value)
        )
        unservable = {
            job.id for job in ended if job.request["generation"]["model"] not in served_models
        }
    # Exactly the jobs no worker serves failed for that reason, each with its message.
    assert {job_id for job_id, _ in failed} == unservable
    assert all("no GPU worker serves the model" in message for _, message in failed)
    async with sessions.begin() as session:
        for worker in pool:
            await workers.leave(session, worker.owner)


def _steps() -> st.SearchStrategy[list[Step]]:
    arrive = st.builds(Arrive, st.integers(0, 3), st.integers(0, 2), st.booleans())
    claim = st.builds(ClaimBy, st.integers(0, 1))
    finish = st.builds(Finish, st.integers(0, 5), st.booleans())
    return st.lists(st.one_of(arrive, arrive, claim, claim, finish), min_size=5, max_size=40)


def _workers() -> st.SearchStrategy[list[tuple[set[int], set[int]]]]:
    models = st.sets(st.integers(0, 2), min_size=1, max_size=3)
    return st.lists(st.tuples(models, st.sets(st.integers(0, 2))), min_size=2, max_size=2)


def test_claims_follow_the_schedule_over_random_arrivals(
    runner: asyncio.Runner, engine: AsyncEngine
) -> None:
    sessions = session_factory(engine)

    @settings(
        max_examples=25,
        # No shrinking: each example is dozens of transactions; a failure prints its steps.
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(
        plan_names=st.lists(st.sampled_from(["free", "pro"]), min_size=4, max_size=4),
        served=_workers(),
        steps=_steps(),
    )
    def check(
        plan_names: list[str], served: list[tuple[set[int], set[int]]], steps: list[Step]
    ) -> None:
        runner.run(_scenario(sessions, plan_names, served, steps))

    check()


async def _claim_one(
    sessions: async_sessionmaker[AsyncSession], worker: WorkerView, now: datetime
) -> tuple[WorkerView, uuid.UUID | None]:
    async with sessions.begin() as session:
        claim = await claim_next(session, worker, POLICY, now)
    return worker, None if claim is None else claim.job_id


async def _concurrent(
    sessions: async_sessionmaker[AsyncSession], arrivals: list[tuple[int, int]], caps: list[str]
) -> None:
    tag = uuid.uuid4().hex[:8]
    models = [f"c{i}-{tag}" for i in range(3)]
    users = [new_user_id() for _ in caps]
    plan_of = dict(zip(users, caps, strict=True))
    # Four workers, two claims each at once; worker 3 serves nothing the others do not.
    serves = [{0, 1}, {1, 2}, {0, 2}, {0}]
    pool = [
        WorkerView(f"cw{i}-{tag}", frozenset(models[m] for m in s)) for i, s in enumerate(serves)
    ]
    now = START
    async with sessions.begin() as session:
        for user, plan in plan_of.items():
            await members.ensure_user(session, user, plan, now)
        for member, model in arrivals:
            await _arrive(session, users[member], models[model], False, now)
    started: set[uuid.UUID] = set()
    while True:
        now += timedelta(seconds=1)

        got = await asyncio.gather(*(_claim_one(sessions, w, now) for w in pool for _ in range(2)))
        claimed = [(w, job_id) for w, job_id in got if job_id is not None]
        async with sessions() as session:
            running = await _running(session, users)
            for worker, job_id in claimed:
                job = await jobs.get(session, job_id)
                assert job is not None and job.request["generation"]["model"] in (
                    worker.serves or ()
                )
        assert all(n <= PLANS[plan_of[u]].max_running for u, n in running.items())
        ids = [job_id for _, job_id in claimed]
        assert len(set(ids)) == len(ids) and not started & set(ids), "a job was claimed twice"
        started |= set(ids)
        if not ids and not running:
            break
        await asyncio.gather(*(_finish(sessions, users, 0, False, now) for _ in range(3)))
    assert len(started) == len(arrivals)


def test_concurrent_claimers_keep_caps_and_models(
    runner: asyncio.Runner, engine: AsyncEngine
) -> None:
    sessions = session_factory(engine)

    @settings(max_examples=5, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate])
    @given(
        arrivals=st.lists(
            st.tuples(st.integers(0, 4), st.integers(0, 2)), min_size=10, max_size=30
        ),
        caps=st.lists(st.sampled_from(["free", "pro"]), min_size=5, max_size=5),
    )
    def check(arrivals: list[tuple[int, int]], caps: list[str]) -> None:
        runner.run(_concurrent(sessions, arrivals, caps))

    check()


async def _positions_come_true(
    sessions: async_sessionmaker[AsyncSession], arrivals: list[tuple[int, bool]], started: int
) -> None:
    """Queue positions shown to members are the order in which a worker then starts them."""
    model = f"q-{uuid.uuid4().hex[:8]}"
    users = [new_user_id() for _ in range(4)]
    roomy = SchedulePolicy.of_plans({"free": Plan(25_000, "day", max_running=100)}, "free")
    worker = WorkerView(f"qw-{model}", frozenset({model}), frozenset({model}))
    now = START
    async with sessions.begin() as session:
        for user in users:
            await members.ensure_user(session, user, "free", now)
        for i, (member, relaxed) in enumerate(arrivals):
            await _arrive(session, users[member], model, relaxed, now + timedelta(seconds=i))
    now += timedelta(minutes=5)
    # Some jobs already started, so members differ in when they last started and relax usage.
    for _ in range(started):
        async with sessions.begin() as session:
            await claim_next(session, worker, roomy, now)
        now += timedelta(seconds=1)
    async with sessions() as session:
        waiting = await _queued(session, users)
        shown = {job.id: await queue_view.queue_position(session, job.id) for job in waiting}
    order = []
    while True:
        now += timedelta(seconds=1)
        async with sessions.begin() as session:
            claim = await claim_next(session, worker, roomy, now)
        if claim is None:
            break
        order.append(claim.job_id)
    assert {job_id: i for i, job_id in enumerate(order, start=1)} == shown


def test_queue_positions_are_the_order_workers_start_jobs_in(
    runner: asyncio.Runner, engine: AsyncEngine
) -> None:
    sessions = session_factory(engine)

    @settings(max_examples=10, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate])
    @given(
        arrivals=st.lists(st.tuples(st.integers(0, 3), st.booleans()), min_size=1, max_size=14),
        started=st.integers(0, 4),
    )
    def check(arrivals: list[tuple[int, bool]], started: int) -> None:
        runner.run(_positions_come_true(sessions, arrivals, started))

    check()


async def test_a_member_with_13_jobs_does_not_hold_up_the_next_two(
    pg_session: AsyncSession,
) -> None:
    """The issue's example: A queues 13 jobs, then B and C one each: B and C are 2nd and 3rd."""
    model = f"f-{uuid.uuid4().hex[:8]}"
    a, b, c = new_user_id(), new_user_id(), new_user_id()
    for user in (a, b, c):
        await members.ensure_user(pg_session, user, "free", START)
    for i in range(13):
        await _arrive(pg_session, a, model, False, START + timedelta(seconds=i))
    await _arrive(pg_session, b, model, False, START + timedelta(seconds=20))
    await _arrive(pg_session, c, model, False, START + timedelta(seconds=21))
    waiting = await _queued(pg_session, [a, b, c])
    positions = {
        (job.user_id, job.created_at): await queue_view.queue_position(pg_session, job.id)
        for job in waiting
    }
    assert positions[(b, START + timedelta(seconds=20))] == 2
    assert positions[(c, START + timedelta(seconds=21))] == 3
    assert positions[(a, START)] == 1 and positions[(a, START + timedelta(seconds=12))] == 15


async def test_the_eta_is_the_jobs_ahead_shared_among_workers_times_the_run_time(
    pg_session: AsyncSession,
) -> None:
    model = f"eta-{uuid.uuid4().hex[:8]}"
    member = new_user_id()
    await members.ensure_user(pg_session, member, "free", START)
    await _arrive(pg_session, member, model, False, START)
    (waiting,) = await _queued(pg_session, [member])
    assert await queue_view.queue_eta(pg_session, waiting.id, 3, START) is None  # nothing measured
    worker = WorkerView(f"eta-w-{model}", frozenset({model}))
    claim = await claim_next(pg_session, worker, POLICY, START)
    assert claim is not None
    assert await jobs.complete(pg_session, claim.job_id, 1, START + timedelta(seconds=20))
    await _arrive(pg_session, member, model, False, START)
    (waiting,) = await _queued(pg_session, [member])
    later = START + timedelta(seconds=30)
    for name in ("a", "b"):
        await workers.beat(pg_session, f"{worker.owner}-{name}", [model], [], later)
    # Position 3 with two workers: two rounds of 20 s.
    assert await queue_view.queue_eta(pg_session, waiting.id, 3, later) == 40.0
