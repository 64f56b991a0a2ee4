"""When to hand latents out for a progress preview: every N steps, never at step 1.

A preview needs the latents on the host (a device sync, a JPEG, a Redis write), so the engine
passes them only on preview steps; every other step calls `on_progress` with `None`, which
costs nothing on the device (the runner still checks its lease there). N comes from the
settings, or is derived from the step time this worker measured so that a preview goes out
about once per second of the job.
"""

from __future__ import annotations

import math

# Before any step has been timed (the first job after start: warm-up runs first).
_FIRST_GUESS_MS = 200.0


class PreviewCadence:
    def __init__(self, every_steps: int | None = None, target_ms: float = 1000.0) -> None:
        self.fixed = every_steps
        self.target_ms = target_ms
        self.step_ms: float | None = None  # moving average over jobs

    def every(self) -> int:
        if self.fixed is not None:
            return self.fixed
        step_ms = self.step_ms if self.step_ms is not None else _FIRST_GUESS_MS
        return max(2, math.ceil(self.target_ms / max(step_ms, 1e-3)))

    def wants(self, step: int, total: int) -> bool:
        """A preview at this 1-based step? Never the first, never the last (the result is next)."""
        return step > 1 and step < total and step % self.every() == 0

    def observe(self, ms_per_step: float) -> None:
        if ms_per_step > 0:
            self.step_ms = (
                ms_per_step if self.step_ms is None else (0.7 * self.step_ms + 0.3 * ms_per_step)
            )
