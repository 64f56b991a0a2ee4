"""Tiny random-weight models, built once per test session (never downloaded, never committed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path of the tiny models.toml (sd15 dir + single file, unCLIP, two LoRAs, embedding)."""
    from inference.tiny import build_tiny_models

    return build_tiny_models(tmp_path_factory.mktemp("tiny-models"))


@pytest.fixture(scope="session")
def registry(tiny_models: Path) -> Any:
    from inference.registry import load_registry

    return load_registry(tiny_models)


@pytest.fixture(scope="session")
def engine(registry: Any) -> Any:
    import torch

    from inference.worker.engine import Engine

    # One thread: tiny models gain nothing from more, and CI machines are shared.
    torch.set_num_threads(1)
    return Engine(registry, device="cpu")
