"""`nanke web` refuses bad configuration with one actionable line, before binding a port."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from nanke.cli import cli


def test_s3_storage_without_a_bucket_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NANKE_STORAGE__BACKEND", "s3")
    monkeypatch.delenv("NANKE_STORAGE__S3_BUCKET", raising=False)
    result = CliRunner().invoke(cli, ["web", "--port", "0"])
    assert result.exit_code == 1
    assert "NANKE_STORAGE__S3_BUCKET" in result.output
    assert "Traceback" not in result.output
