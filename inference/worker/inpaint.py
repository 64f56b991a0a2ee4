"""Edits on the engine: the canvas and mask an edit paints on, the outpainting fill, and the
paste-back that keeps every pixel the member did not select (docs/engine.md "Editing").

- The mask is white where the model paints. For outpainting (zoom, pan, square) it is the new
  area around the source; for Vary (Region) the member's region.
- Outpainting starts the new area from the source's edge pixels stretched outwards, blurred,
  plus seeded noise, so colours continue across the seam instead of starting from grey.
- After decoding, the source's pixels are pasted back outside the mask. The seam is feathered
  over `SEAM_PX` pixels *inside* the mask, so outside it the result equals the source exactly
  (the VAE's round trip never touches what was kept).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image, ImageFilter

from inference.canvas import check_mask, render_mask
from inference.edits import OUTPAINT_KINDS, OUTPAINT_STRENGTH, REGION_STRENGTH
from inference.errors import BadRequestError
from pipeline.contracts import JobKind, JobSpec

SEAM_PX = 8  # the feathered seam inside the mask (at most 16 px, docs)
FILL_NOISE = 24.0  # standard deviation (0-255) of the noise added to the outpainting fill


@dataclass
class EditCanvas:
    """What one edit runs on: `init` (the source in its canvas, new area filled), the binary
    `mask` (white = paint), `alpha` (feathered mask, H×W×1, 0 = keep `init` exactly)."""

    init: Image.Image
    mask: Image.Image
    alpha: np.ndarray
    strength: float
    fields: dict[str, str] = field(default_factory=dict)

    def pipeline_kwargs(
        self, steps: int, batch: int, step_end: Callable[..., Any]
    ) -> dict[str, Any]:
        return {
            "callback_on_step_end": step_end,
            "callback_on_step_end_tensor_inputs": ["latents"],
            "image": [self.init] * batch,
            "mask_image": [self.mask] * batch,
            "width": self.init.width,
            "height": self.init.height,
            "strength": self.strength,
            # The pipeline runs int(steps × strength) steps: make that at least one.
            "num_inference_steps": max(steps, math.ceil(1 / self.strength)),
        }

    def paste_back(self, images: list[Image.Image]) -> list[Image.Image]:
        keep = np.asarray(self.init, dtype=np.float32)
        out = []
        for image in images:
            made = np.asarray(image.convert("RGB"), dtype=np.float32)
            blended = keep + (made - keep) * self.alpha
            out.append(Image.fromarray(np.rint(blended).clip(0, 255).astype(np.uint8), "RGB"))
        return out


def feather(mask: Image.Image, seam: int = SEAM_PX) -> np.ndarray:
    """0 outside the mask, rising to 1 over `seam` pixels inside it (erode, then box blur)."""
    radius = max(1, seam // 2)
    eroded = mask.filter(ImageFilter.MinFilter(2 * radius + 1))
    soft = eroded.filter(ImageFilter.BoxBlur(radius))
    alpha = np.asarray(soft, dtype=np.float32) / 255.0
    alpha[np.asarray(mask) < 128] = 0.0  # never outside the mask, whatever the filters round
    return alpha[:, :, None]


def outpaint_fill(
    source: Image.Image, size: tuple[int, int], box: tuple[int, int, int, int], seed: int
) -> tuple[Image.Image, Image.Image]:
    """The canvas (the source at `box`, the rest edge-extended, blurred and noised) and its
    mask (white outside the box)."""
    width, height = size
    x, y, w, h = box
    if x < 0 or y < 0 or w < 1 or h < 1 or x + w > width or y + h > height:
        raise BadRequestError("the edit's source does not fit its canvas")
    placed = source.convert("RGB")
    if placed.size != (w, h):
        placed = placed.resize((w, h), Image.Resampling.LANCZOS)
    pixels = np.asarray(placed, dtype=np.float32)
    # Every canvas pixel takes the nearest pixel of the source: edges stretch outwards.
    rows = np.clip(np.arange(height) - y, 0, h - 1)
    cols = np.clip(np.arange(width) - x, 0, w - 1)
    stretched = pixels[rows][:, cols]
    blurred = Image.fromarray(stretched.astype(np.uint8), "RGB").filter(
        ImageFilter.GaussianBlur(max(2, min(width, height) // 16))
    )
    noise = np.random.default_rng(seed).normal(0.0, FILL_NOISE, stretched.shape)
    fill = np.asarray(blurred, dtype=np.float32) + noise
    fill[y : y + h, x : x + w] = pixels
    canvas = Image.fromarray(np.rint(fill).clip(0, 255).astype(np.uint8), "RGB")
    mask = Image.new("L", size, 255)
    mask.paste(0, (x, y, x + w, y + h))
    return canvas, mask


def prepare(
    spec: JobSpec, source: Image.Image, mask: Image.Image | None, dedicated: bool
) -> EditCanvas:
    """The canvas of an edit job; a mask that selects nothing or everything is refused."""
    gen, edit = spec.generation, spec.edit
    if edit is None:
        raise BadRequestError(f"a {spec.kind.value} job needs its edit (what to paint)")
    size = (gen.width, gen.height)
    fields = {"Mask blur": str(SEAM_PX), "Inpaint area": "Whole picture"}
    if spec.kind in OUTPAINT_KINDS:
        if edit.box is None:
            raise BadRequestError(f"a {spec.kind.value} job needs the source's place (box)")
        init, paint = outpaint_fill(source, size, edit.box, gen.seed)
        fields["Masked content"] = "fill"
        fields.update(_outpaint_fields(spec))
        strength = OUTPAINT_STRENGTH
    else:
        init = source.convert("RGB")
        if init.size != size:
            init = init.resize(size, Image.Resampling.LANCZOS)
        if mask is None:
            if edit.mask_key is not None:
                raise BadRequestError("this job's mask image is missing")
            mask = render_mask(edit.shapes, size)
        if mask.size != size:
            raise BadRequestError(
                f"the mask is {mask.size[0]}×{mask.size[1]} but the image is "
                f"{size[0]}×{size[1]}: draw the mask at the image's size"
            )
        paint = check_mask(mask.convert("L").point(lambda v: 255 if v >= 128 else 0))
        fields["Masked content"] = "original"
        if edit.region:
            fields["Region"] = edit.region
        strength = REGION_STRENGTH[dedicated]
    return EditCanvas(init, paint, feather(paint), strength, fields)


def _outpaint_fields(spec: JobSpec) -> dict[str, str]:
    edit = spec.edit
    assert edit is not None and edit.box is not None
    _, _, w, h = edit.box
    gen = spec.generation
    if spec.kind is JobKind.ZOOM:
        return {"Outpainting": "zoom", "Zoom out": f"{edit.factor or 2:g}"}
    if spec.kind is JobKind.PAN and edit.direction is not None:
        grown = gen.width - w if edit.direction.value in ("left", "right") else gen.height - h
        return {
            "Outpainting": "pan",
            "Outpainting direction": edit.direction.value,
            "Outpainting pixels": str(grown),
        }
    return {"Outpainting": "square", "Outpainting pixels": f"{gen.width - w}x{gen.height - h}"}
