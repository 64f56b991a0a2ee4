"""Upscale (4x): a GAN upscaler run tile by tile, the tiles blended where they overlap.

A 1024² image through RealESRGAN_x4plus in one piece needs tens of GB of activations (64
channels at 4096²); tiles of `upscale_tile` pixels (input side) keep that to a few hundred
MB. Neighbouring tiles overlap by `upscale_tile_overlap` pixels and each tile's weight ramps
linearly to ~0 across the overlap at its inner edges, so the pixels a tile computes with too
little context (near its cut edges) count least and no seam shows (docs/engine.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from inference.errors import ModelFileError
from inference.infotext import build_infotext
from inference.upscaler_entry import UpscalerEntry
from inference.worker.output import EngineOutput
from inference.worker.upscaler_files import load_upscaler
from pipeline.contracts import JobSpec

SCALE = 4


def tile_starts(size: int, tile: int, overlap: int) -> list[int]:
    """Where tiles of `tile` pixels start along a side of `size` pixels, `overlap` apart at
    least; the last one ends at the edge (it may overlap its neighbour more)."""
    if size <= tile:
        return [0]
    stride = max(1, tile - overlap)
    return [*range(0, size - tile, stride), size - tile]


def _ramp(length: int, start: int, end: int, size: int, fade: int) -> torch.Tensor:
    """1-D weights of a tile covering [start, end) of `size` output pixels: a linear fade
    over `fade` pixels at each edge that is not the image's edge."""
    weights = torch.ones(length)
    if fade <= 0:
        return weights
    fade = min(fade, length // 2)
    ramp = (torch.arange(fade, dtype=torch.float32) + 0.5) / fade
    if start > 0:
        weights[:fade] = ramp
    if end < size:
        weights[length - fade :] = ramp.flip(0)
    return weights


def upscale_tiled(net: nn.Module, image: torch.Tensor, tile: int, overlap: int) -> torch.Tensor:
    """`image` (1, C, H, W) → (1, C, 4H, 4W), in float32 on the image's device."""
    _, channels, height, width = image.shape
    overlap = max(0, min(overlap, tile // 2))
    out = torch.zeros(1, channels, height * SCALE, width * SCALE, device=image.device)
    weight = torch.zeros(1, 1, height * SCALE, width * SCALE, device=image.device)
    dtype = next(net.parameters()).dtype
    for y in tile_starts(height, tile, overlap):
        for x in tile_starts(width, tile, overlap):
            piece = image[:, :, y : y + tile, x : x + tile]
            result = net(piece.to(dtype)).float()
            th, tw = result.shape[2], result.shape[3]
            ys, xs = y * SCALE, x * SCALE
            fade = overlap * SCALE
            wy = _ramp(th, ys, ys + th, height * SCALE, fade)
            wx = _ramp(tw, xs, xs + tw, width * SCALE, fade)
            w = (wy[:, None] * wx[None, :]).to(image.device)[None, None]
            out[:, :, ys : ys + th, xs : xs + tw] += result * w
            weight[:, :, ys : ys + th, xs : xs + tw] += w
    return out / weight


class GanUpscaler:
    """The configured [upscaler], loaded once on the engine's device."""

    def __init__(self, net: nn.Module, name: str, tile: int, overlap: int) -> None:
        self.net, self.name, self.tile, self.overlap = net, name, tile, overlap
        self.device = next(net.parameters()).device

    @classmethod
    def load(
        cls, entry: UpscalerEntry, device: torch.device, dtype: torch.dtype, tile: int, overlap: int
    ) -> GanUpscaler:
        net = load_upscaler(_local_file(entry))
        # float16 overflows in RRDB's dense blocks; bfloat16 and float32 are safe.
        run_dtype = torch.float32 if dtype == torch.float16 else dtype
        return cls(net.to(device=device, dtype=run_dtype), entry.name, tile, overlap)

    def upscale(self, image: Image.Image) -> Image.Image:
        pixels = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
        tensor = torch.from_numpy(pixels).permute(2, 0, 1)[None].to(self.device)
        out = upscale_tiled(self.net, tensor, self.tile, self.overlap)
        array = (out[0].clamp(0, 1).permute(1, 2, 0) * 255.0).round().byte().cpu().numpy()
        return Image.fromarray(array, "RGB")


def _local_file(entry: UpscalerEntry) -> Path:
    if entry.path is not None:
        return Path(entry.path)
    assert entry.repo is not None and entry.file is not None
    try:
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download(entry.repo, entry.file))
    except Exception as exc:  # offline, missing, gated: the operator's to fix
        raise ModelFileError(
            "the 4x upscaler cannot be loaded; the server's operator has been told",
            f"upscaler {entry.repo}/{entry.file}: {type(exc).__name__}: {str(exc)[:200]} "
            "(run `nanke models pull realesrgan-x4` where the hub is reachable)",
        ) from None


def upscale_4x(
    spec: JobSpec, source: Image.Image, upscaler: GanUpscaler, checker: Any, clock: Any
) -> EngineOutput:
    """Upscale (4x): the source through the GAN, tiled; its PNG text says what ran."""
    gen = spec.generation
    with clock("upscale"):
        image = upscaler.upscale(source)
    if image.size != (gen.width, gen.height):
        raise ModelFileError(
            "the 4x upscaler made an image of the wrong size",
            f"{image.width}×{image.height}, expected {gen.width}×{gen.height}",
        )
    nsfw = [False]
    if checker is not None:
        with clock("safety_check"):
            nsfw = checker.flags([image])
    extra = {"Postprocess upscale by": str(SCALE), "Postprocess upscaler": upscaler.name}
    return EngineOutput(
        images=[image],
        seeds=[gen.seed],
        width=gen.width,
        height=gen.height,
        infotexts=[build_infotext(gen, seed=gen.seed, extra=extra)],
        timings_ms=dict(clock.ms),
        steps_run=0,
        nsfw=nsfw,
    )
