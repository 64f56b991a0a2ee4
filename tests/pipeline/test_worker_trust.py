"""The worker when the database misbehaves (#21): real Postgres behind a TCP proxy that fails
like a network does, a private Redis, real `nanke worker` processes running the tiny model.

- A COMMIT whose acknowledgement is lost is not a failure: the result may be committed, so
  the worker re-reads the job and keeps its files when its attempt won.
- A worker whose database is unreachable never says ready, and never acknowledges a
  delivery it could not claim: the job runs as soon as the database answers again.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from pipeline.contracts import JobEventKind
from pipeline.storage import LocalStorage
from tests.fixtures.pg_proxy import PgProxy
from tests.fixtures.redis_server import free_port
from tests.pipeline.failure_rig import FAST_STEPS, PIPELINE, Rig, next_user
from tests.pipeline.harness import Workers, image_keys, job_row, ledger_kinds, wait_for

pytestmark = pytest.mark.slow


def _log_has(worker: object, text: str):  # type: ignore[no-untyped-def]
    async def check() -> bool:
        return text in worker.text()  # type: ignore[attr-defined]

    return check


async def test_a_lost_commit_acknowledgement_keeps_the_committed_result(
    rig: Rig, workers: Workers, data_dir: Path, pg_proxy: PgProxy, postgres_url: str
) -> None:
    # The proxy forwards the completion's COMMIT to Postgres, then cuts the connection before
    # the answer: succeeded + images + the settle are committed, the worker hears nothing.
    pg_proxy.cut_after_commit(b"INSERT INTO images")
    worker = workers.start("w1", NANKE_DATABASE_URL=pg_proxy.url(postgres_url))
    job_id = await rig.job("a lost acknowledgement", steps=FAST_STEPS)

    async def finished() -> bool:
        text = worker.text()
        return f"job {job_id} attempt 1 succeeded" in text or "crashed" in text

    await wait_for(finished, 90, "the worker to finish the job")
    assert pg_proxy.commits_cut == 1, "the proxy never cut a COMMIT: the test proves nothing"
    job = await job_row(rig.sessions, job_id)
    assert job.state == "succeeded" and job.attempts == 1
    assert await ledger_kinds(rig.sessions, job_id) == ["hold", "settle"]
    keys = await image_keys(rig.sessions, job_id)
    assert job.result is not None
    stored = LocalStorage(data_dir / "images")
    assert keys and all(k.startswith(f"jobs/{job_id}/1/") for k in keys)
    for key in filter(None, [*keys, job.result.get("grid_key")]):
        assert stored.exists(key), f"{key} is referenced by the job but was deleted"
    assert "discarded" not in worker.text() and "crashed" not in worker.text()
    assert await _events_of(rig, job_id) == [JobEventKind.STARTED, JobEventKind.SUCCEEDED]


async def test_a_worker_that_cannot_reach_its_database_never_says_ready(
    workers: Workers, postgres_url: str, pg_proxy: PgProxy
) -> None:
    nowhere = pg_proxy.url(postgres_url).replace(f":{pg_proxy.port}/", f":{free_port()}/")
    worker = workers.start("w-nodb", ready=False, NANKE_DATABASE_URL=nowhere)

    async def exited() -> bool:
        return not worker.alive()

    await wait_for(exited, 60, "the worker to refuse to start")
    text = worker.text()
    assert "ready." not in text
    assert "cannot reach the database" in text and "NANKE_DATABASE_URL" in text
    assert "Traceback" not in text


async def test_a_delivery_the_worker_could_not_claim_is_not_acknowledged(
    rig: Rig, workers: Workers, pg_proxy: PgProxy, postgres_url: str
) -> None:
    worker = workers.start("w1", NANKE_DATABASE_URL=pg_proxy.url(postgres_url))
    pg_proxy.go_down()  # the worker's database goes away after it said ready
    job_id = await rig.job("an outage", steps=FAST_STEPS)
    await wait_for(_log_has(worker, "could not claim"), 60, "the worker to try the job")
    assert str(job_id) in rig.broker_state.task_ids(), "the delivery was dropped"
    assert await rig.state(job_id) == "queued"

    pg_proxy.come_back()

    async def succeeded() -> bool:  # no reconciler pass: the broker still had the job
        return await rig.state(job_id) == "succeeded"

    await wait_for(succeeded, 90, "the job to run once the database is back")
    assert await ledger_kinds(rig.sessions, job_id) == ["hold", "settle"]


async def _events_of(rig: Rig, job_id: uuid.UUID) -> list[JobEventKind]:
    import redis.asyncio as aredis

    from pipeline.events import RedisEventReader

    reader = RedisEventReader(
        aredis.Redis.from_url(rig.url),
        PIPELINE.events_stream,
        consumer="probe",
        group=f"probe-{uuid.uuid4().hex[:6]}",
    )
    kinds = []
    while batch := await reader.read(block_s=0.2):
        kinds += [d.event.kind for d in batch if d.event.job_id == job_id]
    return [k for k in kinds if k not in (JobEventKind.PROGRESS, JobEventKind.QUEUED)]


async def test_a_member_at_their_running_cap_waits_while_others_go_ahead(
    rig: Rig, workers: Workers, tmp_path: Path
) -> None:
    """Two workers, a plan of one running job: the member's second job is not started while
    their first runs (it stays queued, costs no attempt, and is published again), another
    member's job is."""
    release = tmp_path / "release"
    env = {"NANKE_PLANS": '{"free": {"max_running": 1}}', "NANKE_TEST_HOLD_UNTIL": str(release)}
    # w1 runs the first until released. With its second slot free it would take the next
    # doorbell itself and claim "theirs" behind the held job: which worker pops a doorbell is
    # Redis' choice, so w1 takes one job at a time and the others can only go to w2.
    hold = {"NANKE_TEST_HOLD_WORD": "HOLDME", "NANKE_TEST_JOBS_IN_FLIGHT": "1"}
    workers.start("w1", **hold, **env)
    member = next_user()
    first = await rig.job("my first HOLDME", user_id=member)
    await wait_for(lambda: _running(rig, first), 60, "the first job to start")
    workers.start("w2", **env)
    second = await rig.job("my second", user_id=member)
    theirs = await rig.job("someone else's")

    async def others_done() -> bool:  # no reconciler pass here: nothing is republished
        return await rig.state(theirs) == "succeeded"

    await wait_for(others_done, 90, "another member's job to run beside the first")
    await wait_for(lambda: _any_log_has(workers, f"job {second} held"), 30, "the hold")
    held = await job_row(rig.sessions, second)
    assert (held.state, held.attempts, held.started_at) == ("queued", 0, None)
    assert await rig.state(first) == "running"

    release.touch()
    for job_id in (first, second):
        await rig.wait_state(job_id, {"succeeded"}, 90)  # the reconciler republishes `second`
    rows = {j: await job_row(rig.sessions, j) for j in (first, second)}
    assert rows[second].started_at >= rows[first].finished_at, "ran beside the first"
    assert rows[second].attempts == 1  # a held claim costs no attempt
    assert await ledger_kinds(rig.sessions, second) == ["hold", "settle"]


async def _running(rig: Rig, job_id: uuid.UUID) -> bool:
    return await rig.state(job_id) == "running"


async def _any_log_has(workers: Workers, text: str) -> bool:
    return any(text in w.text() for w in workers.running)
