from __future__ import annotations

import pytest
from click.testing import CliRunner

from nanke.cli import cli


@pytest.mark.parametrize("token", [None, "", "changeme", "your-token-here"])
def test_nanke_bot_refuses_to_start_without_a_real_token(monkeypatch, tmp_path, token):
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.delenv("NANKE_DISCORD__TOKEN", raising=False)
    env = {} if token is None else {"NANKE_DISCORD__TOKEN": token}
    result = CliRunner().invoke(cli, ["bot"], env=env)
    assert result.exit_code == 1
    assert "NANKE_DISCORD__TOKEN is not set" in result.output
    assert "Traceback" not in result.output
