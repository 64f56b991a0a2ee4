"""How far each running training run is, from its progress events (in the bot's memory)."""

from __future__ import annotations

import time
import uuid


class TrainProgress:
    """The last step each running training reported (from its progress events): ❌ refunds
    the unused part, and the message shows an ETA from the rate so far."""

    def __init__(self) -> None:
        self._seen: dict[uuid.UUID, tuple[float, float, float, float]] = {}

    def saw(self, job_id: uuid.UUID, percent: float, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        first = self._seen.get(job_id)
        start_at, start_pct = (first[0], first[1]) if first else (now, percent)
        self._seen[job_id] = (start_at, start_pct, now, percent)

    def percent(self, job_id: uuid.UUID) -> float | None:
        seen = self._seen.get(job_id)
        return None if seen is None else seen[3]

    def eta_s(self, job_id: uuid.UUID) -> float | None:
        seen = self._seen.get(job_id)
        if seen is None or seen[3] <= seen[1]:
            return None
        rate = (seen[3] - seen[1]) / max(seen[2] - seen[0], 1e-6)
        return (100.0 - seen[3]) / rate

    def forget(self, job_id: uuid.UUID) -> None:
        self._seen.pop(job_id, None)
