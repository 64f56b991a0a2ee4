"""Build a fresh diffusers scheduler for a job from the canonical sampler name."""

from __future__ import annotations

from typing import Any

import diffusers

from inference.samplers import NATIVE, sampler


def make_scheduler(
    name: str,
    model_config: dict[str, Any],
    seed: int | None = None,
    *,
    strength: float | None = None,
    sdxl: bool = False,
) -> Any:
    """A new scheduler configured like A1111's sampler `name`, on the model's own betas.

    `model_config` must be the model's original scheduler config (not a previous job's), so
    one sampler's options (e.g. Karras sigmas) never leak into the next job. The native
    k-diffusion samplers also take the img2img `strength` (A1111's step count) and whether the
    model is SDXL (its Align Your Steps table).
    """
    spec = sampler(name)
    if spec.scheduler == NATIVE:
        from inference.worker.ksampler_scheduler import KDiffusionScheduler

        return KDiffusionScheduler.from_config(
            model_config, **spec.kwargs, strength=strength, sdxl=sdxl
        )
    cls = getattr(diffusers, spec.scheduler)
    kwargs = dict(spec.kwargs)
    if spec.scheduler == "DPMSolverSDEScheduler" and seed is not None:
        kwargs["noise_sampler_seed"] = seed  # its Brownian-tree noise is otherwise unseeded
    return cls.from_config(model_config, **kwargs)
