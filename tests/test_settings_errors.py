"""A bad NANKE_* setting is one line naming the variable, never a traceback."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from nanke.cli import cli


@pytest.mark.parametrize(
    "url", ["garbage", "postgresql://nanke:pw@127.0.0.1/nanke", "postgres://x@h/db"]
)
def test_a_database_url_without_an_async_driver_is_a_clear_error(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NANKE_DATABASE_URL", url)
    result = CliRunner().invoke(cli, ["migrate"])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "NANKE_DATABASE_URL: " in result.output
    assert "postgresql+asyncpg://" in result.output
    assert "pw" not in result.output  # the URL (and its password) is not echoed


def test_an_invalid_setting_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NANKE_PIPELINE__LEASE_S", "1")
    result = CliRunner().invoke(cli, ["admin", "quota", "show", "1"])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert "NANKE_PIPELINE: " in result.output
    assert "heartbeat_s must be at most half of pipeline.lease_s" in result.output


def test_blank_optional_urls_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    from nanke.settings import load_settings

    for name in ("DATABASE_URL", "BROKER_URL", "EVENTS_URL", "GALLERY_URL"):
        monkeypatch.setenv(f"NANKE_{name}", "")
    settings = load_settings()
    assert settings.gallery_url is None and settings.broker_url is None
    assert settings.effective_database_url.startswith("sqlite+aiosqlite:///")


def test_a_short_editor_secret_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NANKE_EDITOR_SECRET", "hunter2")
    result = CliRunner().invoke(cli, ["admin", "quota", "show", "1"])
    assert result.exit_code == 1
    assert "NANKE_EDITOR_SECRET: " in result.output
    assert "at least 16 characters" in result.output
    assert "hunter2" not in result.output  # a secret is never echoed
