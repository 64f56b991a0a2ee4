"""The transformer's cache accelerator: models.toml `cache` (always on, set at load by
loading.py) or a job's `--fast` (on for that job alone, the family default: First-Block-Cache
at the model's `cache_threshold`), and the PNG fields that say which ran."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import diffusers

from inference.families.memory import MemoryOptions

FAST_CACHE = "first_block"  # what --fast turns on where the model configures no cache
_LABELS = {"first_block": "First-Block-Cache", "taylorseer": "TaylorSeer"}


def cache_config(kind: str, memory: MemoryOptions) -> Any:
    if kind == "first_block":
        return diffusers.FirstBlockCacheConfig(threshold=memory.cache_threshold)
    return diffusers.TaylorSeerCacheConfig()


def cache_fields(kind: str, memory: MemoryOptions) -> dict[str, str]:
    fields = {"Cache": _LABELS[kind]}
    if kind == "first_block":
        fields["Cache threshold"] = f"{memory.cache_threshold:g}"
    return fields


@contextmanager
def job_cache(transformer: Any, memory: MemoryOptions, fast: bool) -> Iterator[dict[str, str]]:
    """The cache this job runs with (its PNG fields; empty: none). A `--fast` job on a model
    without `cache` gets the family default for this call only, then the plain transformer."""
    if memory.cache is not None:
        yield cache_fields(memory.cache, memory)
        return
    if not fast:
        yield {}
        return
    transformer.enable_cache(cache_config(FAST_CACHE, memory))
    try:
        yield cache_fields(FAST_CACHE, memory)
    finally:
        transformer.disable_cache()
