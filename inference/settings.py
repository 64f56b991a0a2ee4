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

    device: str = Field(
        default="auto",
        description="cpu, cuda or cuda:N. auto: the first CUDA device; `nanke worker` refuses "
        "to start without one (set cpu to allow the CPU), `nanke run` falls back to the CPU.",
    )
    # bfloat16 needs no VAE upcast; float16 upcasts the VAE only for families whose VAE
    # overflows in half precision (SDXL).
    dtype: Dtype = Field(
        default="auto",
        description="auto: bfloat16 on GPUs that support it (Ampere and newer), float16 on "
        "older ones, float32 on the CPU; or bfloat16, float16, float32.",
    )
    compile: bool | None = Field(
        default=None,
        description="torch.compile the UNet and VAE decoder; unset: on for CUDA, off on the CPU.",
    )
    compile_backend: str = Field(default="inductor", description="The torch.compile backend.")
    compile_cache_dir: Path | None = Field(
        default=None,
        description="inductor's persistent kernel cache; unset: <data_dir>/compile-cache.",
    )
    preview_every_steps: int | None = Field(
        default=None,
        ge=2,
        description="A progress preview every N denoising steps; unset: about one a second.",
    )
    warmup: bool = Field(
        default=True,
        description="Load every model and run one tiny job per shape before taking work.",
    )
    # OpenMP threads busy-wait on a loaded box, so more is often slower (docs/BENCHMARKS.md).
    threads: int | None = Field(
        default=None,
        ge=1,
        description="torch intra-op threads; unset: half the CPU cores (at least 1).",
    )
    train: bool = Field(
        default=True,
        description="Also take LoRA training jobs, from the nanke.train queue (docs/training.md).",
    )
    max_models: int = Field(
        default=2, ge=1, description="Models a worker keeps loaded at once (least used leaves)."
    )
    models: list[str] | None = Field(
        default=None,
        description="The models this worker serves (`nanke worker --models a,b`); unset: every "
        "model in models.toml. The scheduler gives it jobs for these only.",
    )
    memory_budget_gb: float | None = Field(
        default=None,
        gt=0,
        description="GPU memory for model weights (`--memory-gb`): loaded models are evicted, "
        "least recently used first, by the memory their weights take.",
    )
    pad_negative: bool = Field(
        default=False,
        description="Pad the negative prompt to the prompt's number of 75-token chunks (and the "
        "prompt to the negative's); false, A1111's default: a negative of another length runs in "
        "its own UNet call.",
    )
    upscale_tile: int = Field(
        default=512,
        ge=32,
        le=4096,
        description="Upscale (4x): the GAN upscaler runs on tiles of this many pixels a side "
        "(of the input); smaller tiles need less GPU memory (512: a few hundred MB).",
    )
    upscale_tile_overlap: int = Field(
        default=32,
        ge=0,
        le=256,
        description="Upscale (4x): pixels neighbouring tiles share (at most half a tile); the "
        "tiles are blended across them so no seam shows.",
    )
