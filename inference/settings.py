"""The worker's settings type: device, precision, compilation, previews, warm-up, threads.

`nanke.settings.Settings` composes it as `worker` (env: NANKE_WORKER__DTYPE=float16, …);
nothing here reads the environment or imports torch. `inference.worker.precision` turns the
"auto" values into a device and dtype on the machine at hand (docs/engine.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

Dtype = Literal["auto", "bfloat16", "float16", "float32"]


class WorkerSettings(BaseModel):
    """How the engine runs. Env: NANKE_WORKER__DEVICE=cuda:1, NANKE_WORKER__COMPILE=false, …"""

    # "auto": the first CUDA device when there is one, else the CPU; or "cpu", "cuda", "cuda:1".
    device: str = "auto"
    # "auto": bfloat16 on a CUDA device that supports it (Ampere and newer), float16 on older
    # GPUs, float32 on the CPU. bfloat16 needs no VAE upcast; float16 upcasts the VAE only for
    # families whose VAE overflows in half precision (SDXL).
    dtype: Dtype = "auto"
    # torch.compile of the UNet and the VAE decoder. None: on for CUDA, off for the CPU.
    compile: bool | None = None
    compile_backend: str = "inductor"
    # inductor's persistent cache (FX graphs, kernels); None → <data_dir>/compile-cache.
    compile_cache_dir: Path | None = None
    # A progress preview every N denoising steps, never at step 1. None: about one per second
    # of the job, from the step time measured on this worker (at least every 2nd step).
    preview_every_steps: int | None = Field(default=None, ge=2)
    # Load every served model and the safety checker, and run one tiny job per shape bucket,
    # before the worker takes work.
    warmup: bool = True
    # torch intra-op threads. None: half the CPU cores (at least 1), so the thread that
    # encodes, stores and commits finished jobs keeps a core; OpenMP threads busy-wait on a
    # loaded box, so more is often slower (docs/BENCHMARKS.md).
    threads: int | None = Field(default=None, ge=1)
    max_models: int = Field(default=2, ge=1)
    # Pad the negative prompt to the prompt's number of 75-token chunks (and the prompt to the
    # negative's). False, A1111's default: a negative of another length runs in its own UNet
    # call, so adding chunks to the prompt does not change what the negative means.
    pad_negative: bool = False
