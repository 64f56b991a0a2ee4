"""The composition root of the engine in CLI processes (`nanke imagine|upscale|vary`) and of the
one-box worker thread: the diffusers engine on the best device this machine has."""

from __future__ import annotations

from typing import Any

from inference.registry import Registry


def make_engine(registry: Registry, *, library_logs: bool = False, max_models: int = 2) -> Any:
    """The engine (torch and diffusers load here, not at import)."""
    from inference.worker.engine import Engine, default_device

    device, dtype = default_device()
    return Engine(
        registry, device=device, dtype=dtype, max_models=max_models, library_logs=library_logs
    )
