"""Fixtures shared by the whole test tree."""

from __future__ import annotations

import pathlib

import pytest

pytest_plugins = ["tests.fixtures.postgres", "tests.fixtures.redis_server"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--no-semantic",
        action="store_true",
        help="leave out tests/semantic (the trained tiny model's tests; a cold cache trains the "
        "model first, about 2 minutes of one CPU core: docs/engine.md, 'Semantic tests').",
    )


def pytest_ignore_collect(collection_path: pathlib.Path, config: pytest.Config) -> bool | None:
    if "semantic" in collection_path.parts and config.getoption("--no-semantic"):
        return True
    return None
