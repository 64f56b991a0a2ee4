"""models.toml keys that fit a DiT model on a smaller card, and its caching accelerator
(torch-free: parsed and checked here, applied by inference/worker/families/loading.py).

    quantize = "int8"              # torchao int8 weight-only | "fp8" (torchao float8
                                   # weight-only) | "nf4" (bitsandbytes 4-bit)
    quantize_text_encoders = true  # also the T5 / Qwen3 / CLIP encoders (default: the
                                   # transformer only)
    transformer_file = "flux1-dev-Q4_K_S.gguf"  # a GGUF transformer, via from_single_file
    cpu_offload = true             # components live in CPU memory, moved to the GPU in turn
    cache = "first_block"          # First-Block-Cache | "taylorseer": skip transformer work
    cache_threshold = 0.05         # first_block: the residual change below which it reuses
                                   # (without `cache`: the threshold of a job's --fast)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inference.errors import RegistryError

QUANTIZE: dict[
    str, tuple[str, dict[str, Any], str]
] = {  # models.toml value → (diffusers quant backend, its kwargs, package it needs)
    "int8": ("torchao", {"quant_type": "int8wo"}, "torchao"),
    "fp8": ("torchao", {"quant_type": "float8wo"}, "torchao"),
    "nf4": (
        "bitsandbytes_4bit",
        {"load_in_4bit": True, "bnb_4bit_quant_type": "nf4"},
        "bitsandbytes",
    ),
}
CACHES = ("first_block", "taylorseer")
MEMORY_KEYS = frozenset(
    {
        "quantize",
        "quantize_text_encoders",
        "transformer_file",
        "cpu_offload",
        "cache",
        "cache_threshold",
    }
)


@dataclass(frozen=True)
class MemoryOptions:
    quantize: str | None = None
    quantize_text_encoders: bool = False
    transformer_file: str | None = None  # absolute path of a .gguf transformer
    cpu_offload: bool = False
    cache: str | None = None
    cache_threshold: float = 0.05


def _bool(table: dict[str, Any], key: str, where: str) -> bool:
    value = table.get(key, False)
    if not isinstance(value, bool):
        raise RegistryError(f"{where}: `{key}` must be true or false")
    return value


def parse_memory_options(
    table: dict[str, Any], family: str, clip_only: bool, base: Path, where: str, caches: bool = True
) -> MemoryOptions:
    given = sorted(MEMORY_KEYS & set(table))
    if not given:
        return MemoryOptions()
    if clip_only:
        raise RegistryError(f"{where}: {given} are for the DiT families (flux, zimage, sd3, flux2)")
    quantize = table.get("quantize")
    if quantize is not None and quantize not in QUANTIZE:
        raise RegistryError(f"{where}: `quantize` must be one of {', '.join(QUANTIZE)}")
    cache = table.get("cache")
    if not caches and ({"cache", "cache_threshold"} & set(table)):
        raise RegistryError(f"{where}: the {family} family's transformer has no cache hooks")
    if cache is not None and cache not in CACHES:
        raise RegistryError(f"{where}: `cache` must be one of {', '.join(CACHES)}")
    threshold = table.get("cache_threshold", 0.05)
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float)
        or not 0 < threshold <= 1
    ):
        raise RegistryError(f"{where}: `cache_threshold` must be a number above 0, at most 1")
    file = table.get("transformer_file")
    path: str | None = None
    if file is not None:
        if not isinstance(file, str) or not file.endswith(".gguf"):
            raise RegistryError(f"{where}: `transformer_file` must be a .gguf file")
        if quantize is not None:
            raise RegistryError(
                f"{where}: a GGUF transformer is already quantized: drop `quantize`"
            )
        path = str((base / Path(file).expanduser()).resolve())
    return MemoryOptions(
        quantize=quantize,
        quantize_text_encoders=_bool(table, "quantize_text_encoders", where),
        transformer_file=path,
        cpu_offload=_bool(table, "cpu_offload", where),
        cache=cache,
        cache_threshold=float(threshold),
    )
