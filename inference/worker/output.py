"""What one engine run returns, and the per-phase clock.

PNG encoding is lazy: `pngs` and `grid_png` are made on first access, so the thread that
drives the GPU hands the decoded images on and goes to the next job, and whoever stores the
result (the runner's finishing step, the CLI) pays for the encoding on its own thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from PIL import Image

from inference.png import encode_png
from inference.worker.grid import make_grid


@dataclass
class EngineOutput:
    images: list[Image.Image]
    seeds: list[int]
    width: int
    height: int
    infotexts: list[str]  # one per image
    timings_ms: dict[str, float] = field(default_factory=dict)
    steps_run: int = 0
    nsfw: list[bool] = field(default_factory=list)  # one per image; all False with no checker
    control_map: Image.Image | None = None  # a --cn job's preprocessed map (stored with it)
    prompts: list[str] = field(default_factory=list)  # a describe job's four suggestions
    _encoded: tuple[list[bytes], bytes | None] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def grid(self) -> Image.Image | None:
        return make_grid(self.images) if len(self.images) > 1 else None

    @property
    def pngs(self) -> list[bytes]:
        return self.encode()[0]

    @property
    def grid_png(self) -> bytes | None:
        return self.encode()[1]

    @property
    def control_map_png(self) -> bytes | None:
        """The --cn map as a PNG (no parameters: it is an input, not a result)."""
        return None if self.control_map is None else encode_png(self.control_map, None)

    def encode(self) -> tuple[list[bytes], bytes | None]:
        """PNG of every tile and of the grid (tile 1's text), once; timed as `image_encode`."""
        with self._lock:
            if self._encoded is None:
                start = time.perf_counter()
                pngs = [encode_png(i, t) for i, t in zip(self.images, self.infotexts, strict=True)]
                grid = self.grid
                grid_png = encode_png(grid, self.infotexts[0]) if grid is not None else None
                self.timings_ms["image_encode"] = round((time.perf_counter() - start) * 1000, 2)
                self._encoded = (pngs, grid_png)
            return self._encoded


class Clock:
    """Wall time per phase; on CUDA each phase ends with a synchronize so the numbers are real."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.ms: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.ms[name] = round((time.perf_counter() - start) * 1000, 2)
