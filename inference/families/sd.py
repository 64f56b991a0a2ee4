"""Stable Diffusion 1.x, 2.x and XL: CLIP text encoders and UNets, the engine's original paths
(inference/worker/engine.py and pipelines.py run them as they always did)."""

from __future__ import annotations

from inference.families.spec import FamilySpec

SD15 = FamilySpec(
    name="sd15",
    title="Stable Diffusion 1.5",
    base_size=512,
    default_steps=30,
    default_cfg=7.0,
    licence="CreativeML OpenRAIL-M",
    text_encoder="clip",
    pipelines=(
        "StableDiffusionPipeline",
        "StableDiffusionImg2ImgPipeline",
        "StableDiffusionInpaintPipeline",
    ),
    memory="~2.5 GB",
)
SD2 = FamilySpec(
    name="sd2",
    title="Stable Diffusion 2.x",
    base_size=768,
    default_steps=30,
    default_cfg=7.0,
    licence="CreativeML OpenRAIL++-M",
    text_encoder="clip",
    pipelines=SD15.pipelines,
    memory="~3 GB",
)
SDXL = FamilySpec(
    name="sdxl",
    title="Stable Diffusion XL (and Pony, Illustrious, NoobAI finetunes)",
    base_size=1024,
    default_steps=30,
    default_cfg=7.0,
    licence="CreativeML OpenRAIL++-M",
    text_encoder="clip",
    pipelines=(
        "StableDiffusionXLPipeline",
        "StableDiffusionXLImg2ImgPipeline",
        "StableDiffusionXLInpaintPipeline",
    ),
    memory="~7 GB",
)
