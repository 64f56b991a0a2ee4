"""Fixtures shared by the whole test tree."""

pytest_plugins = ["tests.fixtures.postgres", "tests.fixtures.redis_server"]
