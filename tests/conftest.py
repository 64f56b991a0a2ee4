"""Fixtures shared by the whole test tree."""

from __future__ import annotations

import pathlib

import pytest

pytest_plugins = ["tests.fixtures.postgres", "tests.fixtures.redis_server"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--semantic",
        action="store_true",
        help="also run tests/semantic on the trained tiny model (trains it first when its cache "
        "is cold: minutes on a CPU). Out of the default run until it trains in under 2 minutes "
        "and follows its prompts (#22; docs/engine.md).",
    )


def pytest_ignore_collect(collection_path: pathlib.Path, config: pytest.Config) -> bool | None:
    if "semantic" in collection_path.parts and not config.getoption("--semantic"):
        return True
    return None
