"""Tiny random-weight models for the editing jobs (tests and smoke runs; they paint noise).

`build_inpaint(out, base)`: an sd15-family inpainting pipeline like SD 1.5 Inpainting: the
base pipeline's VAE, text encoder and tokenizer with a UNet of the same shape taking 9 input
channels (4 latent + 1 mask + 4 masked-image latent), saved with `save_pretrained`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch


def build_inpaint(out: Path, base: Any, seed: int = 4) -> None:
    from diffusers import StableDiffusionInpaintPipeline, UNet2DConditionModel

    torch.manual_seed(seed)
    config = {k: v for k, v in dict(base.unet.config).items() if not k.startswith("_")}
    unet = UNet2DConditionModel.from_config({**config, "in_channels": 9})
    pipe: Any = StableDiffusionInpaintPipeline(
        vae=base.vae,
        text_encoder=base.text_encoder,
        tokenizer=base.tokenizer,
        unet=unet,
        scheduler=base.scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(out)
