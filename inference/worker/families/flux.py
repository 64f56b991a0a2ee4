"""FLUX.1: the CFG value is FLUX.1 dev's embedded ("distilled") guidance; schnell has none and
ignores it. No negative prompt (no true CFG); T5 reads up to 256 tokens (schnell's limit)."""

from __future__ import annotations

from typing import Any

from inference.families.flux import FLUX as SPEC
from inference.worker.families.base import DitAdapter
from prompt.request import Generation


class _Flux(DitAdapter):
    def infotext_fields(self, gen: Generation) -> dict[str, str]:
        # Forge's keys: real CFG 1, the embedded guidance as "Distilled CFG Scale".
        return {"Model family": SPEC.name, "CFG scale": "1", "Distilled CFG Scale": f"{gen.cfg:g}"}


def _args(gen: Generation) -> dict[str, Any]:
    return {"guidance_scale": gen.cfg}


FLUX = _Flux(
    SPEC,
    "FluxPipeline",
    "FluxTransformer2DModel",
    ("text_encoder", "text_encoder_2"),
    "FluxImg2ImgPipeline",
    256,
    _args,
)
