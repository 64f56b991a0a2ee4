"""Training pictures → latents grouped by aspect-ratio bucket (the VAE is frozen, so each
picture is encoded once, before the first step).

A bucket keeps a picture's aspect ratio at the training area (resolution²), each side a
multiple of 64 and the ratio at most 2:1; the picture is scaled to cover its bucket and
centre-cropped. A batch is drawn from one bucket (chosen in proportion to its pictures).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image, ImageOps

MAX_RATIO = 2.0


def bucket_size(width: int, height: int, resolution: int) -> tuple[int, int]:
    """The (width, height) bucket of a picture at the area resolution², multiples of 64."""
    ratio = min(max(width / height, 1 / MAX_RATIO), MAX_RATIO)
    area = resolution * resolution
    w = max(64, round(math.sqrt(area * ratio) / 64) * 64)
    h = max(64, round(math.sqrt(area / ratio) / 64) * 64)
    return w, h


def open_picture(path: Path) -> Image.Image:
    """A training picture upright (EXIF orientation applied) in RGB."""
    with Image.open(path) as raw:
        upright = ImageOps.exif_transpose(raw)
        return upright.convert("RGB")


def fit(image: Image.Image, size: tuple[int, int]) -> torch.Tensor:
    """Scale to cover `size`, centre-crop, → a [3, h, w] tensor in [-1, 1]."""
    fitted = ImageOps.fit(image, size, method=Image.Resampling.LANCZOS)
    data = torch.frombuffer(bytearray(fitted.tobytes()), dtype=torch.uint8)
    pixels = data.view(size[1], size[0], 3).permute(2, 0, 1).float()
    return pixels / 127.5 - 1.0


@dataclass
class Buckets:
    """Latents per bucket size (each [n, c, h, w], on the training device)."""

    latents: dict[tuple[int, int], torch.Tensor]

    def __len__(self) -> int:
        return sum(len(x) for x in self.latents.values())

    def sample(self, batch: int, gen: torch.Generator) -> torch.Tensor:
        sizes = sorted(self.latents)
        counts = torch.tensor([len(self.latents[s]) for s in sizes], dtype=torch.float)
        which = sizes[int(torch.multinomial(counts, 1, generator=gen))]
        pool = self.latents[which]
        idx = torch.randint(len(pool), (batch,), generator=gen)
        return pool[idx.to(pool.device)]


@torch.no_grad()
def encode_buckets(
    vae: Any, images: list[Image.Image], resolution: int, device: torch.device, dtype: torch.dtype
) -> Buckets:
    """Each picture fitted to its bucket and encoded by the VAE (the latent distribution's
    mean, times the VAE's scaling factor, as the UNet sees latents)."""
    grouped: dict[tuple[int, int], list[torch.Tensor]] = {}
    for image in images:
        size = bucket_size(image.width, image.height, resolution)
        grouped.setdefault(size, []).append(fit(image, size))
    scale = vae.config.scaling_factor
    shift = getattr(vae.config, "shift_factor", None) or 0.0
    latents: dict[tuple[int, int], torch.Tensor] = {}
    for size, pixels in grouped.items():
        batch = torch.stack(pixels).to(device, dtype=vae.dtype)
        encoded = vae.encode(batch).latent_dist.mean
        latents[size] = ((encoded - shift) * scale).to(dtype)
    return Buckets(latents)
