"""Device, dtype, threads and the CUDA-only speed settings, from `WorkerSettings`.

Everything CUDA-specific is guarded by the device type, so the CPU path (tests, CI, one-box
CPU installs) never touches it; the CPU tests run the whole engine in bfloat16 to catch dtype
mistakes without a GPU.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import torch

from inference.errors import DeviceError
from inference.settings import Dtype, WorkerSettings

log = logging.getLogger(__name__)

DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}
# Families whose VAE overflows in float16 and must decode in float32 (diffusers' SDXL
# `force_upcast`). The SD 1.x/2.x VAEs decode fine in float16; bfloat16 never needs it.
FP16_VAE_UPCAST = frozenset({"sdxl"})


def resolve_device(setting: str, *, require_gpu: bool = False) -> torch.device:
    """ "auto": the first CUDA device, else the CPU — unless `require_gpu` (a GPU worker
    process), where only an explicit "cpu" runs on the CPU. A "cuda…" setting on a machine
    without CUDA is refused everywhere, in one line that says what to set."""
    if setting == "auto" and not require_gpu:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device("cuda" if setting == "auto" else setting)
    if device.type == "cuda" and not torch.cuda.is_available():
        asked = "a GPU worker (NANKE_WORKER__DEVICE=auto)" if setting == "auto" else setting
        raise DeviceError(
            f"no CUDA device found for {asked}: check the NVIDIA driver and, in Docker, the "
            "NVIDIA Container Toolkit and the worker's GPU reservation (docs/deploy.md); "
            "to paint on the CPU (slow) set NANKE_WORKER__DEVICE=cpu"
        )
    return device


def resolve_dtype(setting: Dtype, device: torch.device) -> torch.dtype:
    """ "auto": bfloat16 on GPUs that support it, float16 on older ones, float32 on the CPU."""
    if setting != "auto":
        return DTYPES[setting]
    if device.type != "cuda":
        return torch.float32
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def compile_enabled(settings: WorkerSettings, device: torch.device) -> bool:
    return settings.compile if settings.compile is not None else device.type == "cuda"


def vae_needs_upcast(family: str, dtype: torch.dtype, vae: Any) -> bool:
    return (
        dtype == torch.float16
        and family in FP16_VAE_UPCAST
        and bool(getattr(vae.config, "force_upcast", False))
    )


def set_threads(settings: WorkerSettings) -> int:
    """Set torch's intra-op threads explicitly (never leave OpenMP to guess on a shared box)."""
    threads = settings.threads or max(1, (os.cpu_count() or 2) // 2)
    torch.set_num_threads(threads)
    return threads


def tune_backend(device: torch.device) -> None:
    """Process-wide CUDA settings: cuDNN autotuning (fixed shapes per bucket), TF32 matmuls."""
    if device.type != "cuda":
        return
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True


def tune_pipeline(pipe: Any, device: torch.device, *, fuse_qkv: bool) -> None:
    """channels_last for the convolution-heavy UNet and VAE, PyTorch SDPA attention, and fused
    QKV projections (only for models that take no LoRAs: peft adapters sit on to_q/to_k/to_v,
    which the fused processor bypasses). CUDA only; the CPU keeps the defaults."""
    if device.type != "cuda":
        return
    from diffusers.models.attention_processor import AttnProcessor2_0

    for module in (pipe.unet, pipe.vae):
        module.to(memory_format=torch.channels_last)
    pipe.unet.set_attn_processor(AttnProcessor2_0())
    pipe.vae.set_attn_processor(AttnProcessor2_0())
    if fuse_qkv:
        pipe.fuse_qkv_projections()
    log.info(
        "tuned %s for %s (channels_last, SDPA, fused QKV %s)",
        type(pipe).__name__,
        device,
        "on" if fuse_qkv else "off",
    )


def describe_gpus() -> list[str]:
    """One line per visible CUDA device, "name, N GiB" (`nanke doctor`); empty without CUDA."""
    if not torch.cuda.is_available():
        return []
    lines = []
    for index in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(index)
        lines.append(f"cuda:{index} {props.name}, {props.total_memory / 2**30:.0f} GiB")
    return lines
