"""/blend's request (issue 15): 2–5 images and a dimension, no text. Pure; the bot and
`nanke blend` build it, `inference.resolve` turns it into a generation whose images are fused
by unCLIP (where configured) or the IP-Adapter."""

from __future__ import annotations

from prompt.errors import PromptError
from prompt.request import ImageRef, ImagineParams, PromptPart

DIMENSIONS = {"1:1": "square", "2:3": "portrait", "3:2": "landscape"}
MIN_IMAGES, MAX_IMAGES = 2, 5
BLEND_IMAGE_WEIGHT = 2.0  # --iw 2: adapter scale 1, the images alone steer


def blend_params(images: tuple[ImageRef, ...], dimensions: str = "1:1") -> ImagineParams:
    if not MIN_IMAGES <= len(images) <= MAX_IMAGES:
        raise PromptError(f"blend {MIN_IMAGES} to {MAX_IMAGES} images, not {len(images)}")
    if dimensions not in DIMENSIONS:
        raise PromptError(f"dimensions are {', '.join(DIMENSIONS)}, not {dimensions!r}")
    return ImagineParams(
        prompt="",
        parts=(PromptPart(text=""),),
        images=images,
        image_weight=BLEND_IMAGE_WEIGHT,
        aspect_ratio=dimensions,
        blend=True,
    )
