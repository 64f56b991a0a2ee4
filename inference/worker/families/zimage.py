"""Z-Image-Turbo: step-distilled, run without CFG (guidance 0) and without a negative prompt."""

from __future__ import annotations

from typing import Any

from inference.families.zimage import ZIMAGE as SPEC
from inference.worker.families.base import DitAdapter
from prompt.request import Generation


def _args(gen: Generation) -> dict[str, Any]:
    return {"guidance_scale": 0.0}


ZIMAGE = DitAdapter(
    SPEC,
    "ZImagePipeline",
    "ZImageTransformer2DModel",
    ("text_encoder",),
    "ZImageImg2ImgPipeline",
    512,
    _args,
)
