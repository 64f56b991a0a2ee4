"""Where an edit paints, decided before any GPU work (torch-free, no numpy: the bot uses it to
price and refuse an edit before charging).

- Zoom out: the source shrinks into the centre of a canvas at the model's size (the `--ar`
  frame, else the source's own ratio), to 1/factor of each side; the rest is painted.
- Pan: the canvas grows by half of the side it extends (rounded to 64 px); the source keeps its
  pixels and place. Repeated pans grow until the model's pixel limit.
- Make square: the short side grows to the long one, the source centred.
- Vary (Region): a mask at the source's size, from drawn shapes, a preset region or a PNG.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import cast

from PIL import Image, ImageDraw, UnidentifiedImageError

from inference.errors import BadRequestError
from pipeline.contracts import MaskShape, PanDirection

# Canvas sides are multiples of this (the latent grid of every SD family divides it).
ALIGN = 64
_SUPERSAMPLE = 4
PAN_GROWTH = 0.5  # a pan adds half of the side it extends
MIN_ZOOM, MAX_ZOOM = 1.0, 2.0

# Preset regions for Vary (Region): (x0, y0, x1, y1) in fractions of the image.
REGIONS: dict[str, tuple[float, float, float, float]] = {
    "left": (0.0, 0.0, 0.5, 1.0),
    "right": (0.5, 0.0, 1.0, 1.0),
    "top": (0.0, 0.0, 1.0, 0.5),
    "bottom": (0.0, 0.5, 1.0, 1.0),
    "centre": (0.25, 0.25, 0.75, 0.75),
    "top-left": (0.0, 0.0, 0.5, 0.5),
    "top-right": (0.5, 0.0, 1.0, 0.5),
    "bottom-left": (0.0, 0.5, 0.5, 1.0),
    "bottom-right": (0.5, 0.5, 1.0, 1.0),
}
REGION_LABELS: dict[str, str] = {
    "left": "Left half",
    "right": "Right half",
    "top": "Top half",
    "bottom": "Bottom half",
    "centre": "Centre",
    "top-left": "Top-left quarter",
    "top-right": "Top-right quarter",
    "bottom-left": "Bottom-left quarter",
    "bottom-right": "Bottom-right quarter",
}


@dataclass(frozen=True)
class Placement:
    """A canvas of `width`×`height` with the source resized to `box` = (x, y, w, h) in it."""

    width: int
    height: int
    box: tuple[int, int, int, int]


def _align_up(value: float) -> int:
    return max(ALIGN, -(-round(value) // ALIGN) * ALIGN)


def check_limit(width: int, height: int, limit: int, what: str) -> None:
    if width * height > limit or max(width, height) > 4096:
        raise BadRequestError(
            f"{what} would make the image {width}×{height}, beyond this model's limit of "
            f"{limit:,} pixels (and 4096 px a side). Use Zoom Out or Vary (Region) instead"
        )


def zoom_placement(source: tuple[int, int], factor: float, frame: tuple[int, int]) -> Placement:
    """Zoom out by `factor` (1.0-2.0) into a `frame` (width, height) canvas."""
    if not MIN_ZOOM <= factor <= MAX_ZOOM:
        raise BadRequestError(f"the zoom factor must be from 1.0 to 2.0, not {factor:g}")
    width, height = frame
    sw, sh = source
    # The source fits the frame (keeping its ratio), then shrinks by the factor.
    scale = min(width / sw, height / sh) / factor
    w, h = max(1, round(sw * scale)), max(1, round(sh * scale))
    if w >= width and h >= height:
        raise BadRequestError(
            "a zoom of 1.0 in the same frame leaves nothing to paint: choose a factor above 1, "
            "or another --ar"
        )
    return Placement(width, height, ((width - w) // 2, (height - h) // 2, w, h))


def pan_placement(source: tuple[int, int], direction: PanDirection, limit: int) -> Placement:
    """Extend the canvas on one side by half of that side; the source keeps its pixels."""
    sw, sh = source
    if direction in (PanDirection.LEFT, PanDirection.RIGHT):
        grow = _align_up(sw * PAN_GROWTH)
        width, height = sw + grow, sh
        x = grow if direction is PanDirection.LEFT else 0
        box = (x, 0, sw, sh)
    else:
        grow = _align_up(sh * PAN_GROWTH)
        width, height = sw, sh + grow
        y = grow if direction is PanDirection.UP else 0
        box = (0, y, sw, sh)
    check_limit(width, height, limit, f"panning {direction.value}")
    return Placement(width, height, box)


def square_placement(source: tuple[int, int], limit: int) -> Placement:
    sw, sh = source
    if sw == sh:
        raise BadRequestError("this image is already square: Make Square needs a wide or tall one")
    side = _align_up(max(sw, sh))
    check_limit(side, side, limit, "making it square")
    return Placement(side, side, ((side - sw) // 2, (side - sh) // 2, sw, sh))


def region_shapes(name: str) -> tuple[MaskShape, ...]:
    """A preset region as one rectangle."""
    if name not in REGIONS:
        known = ", ".join(REGIONS)
        raise BadRequestError(f"unknown region {name!r}: choose one of {known}")
    x0, y0, x1, y1 = REGIONS[name]
    return (MaskShape(points=((x0, y0), (x1, y0), (x1, y1), (x0, y1))),)


def render_mask(shapes: tuple[MaskShape, ...], size: tuple[int, int]) -> Image.Image:
    """The shapes filled white on black, at `size` (an "L" image, white = repaint)."""
    # Drawn 4x larger, then each pixel is in when at least half of it is covered: a region
    # from 0.25 to 0.75 is exactly the pixels [side/4, 3·side/4), whatever PIL's edge rule.
    width, height = size
    big = Image.new("L", (width * _SUPERSAMPLE, height * _SUPERSAMPLE), 0)
    draw = ImageDraw.Draw(big)
    for shape in shapes:
        scale_x, scale_y = width * _SUPERSAMPLE, height * _SUPERSAMPLE
        draw.polygon([(x * scale_x, y * scale_y) for x, y in shape.points], fill=255)
    small = big.resize(size, Image.Resampling.BOX)
    return small.point(lambda v: 255 if v >= 128 else 0)


def load_mask(data: bytes, size: tuple[int, int], name: str = "the mask") -> Image.Image:
    """A member's or operator's mask PNG (white = repaint), checked: an image, the source's
    size, neither empty nor full. Returns it as a binary "L" image."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            mask = image.convert("L")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise BadRequestError(f"{name} is not an image (use a black-and-white PNG)") from None
    if mask.size != size:
        raise BadRequestError(
            f"{name} is {mask.size[0]}×{mask.size[1]} but the image is {size[0]}×{size[1]}: "
            "draw the mask at the image's size"
        )
    return check_mask(mask.point(lambda v: 255 if v >= 128 else 0), name)


def check_shapes(shapes: tuple[MaskShape, ...], size: tuple[int, int]) -> None:
    """Drawn shapes that select something, but not everything, of an image of `size`."""
    if not shapes:
        raise BadRequestError("the region selects nothing: draw the area to repaint")
    check_mask(render_mask(shapes, size), "the region")


def check_mask(mask: Image.Image, name: str = "the mask") -> Image.Image:
    low, high = cast("tuple[int, int]", mask.getextrema())  # an "L" image: (min, max)
    if high < 128:
        raise BadRequestError(f"{name} selects nothing: paint the area to repaint in white")
    if low >= 128:
        raise BadRequestError(
            f"{name} selects the whole image: use Vary (Subtle/Strong) to repaint everything"
        )
    return mask
