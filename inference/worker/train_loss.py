"""The denoising loss the LoRA learns on, and a fixed probe set to show it going down.

The caption is encoded once (the text encoder is frozen). A step draws noise and a timestep
from the run's generator (on the CPU, so a resumed run draws exactly what an uninterrupted one
would), noises the latents with the model's own training schedule and compares the UNet's
prediction with the target its scheduler was trained on (epsilon, or v for v-prediction).
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from inference.train_config import TrainRequest
from inference.worker.train_data import Buckets


class TrainingModel:
    def __init__(self, pipe: Any, sdxl: bool, request: TrainRequest, device: torch.device) -> None:
        from diffusers import DDPMScheduler

        self.pipe = pipe
        self.sdxl = sdxl
        self.family = "sdxl" if sdxl else "sd"
        self.device = device
        self.noise = DDPMScheduler.from_config(pipe.scheduler.config)
        self.prediction = self.noise.config.prediction_type
        self.vae_scale = 2 ** (len(pipe.vae.config.block_out_channels) - 1)
        with torch.no_grad():
            if sdxl:
                embeds, _, pooled, _ = pipe.encode_prompt(
                    request.caption, device=device, do_classifier_free_guidance=False
                )
                self.pooled: torch.Tensor | None = pooled
            else:
                embeds, _ = pipe.encode_prompt(request.caption, device, 1, False)
                self.pooled = None
        self.embeds = embeds
        self.autocast = device.type == "cuda" and pipe.unet.dtype != torch.float32

    def _unet_args(self, latents: torch.Tensor) -> dict[str, Any]:
        n = latents.shape[0]
        args: dict[str, Any] = {"encoder_hidden_states": self.embeds.expand(n, -1, -1)}
        if self.pooled is not None:
            h, w = (x * self.vae_scale for x in latents.shape[-2:])
            ids = torch.tensor([[h, w, 0, 0, h, w]], device=self.device, dtype=self.embeds.dtype)
            args["added_cond_kwargs"] = {
                "text_embeds": self.pooled.expand(n, -1),
                "time_ids": ids.expand(n, -1),
            }
        return args

    def _loss(self, latents: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        noisy = self.noise.add_noise(latents, noise, t)
        if self.prediction == "v_prediction":
            target = self.noise.get_velocity(latents, noise, t)
        else:
            target = noise
        cast = (
            torch.autocast(self.device.type, dtype=self.pipe.unet.dtype)
            if self.autocast
            else nullcontext()
        )
        with cast:
            pred = self.pipe.unet(noisy, t, **self._unet_args(latents)).sample
        return F.mse_loss(pred.float(), target.float())

    def loss(self, latents: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        noise = torch.randn(latents.shape, generator=gen).to(latents.device, latents.dtype)
        steps = self.noise.config.num_train_timesteps
        t = torch.randint(0, steps, (latents.shape[0],), generator=gen).to(latents.device)
        return self._loss(latents, noise, t)

    @torch.no_grad()
    def probe_loss(self, probe: ProbeSet) -> float:
        total = [float(self._loss(*item)) for item in probe.items]
        return sum(total) / len(total)


@dataclass
class ProbeSet:
    """The same (latents, noise, timestep) draws before and after training."""

    items: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]

    @classmethod
    def draw(cls, buckets: Buckets, model: TrainingModel, seed: int, count: int = 8) -> ProbeSet:
        gen = torch.Generator().manual_seed(seed)
        steps = model.noise.config.num_train_timesteps
        items = []
        for _ in range(count):
            latents = buckets.sample(1, gen)
            noise = torch.randn(latents.shape, generator=gen).to(latents.device, latents.dtype)
            t = torch.randint(0, steps, (1,), generator=gen).to(latents.device)
            items.append((latents, noise, t))
        return cls(items)
