"""The preview cadence: every N steps, never step 1 nor the last; N adapts to the step time."""

from __future__ import annotations

from inference.worker.previews import PreviewCadence


def test_fixed_cadence_skips_the_first_and_last_step() -> None:
    cadence = PreviewCadence(every_steps=3)
    assert [s for s in range(1, 11) if cadence.wants(s, 10)] == [3, 6, 9]
    assert [s for s in range(1, 4) if PreviewCadence(every_steps=2).wants(s, 3)] == [2]


def test_auto_cadence_is_about_one_preview_per_second() -> None:
    cadence = PreviewCadence()
    cadence.observe(50.0)  # 20 steps per second
    assert cadence.every() == 20
    cadence = PreviewCadence()
    cadence.observe(2000.0)  # slow CPU steps: still never the first step
    assert cadence.every() == 2
    assert not cadence.wants(1, 30) and cadence.wants(2, 30)
