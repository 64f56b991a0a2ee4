"""Job pipeline benchmark: real `nanke worker` processes, Postgres, Redis and the tiny model.

Measures, as docs/BENCHMARKS.md reports them:
- enqueue → start latency (p50/p95): one idle worker, jobs enqueued one at a time; from the
  bot's `enqueue` call to the worker's `started` event (claim done, engine about to run);
- worker overhead per job outside the engine call (claim, events, storage, complete), from
  the workers' own per-job accounting;
- jobs/minute with one and with two workers, for a burst of jobs.

It creates a scratch database (dropped afterwards) and a private redis-server (AOF on) in a
temp dir, and builds tiny models unless --models is given.

    PYTHONPATH=. .venv/bin/python bench/pipeline.py --jobs 30 --steps 1
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import redis
from sqlalchemy.engine import make_url

from db.admission import Created, Submission, admit_in_transaction
from db.migrate import upgrade
from db.models import JobKind
from db.plans import Plan
from db.sessions import create_engine, session_factory
from inference.registry import load_registry
from inference.resolve import imagine_spec
from pipeline.celery_app import build_celery_app, queue_name
from pipeline.client import CeleryJobClient
from pipeline.enqueue import enqueue
from pipeline.events import RedisEventPublisher
from pipeline.settings import PipelineSettings
from prompt.request import ImagineParams, PromptPart

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_ADMIN = os.environ.get(
    "NANKE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
OVERHEAD = re.compile(r"succeeded: engine ([\d.]+) ms, overhead ([\d.]+) ms")
PIPELINE = PipelineSettings()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--admin-dsn", default=DEFAULT_ADMIN)
    parser.add_argument("--models", type=Path, help="models.toml (default: build tiny models)")
    parser.add_argument("--jobs", type=int, default=30, help="jobs per phase")
    parser.add_argument("--steps", type=int, default=1, help="denoising steps per job")
    parser.add_argument("--batch", type=int, default=1, help="images per job")
    parser.add_argument(
        "--threads-table",
        action="store_true",
        help="only jobs/minute side by side: 1 worker with 2 torch threads, 1 with 1, 2 with 1",
    )
    return parser


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _admin(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


class Bench:
    def __init__(self, args: argparse.Namespace, tmp: Path, db_url: str, redis_url: str) -> None:
        self.args = args
        self.tmp = tmp
        self.db_url = db_url
        self.redis_url = redis_url
        self.redis = redis.Redis.from_url(redis_url)
        self.client = CeleryJobClient(build_celery_app(redis_url, PIPELINE))
        self.events = RedisEventPublisher(self.redis, PIPELINE.events_stream)
        self.engine = create_engine(db_url)
        self.sessions = session_factory(self.engine)
        self.registry = load_registry(args.models)
        self.user = 7_000_000_000_000
        self.workers: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start_workers(self, count: int, threads: int | None = None) -> None:
        env = {
            **os.environ,
            **({"NANKE_WORKER__THREADS": str(threads)} if threads else {}),
            "PYTHONPATH": str(ROOT),
            "NANKE_WORKER__DEVICE": os.environ.get("NANKE_WORKER__DEVICE", "cpu"),
            "NANKE_DATABASE_URL": self.db_url,
            "NANKE_BROKER_URL": self.redis_url,
            "NANKE_MODELS_FILE": str(self.args.models),
            "NANKE_DATA_DIR": str(self.tmp / "data"),
        }
        for i in range(count):
            log = self.tmp / f"worker-{len(self.workers)}.log"
            proc = subprocess.Popen(
                [sys.executable, "-m", "nanke", "worker", "--name", f"bench{len(self.workers)}"],
                cwd=ROOT,
                env=env,
                stdout=log.open("wb"),
                stderr=subprocess.STDOUT,
            )
            self.workers.append((proc, log))
            del i
        deadline = time.monotonic() + 300
        for proc, log in self.workers[-count:]:
            while "ready." not in log.read_text(errors="replace"):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"worker failed to start:\n{log.read_text()[-2000:]}")
                time.sleep(0.1)

    def stop_workers(self) -> None:
        for proc, _ in self.workers:
            proc.terminate()
        for proc, _ in self.workers:
            proc.wait(timeout=60)
        self.workers = []

    async def submit(self) -> uuid.UUID:
        params = ImagineParams(
            prompt="a benchmark", parts=(PromptPart(text="a benchmark"),), steps=self.args.steps
        )
        spec = imagine_spec(params, self.registry)
        spec = spec.model_copy(
            update={"generation": spec.generation.model_copy(update={"batch": self.args.batch})}
        )
        self.user += 1
        created = await admit_in_transaction(
            self.sessions,
            Submission(
                job_id=spec.job_id,
                user_id=self.user,
                kind=JobKind.IMAGINE,
                request=spec.model_dump(mode="json"),
                cost_milli=0,
            ),
            {"free": Plan(1_000_000)},
            default_plan="free",
            relax_enabled=False,
            now=datetime.now(UTC),
        )
        assert isinstance(created, Created)
        return spec.job_id

    def events_by_job(self) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for _, fields in self.redis.xrange(PIPELINE.events_stream):
            event = json.loads(fields[b"event"])
            out.setdefault(event["job_id"], {}).setdefault(event["kind"], event["at"])
        return out

    def wait_done(self, ids: list[uuid.UUID], timeout: float = 600) -> dict[str, dict[str, float]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            seen = self.events_by_job()
            if all("succeeded" in seen.get(str(j), {}) for j in ids):
                return seen
            time.sleep(0.05)
        raise SystemExit("jobs did not finish in time")

    async def latency(self) -> list[float]:
        waits = []
        queue = queue_name(self.registry.model().family)
        for _ in range(self.args.jobs):
            job_id = await self.submit()
            sent = time.time()
            enqueue(self.client, self.events, job_id, queue)
            seen = self.wait_done([job_id])
            waits.append((seen[str(job_id)]["started"] - sent) * 1000)
        return waits

    async def throughput(self) -> float:
        queue = queue_name(self.registry.model().family)
        ids = [await self.submit() for _ in range(self.args.jobs)]
        start = time.time()
        for job_id in ids:
            enqueue(self.client, self.events, job_id, queue)
        seen = self.wait_done(ids)
        end = max(seen[str(j)]["succeeded"] for j in ids)
        return len(ids) / (end - start) * 60

    def overheads(self) -> list[float]:
        values = []
        for _, log in self.workers:
            values += [float(m.group(2)) for m in OVERHEAD.finditer(log.read_text())]
        return values


async def threads_table(bench: Bench) -> dict[str, float]:
    """jobs/minute per (workers, torch threads each), measured back to back in one run."""
    out: dict[str, float] = {}
    for workers, threads in [(1, 2), (1, 1), (2, 1)]:
        bench.start_workers(workers, threads)
        await bench.throughput()  # warm-up burst
        out[f"{workers} worker(s) x {threads} thread(s)"] = round(await bench.throughput(), 1)
        bench.stop_workers()
    out["load_average_1m_after"] = round(os.getloadavg()[0], 1)
    return out


async def main() -> None:
    args = _parser().parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="nanke-bench-"))
    if args.models is None:
        subprocess.run(
            [sys.executable, "-m", "nanke", "make-tiny-models", str(tmp / "models")],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            check=True,
            capture_output=True,
        )
        args.models = tmp / "models" / "models.toml"
    name = f"nanke_bench_pipeline_{secrets.token_hex(4)}"
    await _admin(args.admin_dsn, f'CREATE DATABASE "{name}"')
    db_url = make_url(args.admin_dsn).set(drivername="postgresql+asyncpg", database=name)
    url = db_url.render_as_string(hide_password=False)
    port = 20000 + secrets.randbelow(20000)
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--dir", str(tmp), "--appendonly", "yes"],
        stdout=subprocess.DEVNULL,
    )
    bench: Bench | None = None
    try:
        engine = create_engine(url)
        await upgrade(engine)
        await engine.dispose()
        bench = Bench(args, tmp, url, f"redis://127.0.0.1:{port}/0")
        results: dict[str, Any] = {"jobs": args.jobs, "steps": args.steps, "batch": args.batch}
        results["load_average_1m_before"] = round(os.getloadavg()[0], 1)
        if args.threads_table:
            results["jobs_per_minute"] = await threads_table(bench)
            print(json.dumps(results, indent=2))
            return
        bench.start_workers(1)
        await bench.throughput()  # warm-up: first runs pay one-off costs
        bench.redis.delete(PIPELINE.events_stream)
        latency = await bench.latency()
        results["enqueue_to_start_ms"] = {
            "p50": round(statistics.median(latency), 1),
            "p95": round(pct(latency, 0.95), 1),
        }
        results["jobs_per_minute_1_worker"] = round(await bench.throughput(), 1)
        bench.start_workers(1)
        results["jobs_per_minute_2_workers"] = round(await bench.throughput(), 1)
        overhead = bench.overheads()
        results["worker_overhead_ms"] = {
            "p50": round(statistics.median(overhead), 1),
            "p95": round(pct(overhead, 0.95), 1),
            "jobs": len(overhead),
        }
        print(json.dumps(results, indent=2))
    finally:
        if bench is not None:
            bench.stop_workers()
            await bench.engine.dispose()
        server.terminate()
        server.wait(timeout=10)
        await _admin(args.admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
