"""A diffusers scheduler that runs a native k-diffusion-style sampler (`ksamplers.py`) on a σ
schedule (`sigma_schedules.py`), so any diffusers pipeline drives it with its own UNet call.

The pipeline's loop calls `scale_model_input` (x / √(σ² + 1)), the UNet at the timestep of σ
(fractional, log-σ interpolated), then `step`, which turns the prediction into the denoised
estimate D = x − σ ε (v-prediction: x / (σ² + 1) − σ v / √(σ² + 1)), sends it to the sampler
and returns the x of the sampler's next model evaluation (or its final sample). Because the σ of
every evaluation follows from the schedule alone, `set_timesteps` lists them all in advance
(a dry run of the sampler on a scalar): the pipeline's step count and progress are exact.

img2img runs as A1111 runs it: `int(steps × strength) + 1` steps from the tail of the full
schedule, starting from the source plus noise at that σ. The pipeline slices its timesteps
for strength itself; the list is padded in front so the slice lands on the sampler's start.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from diffusers import DDPMScheduler
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.schedulers.scheduling_utils import SchedulerMixin, SchedulerOutput
from diffusers.utils.torch_utils import randn_tensor

from inference.worker.ksamplers import (
    CFG_MULTIPLIER,
    DISCARD_PENULTIMATE,
    ON_DDIM_TIMESTEPS,
    SAMPLE,
    Run,
    ddim,
)
from inference.worker.sigma_schedules import ModelSigmas, a1111_ddim_timesteps, schedule_sigmas


class KDiffusionScheduler(SchedulerMixin, ConfigMixin):
    order = 1
    config_name = "scheduler_config.json"  # type: ignore[assignment]

    @register_to_config
    def __init__(
        self,
        num_train_timesteps: int = 1000,
        beta_start: float = 0.00085,
        beta_end: float = 0.012,
        beta_schedule: str = "scaled_linear",
        trained_betas: Any = None,
        prediction_type: str = "epsilon",
        sampler: str = "euler",
        schedule: str = "uniform",
        sdxl: bool = False,
        strength: float | None = None,
    ) -> None:
        ddpm: Any = DDPMScheduler(
            num_train_timesteps=num_train_timesteps,
            beta_start=beta_start,
            beta_end=beta_end,
            beta_schedule=beta_schedule,
            trained_betas=trained_betas,
        )
        self.alphas_cumprod = ddpm.alphas_cumprod  # dynamic thresholding reads ᾱ
        self.model_sigmas = ModelSigmas(self.alphas_cumprod)
        self.sampler_sigmas: list[float] = []
        self.plan: list[float] = []  # σ of every model evaluation, in order
        self.timesteps = torch.zeros(0)
        self.num_inference_steps: int | None = None
        self._index = 0
        self._run: Run | None = None
        self._generator: Any = None
        self._t_sigma: dict[float, float] = {}
        self._pad = 0  # timesteps repeated in front for img2img strength (set_timesteps)
        self.uncond_output: torch.Tensor | None = None
        self._den_u: torch.Tensor | None = None

    @property
    def cfg(self) -> Any:
        """The registered config (attribute access)."""
        return self.config

    def __len__(self) -> int:
        return int(self.cfg.num_train_timesteps)

    @property
    def init_noise_sigma(self) -> float:
        top = self.sampler_sigmas[0] if self.sampler_sigmas else self.model_sigmas.sigma_max
        if self.cfg.sampler in ON_DDIM_TIMESTEPS:  # A1111's DDIM starts from x_T = noise
            return math.sqrt(top**2 + 1)
        return top

    @property
    def guidance_multiplier(self) -> float:
        """What A1111 multiplies the CFG scale by for this sampler (the wrapped UNet applies
        it; `inference/worker/guided_unet.py`)."""
        return CFG_MULTIPLIER.get(self.cfg.sampler, 1.0)

    @property
    def needs_uncond(self) -> bool:
        """Whether `step` reads the unconditional prediction (`uncond_output`, set by the
        wrapped UNet at every call; None when the call had no unconditional pass)."""
        return self.cfg.sampler == "ddim_cfgpp"

    def set_timesteps(
        self, num_inference_steps: int, device: str | torch.device | None = None, **_: Any
    ) -> None:
        n = int(num_inference_steps)
        cfg = self.cfg
        pad = 0
        if cfg.sampler in ON_DDIM_TIMESTEPS:
            timesteps = a1111_ddim_timesteps(n, len(self.model_sigmas.sigmas))
            sigmas = self.model_sigmas.sigmas[timesteps].flip(0)
            if cfg.strength is not None:  # img2img: the last int(steps × strength) steps
                sigmas = sigmas[-(max(int(min(cfg.strength, 0.999) * n), 1) + 1) :]
        else:
            sigmas = schedule_sigmas(
                cfg.schedule,
                n,
                self.model_sigmas,
                sdxl=cfg.sdxl,
                discard_penultimate=cfg.sampler in DISCARD_PENULTIMATE,
            )
            if cfg.strength is not None:  # A1111 img2img: t_enc + 1 steps of the full schedule
                t_enc = int(min(cfg.strength, 0.999) * n)
                sigmas = sigmas[n - t_enc - 1 :]
        if cfg.strength is not None:
            pad = n - min(int(n * cfg.strength), n)  # what the pipeline will slice off
        self.num_inference_steps = n
        self.sampler_sigmas = [float(s) for s in sigmas]
        self.plan = _dry_run(cfg.sampler, self.sampler_sigmas)
        t = self.model_sigmas.sigma_to_t(torch.tensor(self.plan, dtype=torch.float32))
        self._t_sigma = {float(ti): s for ti, s in zip(t, self.plan, strict=True)}
        self.timesteps = torch.cat([t[:1].repeat(pad), t]).to(device)
        self._index, self._run, self._generator, self._pad = 0, None, None, pad

    def set_begin_index(self, begin_index: int = 0) -> None:
        """Where an img2img pipeline starts in `timesteps`: past the padding for strength, or
        at SDXL's refiner hand-off (`denoising_start`), where the sampler restarts from the σ
        of that evaluation on the rest of the schedule."""
        self._index = max(begin_index - self._pad, 0)

    @property
    def sigma(self) -> float:
        """σ of the model evaluation the pipeline is about to make."""
        return self.plan[min(self._index, len(self.plan) - 1)]

    def scale_model_input(self, sample: torch.Tensor, timestep: Any = None) -> torch.Tensor:
        return sample / math.sqrt(self.sigma**2 + 1)

    def _denoised(self, output: torch.Tensor, sample: torch.Tensor) -> torch.Tensor:
        s, kind = self.sigma, self.cfg.prediction_type
        if kind == "epsilon":
            return sample - s * output
        if kind == "v_prediction":
            return sample / (s**2 + 1) - output * (s / math.sqrt(s**2 + 1))
        if kind == "sample":
            return output
        raise ValueError(f"prediction type {kind!r} is not supported by the k-diffusion samplers")

    def _noise(self, like: torch.Tensor) -> Any:
        def noise(_sigma: float, _sigma_next: float) -> torch.Tensor:
            return randn_tensor(
                like.shape, generator=self._generator, device=like.device, dtype=like.dtype
            )

        return noise

    def step(
        self,
        model_output: torch.Tensor,
        timestep: Any,
        sample: torch.Tensor,
        generator: Any = None,
        return_dict: bool = True,
    ) -> SchedulerOutput | tuple[torch.Tensor]:
        if self._run is None:
            self._generator = generator
            noise = self._noise(sample)
            sigmas = self.sampler_sigmas
            if self._index:  # a hand-off: go on from the σ this evaluation is at
                start = self.plan[self._index]
                sigmas = sigmas[next(i for i, s in enumerate(sigmas) if s <= start * 1.0001) :]
            if self.needs_uncond:
                self._run = ddim(sample, sigmas, noise, self._uncond_denoised)
            else:
                self._run = SAMPLE[self.cfg.sampler](sample, sigmas, noise)
            next(self._run)  # the first evaluation: (sample, σ_0)
        den = self._denoised(model_output.to(sample.dtype), sample)
        self._den_u = (
            self._denoised(self.uncond_output.to(sample.dtype), sample)
            if self.needs_uncond and self.uncond_output is not None
            else None
        )
        self._index += 1
        try:
            out, _ = self._run.send((sample, den))
        except StopIteration as done:
            out = done.value
            self._run = None
        if not return_dict:
            return (out,)
        return SchedulerOutput(prev_sample=out)

    def _uncond_denoised(self) -> torch.Tensor | None:
        """D_u of the evaluation just made (CFG++ reads it)."""
        return self._den_u

    def _sigma_at(self, timestep: Any) -> float:
        t = float(torch.as_tensor(timestep).flatten()[0])
        found = self._t_sigma.get(t)
        if found is not None:
            return found
        return float(self.model_sigmas.t_to_sigma(torch.tensor(t)))

    def add_noise(
        self, original_samples: torch.Tensor, noise: torch.Tensor, timesteps: Any
    ) -> torch.Tensor:
        return original_samples + noise * self._sigma_at(timesteps)


def _dry_run(name: str, sigmas: list[float]) -> list[float]:
    """The σ of each model evaluation `name` makes on `sigmas` (they never depend on x)."""
    zero = torch.zeros(1)
    run = SAMPLE[name](zero, sigmas, lambda _a, _b: zero)
    plan: list[float] = []
    try:
        x, s = next(run)
        while True:
            plan.append(s)
            x, s = run.send((x, zero))
    except StopIteration:
        return plan
