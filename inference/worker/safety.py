"""The output safety checker: one NSFW flag per image, images untouched.

The bot decides per channel what a flag means (withheld outside NSFW channels), so the engine
only reports; it never blacks out or alters a picture.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from inference.errors import BadRequestError, ModelFileError
from inference.registry import SafetyCheckerEntry
from inference.worker.pipelines import quiet_loading

log = logging.getLogger(__name__)

FLAGGED_INPUT = (
    "the image you gave was flagged by this server's safety checker: use another image "
    "(nothing was charged)"
)


class SafetyChecker:
    """A diffusers StableDiffusionSafetyChecker with its CLIP image processor."""

    def __init__(self, model: Any, processor: Any, device: torch.device, dtype: torch.dtype):
        self.model = model
        self.processor = processor
        self.device = device
        self.dtype = dtype

    @classmethod
    def load(
        cls, entry: SafetyCheckerEntry, device: torch.device, dtype: torch.dtype
    ) -> SafetyChecker:
        from diffusers.pipelines.stable_diffusion.safety_checker import (
            StableDiffusionSafetyChecker,
        )
        from transformers import CLIPImageProcessor

        if entry.kind != "hub" and not Path(entry.source).is_dir():
            raise ModelFileError(
                f"safety checker {entry.source} does not exist; fix [safety_checker] "
                "`source` in models.toml"
            )
        log.info("loading safety checker from %s", entry.source)
        try:
            with quiet_loading(entry.kind != "hub"):
                model: Any = StableDiffusionSafetyChecker.from_pretrained(entry.source, dtype=dtype)
                processor = CLIPImageProcessor.from_pretrained(entry.source)
        except (OSError, ValueError, KeyError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelFileError(
                f"cannot load the safety checker from {entry.source}: {first} (it needs the "
                "checker saved with save_pretrained and its preprocessor_config.json)"
            ) from None
        model.to(device).eval()
        return cls(model, processor, device, dtype)

    @torch.inference_mode()
    def flags(self, images: list[Image.Image]) -> list[bool]:
        pixels = self.processor(images=[img.convert("RGB") for img in images], return_tensors="pt")
        clip_input = pixels.pixel_values.to(self.device, self.dtype)
        # The checker blacks out flagged entries of `images`: hand it placeholders, not ours.
        placeholders = [np.zeros((1, 1, 3)) for _ in images]
        _, flagged = self.model(clip_input=clip_input, images=placeholders)
        return [bool(f) for f in flagged]


def check_inputs(images: list[Image.Image], checker: SafetyChecker | None) -> None:
    """A member's input image (a --cn control image, /describe's image) that the configured
    checker flags refuses the job: a BadRequestError, so it fails at once and is refunded."""
    if checker is not None and images and any(checker.flags(images)):
        raise BadRequestError(FLAGGED_INPUT)
