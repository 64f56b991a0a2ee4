"""`nanke bot` start-up failures are one line that names what is wrong (#21 item 16): the real
command, in-process, against the fake Discord (or nothing at all) on Postgres + Redis."""

from __future__ import annotations

import asyncio

import discord
from click.testing import CliRunner

from nanke.cli import cli
from tests.fixtures.redis_server import free_port

MODELS_TOML = '[[models]]\nname = "tiny"\nsource = "."\nfamily = "sd15"\ndefault = true\n'


def _env(postgres_url: str, redis_url: str, tmp_path, token: str) -> dict[str, str]:
    (tmp_path / "models.toml").write_text(MODELS_TOML)
    return {
        "NANKE_DATABASE_URL": postgres_url,
        "NANKE_BROKER_URL": redis_url,
        "NANKE_MODELS_FILE": str(tmp_path / "models.toml"),
        "NANKE_DATA_DIR": str(tmp_path),
        "NANKE_DISCORD__TOKEN": token,
    }


async def _nanke_bot(env: dict[str, str]):  # type: ignore[no-untyped-def]
    # In a thread: the command runs its own event loop while this one serves the fake.
    return await asyncio.to_thread(CliRunner().invoke, cli, ["bot"], env=env)


async def test_discord_unreachable_is_named_not_blamed_on_the_database(
    monkeypatch, postgres_url, private_redis, tmp_path
):
    monkeypatch.setattr(discord.http.Route, "BASE", f"http://127.0.0.1:{free_port()}/api/v10")
    result = await _nanke_bot(_env(postgres_url, private_redis.url, tmp_path, "MTIz.abc.def"))
    assert result.exit_code == 1, result.output
    assert "cannot reach Discord" in result.output
    assert "database" not in result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output


async def test_a_wrong_token_is_one_line(fake, postgres_url, private_redis, tmp_path):
    fake.accepted_token = "the-right-token"
    result = await _nanke_bot(_env(postgres_url, private_redis.url, tmp_path, "MTIz.wrong.x"))
    assert result.exit_code == 1, result.output
    assert "Discord refused the bot token (NANKE_DISCORD__TOKEN)" in result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_malformed_json_in_a_list_setting_is_one_line(tmp_path):
    env = {"NANKE_DISCORD__ADMIN_IDS": "[1", "NANKE_DISCORD__TOKEN": "MTIz.abc.def"}
    result = CliRunner().invoke(cli, ["bot"], env=env)
    assert result.exit_code == 1
    assert "invalid settings" in result.output and "NANKE_DISCORD__ADMIN_IDS='[123, 456]'" in (
        result.output
    )
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
