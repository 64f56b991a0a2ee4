"""A DiT model's load options from models.toml (inference/families/memory.py): diffusers'
PipelineQuantizationConfig (torchao or bitsandbytes), a GGUF transformer through
`from_single_file`, model CPU offload, and First-Block-Cache / TaylorSeer on the transformer."""

from __future__ import annotations

import importlib.util
from typing import Any

import diffusers
import torch

from inference.errors import ModelFileError
from inference.families.memory import QUANTIZE
from inference.registry import ModelEntry
from inference.worker.families import adapter as adapter_for
from inference.worker.families.caching import cache_config


def _need(package: str, key: str, entry: ModelEntry) -> None:
    if importlib.util.find_spec(package) is None:
        raise ModelFileError(
            f"model {entry.name!r}: {key} needs the {package} package in the worker's "
            f"environment (pip install {package}), or remove it from models.toml"
        )


def quantization_config(entry: ModelEntry, dtype: torch.dtype) -> Any:
    """The PipelineQuantizationConfig models.toml's `quantize` asks for (None: none)."""
    options = entry.memory
    if options.quantize is None:
        return None
    backend, preset, package = QUANTIZE[options.quantize]
    _need(package, f'quantize = "{options.quantize}"', entry)
    kwargs: dict[str, Any] = dict(preset)
    if backend.startswith("bitsandbytes"):
        kwargs["bnb_4bit_compute_dtype"] = dtype
    found = adapter_for(entry.family)
    assert found is not None
    components = ["transformer"]
    if options.quantize_text_encoders:
        components += found.text_encoders
    return diffusers.PipelineQuantizationConfig(
        quant_backend=backend, quant_kwargs=kwargs, components_to_quantize=components
    )


def load_kwargs(entry: ModelEntry, dtype: torch.dtype) -> dict[str, Any]:
    """Extra `from_pretrained` arguments: the quantization config, a GGUF transformer."""
    out: dict[str, Any] = {}
    config = quantization_config(entry, dtype)
    if config is not None:
        out["quantization_config"] = config
    file = entry.memory.transformer_file
    if file is not None:
        _need("gguf", "transformer_file", entry)
        found = adapter_for(entry.family)
        assert found is not None
        cls = getattr(diffusers, found.transformer)
        out["transformer"] = cls.from_single_file(
            file,
            quantization_config=diffusers.GGUFQuantizationConfig(compute_dtype=dtype),
            config=entry.source,
            subfolder="transformer",
            torch_dtype=dtype,
        )
    return out


def place(pipe: Any, entry: ModelEntry, device: torch.device) -> None:
    """Onto the device (or model CPU offload on a GPU), then the caching accelerator."""
    if entry.memory.cpu_offload and device.type != "cpu":
        pipe.enable_model_cpu_offload(device=device)
    else:  # on the CPU everything is in CPU memory already
        pipe.to(device)
    if entry.memory.cache is not None:
        pipe.transformer.enable_cache(cache_config(entry.memory.cache, entry.memory))
