"""Stable Diffusion 3.5 Medium / Large: an MMDiT with CLIP-L, CLIP-G and T5-XXL, real CFG."""

from __future__ import annotations

from inference.families.spec import FamilySpec

SD3 = FamilySpec(
    name="sd3",
    title="Stable Diffusion 3.5 Medium / Large",
    base_size=1024,
    default_steps=28,
    default_cfg=4.5,
    licence="Stability AI Community License (free below USD 1M yearly revenue)",
    text_encoder="t5",
    pipelines=(
        "StableDiffusion3Pipeline",
        "StableDiffusion3Img2ImgPipeline",
        "StableDiffusion3InpaintPipeline",
    ),
    memory="Medium ~14 GB, Large ~28 GB bf16 (with T5-XXL); ~9 GB / ~20 GB without T5",
    caches=False,  # SD3Transformer2DModel has no enable_cache (diffusers 0.42)
)
