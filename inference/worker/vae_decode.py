"""Latents → PIL images through the pipeline's VAE, upcast to float32 where the family's VAE
overflows in half precision (inference/worker/precision.py)."""

from __future__ import annotations

from typing import Any

import torch
from PIL import Image

from inference.errors import NaNOutputError
from inference.worker import precision


def decode_latents(
    pipe: Any, family: str, latents: torch.Tensor, dtype: torch.dtype
) -> list[Image.Image]:
    vae = pipe.vae
    upcast = precision.vae_needs_upcast(family, dtype, vae)
    if upcast:
        vae.to(torch.float32)
    try:
        scaled = latents.to(vae.dtype) / vae.config.scaling_factor
        decoded = vae.decode(scaled, return_dict=False)[0]
    finally:
        if upcast:
            vae.to(dtype)
    if not bool(torch.isfinite(decoded).all()):
        raise NaNOutputError(
            "the VAE produced NaN values (fp16 overflow?); run the model in float32/bfloat16"
        )
    images: list[Image.Image] = pipe.image_processor.postprocess(decoded.float(), output_type="pil")
    return images
