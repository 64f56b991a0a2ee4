"""The pipeline arguments of one job: conditioning (chaos per tile) and what differs between
txt2img, img2img and unCLIP."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from PIL import Image

from inference.worker.chaos import apply_chaos
from inference.worker.pipelines import LoadedUnclip
from inference.worker.prompt_encoding import Encoded
from pipeline.contracts import JobSpec

StepFn = Callable[[Any, int, Any, dict[str, Any]], dict[str, Any]]


def embeds(encoded: Encoded, chaos: int, seeds: list[int]) -> dict[str, Any]:
    batch = len(seeds)
    out: dict[str, Any] = {
        "prompt_embeds": apply_chaos(encoded.cond, chaos, seeds),
        "negative_prompt_embeds": encoded.uncond.expand(batch, -1, -1),
    }
    if encoded.pooled is not None and encoded.uncond_pooled is not None:
        out["pooled_prompt_embeds"] = encoded.pooled.expand(batch, -1)
        out["negative_pooled_prompt_embeds"] = encoded.uncond_pooled.expand(batch, -1)
    return out


def task_kwargs(
    spec: JobSpec,
    pipe: Any,
    source: Image.Image | None,
    strength: float | None,
    unclip: LoadedUnclip | None,
    on_step: StepFn,
) -> dict[str, Any]:
    """The pipeline arguments that differ between txt2img, img2img and unCLIP jobs."""
    gen = spec.generation
    if unclip is not None:
        image = {} if source is None else {"image": source.convert("RGB")}  # a /blend: none

        def on_legacy_step(i: int, t: Any, latents: torch.Tensor) -> None:
            on_step(pipe, i, t, {"latents": latents})

        # Stable unCLIP still has only the legacy per-step callback.
        return {
            "callback": on_legacy_step,
            "callback_steps": 1,
            **image,
            "noise_level": unclip.entry.noise_level,
            "width": gen.width,
            "height": gen.height,
        }
    kwargs: dict[str, Any] = {
        "callback_on_step_end": on_step,
        "callback_on_step_end_tensor_inputs": ["latents"],
    }
    if strength is None:
        return {**kwargs, "width": gen.width, "height": gen.height}
    assert source is not None
    init = source.convert("RGB").resize((gen.width, gen.height), Image.Resampling.LANCZOS)
    # img2img runs int(steps × strength) steps: make that at least one.
    steps = max(gen.steps, math.ceil(1 / strength))
    return {
        **kwargs,
        "image": [init] * gen.batch,
        "strength": strength,
        "num_inference_steps": steps,
    }
