"""Loaded models are evicted by the memory their weights take, not by count (#18): a worker
with a budget keeps what fits, least recently used leaves first. Real tensors stand in for
the pipelines' weights (measured exactly as a loaded pipeline is); loading is not the point."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import torch

from inference.worker.pipelines import LoadedModel, PipelineCache, weights_bytes

MB = 1024 * 1024
# Model name → size of its weights in MB (float32 parameters).
SIZES = {"small-a": 2, "small-b": 2, "big": 5}


class _Registry:
    def model(self, name: str) -> Any:
        return SimpleNamespace(name=name, family="sd15")


def _cache(budget_mb: int | None) -> PipelineCache:
    cache = PipelineCache(
        _Registry(),  # type: ignore[arg-type]
        "cpu",
        torch.float32,
        max_models=2,
        memory_budget_bytes=None if budget_mb is None else budget_mb * MB,
    )

    def load(entry: Any) -> LoadedModel:
        weights = torch.nn.Linear(SIZES[entry.name] * MB // 4, 1, bias=False)
        return LoadedModel(entry, SimpleNamespace(components={"unet": weights}), {})

    cache._load = load  # type: ignore[method-assign]
    return cache


def test_weights_are_measured_in_bytes() -> None:
    pipe = SimpleNamespace(components={"unet": torch.nn.Linear(256, 4), "tokenizer": object()})
    assert weights_bytes(pipe) == (256 * 4 + 4) * 4


def test_models_that_fit_the_budget_stay_and_the_least_recently_used_leaves() -> None:
    cache = _cache(budget_mb=5)
    cache.model("small-a")
    cache.model("small-b")
    assert cache.loaded_names() == ["small-a", "small-b"]  # 4 MB: both fit
    cache.model("small-a")  # used again: small-b is now the least recently used
    cache.model("big")  # 5 MB: only it fits
    assert cache.loaded_names() == ["big"]
    cache.model("small-b")
    cache.model("small-a")
    assert cache.loaded_names() == ["small-b", "small-a"]
    assert cache.loads == 5


def test_without_a_budget_the_count_decides() -> None:
    cache = _cache(budget_mb=None)
    for name in ("small-a", "big", "small-b"):
        cache.model(name)
    assert cache.loaded_names() == ["big", "small-b"]
