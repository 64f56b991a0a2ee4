"""FLUX.2 [klein]: step-distilled (guidance is not run); U and V pass the tile as a reference
image, the family's own way of following an image (it has no img2img pipeline)."""

from __future__ import annotations

from typing import Any

from inference.families.flux2 import FLUX2 as SPEC
from inference.worker.families.base import DitAdapter
from prompt.request import Generation


def _args(gen: Generation) -> dict[str, Any]:
    return {"guidance_scale": 1.0}


FLUX2 = DitAdapter(
    SPEC, "Flux2KleinPipeline", "Flux2Transformer2DModel", ("text_encoder",), None, 512, _args
)
