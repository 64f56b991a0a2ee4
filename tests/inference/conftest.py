"""Tiny random-weight models, built once per test session (never downloaded, never committed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def tiny_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """Built through `nanke make-tiny-models`, as a user would; (models.toml, CLI output)."""
    import torch
    from click.testing import CliRunner

    from nanke.cli import cli

    # One thread: tiny models gain nothing from more, and CI machines are shared.
    torch.set_num_threads(1)
    directory = tmp_path_factory.mktemp("tiny-models")
    result = CliRunner().invoke(cli, ["make-tiny-models", str(directory)])
    assert result.exit_code == 0, result.output
    return directory / "models.toml", result.output


@pytest.fixture(scope="session")
def tiny_models(tiny_build: tuple[Path, str]) -> Path:
    """Path of the tiny models.toml (sd15 dir + single file, unCLIP, two LoRAs, embedding)."""
    return tiny_build[0]


@pytest.fixture(scope="session")
def registry(tiny_models: Path) -> Any:
    from inference.registry import load_registry

    return load_registry(tiny_models)


@pytest.fixture(scope="session")
def engine(registry: Any) -> Any:
    from inference.worker.engine import Engine

    # A fixed preview cadence: the default adapts to the measured step time.
    return Engine(registry, device="cpu", preview_every_steps=2)


@pytest.fixture(scope="session")
def family_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """`nanke make-tiny-models --families`: the Stable Diffusion tiny models plus tiny-flux,
    tiny-zimage, tiny-sd3 and tiny-flux2; (models.toml, CLI output)."""
    import torch
    from click.testing import CliRunner

    from nanke.cli import cli

    torch.set_num_threads(1)
    directory = tmp_path_factory.mktemp("tiny-families")
    result = CliRunner().invoke(cli, ["make-tiny-models", "--families", str(directory)])
    assert result.exit_code == 0, result.output
    return directory / "models.toml", result.output
