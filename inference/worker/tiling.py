"""Seamless tiles: circular padding on every Conv2d while a job runs, restored afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch


@contextmanager
def circular_padding(*modules: torch.nn.Module, enabled: bool = True) -> Iterator[None]:
    """Make convolutions wrap around the image edges, so the result tiles without seams."""
    saved: list[tuple[torch.nn.Conv2d, Any]] = []
    if enabled:
        for module in modules:
            for layer in module.modules():
                if isinstance(layer, torch.nn.Conv2d):
                    saved.append((layer, layer.padding_mode))
                    layer.padding_mode = "circular"
    try:
        yield
    finally:
        for layer, mode in saved:
            layer.padding_mode = mode
