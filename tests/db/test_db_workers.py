"""Workers' heartbeat rows, jobs no live worker can serve, and the queue's statistics (#18)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy.ext.asyncio import AsyncSession

from db import jobs, workers
from db.admission import Created, Submission
from db.models import JobKind
from db.queue_stats import queue_stats
from db.scheduler import SchedulePolicy, WorkerView, claim_next
from pipeline.metrics import render_prometheus, render_table
from tests.fixtures.db_helpers import NOW, ledger_sum, new_user_id, plans, submit

FREE = plans()


def _for_model(user: int, model: str) -> Submission:
    job_id = uuid.uuid4()
    request = {"job_id": str(job_id), "generation": {"model": model}}
    return Submission(job_id, user, JobKind.IMAGINE, request, cost_milli=1000)


async def _queue(session: AsyncSession, user: int, model: str) -> uuid.UUID:
    created = await submit(session, _for_model(user, model), FREE)
    assert isinstance(created, Created)
    return created.job_id


async def test_a_job_for_a_model_no_live_worker_serves_fails_refunded(
    pg_session: AsyncSession,
) -> None:
    member = new_user_id()
    tag = uuid.uuid4().hex[:6]
    served, orphan = f"served-{tag}", f"orphan-{tag}"
    ok = await _queue(pg_session, member, served)
    lost = await _queue(pg_session, member, orphan)
    later = NOW + timedelta(seconds=40)
    # No worker is live: nothing fails (a deploy or restart must not fail the queue).
    assert await workers.fail_unservable(pg_session, later) == []
    await workers.beat(pg_session, f"gpu-{tag}", [served], [served], later)

    failed = await workers.fail_unservable(pg_session, later, grace=timedelta(seconds=30))

    # (Other tests' jobs in this database have no live worker either: look at ours.)
    ours = [(job_id, text) for job_id, text in failed if job_id in (ok, lost)]
    assert [job_id for job_id, _ in ours] == [lost]
    message = ours[0][1]
    assert f"no GPU worker serves the model '{orphan}'" in message and "refunded" in message
    job = await jobs.get(pg_session, lost)
    assert job is not None and job.state == "failed" and job.error == message
    assert await ledger_sum(pg_session, member, "d2026-11-23") == 25_000 - 1000  # one refunded
    still = await jobs.get(pg_session, ok)
    assert still is not None and still.state == "queued"
    # A worker that stopped beating no longer counts.
    gone = later + workers.DEFAULT_LIVE_WINDOW + timedelta(seconds=1)
    assert await workers.live(pg_session, gone) == []
    await workers.leave(pg_session, f"gpu-{tag}")


async def test_queue_stats_show_backlog_running_oldest_wait_and_workers(
    pg_session: AsyncSession,
) -> None:
    tag = uuid.uuid4().hex[:6]
    model = f"stats-{tag}"
    a, b = new_user_id(), new_user_id()
    for _ in range(3):
        await _queue(pg_session, a, model)
    await _queue(pg_session, b, model)
    worker = WorkerView(f"gpu-{tag}", frozenset({model}), frozenset({model}))
    assert await claim_next(pg_session, worker, SchedulePolicy.of_plans(FREE, "free"), NOW)
    later = NOW + timedelta(minutes=2)
    await workers.beat(pg_session, worker.owner, [model], [model], later, loads=2)

    stats = await queue_stats(pg_session, later)

    (row,) = [m for m in stats.models if m.model == model]
    assert (row.queued_fast, row.queued_relax, row.running) == (3, 0, 1)
    assert row.oldest_wait_s == 120 and (row.workers, row.loaded_on) == (1, 1)
    text = render_prometheus(stats)
    assert f'nanke_queue_jobs{{model="{model}",mode="fast"}} 3' in text
    assert f'nanke_running_jobs{{model="{model}"}} 1' in text
    assert f'nanke_queue_oldest_wait_seconds{{model="{model}"}} 120.0' in text
    assert "# TYPE nanke_model_loads_per_hour gauge" in text
    assert model in render_table(stats) and worker.owner in render_table(stats)
    await workers.leave(pg_session, worker.owner)


def test_nanke_queue_stats_prints_the_table(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nanke.cli import cli

    monkeypatch.setenv("NANKE_DATABASE_URL", postgres_url)
    result = CliRunner().invoke(cli, ["queue", "stats"])
    assert result.exit_code == 0, result.output
    assert "model" in result.output and "live workers:" in result.output
    result = CliRunner().invoke(cli, ["queue", "stats", "--prometheus"])
    assert result.exit_code == 0 and "# TYPE nanke_workers_live gauge" in result.output
