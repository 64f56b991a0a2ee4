"""What a DiT family adapter tells the runner: its pipelines and the arguments of one call.

Prompts go to the pipeline as text (each family encodes with its own T5/Qwen3/CLIP stack);
latents stay inside the pipeline, which returns decoded images as tensors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from inference.families.spec import FamilySpec
from prompt.request import Generation

CallArgs = Callable[[Generation], dict[str, Any]]


def _no_args(gen: Generation) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class DitAdapter:
    spec: FamilySpec
    txt2img: str  # diffusers pipeline class
    transformer: str  # diffusers model class of its transformer (GGUF files load through it)
    text_encoders: tuple[str, ...]  # the pipeline's text-encoder components
    img2img: str | None = None  # None: follow-ups pass the tile as a reference image
    max_sequence_length: int = 512
    # Family-specific arguments: guidance, negative prompt.
    call_args: CallArgs = field(default=_no_args)

    def infotext_fields(self, gen: Generation) -> dict[str, str]:
        """PNG `parameters` fields that say what ran on this family (beside A1111's)."""
        return {"Model family": self.spec.name}
