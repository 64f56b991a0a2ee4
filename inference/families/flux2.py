"""FLUX.2 [klein] 4B (Black Forest Labs): a step-distilled DiT with a Qwen3 text encoder,
4 steps; it edits by reference images (the tile is the reference for U and V)."""

from __future__ import annotations

from inference.families.spec import FamilySpec

FLUX2 = FamilySpec(
    name="flux2",
    title="FLUX.2 [klein] 4B / 9B",
    base_size=1024,
    default_steps=4,
    default_cfg=1.0,
    licence="4B: Apache-2.0; 9B: FLUX Non-Commercial License",
    text_encoder="llm",
    distilled=True,
    negative=False,
    pipelines=("Flux2KleinPipeline",),
    memory="4B: ~13 GB bf16 (transformer + Qwen3-4B); 9B: ~29 GB",
    follow_up="reference",
    edit_pipeline="Flux2KleinPipeline",
)
