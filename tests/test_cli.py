from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from nanke.cli import cli


def test_help_lists_commands() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "parse" in result.output


def test_every_command_has_help() -> None:
    runner = CliRunner()
    for name in cli.list_commands(None):  # type: ignore[arg-type]
        result = runner.invoke(cli, [name, "--help"])
        assert result.exit_code == 0, (name, result.output)
        assert "Usage:" in result.output


def test_console_entry_point_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "nanke", "--version"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0
    assert "nanke" in out.stdout
