"""Admission throughput on Postgres: `db.admission.admit` (hold quota + insert job) per second.

Creates a scratch database on the server (dropped afterwards), migrates it with Alembic and
submits --jobs jobs from --users users through --concurrency connections, each admission in
its own committed transaction, exactly as the bot does. Every admission succeeds (credits
and caps are set high) so the figure is the cost of the success path.

    PYTHONPATH=. .venv/bin/python bench/admission.py --jobs 3000 --users 200 --concurrency 16
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import time
import uuid
from datetime import UTC, datetime

import asyncpg
from sqlalchemy.engine import make_url

from db.admission import Created, Submission, admit_in_transaction
from db.migrate import upgrade
from db.models import JobKind
from db.plans import Plan
from db.sessions import create_engine, session_factory

DEFAULT_ADMIN = os.environ.get(
    "NANKE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--admin-dsn", default=DEFAULT_ADMIN, help="server to create the scratch DB on"
    )
    parser.add_argument("--jobs", type=int, default=3000, help="admissions per run")
    parser.add_argument("--users", type=int, default=200, help="distinct users (1 = one hot user)")
    parser.add_argument(
        "--concurrency", type=int, default=16, help="connections submitting at once"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs; the median is reported")
    return parser


async def _admin(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _run_once(
    url: str, args: argparse.Namespace, base_user: int
) -> tuple[float, list[float]]:
    engine = create_engine(url, pool_size=args.concurrency, max_overflow=0)
    sessions = session_factory(engine)
    plans = {"free": Plan(credits_milli=10**12, max_running=10**6, max_queued=10**6)}
    interactions = itertools.count(base_user * 10**6)
    todo = iter(range(args.jobs))
    latencies: list[float] = []
    now = datetime.now(UTC)

    async def worker() -> None:
        for i in todo:
            job_id = uuid.uuid4()
            sub = Submission(
                job_id=job_id,
                user_id=base_user + i % args.users,
                kind=JobKind.IMAGINE,
                request={"job_id": str(job_id), "params": {"prompt": "a lighthouse at dusk"}},
                cost_milli=1000,
                interaction_id=next(interactions),
            )
            started = time.perf_counter()
            result = await admit_in_transaction(
                sessions, sub, plans, default_plan="free", relax_enabled=False, now=now
            )
            latencies.append(time.perf_counter() - started)
            assert isinstance(result, Created), result

    try:
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        return time.perf_counter() - started, latencies
    finally:
        await engine.dispose()


async def main(args: argparse.Namespace) -> None:
    name = f"nanke_bench_{os.getpid()}"
    await _admin(args.admin_dsn, f'CREATE DATABASE "{name}"')
    try:
        url = make_url(args.admin_dsn).set(drivername="postgresql+asyncpg", database=name)
        url_text = url.render_as_string(hide_password=False)
        engine = create_engine(url_text)
        await upgrade(engine)
        await engine.dispose()
        rates, p50s, p95s = [], [], []
        for run in range(args.repeat):
            elapsed, latencies = await _run_once(url_text, args, (run + 1) * 10**7)
            latencies.sort()
            rates.append(args.jobs / elapsed)
            p50s.append(latencies[len(latencies) // 2] * 1000)
            p95s.append(latencies[int(len(latencies) * 0.95)] * 1000)
            print(
                f"run {run + 1}: {rates[-1]:.0f} jobs/s, "
                f"p50 {p50s[-1]:.1f} ms, p95 {p95s[-1]:.1f} ms"
            )
        print(
            f"| {args.users} | {args.concurrency} | {args.jobs} | "
            f"{statistics.median(rates):.0f} | {statistics.median(p50s):.1f} | "
            f"{statistics.median(p95s):.1f} |"
        )
    finally:
        await _admin(args.admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    asyncio.run(main(_parser().parse_args()))
