"""Cheap progress previews: latents → a small RGB JPEG, without running the VAE.

A fixed 4×3 linear map approximates what the SD 1.x/2.x VAE decoder makes of each latent
pixel (the widely used "latent RGB factors"); a 64×64 latent gives a 64×64 preview of a 512²
image in a few milliseconds including the JPEG. A batch becomes a 2×2 mosaic like the final grid.
"""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np
from PIL import Image

from pipeline.contracts import MAX_PREVIEW_BYTES

# rows: latent channels 0..3; columns: R, G, B
SD_LATENT_RGB = np.array(
    [
        [0.298, 0.207, 0.208],
        [0.187, 0.286, 0.173],
        [-0.158, 0.189, 0.264],
        [-0.184, -0.271, -0.473],
    ],
    dtype=np.float32,
)


def latents_to_rgb(latents: Any) -> np.ndarray:
    """(B, 4, h, w) latents (torch or numpy) → (B, h, w, 3) uint8."""
    if hasattr(latents, "detach"):  # a torch tensor, possibly on the GPU or in half precision
        latents = latents.detach().float().cpu().numpy()
    array = np.asarray(latents, dtype=np.float32)
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4 or array.shape[1] != 4:
        raise ValueError(f"expected (B, 4, h, w) latents, got shape {array.shape}")
    rgb = np.einsum("bchw,cr->bhwr", array, SD_LATENT_RGB)
    return np.clip((rgb + 1.0) * 127.5, 0, 255).astype(np.uint8)


def mosaic(images: np.ndarray) -> np.ndarray:
    """(B, h, w, 3) → one image, two tiles per row (a 2×2 grid for four)."""
    count, h, w, _ = images.shape
    cols = 1 if count == 1 else 2
    rows = math.ceil(count / cols)
    out = np.zeros((rows * h, cols * w, 3), dtype=np.uint8)
    for i in range(count):
        r, c = divmod(i, cols)
        out[r * h : (r + 1) * h, c * w : (c + 1) * w] = images[i]
    return out


def preview_jpeg(latents: Any, *, max_side: int = 256) -> bytes:
    """A JPEG small enough to ride inside a job event."""
    image = Image.fromarray(mosaic(latents_to_rgb(latents)))
    image.thumbnail((max_side, max_side))
    for quality in (70, 50, 30):
        buf = io.BytesIO()
        image.save(buf, format="JPEG", quality=quality)
        if buf.tell() <= MAX_PREVIEW_BYTES:
            return buf.getvalue()
    image.thumbnail((max_side // 2, max_side // 2))
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=30)
    return buf.getvalue()
