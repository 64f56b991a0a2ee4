"""torch.compile of the UNet and the VAE decoder (NANKE_WORKER__COMPILE; on by default on CUDA).

- One graph per shape bucket, not one per job: shapes are static (`dynamic=False`, the fastest
  kernels), and the sizes `--ar` produces are a handful per family (resolve rounds both sides to
  multiples of 64 at the base area). A bucket is (width, height, batch, CFG on/off, prompt chunks,
  tile on/off: circular padding is a different convolution). The worker's warm-up compiles the
  common buckets before it takes work (inference/worker/warmup.py).
- Nothing that varies per job reaches the graph as a Python value: the timestep is passed as a
  float32 tensor whatever the sampler made it (schedulers use int64 or float32), the latents in
  the model's dtype, and LoRA weights are tensors changed in place (inference/worker/loras.py,
  diffusers' LoRA hot-swap), so samplers, LoRA switches and chaos never recompile.
- `fullgraph=True`: a graph break in the UNet forward is an error, not a silent slowdown.
- inductor's FX-graph and kernel caches persist in NANKE_WORKER__COMPILE_CACHE_DIR (set by the
  composition root through TORCHINDUCTOR_CACHE_DIR before torch loads), so a restarted worker
  recompiles from the cache in seconds instead of minutes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import torch

log = logging.getLogger(__name__)

# Graphs kept per compiled function before dynamo falls back to eager: buckets × tile × CFG.
RECOMPILE_LIMIT = 64


class Compiler:
    def __init__(
        self,
        backend: str | Callable[..., Any] = "inductor",
        *,
        mode: str | None = None,
        lora_slots: int = 4,
    ):
        self.backend = backend
        self.lora_slots = lora_slots  # LoRAs one job may combine (inference/worker/lora_slots.py)
        self.mode = mode
        config: Any = torch._dynamo.config
        for name in ("recompile_limit", "cache_size_limit"):
            if hasattr(config, name):
                setattr(config, name, max(getattr(config, name), RECOMPILE_LIMIT))
        if hasattr(config, "accumulated_recompile_limit"):
            config.accumulated_recompile_limit = max(config.accumulated_recompile_limit, 1024)

    def _compile(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        kwargs: dict[str, Any] = {"backend": self.backend, "fullgraph": True, "dynamic": False}
        if self.mode is not None and self.backend == "inductor":
            kwargs["mode"] = self.mode
        return torch.compile(fn, **kwargs)

    def compile(self, pipe: Any) -> None:
        """Compile `pipe`'s UNet forward and VAE decoder in place (derived pipelines share
        them). Idempotent."""
        unet = pipe.unet
        if getattr(unet, "_nanke_compiled", False):
            return
        inner = self._compile(unet.forward)

        def unet_forward(sample: torch.Tensor, timestep: Any, *args: Any, **kwargs: Any) -> Any:
            timestep = torch.as_tensor(timestep, device=sample.device).to(torch.float32)
            return inner(sample.to(unet.dtype), timestep, *args, **kwargs)

        unet.forward = unet_forward
        unet._nanke_compiled = True
        decoder = pipe.vae.decoder
        decoder.forward = self._compile(decoder.forward)
        log.info(
            "compiled the UNet and VAE decoder (backend %s)",
            getattr(self.backend, "__name__", self.backend),
        )
