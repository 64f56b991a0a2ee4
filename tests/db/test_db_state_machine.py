"""Hypothesis drives random interleavings of submit / claim / heartbeat / complete / fail /
expire / cancel / refund / post against Postgres, compares every answer with a small model and
checks the invariants after each step: balance never negative and equal to its ledger, at most
one settle or refund per job (and only for the right end state), terminal states final."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import and_, func, select

from db import jobs, quota
from db.admission import Created, OutOfCredits, OverCaps
from db.models import Job, JobState, LedgerKind, QuotaBalance, QuotaLedger
from db.plans import Plan
from db.sessions import create_engine, session_factory
from tests.fixtures.db_helpers import NOW, new_user_id, submission, submit

T = TypeVar("T")
LEASE = timedelta(minutes=5)
PLANS = {"free": Plan(credits_milli=5000, max_running=2, max_queued=3)}
DAY = "d2026-11-23"
MAX_ATTEMPTS = 2
TERMINAL = {JobState.POSTED, JobState.FAILED, JobState.CANCELLED}


@dataclass
class ModelJob:
    state: JobState
    attempts: int
    charged: int  # milli held (0 for relaxed)
    held: bool  # has a hold in the ledger (every job admitted with credits, even at cost 0)
    lease_until: Any = None


class JobLifecycle(RuleBasedStateMachine):
    url: str = ""
    job_ids = Bundle("job_ids")

    def __init__(self) -> None:
        super().__init__()
        self.runner = asyncio.Runner()
        self.engine = create_engine(self.url, pool_size=1, max_overflow=0, pool_pre_ping=False)
        self.sessions = session_factory(self.engine)
        self.user = new_user_id()
        self.now = NOW
        self.model: dict[uuid.UUID, ModelJob] = {}
        self.terminal: dict[uuid.UUID, JobState] = {}
        self.balance = PLANS["free"].credits_milli

    def teardown(self) -> None:
        self.runner.run(self.engine.dispose())
        self.runner.close()

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.runner.run(coro)

    async def _txn(self, action: Any) -> Any:
        async with self.sessions.begin() as session:
            return await action(session)

    @rule(
        target=job_ids,
        cost=st.sampled_from([0, 400, 1000, 2500]),
        relax=st.booleans(),
    )
    def submit(self, cost: int, relax: bool) -> Any:
        sub = submission(self.user, cost_milli=cost, max_attempts=MAX_ATTEMPTS)
        result = self._run(self._txn(lambda s: submit(s, sub, PLANS, relax=relax, now=self.now)))
        queued = sum(j.state is JobState.QUEUED for j in self.model.values())
        running = sum(j.state is JobState.RUNNING for j in self.model.values())
        # Running jobs beyond the plan's max_running (this machine claims by id, past the
        # caps) take no waiting slot: admission counts at most max_running of them.
        plan = PLANS["free"]
        limit = plan.max_running + plan.max_queued
        if queued + min(running, plan.max_running) >= limit:
            assert result == OverCaps(queued + running, limit)
            return multiple()
        if self.balance >= cost:
            assert result == Created(sub.job_id, False, cost, self.balance - cost, DAY)
            self.balance -= cost
            self.model[sub.job_id] = ModelJob(JobState.QUEUED, 0, cost, held=True)
        elif relax:
            assert result == Created(sub.job_id, True, 0, None, None)
            self.model[sub.job_id] = ModelJob(JobState.QUEUED, 0, 0, held=False)
        else:
            assert result == OutOfCredits(cost, self.balance, DAY)
            return multiple()
        return sub.job_id

    @rule(job_id=job_ids)
    def claim(self, job_id: uuid.UUID) -> None:
        job = self.model[job_id]
        got = self._run(self._txn(lambda s: jobs.claim(s, job_id, "w", self.now, LEASE)))
        if job.state is JobState.QUEUED:
            assert got is not None and got.attempt == job.attempts + 1
            job.state, job.attempts = JobState.RUNNING, got.attempt
            job.lease_until = self.now + LEASE
        else:
            assert got is None

    def _attempt(self, job: ModelJob, stale: bool) -> int:
        return job.attempts - 1 if stale else job.attempts

    def _is_current(self, job: ModelJob, attempt: int) -> bool:
        return job.state is JobState.RUNNING and attempt == job.attempts

    @rule(job_id=job_ids, stale=st.booleans())
    def heartbeat(self, job_id: uuid.UUID, stale: bool) -> None:
        job = self.model[job_id]
        attempt = self._attempt(job, stale)
        ok = self._run(self._txn(lambda s: jobs.heartbeat(s, job_id, attempt, self.now, LEASE)))
        assert ok == self._is_current(job, attempt)
        if ok:
            job.lease_until = self.now + LEASE

    @rule(job_id=job_ids, stale=st.booleans())
    def complete(self, job_id: uuid.UUID, stale: bool) -> None:
        job = self.model[job_id]
        attempt = self._attempt(job, stale)
        # Completion is idempotent per fencing token: the attempt that already completed the
        # job is told "yours" again (a retried COMMIT), and nothing changes.
        completed_by_it = (
            job.state in (JobState.SUCCEEDED, JobState.POSTED) and attempt == job.attempts
        )
        ok = self._run(self._txn(lambda s: jobs.complete(s, job_id, attempt, self.now)))
        assert ok == (self._is_current(job, attempt) or completed_by_it)
        if ok:
            job.state = JobState.POSTED if job.state is JobState.POSTED else JobState.SUCCEEDED

    @rule(job_id=job_ids, stale=st.booleans(), retryable=st.booleans())
    def fail(self, job_id: uuid.UUID, stale: bool, retryable: bool) -> None:
        job = self.model[job_id]
        attempt = self._attempt(job, stale)
        state = self._run(
            self._txn(lambda s: jobs.fail(s, job_id, attempt, self.now, "boom", retryable))
        )
        if not self._is_current(job, attempt):
            assert state is None
            return
        if retryable and job.attempts < MAX_ATTEMPTS:
            assert state is JobState.QUEUED
            job.state = JobState.QUEUED
        else:
            assert state is JobState.FAILED
            job.state = JobState.FAILED
            self.balance += job.charged

    @rule(minutes=st.integers(min_value=1, max_value=8))
    def expire(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)
        result = self._run(self._txn(lambda s: jobs.requeue_expired(s, self.now)))
        ours = set(self.model)
        expected_requeued, expected_failed = set(), set()
        for job_id, job in self.model.items():
            if job.state is JobState.RUNNING and job.lease_until < self.now:
                if job.attempts < MAX_ATTEMPTS:
                    expected_requeued.add(job_id)
                    job.state = JobState.QUEUED
                else:
                    expected_failed.add(job_id)
                    job.state = JobState.FAILED
                    self.balance += job.charged
        assert set(result.requeued) & ours == expected_requeued
        assert set(result.failed) & ours == expected_failed

    @rule(job_id=job_ids)
    def cancel(self, job_id: uuid.UUID) -> None:
        job = self.model[job_id]
        ok = self._run(self._txn(lambda s: jobs.cancel(s, job_id, self.now, self.user)))
        assert ok == (job.state is JobState.QUEUED)
        if ok:
            job.state = JobState.CANCELLED
            self.balance += job.charged

    @rule(job_id=job_ids)
    def refund(self, job_id: uuid.UUID) -> None:
        # A duplicate refund (a reconciler retrying, say) never pays twice.
        amount = self._run(self._txn(lambda s: quota.refund(s, job_id, self.now)))
        assert amount == 0

    @rule(job_id=consumes(job_ids))
    def post(self, job_id: uuid.UUID) -> None:
        job = self.model[job_id]
        ok = self._run(self._txn(lambda s: jobs.mark_posted(s, job_id, self.now, 1)))
        # A result is posted once; a failure is shown once too, and stays `failed`.
        assert ok == (job.state in (JobState.SUCCEEDED, JobState.FAILED))
        if ok and job.state is JobState.SUCCEEDED:
            job.state = JobState.POSTED

    @invariant()
    def database_agrees(self) -> None:
        self._run(self._check())

    async def _check(self) -> None:
        ledger_total = (
            select(func.sum(QuotaLedger.amount_milli))
            .where(QuotaLedger.user_id == self.user)
            .scalar_subquery()
        )
        ended_hold = and_(
            QuotaLedger.job_id == Job.id,
            QuotaLedger.kind.in_([LedgerKind.SETTLE.value, LedgerKind.REFUND.value]),
        )
        async with self.sessions() as s:
            balance, ledger = (
                await s.execute(
                    select(QuotaBalance.balance_milli, ledger_total).where(
                        QuotaBalance.user_id == self.user, QuotaBalance.period_key == DAY
                    )
                )
            ).one_or_none() or (None, None)
            rows = (
                await s.execute(
                    select(Job.id, Job.state, QuotaLedger.kind)
                    .outerjoin(QuotaLedger, ended_hold)
                    .where(Job.user_id == self.user)
                )
            ).all()
        if balance is None:  # nothing charged yet
            assert self.balance == PLANS["free"].credits_milli
        else:
            assert balance == self.balance >= 0
            assert ledger == balance
        states = {job_id: JobState(state) for job_id, state, _ in rows}
        assert states == {k: j.state for k, j in self.model.items()}
        outcomes = [(job_id, kind) for job_id, _, kind in rows if kind is not None]
        ended = [job_id for job_id, _ in outcomes]
        assert len(ended) == len(set(ended)), "a hold ended twice"
        outcome_of = dict(outcomes)
        for job_id, job in self.model.items():
            expected = None
            if job.held and job.state in (JobState.SUCCEEDED, JobState.POSTED):
                expected = LedgerKind.SETTLE.value
            elif job.held and job.state in (JobState.FAILED, JobState.CANCELLED):
                expected = LedgerKind.REFUND.value
            assert outcome_of.get(job_id) == expected, (job_id, job)
        # Terminal states are final: once seen, never left.
        for job_id, state in self.terminal.items():
            assert states[job_id] is state
        for job_id, job in self.model.items():
            if job.state in TERMINAL:
                self.terminal.setdefault(job_id, job.state)


def test_job_lifecycle_keeps_invariants(postgres_url: str) -> None:
    JobLifecycle.url = postgres_url
    run_state_machine_as_test(
        JobLifecycle,
        settings=settings(
            max_examples=15,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
