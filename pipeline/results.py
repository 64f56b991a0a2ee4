"""One mapping from what the engine made to a stored `JobResult`, for the worker (keys in
storage) and the CLI (files in a job folder)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol
from uuid import UUID

from pipeline.contracts import JobResult


class EngineOutputLike(Protocol):
    """The parts of `inference.worker.engine.EngineOutput` a result is made of."""

    pngs: list[bytes]
    grid_png: bytes | None
    seeds: list[int]
    width: int
    height: int
    infotexts: list[str]
    timings_ms: dict[str, float]
    nsfw: list[bool]


def store_output(
    job_id: UUID,
    output: EngineOutputLike,
    put: Callable[[str, bytes], object],
    key_of: Callable[[str], str] = str,
) -> JobResult:
    """Write tiles `1.png`…`n.png` and `grid.png` (when there is one) with `put(key, data)`,
    `key_of(name)` naming each, and return the result that points at them."""
    keys: Sequence[str] = [key_of(f"{i}.png") for i in range(1, len(output.pngs) + 1)]
    for key, data in zip(keys, output.pngs, strict=True):
        put(key, data)
    grid_key = None
    if output.grid_png is not None:
        grid_key = key_of("grid.png")
        put(grid_key, output.grid_png)
    control_map_key = None
    control_map_png: bytes | None = getattr(output, "control_map_png", None)  # --cn jobs
    if control_map_png is not None:
        control_map_key = key_of("control-map.png")
        put(control_map_key, control_map_png)
    prompts: list[str] = getattr(output, "prompts", [])  # a describe job's suggestions
    return JobResult(
        job_id=job_id,
        image_keys=tuple(keys),
        grid_key=grid_key,
        seeds=tuple(output.seeds),
        width=output.width,
        height=output.height,
        infotext=output.infotexts[0] if output.infotexts else "\n".join(prompts),
        prompts=tuple(prompts),
        timings_ms=dict(output.timings_ms),
        nsfw=tuple(output.nsfw),
        control_map_key=control_map_key,
    )
