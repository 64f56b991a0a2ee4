"""Fit an image under Discord's upload limit: re-encode, then downscale; never refuse."""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image

DEFAULT_LIMIT = 10 * 1024 * 1024  # Discord's default per-file limit


@dataclass(frozen=True)
class Upload:
    data: bytes
    filename: str
    note: str | None = None  # why it differs from the original, for the message


def fit_upload(png: bytes, stem: str, limit: int = DEFAULT_LIMIT) -> Upload:
    """The PNG as is when it fits; else a high-quality WebP; else ever smaller WebPs.

    CPU-bound: call it off the event loop (asyncio.to_thread)."""
    if len(png) <= limit:
        return Upload(png, f"{stem}.png")
    image: Image.Image = Image.open(io.BytesIO(png))
    image.load()
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGB")
    quality = 90
    scale = 1.0
    while True:
        current: Image.Image = image
        if scale < 1.0:
            size = (max(1, int(image.width * scale)), max(1, int(image.height * scale)))
            current = image.resize(size, Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        current.save(buffer, "WEBP", quality=quality, method=4)
        data = buffer.getvalue()
        if len(data) <= limit or (current.width <= 64 and current.height <= 64):
            if scale < 1.0:
                note = f"downscaled to {current.width}×{current.height} to fit Discord's limit"
            else:
                note = "re-encoded as WebP to fit Discord's upload limit"
            return Upload(data, f"{stem}.webp", note)
        if quality > 70:
            quality -= 10
        else:
            scale *= 0.75
