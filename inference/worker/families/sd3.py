"""SD 3.5: real classifier-free guidance with the negative prompt on all three encoders."""

from __future__ import annotations

from typing import Any

from inference.families.sd3 import SD3 as SPEC
from inference.worker.families.base import DitAdapter
from prompt.request import Generation


def _args(gen: Generation) -> dict[str, Any]:
    return {"guidance_scale": gen.cfg, "negative_prompt": gen.negative_prompt or None}


SD3 = DitAdapter(
    SPEC,
    "StableDiffusion3Pipeline",
    "SD3Transformer2DModel",
    ("text_encoder", "text_encoder_2", "text_encoder_3"),
    "StableDiffusion3Img2ImgPipeline",
    256,
    _args,
)
