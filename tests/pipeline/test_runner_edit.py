"""An `edit` job end to end on real Postgres: /edit's admission holds (1 + inputs) × the grid's
price under the `edit` kind, the runner hands the engine the job and its image, and an engine
refusal (a flagged input) fails the job with its message and a refund."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.adapters import PipelineEnqueuer
from bot.services.edit_intake import admit_edit, check_instruction
from bot.services.intake import IntakeService, Requester
from bot.services.resolver import RegistryResolver
from bot.services.sql_store import SqlStore
from db.cost import job_cost_milli
from db.plans import Plan
from inference.errors import BadRequestError
from inference.registry import ModelEntry, Registry
from pipeline.contracts import JobKind, JobSpec
from pipeline.events import InMemoryEvents
from pipeline.runner import Outcome
from prompt.request import ImageRef
from tests.pipeline.harness import job_row, ledger_kinds
from tests.pipeline.test_runner import Setup

_ids = itertools.count(8_100_000_000_000)


class _Dispatcher:
    """Records where each job is published (the Celery dispatcher's seam)."""

    def __init__(self) -> None:
        self.sent: list[tuple[Any, str]] = []

    def queue_depth(self, queue: str) -> int:
        return 0

    def dispatch(self, job_id: Any, queue: str) -> None:
        self.sent.append((job_id, queue))


REGISTRY = Registry(
    {
        "sd": ModelEntry("sd", "/nowhere", "dir", "sd15", 20, 512),
        "kontext": ModelEntry("kontext", "/nowhere", "dir", "flux", 28, 1024),
    },
    "sd",
    edit="kontext",
)


@pytest.fixture
async def setup(
    pg_sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> AsyncIterator[Setup]:
    yield Setup(pg_sessions, tmp_path)


def _family_of(model: str) -> str:  # as nanke/roots/bot.py routes jobs
    return REGISTRY.model(model).family


async def _admitted(setup: Setup, dispatcher: _Dispatcher | None = None) -> tuple[Any, int]:
    store = SqlStore(
        setup.sessions, {"free": Plan(100_000, "day")}, default_plan="free", relax_enabled=False
    )
    resolver = RegistryResolver(REGISTRY)
    enqueuer = PipelineEnqueuer(dispatcher or _Dispatcher(), InMemoryEvents(), _family_of)
    intake = IntakeService(store=store, enqueuer=enqueuer, resolver=resolver)
    who = Requester(next(_ids), next(_ids), None, 42)
    params = await check_instruction(intake, who, "make it night --seed 4")
    image = ImageRef(sha256="c" * 64)
    queued, _ = await admit_edit(intake, resolver, who, params, (image,), (2048, 1024))
    await intake.release((queued,))  # as post_queued does after showing the status message
    return queued.job, (await store.account(who.user_id)).credits_left_milli


async def test_an_edit_is_admitted_priced_queued_for_its_family_and_run(setup: Setup) -> None:
    dispatcher = _Dispatcher()
    job, left = await _admitted(setup, dispatcher)
    assert dispatcher.sent == [(job.id, "nanke.flux")]  # the edit model's family queue
    grid = job_cost_milli(1456, 720, 28, 4)  # 2:1 at the model's 1024² area, sides in 16s
    assert job.spec.kind is JobKind.EDIT and (
        job.spec.generation.width,
        job.spec.generation.height,
    ) == (1456, 720)
    assert job.cost_milli == 2 * grid and left == 100_000 - 2 * grid
    row = await job_row(setup.sessions, job.id)
    assert row.kind == "edit" and row.cost_milli == 2 * grid
    seen: list[JobSpec] = []
    setup.engine.before = seen.append
    assert await asyncio.to_thread(setup.runner().run, job.id) is Outcome.SUCCEEDED
    assert seen[0].kind is JobKind.EDIT and seen[0].edit is not None
    assert seen[0].edit.images[0].sha256 == "c" * 64
    assert await ledger_kinds(setup.sessions, job.id) == ["hold", "settle"]


async def test_a_flagged_input_fails_the_edit_with_a_refund(setup: Setup) -> None:
    job, _ = await _admitted(setup)

    def flagged(spec: JobSpec) -> None:
        raise BadRequestError(
            "an image you gave was flagged by this server's safety checker: use another "
            "image (your credits were refunded)"
        )

    setup.engine.before = flagged
    assert await asyncio.to_thread(setup.runner().run, job.id) is Outcome.FAILED
    row = await job_row(setup.sessions, job.id)
    assert row.state == "failed" and "flagged by this server's safety checker" in (row.error or "")
    assert await ledger_kinds(setup.sessions, job.id) == ["hold", "refund"]
