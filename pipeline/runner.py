"""One job, start to finish, on a worker: claim → heartbeat → engine → storage → complete.

The same runner serves the Celery task and the embedded in-process worker. Every step that
changes the job goes through the data layer's fenced transitions, so a duplicate delivery, a
worker that lost its lease or a redelivered message can never produce a second result:

- claim: only a queued job with attempts left is taken; anything else is dropped (it is
  running elsewhere, finished, or cancelled).
- heartbeat: a thread extends the lease; if the job is no longer this attempt's, the engine
  is stopped at its next step and nothing is written.
- complete: only the current attempt succeeds; a stale attempt deletes what it wrote.
- errors: the engine's typed errors (bad input, unknown model, out of memory, NaN) fail the
  job and refund it at once; anything else is retried while attempts are left.
"""

from __future__ import annotations

import enum
import io
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, Protocol

from PIL import Image
from pydantic import ValidationError

from db.caps import AtCap
from db.jobs import Claim, NewImage
from db.models import JobState
from db.scheduler import Idle
from pipeline.contracts import JobEvent, JobEventKind, JobSpec
from pipeline.errors import (
    FAULT_PREFIX,
    RETRY_MESSAGE,
    CompletionUnknown,
    JobError,
    SourceMissingError,
    row_error,
)
from pipeline.events import EventPublisher
from pipeline.image_urls import FetchPolicy
from pipeline.job_images import fetch_references, fetched_urls
from pipeline.progress import LeaseLost, ProgressFn, progress_reporter
from pipeline.results import store_output
from pipeline.settings import PipelineSettings
from pipeline.storage import ObjectNotFoundError, Storage, job_key, job_prefix

log = logging.getLogger(__name__)
# Pause before publishing again a doorbell whose job could not be taken this time.
RING_AGAIN_PAUSE_S = 0.2


