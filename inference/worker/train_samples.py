"""Pictures a training run paints: the 4 samples (and previews) with the LoRA being trained,
and the class pictures of prior preservation (painted once per run, kept in its work folder so
a resumed run does not paint them again)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from PIL import Image

from inference.train_config import TrainRequest
from inference.worker.train_state import atomic_path

SAMPLE_STYLES = ("", ", portrait, soft light", ", oil painting", ", in a city at night")
GUIDANCE = 7.0


def sample_prompts(request: TrainRequest, count: int) -> list[str]:
    return [request.caption + SAMPLE_STYLES[i % len(SAMPLE_STYLES)] for i in range(count)]


@torch.no_grad()
def _paint(pipe: Any, prompts: list[str], size: int, steps: int, seeds: list[int]) -> list[Any]:
    gens = [torch.Generator().manual_seed(s) for s in seeds]
    result = pipe(
        prompt=prompts,
        height=size,
        width=size,
        num_inference_steps=steps,
        guidance_scale=GUIDANCE,
        generator=gens,
        output_type="pil",
    )
    images: list[Any] = result.images
    return images


def paint_samples(
    pipe: Any, request: TrainRequest, device: torch.device, count: int = 4
) -> list[Image.Image]:
    """`count` pictures of the caption in a few styles, seeds 0…count-1, with the LoRA on."""
    del device  # the pipeline is on its device already; generators stay on the CPU
    prompts = sample_prompts(request, count)
    return _paint(pipe, prompts, request.resolution, request.sample_steps, list(range(count)))


PREVIEW_STEPS = 10  # a progress preview: quick, not pretty


def paint_preview(pipe: Any, request: TrainRequest) -> Image.Image:
    """One picture of the caption with the LoRA so far, in few steps, always seed 0 (so the
    member watches the same picture take on their subject). It is painted at the training
    size: these models paint noise well below their own size; the event shrinks it to 256 px."""
    steps = min(request.sample_steps, PREVIEW_STEPS)
    image: Image.Image = _paint(pipe, [request.caption], request.resolution, steps, [0])[0]
    return image


def paint_priors(
    pipe: Any, request: TrainRequest, workdir: Path, device: torch.device
) -> list[Image.Image]:
    """The class pictures (no trigger, no LoRA) for prior preservation, cached in `workdir`."""
    del device
    folder = workdir / "priors"
    folder.mkdir(parents=True, exist_ok=True)
    images: list[Image.Image] = []
    for i in range(request.prior_images):
        path = folder / f"{i:04d}.png"
        if not path.is_file():
            picture = _paint(
                pipe, [request.class_caption], request.resolution, request.sample_steps, [1000 + i]
            )[0]
            with atomic_path(path) as tmp:
                picture.save(tmp, format="PNG")
        with Image.open(path) as saved:
            images.append(saved.convert("RGB"))
    return images
