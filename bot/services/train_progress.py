"""How far each running training run is, from its progress events (in the bot's memory)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from pipeline.contracts import JobEvent


@dataclass(frozen=True)
class Seen:
    """The latest a training run reported: its step (None from a worker that sends only the
    percentage), smoothed loss, and its latest preview picture (kept until a newer one)."""

    percent: float
    step: int | None = None
    total: int | None = None
    loss: float | None = None
    preview: bytes | None = None


class TrainProgress:
    """The last step each running training reported (from its progress events): ❌ refunds
    the unused part, and the message shows the loss, an ETA from the rate so far and the
    latest preview picture."""

    def __init__(self) -> None:
        self._start: dict[uuid.UUID, tuple[float, float]] = {}  # first (time, percent)
        self._seen: dict[uuid.UUID, tuple[float, Seen]] = {}

    def saw(self, event: JobEvent, now: float | None = None) -> bool:
        """Record a progress event; True when it brought a new preview picture."""
        if event.percent is None:
            return False
        now = time.monotonic() if now is None else now
        self._start.setdefault(event.job_id, (now, event.percent))
        last = self._seen.get(event.job_id)
        preview = event.preview_jpeg or (last[1].preview if last else None)
        seen = Seen(event.percent, event.step, event.total, event.loss, preview)
        self._seen[event.job_id] = (now, seen)
        return event.preview_jpeg is not None

    def latest(self, job_id: uuid.UUID) -> Seen | None:
        seen = self._seen.get(job_id)
        return None if seen is None else seen[1]

    def percent(self, job_id: uuid.UUID) -> float | None:
        seen = self.latest(job_id)
        return None if seen is None else seen.percent

    def steps_done(self, job_id: uuid.UUID, steps: int) -> int | None:
        """Steps run so far of a `steps`-step run (from the step, else the percentage)."""
        seen = self.latest(job_id)
        if seen is None:
            return None
        if seen.step is not None:
            return min(steps, seen.step)
        return min(steps, int(steps * seen.percent / 100.0))

    def eta_s(self, job_id: uuid.UUID) -> float | None:
        start, last = self._start.get(job_id), self._seen.get(job_id)
        if start is None or last is None or last[1].percent <= start[1]:
            return None
        rate = (last[1].percent - start[1]) / max(last[0] - start[0], 1e-6)
        return (100.0 - last[1].percent) / rate

    def forget(self, job_id: uuid.UUID) -> None:
        self._start.pop(job_id, None)
        self._seen.pop(job_id, None)