class Outcome(enum.StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # failed and refunded
    REQUEUED = "requeued"  # retryable error, attempts left: queued again
    STALE = "stale"  # lost the job to another attempt: output discarded
    UNKNOWN = "unknown"  # the database never confirmed complete(): output kept, lease decides
    SKIPPED = "skipped"  # not claimable (running elsewhere, done, cancelled)
    HELD = "held"  # its member runs their plan's max_running jobs: stays queued, for later


class JobStore(Protocol):
    def claim(self, job_id: uuid.UUID, owner: str) -> Claim | AtCap | Idle | None: ...

    def member_waiting(self, user_id: int) -> bool: ...

    def heartbeat(self, job_id: uuid.UUID, attempt: int) -> bool: ...

    def complete(
        self, job_id: uuid.UUID, attempt: int, images: list[NewImage], result: dict[str, Any]
    ) -> bool: ...

    def fail(
        self, job_id: uuid.UUID, attempt: int, error: str, *, retryable: bool
    ) -> JobState | None: ...


class EngineLike(Protocol):
    """`mask=` is passed only for a job with a stored mask, so an engine that runs no edits
    need not take it."""

    def run(
        self,
        spec: JobSpec,
        source: Image.Image | None,
        on_progress: Any,
        *,
        mask: Image.Image | None = None,
    ) -> Any: ...


class _Heartbeat:
    def __init__(self, store: JobStore, job_id: uuid.UUID, attempt: int, every_s: float) -> None:
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._store, self._job_id, self._attempt, self._every = store, job_id, attempt, every_s
        self._thread = threading.Thread(target=self._loop, name="nanke-heartbeat", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self._every + 5)

    def _loop(self) -> None:
        while not self._stop.wait(self._every):
            try:
                if not self._store.heartbeat(self._job_id, self._attempt):
                    log.warning("job %s attempt %s lost its lease", self._job_id, self._attempt)
                    self.lost.set()
                    return
            except Exception:  # the database blipped: keep trying; complete() decides
                log.exception("heartbeat for job %s failed", self._job_id)


class JobRunner:
    def __init__(
        self,
        engine: EngineLike,
        store: JobStore,
        storage: Storage,
        events: EventPublisher,
        settings: PipelineSettings,
        *,
        owner: str,
        requeue: Callable[[uuid.UUID], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        fetch_policy: FetchPolicy | None = None,
    ) -> None:
        self._engine = engine
        self._store = store
        self._storage = storage
        self._events = events
        self._settings = settings
        self._owner = owner
        self._requeue = requeue
        self._clock = clock
        self._fetch_policy = fetch_policy or FetchPolicy()  # image URLs (pipeline/job_images.py)
        # Wall time of the last job outside the engine call: claim, storage, complete.
        self.last_overhead_ms = 0.0

    def run(self, job_id: uuid.UUID, requeue: Callable[[uuid.UUID], None] | None = None) -> Outcome:
        """Run the job `job_id` names: that job, or with a scheduling store the best job for
        this worker (the message is then a doorbell; `requeue` publishes one again)."""
        started = self._clock()
        ring = requeue or self._requeue
        claim = self._claim(job_id, ring)
        if isinstance(claim, Outcome):
            return claim
        if claim.job_id != job_id:
            # The scheduler chose another job: the doorbell's own job still needs one.
            if claim.doorbell_queued and ring is not None:
                ring(job_id)
            job_id = claim.job_id
        outcome = self._run_claimed(claim, ring, started)
        # A slot of this member's freed: ring for their next job (held at their cap until now).
        if claim.user_id is not None and ring is not None:
            try:
                if self._store.member_waiting(claim.user_id):
                    ring(job_id)
            except Exception:  # the reconciler publishes held jobs too, only later
                log.exception("could not ring for the next job of member %s", claim.user_id)
        return outcome

    def _run_claimed(
        self, claim: Claim, requeue: Callable[[uuid.UUID], None] | None, started: float
    ) -> Outcome:
        # long: the job's steps in order, each failure mapped to its outcome in one place
        job_id, attempt = claim.job_id, claim.attempt
        log.info("job %s attempt %s started on %s", job_id, attempt, self._owner)
        self._publish(JobEvent(job_id=job_id, kind=JobEventKind.STARTED, attempt=attempt))
        engine_ms = 0.0
        try:
            spec = JobSpec.model_validate(claim.request)
            source = self._source(spec)
            mask = self._mask(spec)
            with _Heartbeat(self._store, job_id, attempt, self._settings.heartbeat_s) as beat:
                # Image URLs are fetched here, on the worker, while the claim is kept alive.
                ran = fetch_references(spec, self._storage, self._fetch_policy)
                fetched, spec = fetched_urls(spec, ran), ran
                t0 = self._clock()
                # Only a Vary (Region) job with a stored mask PNG passes one.
                extra = {"mask": mask} if mask is not None else {}
                output = self._engine.run(
                    spec, source, self._progress(job_id, attempt, beat), **extra
                )
                engine_ms = (self._clock() - t0) * 1000
            if beat.lost.is_set():
                raise LeaseLost
            if engine_ms > self._settings.job_timeout_s * 1000:
                why = "over pipeline.job_timeout_s: raise it with the visibility timeout"
                log.warning("job %s ran %.0f s, %s", job_id, engine_ms / 1000, why)
            outcome = self._finish(job_id, attempt, output, fetched)
        except LeaseLost:
            log.warning("job %s attempt %s was taken over: output discarded", job_id, attempt)
            outcome = Outcome.STALE
        except (JobError, ValidationError) as exc:
            outcome = self._refused(job_id, attempt, exc)
        except Exception as exc:
            log.exception("job %s attempt %s crashed", job_id, attempt)
            outcome = self._crashed(job_id, attempt, exc, requeue)
        self.last_overhead_ms = (self._clock() - started) * 1000 - engine_ms
        if outcome is Outcome.SUCCEEDED:
            log.info(
                "job %s attempt %s succeeded: engine %.1f ms, overhead %.1f ms",
                job_id,
                attempt,
                engine_ms,
                self.last_overhead_ms,
            )
        return outcome

    def _claim(
        self, job_id: uuid.UUID, ring: Callable[[uuid.UUID], None] | None
    ) -> Claim | Outcome:
        """The claim on this job (or the scheduler's pick), or why there is none (an Outcome)."""
        claim = self._store.claim(job_id, self._owner)
        if isinstance(claim, Idle):
            if claim.ring_again and ring is not None:
                # Its member has a free slot but the job was locked a moment (or is for a
                # model another worker serves): publish the doorbell again, after a pause.
                time.sleep(RING_AGAIN_PAUSE_S)
                ring(job_id)
            if claim.held is not None:
                claim = claim.held
            else:
                log.info("doorbell %s: nothing this worker may run now: dropped", job_id)
                return Outcome.SKIPPED
        if claim is None:
            log.info("job %s is not claimable (running elsewhere or finished): dropped", job_id)
            return Outcome.SKIPPED
        if isinstance(claim, AtCap):
            log.info(
                "job %s held: its member already runs %d of %d jobs; it stays queued",
                job_id,
                claim.running,
                claim.limit,
            )
            return Outcome.HELD
        return claim

    def _refused(self, job_id: uuid.UUID, attempt: int, exc: JobError | ValidationError) -> Outcome:
        """A job that cannot run as asked fails at once; the member sees its message only."""
        message = exc.message if isinstance(exc, JobError) else "the job's request is invalid"
        detail = exc.detail if isinstance(exc, JobError) else str(exc)[:500]
        if detail:
            log.warning("job %s attempt %s: %s (%s)", job_id, attempt, message, detail)
        stored = row_error(message, detail)
        return self._fail(job_id, attempt, stored, retryable=False, shown=message)

    def _crashed(
        self,
        job_id: uuid.UUID,
        attempt: int,
        exc: Exception,
        requeue: Callable[[uuid.UUID], None] | None,
    ) -> Outcome:
        """A fault: retried while attempts are left. The row keeps the technical cause for
        operators; the member sees RETRY_MESSAGE."""
        self._discard(job_id, attempt)
        detail = f"{FAULT_PREFIX}{type(exc).__name__}: {exc}"[:500]
        outcome = self._fail(job_id, attempt, detail, retryable=True, shown=RETRY_MESSAGE)
        if outcome is Outcome.REQUEUED and requeue is not None:
            requeue(job_id)
        return outcome

    def _source(self, spec: JobSpec) -> Image.Image | None:
        if spec.source is None:
            return None
        missing = SourceMissingError(
            f"the image this job starts from ({spec.source.key}) is no longer stored; "
            "run /imagine again"
        )
        return self._image(spec.source.key, missing)

    def _mask(self, spec: JobSpec) -> Image.Image | None:
        """The stored mask PNG of a Vary (Region) job that names one (`edit.mask_key`)."""
        if spec.edit is None or spec.edit.mask_key is None:
            return None
        missing = SourceMissingError(
            "this job's mask image is no longer stored; draw the region again",
            f"mask {spec.edit.mask_key} not in storage",
        )
        return self._image(spec.edit.mask_key, missing)

    def _image(self, key: str, missing: SourceMissingError) -> Image.Image:
        try:
            data = self._storage.get(key)
        except ObjectNotFoundError:
            raise missing from None
        image = Image.open(io.BytesIO(data))
        image.load()
        return image

    def _progress(self, job_id: uuid.UUID, attempt: int, beat: _Heartbeat) -> ProgressFn:
        interval = self._settings.preview_interval_s
        return progress_reporter(self._publish, job_id, attempt, beat.lost, interval)

    def _finish(
        self, job_id: uuid.UUID, attempt: int, output: Any, fetched: dict[str, str]
    ) -> Outcome:
        # Keys carry the attempt, so a stale attempt can never overwrite the winner's files.
        put = lambda key, data: self._storage.put(key, data, "image/png")  # noqa: E731
        result = store_output(job_id, output, put, lambda n: job_key(job_id, str(attempt), n))
        result = result.model_copy(update={"fetched": fetched})  # follow-ups reuse them
        keys = result.image_keys
        images = [
            NewImage(index=i, key=key, width=output.width, height=output.height, seed=seed)
            for i, (key, seed) in enumerate(zip(keys, output.seeds, strict=True), start=1)
        ]
        try:
            won = self._store.complete(job_id, attempt, images, result.model_dump(mode="json"))
        except CompletionUnknown:
            # Maybe committed: keep the files. If it was not, the lease runs out and the
            # reconciler starts another attempt (these files are then unreferenced).
            log.error("job %s attempt %s: completion unconfirmed; output kept", job_id, attempt)
            return Outcome.UNKNOWN
        if not won:  # the explicit stale verdict: only now is the output ours to delete
            self._discard(job_id, attempt)
            log.warning("job %s attempt %s is stale: output discarded", job_id, attempt)
            return Outcome.STALE
        self._publish(
            JobEvent(job_id=job_id, kind=JobEventKind.SUCCEEDED, attempt=attempt, result=result)
        )
        return Outcome.SUCCEEDED

    def _discard(self, job_id: uuid.UUID, attempt: int) -> None:
        try:
            self._storage.delete_prefix(f"{job_prefix(job_id)}{attempt}/")
        except Exception:
            log.exception("could not delete stale output of job %s attempt %s", job_id, attempt)

    def _fail(
        self,
        job_id: uuid.UUID,
        attempt: int,
        message: str,
        *,
        retryable: bool,
        shown: str | None = None,
    ) -> Outcome:
        state = self._store.fail(job_id, attempt, message, retryable=retryable)
        if state is None:
            return Outcome.STALE
        if state is JobState.QUEUED:
            self._publish(JobEvent(job_id=job_id, kind=JobEventKind.QUEUED, attempt=attempt))
            return Outcome.REQUEUED
        self._publish(
            JobEvent(
                job_id=job_id, kind=JobEventKind.FAILED, attempt=attempt, error=shown or message
            )
        )
        log.info("job %s failed: %s", job_id, message)
        return Outcome.FAILED

    def _publish(self, event: JobEvent) -> None:
        try:
            self._events.publish(event.model_copy(update={"at": time.time()}))
        except Exception:  # events are for display; the job row is the truth
            log.exception("could not publish %s event for job %s", event.kind, event.job_id)
