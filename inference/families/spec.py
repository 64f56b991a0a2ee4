"""What a model family is, torch-free: defaults, text encoders, samplers, flags, licence.

One `FamilySpec` per family (`inference/families/<name>.py`); the engine's diffusers side is
`inference/worker/families/<name>.py` for the DiT families, and the existing Stable Diffusion
code for `sd15`, `sd2` and `sdxl`. docs/engine.md "Model families" has the table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

TextEncoder = Literal["clip", "t5", "llm"]  # what reads the prompt: CLIP, or T5/an LLM as well


@dataclass(frozen=True)
class FlowSampler:
    """A flow-matching sampler: the member's name, the PNG label, the diffusers scheduler."""

    name: str  # the canonical sampler name members type (`--sampler euler`)
    label: str  # written to the PNG's `Sampler`
    scheduler: str  # diffusers class name
    options: dict[str, object] = field(default_factory=dict)


# Flow-matching models predict a velocity on sigmas from 1 to 0: Euler is their own scheduler;
# DPM-Solver++ and UniPC run with `use_flow_sigmas` and flow prediction.
_FLOW = {"use_flow_sigmas": True, "prediction_type": "flow_prediction"}
FLOW_SAMPLERS: dict[str, FlowSampler] = {
    s.name: s
    for s in (
        FlowSampler("euler", "FlowMatch Euler", "FlowMatchEulerDiscreteScheduler"),
        FlowSampler("dpm++_2m", "DPM++ 2M (flow sigmas)", "DPMSolverMultistepScheduler", _FLOW),
        FlowSampler("unipc", "UniPC (flow sigmas)", "UniPCMultistepScheduler", _FLOW),
    )
}


@dataclass(frozen=True)
class FamilySpec:
    name: str
    title: str  # what people call it: "FLUX.1 schnell / dev"
    base_size: int  # the side of the base pixel area
    default_steps: int
    default_cfg: float
    licence: str  # the usual checkpoints' licence, one line
    text_encoder: TextEncoder
    # CFG ≈ 1 models (step-distilled or guidance-distilled): --cfg and --no change nothing.
    distilled: bool = False
    negative: bool = True  # a negative prompt changes the picture (it needs real CFG)
    pipelines: tuple[str, ...] = ()  # diffusers classes: txt2img, img2img, inpaint, edit
    memory: str = ""  # what the weights need in bf16 (docs)
    # How U and V run on this family ("img2img" or "reference": the tile as a reference image).
    follow_up: Literal["img2img", "reference"] = "img2img"
    edit_pipeline: str | None = None  # instruction editing (`/edit`), when the family has one
    has_loras: bool = True  # LoRAs run on this family in Nanke today
    # Its transformer takes diffusers' cache hooks (models.toml `cache`, a job's --fast).
    caches: bool = True

    @property
    def clip_only(self) -> bool:
        """The A1111 prompt features (weights, BREAK, clip skip, `::`) apply."""
        return self.text_encoder == "clip"

    # The flow samplers that run on this family's pipelines (not for the CLIP families).
    flow_samplers: tuple[str, ...] = tuple(FLOW_SAMPLERS)

    @property
    def samplers(self) -> tuple[str, ...]:
        """Sampler names a member may use on this family (empty: every A1111 sampler)."""
        return () if self.clip_only else self.flow_samplers

    @property
    def default_sampler(self) -> str | None:
        """None: the engine's default (DPM++ 2M Karras) for the Stable Diffusion families."""
        return None if self.clip_only else "euler"
