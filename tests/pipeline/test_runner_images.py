"""The runner fetches a job's image URLs on the worker side before the engine runs; a URL that
cannot be used fails the job with its reason and a refund (issue 15). Real Postgres."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from pipeline.contracts import JobSpec
from pipeline.image_urls import FetchPolicy
from pipeline.runner import JobRunner, Outcome
from prompt.request import ImageRef, Reference
from tests.pipeline.harness import job_row, ledger_kinds, submit
from tests.pipeline.image_server import image_server
from tests.pipeline.test_runner import SETTINGS, Setup, _spec, _users

POLICY = FetchPolicy(
    https_only=False, allowed_addresses=frozenset({ipaddress.ip_address("127.0.0.1")})
)


@pytest.fixture
async def setup(
    pg_sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> AsyncIterator[Setup]:
    yield Setup(pg_sessions, tmp_path)


def _runner(setup: Setup) -> JobRunner:
    return JobRunner(
        setup.engine, setup.store, setup.storage, setup.events, SETTINGS, owner="w1",
        fetch_policy=POLICY,
    )  # fmt: skip


def _with_urls(*urls: str) -> JobSpec:
    spec = _spec("a fox")
    refs = tuple(Reference(role="image", image=ImageRef(url=u), scale=0.5) for u in urls)
    gen = spec.generation.model_copy(update={"references": refs})
    return spec.model_copy(update={"generation": gen})


async def test_urls_are_fetched_stored_and_handed_to_the_engine_by_hash(setup: Setup) -> None:
    seen: list[JobSpec] = []
    setup.engine.before = seen.append
    with image_server() as (base, state):
        url = f"{base}/redirect/2"
        job_id = await submit(setup.sessions, _with_urls(url), next(_users))
        assert await asyncio.to_thread(_runner(setup).run, job_id) is Outcome.SUCCEEDED
    (ref,) = seen[0].generation.references
    assert ref.image.url is None and ref.image.sha256 is not None
    assert setup.storage.exists(f"refs/{ref.image.sha256}.png")
    # The job record keeps which stored image each URL became: its follow-ups reuse it.
    assert (await job_row(setup.sessions, job_id)).result["fetched"] == {url: ref.image.sha256}
    assert state.connections == 3  # two redirects, then the image
    assert await ledger_kinds(setup.sessions, job_id) == ["hold", "settle"]


async def test_a_refused_url_fails_the_job_with_its_reason_and_a_refund(setup: Setup) -> None:
    with image_server("127.0.0.2") as (other, state):
        job_id = await submit(setup.sessions, _with_urls(f"{other}/img.png"), next(_users))
        assert await asyncio.to_thread(_runner(setup).run, job_id) is Outcome.FAILED
        assert state.connections == 0
    job = await job_row(setup.sessions, job_id)
    assert job.state == "failed" and job.error is not None
    assert "points at a private or reserved address" in job.error
    assert "credits were refunded" in job.error
    assert await ledger_kinds(setup.sessions, job_id) == ["hold", "refund"]
    assert setup.engine.prompts == []  # the engine never ran
