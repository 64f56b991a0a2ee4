"""One job's denoising loop and decode: the pipeline call with progress, the NaN check, the
VAE decode and an edit's paste-back (split from engine.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from PIL import Image

from inference.errors import NaNOutputError
from inference.worker.job_args import task_kwargs
from inference.worker.output import Clock
from inference.worker.previews import PreviewCadence
from inference.worker.refiner import RefinerRun
from inference.worker.tiling import circular_padding
from inference.worker.vae_decode import decode_latents
from pipeline.contracts import JobSpec

ProgressFn = Callable[[int, int, torch.Tensor | None], None]


def denoise_and_decode(
    spec: JobSpec,
    job: Any,
    source: Image.Image | None,
    kwargs: dict[str, Any],
    clock: Clock,
    on_progress: ProgressFn | None,
    previews: PreviewCadence,
    device: torch.device,
    dtype: torch.dtype,
    refiner: RefinerRun | None = None,
) -> tuple[list[Image.Image], int]:
    """Run the job's pipeline to latents (progress after every step), then its refiner if
    any; check, decode, paste an edit's untouched pixels back. Returns images, steps run."""
    gen = spec.generation
    steps_run = offset = 0  # offset: the base's steps, once the refiner runs

    def on_step(p: Any, i: int, t: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        nonlocal steps_run
        steps_run = offset + i + 1
        if on_progress is not None:
            total = offset + int(getattr(p, "num_timesteps", 0) or gen.steps)
            if refiner is not None and not offset:  # the base's share of the whole
                total = max(total, round(total / refiner.switch))
            # Latents leave the device only on preview steps: no sync anywhere else.
            wanted = previews.wants(steps_run, total)
            on_progress(steps_run, total, tensors["latents"] if wanted else None)
        return tensors

    generators = [torch.Generator(device).manual_seed(s) for s in job.seeds]
    kwargs.update(
        num_inference_steps=gen.steps,
        guidance_scale=gen.cfg,
        generator=generators,
        output_type="latent",
    )
    if job.edit is not None:
        kwargs.update(job.edit.pipeline_kwargs(gen.steps, gen.batch, on_step))
    else:
        kwargs.update(task_kwargs(spec, job.pipe, source, job.strength, job.unclip, on_step))
    if job.control is not None:
        kwargs.update(job.control.pipeline_kwargs(gen.batch))
    if refiner is not None:
        kwargs["denoising_end"] = refiner.switch
    with circular_padding(job.pipe.unet, job.pipe.vae, enabled=gen.tile):
        with clock("denoise"):
            latents = job.pipe(**kwargs).images
            if refiner is not None:
                offset = steps_run
                latents = refiner.run(latents, kwargs["num_inference_steps"], device, on_step)
        if not bool(torch.isfinite(latents).all()):
            raise NaNOutputError(
                "the model produced NaN values; try another sampler, a lower --cfg, "
                "or without the LoRA"
            )
        with clock("vae_decode"):
            images = decode_latents(job.pipe, job.family, latents, dtype)
            if job.edit is not None:  # what the member did not select stays as it was
                images = job.edit.paste_back(images)
    return images, steps_run
