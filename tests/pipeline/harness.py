"""Real worker processes, jobs and waiting, for the pipeline's failure tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.admission import Created, Submission, admit
from db.models import Image, Job, JobKind, QuotaLedger
from db.plans import Plan
from inference.registry import Registry
from inference.resolve import imagine_spec
from pipeline.contracts import JobSpec
from prompt.request import ImagineParams, PromptPart

ROOT = Path(__file__).resolve().parents[2]
PLANS = {"free": Plan(credits_milli=1_000_000)}


class Zygote:
    """The forking parent of the test workers (see worker_zygote.py)."""

    def __init__(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, str(ROOT / "tests/pipeline/worker_zygote.py")],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._read() == "ready", "the worker zygote failed to start"

    def _read(self) -> str:
        assert self._proc.stdout is not None
        return self._proc.stdout.readline().strip()

    def _ask(self, request: dict[str, Any]) -> str:
        assert self._proc.stdin is not None
        self._proc.stdin.write(json.dumps(request) + "\n")
        self._proc.stdin.flush()
        return self._read()

    def build_models(self, directory: Path) -> Path:
        assert self._ask({"op": "build", "dir": str(directory)}) == "0", "tiny model build failed"
        return directory / "models.toml"

    def spawn(self, env: dict[str, str], log: Path, argv: list[str]) -> WorkerProcess:
        pid = int(self._ask({"op": "spawn", "env": env, "argv": argv, "log": str(log)}))
        return WorkerProcess(pid, log)

    def close(self) -> None:
        if self._proc.stdin:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # its interpreter's exit (torch loaded) is slow here
            self._proc.kill()
            self._proc.wait(timeout=10)


@dataclass
class WorkerProcess:
    pid: int
    log: Path

    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def signal(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, sig)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        deadline = time.monotonic() + 10
        while self.alive() and time.monotonic() < deadline:
            time.sleep(0.02)

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "ready." in self.text():
                return
            if not self.alive():
                raise AssertionError(f"worker {self.pid} died at start:\n{self.text()[-3000:]}")
            time.sleep(0.05)
        raise AssertionError(
            f"worker {self.pid} not ready after {timeout}s:\n{self.text()[-3000:]}"
        )


@dataclass
class Workers:
    zygote: Zygote
    env: dict[str, str]
    logs: Path
    running: list[WorkerProcess] = field(default_factory=list)

    def start(self, name: str, *, ready: bool = True, **extra_env: str) -> WorkerProcess:
        log = self.logs / f"{name}-{uuid.uuid4().hex[:6]}.log"
        proc = self.zygote.spawn({**self.env, **extra_env}, log, ["worker", "--name", name])
        self.running.append(proc)
        if ready:
            proc.wait_ready()
        return proc

    def stop_all(self) -> None:
        for proc in self.running:
            proc.signal(signal.SIGCONT)
            proc.kill()
        self.running.clear()


def spec_for(registry: Registry, prompt: str, steps: int, batch: int = 4) -> JobSpec:
    params = ImagineParams(prompt=prompt, parts=(PromptPart(text=prompt),), seed=7, steps=steps)
    spec = imagine_spec(params, registry)
    generation = spec.generation.model_copy(update={"batch": batch})
    return spec.model_copy(update={"generation": generation})


async def submit(
    sessions: async_sessionmaker[AsyncSession], spec: JobSpec, user_id: int
) -> uuid.UUID:
    submission = Submission(
        job_id=spec.job_id,
        user_id=user_id,
        kind=JobKind.IMAGINE,
        request=spec.model_dump(mode="json"),
        cost_milli=1000,
    )
    async with sessions.begin() as session:
        created = await admit(
            session,
            submission,
            PLANS,
            default_plan="free",
            relax_enabled=False,
            now=datetime.now(UTC),
        )
    assert isinstance(created, Created), created
    return spec.job_id


async def job_row(sessions: async_sessionmaker[AsyncSession], job_id: uuid.UUID) -> Job:
    async with sessions() as session:
        job = await session.get(Job, job_id)
        assert job is not None
        return job


async def ledger_kinds(sessions: async_sessionmaker[AsyncSession], job_id: uuid.UUID) -> list[str]:
    async with sessions() as session:
        rows = await session.scalars(
            select(QuotaLedger.kind).where(QuotaLedger.job_id == job_id).order_by(QuotaLedger.id)
        )
        return list(rows)


async def image_keys(sessions: async_sessionmaker[AsyncSession], job_id: uuid.UUID) -> list[str]:
    async with sessions() as session:
        rows = await session.scalars(
            select(Image.key).where(Image.job_id == job_id).order_by(Image.index)
        )
        return list(rows)


async def count_images(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Image)) or 0)


async def wait_for(
    check: Callable[[], Awaitable[bool]],
    timeout: float,
    what: str,
    *,
    tick: Callable[[], Awaitable[Any]] | None = None,
    interval: float = 0.2,
) -> float:
    """Poll `check` (running `tick`, e.g. a reconciler pass, before each poll); returns the
    seconds it took."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if tick is not None:
            await tick()
        if await check():
            return time.monotonic() - start
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


class NoDispatch:
    """A reconciler's dispatcher for a pass that must publish nothing (no lease expired, no
    broker state)."""

    def dispatch(self, job_id: uuid.UUID, queue: str) -> None:
        raise AssertionError(f"nothing should be published, got {job_id}")

    def queue_depth(self, queue: str) -> int:
        return 0
