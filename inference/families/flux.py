"""FLUX.1 (Black Forest Labs): schnell (4 steps, Apache-2.0) and dev (28 steps, guidance 3.5,
non-commercial), CLIP-L + T5-XXL; Kontext dev for instruction editing."""

from __future__ import annotations

from inference.families.spec import FamilySpec

FLUX = FamilySpec(
    name="flux",
    title="FLUX.1 schnell / dev",
    base_size=1024,
    default_steps=28,
    default_cfg=3.5,
    licence="schnell: Apache-2.0; dev and Kontext dev: FLUX.1 [dev] Non-Commercial License",
    text_encoder="t5",
    negative=False,
    pipelines=("FluxPipeline", "FluxImg2ImgPipeline", "FluxInpaintPipeline"),
    memory="~24 GB bf16 (12B transformer + T5-XXL); ~12 GB with an 8-bit transformer",
    edit_pipeline="FluxKontextPipeline",
)
