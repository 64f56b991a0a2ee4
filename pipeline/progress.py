"""A running job's progress callback → throttled `progress` events (torch-free).

The engine calls `on_progress(step, total, latents)`; a training run also passes `loss=` (the
smoothed loss) and, every `preview_every` steps, `preview=` (a PIL picture painted with the
LoRA so far). Events pass at most once per `preview_interval_s`, except one that carries a
training preview: those are minutes apart, and dropping one would leave the member without it.
"""

from __future__ import annotations

import io
import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any

from pipeline.contracts import MAX_PREVIEW_BYTES, JobEvent, JobEventKind
from pipeline.events import PreviewThrottle
from pipeline.preview import preview_jpeg

log = logging.getLogger(__name__)

ProgressFn = Callable[..., None]


class LeaseLost(Exception):
    """This attempt no longer owns the job; stop without writing anything."""


def picture_jpeg(image: Any, *, max_side: int = 256) -> bytes:
    """A PIL picture as a JPEG small enough to ride inside a job event."""
    small = image.convert("RGB")
    small.thumbnail((max_side, max_side))
    for quality in (80, 60, 40, 25):
        buf = io.BytesIO()
        small.save(buf, format="JPEG", quality=quality)
        if buf.tell() <= MAX_PREVIEW_BYTES:
            break
    return buf.getvalue()


def progress_reporter(
    publish: Callable[[JobEvent], None],
    job_id: uuid.UUID,
    attempt: int,
    lost: threading.Event,
    interval_s: float,
) -> ProgressFn:
    throttle = PreviewThrottle(interval_s)

    def on_progress(
        step: int,
        total: int,
        latents: Any,
        *,
        loss: float | None = None,
        preview: Any = None,
    ) -> None:
        if lost.is_set():
            raise LeaseLost
        if not throttle.ready() and preview is None:
            return
        # The engine hands latents out only on preview steps (never step 1); other steps
        # still report their percentage, which costs nothing on the device.
        jpeg = None
        try:
            if preview is not None:
                jpeg = picture_jpeg(preview)
            elif latents is not None:
                jpeg = preview_jpeg(latents)
        except Exception:  # a preview is a nicety; never fail a job over one
            log.debug("preview failed", exc_info=True)
        percent = min(100.0, 100.0 * step / max(total, 1))
        training = loss is not None
        publish(
            JobEvent(
                job_id=job_id,
                kind=JobEventKind.PROGRESS,
                attempt=attempt,
                percent=round(percent, 1),
                preview_jpeg=jpeg,
                step=step if training else None,
                total=total if training else None,
                loss=loss,
            )
        )

    return on_progress
