"""Progress previews decoded from latents without the VAE."""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image

from pipeline.contracts import MAX_PREVIEW_BYTES
from pipeline.preview import latents_to_rgb, preview_jpeg


def test_zero_latents_are_mid_grey_and_channel_four_tints_blue() -> None:
    grey = latents_to_rgb(torch.zeros(1, 4, 8, 8))
    assert grey.shape == (1, 8, 8, 3)
    assert np.all(np.abs(grey.astype(int) - 127) <= 1)
    latents = torch.zeros(1, 4, 8, 8)
    latents[:, 3] = -1.5  # the 4th SD latent channel carries (inverted) blue
    r, g, b = latents_to_rgb(latents)[0, 0, 0]
    assert b > g > r


def test_a_batch_of_four_becomes_a_small_2x2_jpeg() -> None:
    latents = torch.randn(4, 4, 64, 64, dtype=torch.float16)
    data = preview_jpeg(latents)
    assert len(data) <= MAX_PREVIEW_BYTES
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    assert image.size == (128, 128)
    big = Image.open(io.BytesIO(preview_jpeg(torch.randn(4, 4, 128, 192) * 4)))
    assert max(big.size) <= 256
