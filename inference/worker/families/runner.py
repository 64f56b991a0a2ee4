"""One job on a DiT family (flux, zimage, sd3, flux2): txt2img, U and V, 🔄.

The Stable Diffusion families never come here (inference/worker/engine.py runs them). U runs
the family's img2img pipeline (from `from_pipe`: shared weights) on the tile resized 2x at
the upscale strength; V at the vary strength; FLUX.2 [klein], which has no img2img, passes the
tile as a reference image instead. Edits (zoom, pan, square, region) are not available on
these families yet: refused before any device work. `edit` jobs (an instruction) run the
family's edit pipeline (inference/worker/families/edit.py) on `images`: the source tile or
the attached images. LoRAs load through each pipeline's own `load_lora_weights` (diffusers
converts kohya/A1111-style files for FLUX and the others).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import diffusers
import numpy as np
import torch
from PIL import Image

from inference.edits import EDIT_KINDS
from inference.errors import BadRequestError, NaNOutputError
from inference.families.spec import FLOW_SAMPLERS
from inference.file_hashes import generation_hashes
from inference.infotext import build_infotext
from inference.resolve import denoise_strength, tile_seed
from inference.worker.families import adapter as adapter_for
from inference.worker.families.base import DitAdapter
from inference.worker.families.caching import job_cache
from inference.worker.families.chaos import chaos_kwargs
from inference.worker.families.edit import check_inputs, edit_args
from inference.worker.families.schedulers import make_flow_scheduler
from inference.worker.loras import LoraManager
from inference.worker.output import Clock, EngineOutput
from pipeline.contracts import JobKind, JobSpec

ProgressFn = Callable[[int, int, torch.Tensor | None], None]


def img2img_pipe(model: Any, adapter: DitAdapter) -> Any:
    """The model's img2img pipeline, derived once from its txt2img one (shared modules)."""
    if "img2img" not in model.derived:
        assert adapter.img2img is not None
        pipe = getattr(diffusers, adapter.img2img).from_pipe(model.base)
        pipe.set_progress_bar_config(disable=True)  # not inherited by from_pipe
        model.derived["img2img"] = pipe
    return model.derived["img2img"]


def _source_args(
    spec: JobSpec, model: Any, adapter: DitAdapter, source: Image.Image
) -> tuple[Any, dict[str, Any], float | None]:
    """(pipeline, its image arguments, the denoising strength) of a U or V job."""
    gen = spec.generation
    image = source.convert("RGB").resize((gen.width, gen.height), Image.Resampling.LANCZOS)
    if adapter.img2img is None:  # reference editing: the tile conditions a fresh generation
        return model.base, {"image": [image]}, None
    strength = denoise_strength(spec)
    assert strength is not None
    steps = max(gen.steps, math.ceil(1 / strength))  # int(steps × strength) ≥ 1
    # One source per image: the pipelines encode image i with generator i.
    args = {"image": [image] * gen.batch, "strength": strength, "num_inference_steps": steps}
    return img2img_pipe(model, adapter), args, strength


def _to_pil(pixels: torch.Tensor) -> list[Image.Image]:
    array = (pixels.float().clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy() * 255).round()
    return [Image.fromarray(a.astype(np.uint8)) for a in array]


def run_dit(
    spec: JobSpec,
    model: Any,
    device: torch.device,
    source: Image.Image | None,
    on_progress: ProgressFn | None,
    clock: Clock,
    checker: Any,
    loras: LoraManager,
    images: list[Image.Image] | None = None,
) -> EngineOutput:
    """`images`: an edit job's inputs (the edited image first, then references)."""
    # long: one job's flow, in order (pipeline, scheduler, call, checks, PNG text)
    gen = spec.generation
    adapter = adapter_for(model.entry.family)
    assert adapter is not None
    if spec.kind in EDIT_KINDS:
        raise BadRequestError(
            f"{spec.kind.value} is not available on {adapter.spec.title} (family "
            f"`{adapter.spec.name}`) yet: use U, V or 🔄"
        )
    seeds = [tile_seed(gen.seed, i) for i in range(gen.batch)]
    pipe, strength = model.base, None
    args: dict[str, Any] = {}
    extra = {"Sampler": FLOW_SAMPLERS[gen.sampler].label, "Schedule type": "Simple"}
    if spec.kind in (JobKind.UPSCALE, JobKind.VARY_SUBTLE, JobKind.VARY_STRONG):
        assert source is not None
        pipe, args, strength = _source_args(spec, model, adapter, source)
    elif spec.kind is JobKind.EDIT:
        pipe, args, fields = edit_args(spec, model, adapter, images or [])
        check_inputs(images or [], checker)  # before any step: a flagged input paints nothing
        extra.update(fields)
    # On the transformer (and text encoders) of the base pipeline, which img2img shares.
    loras.apply(model.base, gen.loras)
    pipe.scheduler = make_flow_scheduler(gen.sampler, model.scheduler_config)
    steps_run = 0

    def on_step(p: Any, i: int, t: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        nonlocal steps_run
        steps_run = i + 1
        if on_progress is not None:  # packed DiT latents make no preview (yet)
            on_progress(i + 1, int(getattr(p, "num_timesteps", 0) or gen.steps), None)
        return tensors

    kwargs: dict[str, Any] = {
        "prompt": gen.prompt,
        "width": gen.width,
        "height": gen.height,
        "num_inference_steps": gen.steps,
        "num_images_per_prompt": gen.batch,
        "generator": [torch.Generator(device).manual_seed(s) for s in seeds],
        "max_sequence_length": adapter.max_sequence_length,
        "output_type": "pt",
        "callback_on_step_end": on_step,
        **adapter.call_args(gen),
        **args,
    }
    if gen.chaos:
        length = adapter.max_sequence_length
        with torch.inference_mode(), clock("text_encode"):
            kwargs.update(chaos_kwargs(pipe, adapter.spec.name, gen, seeds, device, length))
    with (
        torch.inference_mode(),
        clock("denoise"),  # text encoding and decoding included
        job_cache(model.base.transformer, model.entry.memory, gen.fast) as cache,
    ):
        pixels = pipe(**kwargs).images
    if not bool(torch.isfinite(pixels).all()):
        raise NaNOutputError("the model produced NaN values; try another sampler or seed")
    images = _to_pil(pixels)
    nsfw = [False] * len(images)
    if checker is not None:
        with clock("safety_check"):
            nsfw = checker.flags(images)
    extra.update(adapter.infotext_fields(gen))
    extra.update(generation_hashes(loras.registry, gen))
    extra.update(cache)
    if adapter.img2img is None and args and spec.kind is not JobKind.EDIT:
        extra["Reference images"] = "1"
    timings = dict(clock.ms)
    timings["denoise_per_step"] = round(timings["denoise"] / max(steps_run, 1), 2)
    return EngineOutput(
        images=images,
        seeds=seeds,
        width=images[0].width,
        height=images[0].height,
        infotexts=[build_infotext(gen, s, strength, extra) for s in seeds],
        timings_ms=timings,
        steps_run=steps_run,
        nsfw=nsfw,
    )
