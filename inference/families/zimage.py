"""Z-Image-Turbo (Tongyi-MAI): a 6B single-stream DiT with a Qwen3 text encoder, step-distilled
to 8 steps at CFG 0 (Apache-2.0)."""

from __future__ import annotations

from inference.families.spec import FamilySpec

ZIMAGE = FamilySpec(
    name="zimage",
    title="Z-Image-Turbo",
    base_size=1024,
    default_steps=8,
    default_cfg=1.0,
    licence="Apache-2.0",
    text_encoder="llm",
    distilled=True,
    negative=False,
    pipelines=("ZImagePipeline", "ZImageImg2ImgPipeline", "ZImageInpaintPipeline"),
    memory="~21 GB bf16 (6B transformer + Qwen3-4B); ~13 GB with the text encoder on the CPU",
    flow_samplers=("euler",),  # its pipeline sets custom sigmas, which only Euler takes
    caches=False,  # ZImageTransformer2DModel has no enable_cache (diffusers 0.42)
)
