"""The one thread that drives the engine, so the GPU never waits for the CPU.

A worker runs `slots` jobs at once (Celery's threads pool with concurrency 2, or two embedded
worker threads), and every `JobRunner.run` hands its engine call to this single thread and
waits. While job N's runner encodes PNGs, writes storage, commits and publishes on its own
thread, job N+1 is already denoising here. Each job is still acknowledged only after its own
commit: the runner's steps and the task's return are unchanged, only the engine call moved.

The engine thread is also the only thread that ever touches torch, which keeps CUDA streams,
compiled graphs and the warm pipelines' mutable state (scheduler, adapters, padding) on one
thread. It records its busy time, so benchmarks can report how long it sat idle.
"""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future
from typing import Any

from PIL import Image

from pipeline.contracts import JobSpec

# (spec, source, on_progress or a function, the caller's future, mask)
_Call = tuple[JobSpec | None, Image.Image | None, Any, Future[Any], Image.Image | None]


class EngineThread:
    """An `EngineLike` that runs every call of `engine.run` on one dedicated thread."""

    def __init__(self, engine: Any, name: str = "nanke-engine") -> None:
        self.engine = engine
        self._calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self.busy_s = 0.0  # total time inside engine.run
        self.first_start: float | None = None
        self.last_end: float | None = None
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def run(
        self,
        spec: JobSpec,
        source: Image.Image | None,
        on_progress: Any,
        *,
        mask: Image.Image | None = None,
    ) -> Any:
        done: Future[Any] = Future()
        self._calls.put((spec, source, on_progress, done, mask))
        return done.result()

    def call(self, fn: Any) -> Any:
        """Run `fn()` on the engine thread (warm-up, loading) and return its result."""
        done: Future[Any] = Future()
        self._calls.put((None, None, fn, done, None))
        return done.result()

    def loaded_models(self) -> list[str]:
        """The engine's loaded models (read from any thread; [] for an engine without)."""
        names = getattr(self.engine, "loaded_models", None)
        return list(names()) if names is not None else []

    def close(self) -> None:
        self._calls.put(None)
        self._thread.join(timeout=60)

    def idle_fraction(self) -> float:
        """Share of the time from the first engine call's start to the last one's end that
        the engine thread spent waiting for work."""
        with self._lock:
            if self.first_start is None or self.last_end is None:
                return 0.0
            span = self.last_end - self.first_start
            return max(0.0, 1.0 - self.busy_s / span) if span > 0 else 0.0

    def reset_stats(self) -> None:
        with self._lock:
            self.busy_s, self.first_start, self.last_end = 0.0, None, None

    def _loop(self) -> None:
        while True:
            call = self._calls.get()
            if call is None:
                return
            spec, source, arg, done, mask = call
            if not done.set_running_or_notify_cancel():
                continue
            start = time.perf_counter()
            error: BaseException | None = None
            try:
                if spec is None:
                    result = arg()
                elif mask is not None:
                    result = self.engine.run(spec, source, arg, mask=mask)
                else:
                    result = self.engine.run(spec, source, arg)
            except BaseException as exc:  # handed to the waiting runner, which decides
                error, result = exc, None
            end = time.perf_counter()
            if spec is not None:
                with self._lock:
                    self.busy_s += end - start
                    self.first_start = self.first_start or start
                    self.last_end = end
            if error is not None:
                done.set_exception(error)
            else:
                done.set_result(result)
