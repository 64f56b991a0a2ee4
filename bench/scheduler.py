"""Scheduler benchmark (#18): the scheduler's claim (db.scheduler) against first-in first-out,
side by side in one run, on a scratch Postgres database (dropped afterwards).

Workers here are asyncio tasks, each on its own database connection, that claim with the real
SQL and complete with the real `db.jobs.complete`; the engine is a stand-in that sleeps a
fixed job time, plus a load time when the job's model is not among the worker's loaded models
(an LRU of `--slots` models). Only the claim order differs between the two columns.

- fairness: member A queues 13 jobs, then B and C one each; one worker. How many of A's jobs
  start before B's and C's, and B's and C's waits.
- affinity: 2 workers, 4 models, room for 2 models each, 200 jobs from 20 members with random
  models, all queued at once: model loads, and the p50/p95 wait of each member (best and
  worst member shown).
- claim latency: p50/p95 of one `claim_next` transaction with 100 jobs of 20 members queued.

    PYTHONPATH=. .venv/bin/python bench/scheduler.py
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import statistics
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
from sqlalchemy import insert, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db import jobs, members
from db.caps import running_cap, running_of
from db.jobs import Claim
from db.migrate import upgrade
from db.models import Job, JobState, User
from db.plans import Plan
from db.scheduler import SchedulePolicy, WorkerView, claim_next, job_model
from db.sessions import create_engine, session_factory

ADMIN = os.environ.get("NANKE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
POLICY = SchedulePolicy.of_plans({"free": Plan(10**9, "day", max_running=3)}, "free")
Claimer = Callable[[AsyncSession, WorkerView, datetime], Awaitable[Claim | None]]


async def fair(session: AsyncSession, worker: WorkerView, now: datetime) -> Claim | None:
    return await claim_next(session, worker, POLICY, now)


async def fifo(session: AsyncSession, worker: WorkerView, now: datetime) -> Claim | None:
    """Today's order: the oldest queued job of the worker's models (member caps kept)."""
    picked = (
        await session.execute(
            select(Job.id)
            .join(User, User.id == Job.user_id)
            .where(
                Job.state == JobState.QUEUED.value,
                job_model().in_(sorted(worker.serves or ())),
                running_of(User.id) < running_cap(POLICY.caps),
            )
            .order_by(Job.relaxed, Job.created_at, Job.id)
            .limit(1)
            .with_for_update(of=Job, skip_locked=True)
        )
    ).scalar()
    if picked is None:
        return None
    return await jobs.claim(session, picked, worker.owner, now, caps=POLICY.caps)  # type: ignore[return-value]


@dataclass
class Stats:
    started: dict[uuid.UUID, float] = field(default_factory=dict)
    loads: int = 0


async def _submit(
    sessions: async_sessionmaker[AsyncSession], jobs_: list[tuple[int, str]]
) -> dict[uuid.UUID, tuple[int, float]]:
    """Queue (member, model) jobs in order; returns job → (member, time queued)."""
    out = {}
    async with sessions.begin() as session:
        for user, model in jobs_:
            job_id = uuid.uuid4()
            now = datetime.now(UTC)
            await members.ensure_user(session, user, "free", now)
            await session.execute(
                insert(Job).values(
                    id=job_id,
                    user_id=user,
                    kind="imagine",
                    request={"generation": {"model": model}},
                    state="queued",
                    cost_milli=1000,
                    created_at=now,
                )
            )
            out[job_id] = (user, time.monotonic())
    return out


async def _worker(
    sessions: async_sessionmaker[AsyncSession],
    claimer: Claimer,
    name: str,
    models: list[str],
    slots: int,
    job_s: float,
    load_s: float,
    stats: Stats,
    total: int,
) -> None:
    loaded: OrderedDict[str, None] = OrderedDict()
    while len(stats.started) < total:
        view = WorkerView(name, frozenset(models), frozenset(loaded))
        async with sessions.begin() as session:
            claim = await claimer(session, view, datetime.now(UTC))
        if claim is None:
            await asyncio.sleep(0.005)
            continue
        stats.started[claim.job_id] = time.monotonic()
        model = claim.request["generation"]["model"]
        if model in loaded:
            loaded.move_to_end(model)
        else:
            stats.loads += 1
            while len(loaded) >= slots:
                loaded.popitem(last=False)
            await asyncio.sleep(load_s)
            loaded[model] = None
        await asyncio.sleep(job_s)
        async with sessions.begin() as session:
            await jobs.complete(session, claim.job_id, claim.attempt, datetime.now(UTC))


async def _reset(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions.begin() as session:
        await session.execute(
            update(Job).where(Job.state.in_(("queued", "running"))).values(state="cancelled")
        )


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def fairness(sessions: async_sessionmaker[AsyncSession], job_s: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for label, claimer in (("fifo", fifo), ("fair", fair)):
        await _reset(sessions)
        a, b, c = (random.randrange(10**12) for _ in range(3))
        queued = await _submit(sessions, [(a, "m0")] * 13)
        queued |= await _submit(sessions, [(b, "m0"), (c, "m0")])
        stats = Stats()
        await _worker(sessions, claimer, f"f-{label}", ["m0"], 2, job_s, 0.0, stats, 15)
        order = sorted(stats.started, key=lambda j: stats.started[j])
        users = [queued[j][0] for j in order]
        waits = {queued[j][0]: stats.started[j] - queued[j][1] for j in order if queued[j][0] != a}
        out[label] = {
            "a_before_b": users.index(b),
            "a_before_c": users.index(c) - 1,
            "wait_b_s": waits[b],
            "wait_c_s": waits[c],
        }
    return out


async def affinity(
    sessions: async_sessionmaker[AsyncSession], job_s: float, load_s: float, count: int
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    rng = random.Random(18)
    members_ = [rng.randrange(10**12) for _ in range(20)]
    mix = [(rng.choice(members_), f"m{rng.randrange(4)}") for _ in range(count)]
    models = [f"m{i}" for i in range(4)]
    for label, claimer in (("fifo", fifo), ("fair", fair)):
        await _reset(sessions)
        queued = await _submit(sessions, mix)
        stats = Stats()
        await asyncio.gather(
            *(
                _worker(sessions, claimer, f"a{i}-{label}", models, 2, job_s, load_s, stats, count)
                for i in range(2)
            )
        )
        per_member: dict[int, list[float]] = {}
        for job_id, at in stats.started.items():
            user, queued_at = queued[job_id]
            per_member.setdefault(user, []).append(at - queued_at)
        p50s = [statistics.median(w) for w in per_member.values()]
        p95s = [_pct(w, 0.95) for w in per_member.values()]
        out[label] = {
            "loads": stats.loads,
            "loads_pct": 100 * stats.loads / count,
            "p50_best_worst": (min(p50s), max(p50s)),
            "p95_best_worst": (min(p95s), max(p95s)),
        }
    return out


async def claim_latency(
    sessions: async_sessionmaker[AsyncSession], rounds: int
) -> dict[str, float]:
    await _reset(sessions)
    members_ = [random.randrange(10**12) for _ in range(20)]
    await _submit(sessions, [(members_[i % 20], "m0") for i in range(100)])
    worker = WorkerView("lat", frozenset({"m0"}), frozenset({"m0"}))
    times = []
    for i in range(rounds):
        t0 = time.perf_counter()
        async with sessions.begin() as session:
            claim = await claim_next(session, worker, POLICY, datetime.now(UTC))
        times.append((time.perf_counter() - t0) * 1000)
        assert claim is not None
        async with sessions.begin() as session:  # keep 100 queued and caps free
            await jobs.complete(session, claim.job_id, claim.attempt, datetime.now(UTC))
        await _submit(sessions, [(members_[i % 20], "m0")])
    base = []  # the same connection's cost of any transaction: BEGIN, SELECT 1, COMMIT
    for _ in range(rounds):
        t0 = time.perf_counter()
        async with sessions.begin() as session:
            await session.execute(select(1))
        base.append((time.perf_counter() - t0) * 1000)
    return {
        "p50_ms": statistics.median(times),
        "p95_ms": _pct(times, 0.95),
        "base_p50_ms": statistics.median(base),
    }


async def main(args: argparse.Namespace) -> None:
    name = f"nanke_bench_sched_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(ADMIN).set(drivername="postgresql+asyncpg", database=name)
    engine = create_engine(url.render_as_string(hide_password=False), pool_size=4)
    try:
        await upgrade(engine)
        sessions = session_factory(engine)
        fairness_ = await fairness(sessions, args.job_s)
        affinity_ = await affinity(sessions, args.job_s, args.load_s, args.jobs)
        latency = await claim_latency(sessions, args.rounds)
    finally:
        await engine.dispose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    load = os.getloadavg()
    print(f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; cpus {os.cpu_count()}")
    print(
        f"stand-in engine: job {args.job_s * 1000:.0f} ms, model load {args.load_s * 1000:.0f} ms"
    )
    print("| measure | FIFO | scheduler |")
    print("|---|---|---|")
    f, s = fairness_["fifo"], fairness_["fair"]
    print(
        f"| fairness: A's jobs started before B's / C's | {f['a_before_b']} / {f['a_before_c']} "
        f"| {s['a_before_b']} / {s['a_before_c']} |"
    )
    print(
        f"| fairness: wait of B / C (s) | {f['wait_b_s']:.2f} / {f['wait_c_s']:.2f} "
        f"| {s['wait_b_s']:.2f} / {s['wait_c_s']:.2f} |"
    )
    f, s = affinity_["fifo"], affinity_["fair"]
    print(
        f"| affinity: model loads ({args.jobs} jobs) | {f['loads']} ({f['loads_pct']:.0f} %) "
        f"| {s['loads']} ({s['loads_pct']:.0f} %) |"
    )
    for key, label in (("p50_best_worst", "p50"), ("p95_best_worst", "p95")):
        print(
            f"| affinity: {label} wait per member, best–worst (s) | "
            f"{f[key][0]:.2f}–{f[key][1]:.2f} | {s[key][0]:.2f}–{s[key][1]:.2f} |"
        )
    print(
        f"| claim latency, 100 queued / 20 members: p50 / p95 (ms) | – "
        f"| {latency['p50_ms']:.1f} / {latency['p95_ms']:.1f} |"
    )
    print(
        f"| an empty transaction (BEGIN; SELECT 1; COMMIT) on the same box: p50 (ms) | – "
        f"| {latency['base_p50_ms']:.1f} |"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--job-s", type=float, default=0.05, help="stand-in job time (s)")
    parser.add_argument("--load-s", type=float, default=0.25, help="stand-in model load (s)")
    parser.add_argument("--jobs", type=int, default=200, help="jobs in the affinity mix")
    parser.add_argument("--rounds", type=int, default=200, help="claims timed for latency")
    asyncio.run(main(parser.parse_args()))
