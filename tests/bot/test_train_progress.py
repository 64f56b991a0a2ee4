"""The bot's memory of a running training: the message keeps the latest preview picture until
a newer one comes, ❌ refunds from the step the worker reported, the ETA from the rate so far."""

from __future__ import annotations

import uuid

from bot.services.formatting import ProgressThrottle
from bot.services.train_progress import TrainProgress
from pipeline.contracts import JobEvent, JobEventKind


def _event(job: uuid.UUID, step: int, loss: float, preview: bytes | None = None) -> JobEvent:
    return JobEvent(
        job_id=job,
        kind=JobEventKind.PROGRESS,
        percent=100 * step / 800,
        step=step,
        total=800,
        loss=loss,
        preview_jpeg=preview,
    )


def test_the_latest_preview_stays_until_a_newer_one_and_the_step_decides_the_refund() -> None:
    progress, job = TrainProgress(), uuid.uuid4()
    assert progress.latest(job) is None and progress.steps_done(job, 800) is None
    assert progress.saw(_event(job, 1, 0.3), now=0.0) is False
    assert progress.saw(_event(job, 200, 0.2, b"first"), now=50.0) is True
    assert progress.saw(_event(job, 239, 0.1432), now=60.0) is False
    seen = progress.latest(job)
    assert seen is not None and (seen.step, seen.loss, seen.preview) == (239, 0.1432, b"first")
    assert progress.steps_done(job, 800) == 239
    eta = progress.eta_s(job)  # 238 steps in 60 s: 561 steps left ≈ 141 s
    assert eta is not None and 135 < eta < 147
    progress.saw(_event(job, 400, 0.1, b"second"), now=100.0)
    assert progress.latest(job).preview == b"second"  # type: ignore[union-attr]
    progress.forget(job)
    assert progress.latest(job) is None and progress.eta_s(job) is None


def test_a_new_preview_is_not_held_back_by_a_plain_update_but_edits_stay_paced() -> None:
    now = [0.0]
    throttle = ProgressThrottle(2.0, clock=lambda: now[0])
    job = uuid.uuid4()
    assert throttle.allow(job)  # step 1
    now[0] = 0.5
    assert not throttle.allow(job)  # a plain update: too soon
    assert throttle.allow(job, urgent=True)  # the preview right after it: shown
    now[0] = 1.0
    assert not throttle.allow(job, urgent=True)  # a second preview so soon waits
    assert not throttle.allow(job)
    now[0] = 2.6
    assert throttle.allow(job)
