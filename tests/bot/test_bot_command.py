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


def test_nanke_bot_says_what_is_missing_before_connecting(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    env = {"NANKE_DISCORD__TOKEN": "a-real-looking-token"}
    result = CliRunner().invoke(cli, ["bot"], env=env)
    assert result.exit_code == 1 and "NANKE_BROKER_URL" in result.output
    assert "nanke run" in result.output and "Traceback" not in result.output
    env["NANKE_BROKER_URL"] = "redis://127.0.0.1:6379/0"
    result = CliRunner().invoke(cli, ["bot"], env=env)
    assert result.exit_code == 1 and "models.toml not found" in result.output


def test_nanke_bot_asks_for_migrations_before_connecting(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models.toml").write_text(
        '[[models]]\nname = "m"\nsource = "."\nfamily = "sd15"\ndefault = true\n'
    )
    env = {
        "NANKE_DISCORD__TOKEN": "a-real-looking-token",
        "NANKE_DATA_DIR": str(tmp_path / "data"),
        "NANKE_BROKER_URL": "redis://127.0.0.1:6379/0",
    }
    (tmp_path / "data").mkdir()
    result = CliRunner().invoke(cli, ["bot"], env=env)
    assert result.exit_code == 1, result.output
    assert "run `nanke migrate` first" in result.output and "Traceback" not in result.output


def test_a_broken_packs_file_stops_the_bot_with_one_line_naming_it(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models.toml").write_text(
        '[[models]]\nname = "m"\nsource = "."\nfamily = "sd15"\ndefault = true\n'
    )
    packs = tmp_path / "packs.toml"
    packs.write_text('[[packs]]\nname = "pets"\nprompts = ["a dog on a sofa"]\n')
    env = {
        "NANKE_DISCORD__TOKEN": "a-real-looking-token",
        "NANKE_DATA_DIR": str(tmp_path / "data"),
        "NANKE_BROKER_URL": "redis://127.0.0.1:6379/0",
        "NANKE_PACKS_FILE": str(packs),
    }
    result = CliRunner().invoke(cli, ["bot"], env=env)
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    assert str(packs) in lines[0] and "pack 1 (pets)" in lines[0] and "{subject}" in lines[0]
    packs.unlink()
    result = CliRunner().invoke(cli, ["bot"], env=env)
    assert result.exit_code == 1 and f"cannot read packs file {packs}" in result.output
