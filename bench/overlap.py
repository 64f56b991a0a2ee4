# ruff: noqa: E402  (the sys.path fix below must run before the project imports)
"""Engine idle time between jobs: serial worker vs overlapped finishing (engine_thread.py).

In one run, side by side: a burst of jobs through the real `JobRunner` with the real tiny
engine, a SQLite database (claim, complete with image rows and the quota settle, fenced as in
production), local storage and in-memory events, first with one job in flight (the old serial
worker: PNG encoding, storage writes, commit and events between two engine calls) and then with
two (those steps overlap the next job's denoising). Reports the share of wall time the engine
thread sat idle from its first job's start to its last job's end, and jobs/minute. Goal: < 5 %.

    PYTHONPATH=. OMP_NUM_THREADS=1 .venv/bin/python bench/overlap.py --jobs 20 --steps 4
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# bench/pipeline.py would shadow the `pipeline` package when this runs as bench/overlap.py.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

from db.admission import Created, Submission, admit
from db.migrate import upgrade
from db.models import JobKind
from db.plans import Plan
from db.sessions import create_engine, session_factory
from inference.registry import load_registry
from inference.resolve import imagine_spec
from pipeline.engine_thread import EngineThread
from pipeline.events import InMemoryEvents
from pipeline.in_process import InProcessDispatcher
from pipeline.job_store import DbJobStore
from pipeline.loop_thread import LoopThread
from pipeline.runner import JobRunner
from pipeline.settings import PipelineSettings
from pipeline.storage import LocalStorage
from prompt.request import ImagineParams, PromptPart

GOAL = 0.05


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=Path, help="models.toml (default: build tiny models)")
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    return parser


async def _admit(sessions: Any, registry: Any, jobs: int, steps: int) -> list[uuid.UUID]:
    ids = []
    for i in range(jobs):
        text = f"a lighthouse at dusk {i}"
        params = ImagineParams(prompt=text, parts=(PromptPart(text=text),), steps=steps, seed=i)
        spec = imagine_spec(params, registry)
        sub = Submission(
            job_id=spec.job_id,
            user_id=8_000_000_000_000 + i,
            kind=JobKind.IMAGINE,
            request=spec.model_dump(mode="json"),
            cost_milli=1000,
        )
        async with sessions.begin() as session:
            created = await admit(
                session,
                sub,
                {"free": Plan(credits_milli=1_000_000)},
                default_plan="free",
                relax_enabled=False,
                now=datetime.now(UTC),
            )
        assert isinstance(created, Created)
        ids.append(spec.job_id)
    return ids


def burst(engine: Any, registry: Any, tmp: Path, in_flight: int, args: Any) -> dict[str, float]:
    loop = LoopThread()
    db = create_engine(f"sqlite+aiosqlite:///{tmp / f'bench-{in_flight}.db'}")
    loop.run(upgrade(db))
    sessions = session_factory(db)
    ids = loop.run(_admit(sessions, registry, args.jobs, args.steps))
    threaded = EngineThread(engine)
    runner = JobRunner(
        threaded,
        DbJobStore(sessions, loop.run, timedelta(seconds=60)),
        LocalStorage(tmp / f"images-{in_flight}"),
        InMemoryEvents(),
        PipelineSettings(),
        owner=f"bench-{in_flight}",
    )
    dispatcher = InProcessDispatcher(runner, workers=in_flight)
    for job_id in ids:
        dispatcher.dispatch(job_id, "nanke.sd15")
    start = time.perf_counter()
    dispatcher.start()
    while dispatcher.task_ids():
        time.sleep(0.01)
    wall = time.perf_counter() - start
    dispatcher.stop(10)
    threaded.close()
    loop.run(db.dispose())
    loop.close()
    return {"idle": threaded.idle_fraction(), "jpm": args.jobs / wall * 60, "wall": wall}


def main() -> None:
    args = _parser().parse_args()
    import torch

    from inference.worker.engine import Engine

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        models = args.models
        if models is None:
            from inference.tiny import build_tiny_models

            models = build_tiny_models(tmp / "tiny")
        registry = load_registry(models)
        engine = Engine(registry, device="cpu")
        engine.load_models([registry.model().name])
        burst(engine, registry, tmp, 1, argparse.Namespace(jobs=2, steps=1))  # warm-up
        rows = {n: burst(engine, registry, tmp, n, args) for n in (1, 2)}
    load = os.getloadavg()
    print(
        f"{args.jobs} jobs, {args.steps} steps, torch threads {args.threads}, "
        f"load average {load[0]:.1f} / {load[1]:.1f}"
    )
    print("| jobs in flight | engine idle between jobs | jobs/minute | wall s |")
    print("|---:|---:|---:|---:|")
    for n, row in rows.items():
        label = "1 (serial, before)" if n == 1 else "2 (overlapped)"
        print(f"| {label} | {row['idle']:.1%} | {row['jpm']:.0f} | {row['wall']:.1f} |")
    verdict = "meets" if rows[2]["idle"] < GOAL else "misses"
    print(f"overlapped idle {rows[2]['idle']:.1%} {verdict} the goal (< {GOAL:.0%})")


if __name__ == "__main__":
    main()
