"""U on a pan, Make Square or Vary (Region) grid: the tile as it is, no denoising.

Those grids are already at the source's full size, so doubling a tile would soon pass the
model's pixel limit; picking it keeps the image (and its editing rows) growing instead."""

from __future__ import annotations

from typing import Any

from PIL import Image

from inference.errors import BadRequestError
from inference.infotext import build_infotext
from inference.worker.output import EngineOutput
from pipeline.contracts import JobSpec


def pick(spec: JobSpec, source: Image.Image, checker: Any, clock: Any) -> EngineOutput:
    """U on a pan, square or region grid: the tile as it is (no denoising), with its text."""
    gen = spec.generation
    image = source.convert("RGB")
    if image.size != (gen.width, gen.height):
        raise BadRequestError(
            f"the picked image is {image.width}×{image.height}, not {gen.width}×{gen.height}"
        )
    nsfw = [False]
    if checker is not None:
        with clock("safety_check"):
            nsfw = checker.flags([image])
    return EngineOutput(
        images=[image],
        seeds=[gen.seed],
        width=gen.width,
        height=gen.height,
        infotexts=[build_infotext(gen, seed=gen.seed)],
        timings_ms=dict(clock.ms),
        steps_run=0,
        nsfw=nsfw,
    )
