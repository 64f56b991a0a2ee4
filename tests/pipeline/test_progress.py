"""A running job's progress events: a training run's step, loss and preview picture reach the
bot; the throttle drops plain updates but never a training preview."""

from __future__ import annotations

import io
import threading
import uuid

import pytest
from PIL import Image

from pipeline.contracts import MAX_PREVIEW_BYTES, JobEvent
from pipeline.progress import LeaseLost, progress_reporter
from pipeline.train_contract import preview_interval


def test_training_events_carry_step_loss_and_every_preview_despite_the_throttle() -> None:
    events: list[JobEvent] = []
    job = uuid.uuid4()
    report = progress_reporter(events.append, job, 1, threading.Event(), interval_s=3600)
    picture = Image.new("RGB", (1024, 1024), (200, 40, 90))
    report(1, 800, None, loss=0.25)
    report(2, 800, None, loss=0.2)  # within the interval: dropped
    report(200, 800, None, loss=0.1432, preview=picture)  # a preview: never dropped
    assert [(e.step, e.total, e.loss, e.percent) for e in events] == [
        (1, 800, 0.25, 0.1),
        (200, 800, 0.1432, 25.0),
    ]
    assert events[0].preview_jpeg is None
    jpeg = events[1].preview_jpeg
    assert jpeg is not None and len(jpeg) <= MAX_PREVIEW_BYTES
    with Image.open(io.BytesIO(jpeg)) as shown:
        assert shown.format == "JPEG" and max(shown.size) == 256


def test_a_painting_job_reports_only_its_percentage_and_stops_when_the_lease_is_lost() -> None:
    events: list[JobEvent] = []
    lost = threading.Event()
    report = progress_reporter(events.append, uuid.uuid4(), 1, lost, interval_s=0)
    report(5, 20, None)
    assert (events[0].percent, events[0].step, events[0].loss) == (25.0, None, None)
    lost.set()
    with pytest.raises(LeaseLost):
        report(6, 20, None)


@pytest.mark.parametrize(
    ("every", "steps", "interval"),
    [(200, 800, 200), (200, 100, 50), (200, 4, 2), (0, 800, 0), (200, 1, 0)],
)
def test_a_short_run_still_shows_a_preview_halfway(every: int, steps: int, interval: int) -> None:
    assert preview_interval(every, steps) == interval
