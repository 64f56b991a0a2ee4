"""`nanke init`: the prompts and flags an admin meets, the files written, and that those files
load through the real Settings and models.toml registry."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from inference.registry import load_registry
from nanke.cli import cli
from nanke.env_table import rows
from nanke.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
APP_ID = 1234567890123456789
TOKEN = base64.urlsafe_b64encode(str(APP_ID).encode()).decode().rstrip("=") + ".GxYz12.s3cr3t-part"


@pytest.fixture(autouse=True)
def _no_nanke_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # The files alone must configure everything; the test runner's own NANKE_* would mask them.
    for name in list(os.environ):
        if name.startswith("NANKE_"):
            monkeypatch.delenv(name)


def _init(*args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["init", *args], input=stdin)
    return result.exit_code, result.output


def _env(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {k: v for k, v in pairs if not k.startswith("#")}


def _settings(folder: Path) -> Settings:
    here = Path.cwd()
    os.chdir(folder)  # relative paths in .env are relative to where nanke runs
    try:
        return Settings(_env_file=folder / ".env")  # type: ignore[call-arg]
    finally:
        os.chdir(here)


def test_interactive_one_box_writes_files_that_load(tmp_path: Path) -> None:
    code, out = _init("--dir", str(tmp_path), stdin=f"{TOKEN}\none-box\nsd15,safety-checker\n")
    assert code == 0, out
    env = tmp_path / ".env"
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    assert TOKEN not in out  # typed hidden, never echoed
    settings = _settings(tmp_path)
    assert settings.discord.token is not None
    assert settings.discord.token.get_secret_value() == TOKEN
    assert settings.database_url is None and settings.broker_url is None  # SQLite, in-process
    registry = load_registry(tmp_path / settings.models_file)
    assert registry.default == "sd15"
    assert registry.models["sd15"].source == "stable-diffusion-v1-5/stable-diffusion-v1-5"
    assert registry.safety_checker is not None
    assert f"client_id={APP_ID}&scope=bot+applications.commands&permissions=117760" in out
    steps = out[out.index("next") :]
    for command in ("nanke models pull sd15", "nanke models pull safety-checker", "nanke run"):
        assert command in steps
    assert steps.index("nanke migrate") < steps.index("nanke doctor") < steps.index("nanke run")


def test_a_bad_token_is_asked_again(tmp_path: Path) -> None:
    code, out = _init(
        "--dir", str(tmp_path), "--mode", "one-box", "--model", "sdxl",
        stdin=f"changeme\nnot-a-token\n{TOKEN}\n",
    )  # fmt: skip
    assert code == 0, out
    assert "NANKE_DISCORD__TOKEN is not set (or is a placeholder)" in out
    assert "does not look like a Discord bot token" in out
    assert load_registry(tmp_path / "models.toml").default == "sdxl"


def test_production_non_interactive_makes_strong_distinct_secrets(tmp_path: Path) -> None:
    runs = []
    for folder in (tmp_path / "a", tmp_path / "b"):
        code, out = _init(
            "--non-interactive", "--token", TOKEN, "--mode", "production",
            "--model", "sdxl", "--model", "sd21-unclip", "--dir", str(folder),
        )  # fmt: skip
        assert code == 0, out
        runs.append(_env(folder / ".env"))
        steps = out[out.index("next") :]
        assert steps.index("chown -R 1000:1000 models") < steps.index("docker compose build")
        assert steps.index("docker compose build") < steps.index("models pull sdxl")
        assert steps.index("models pull sd21-unclip") < steps.index("docker compose up -d")
    first, second = runs
    secrets = [first["POSTGRES_PASSWORD"], first["MINIO_ROOT_PASSWORD"]]
    secrets.append(first["FLOWER_BASIC_AUTH"].split(":", 1)[1])
    assert len(set(secrets)) == 3
    for secret in secrets:
        assert len(secret) >= 32 and secret.replace("-", "").replace("_", "").isalnum()
    assert first["POSTGRES_PASSWORD"] != second["POSTGRES_PASSWORD"]
    # Every compose variable of the example is there (Nanke's own settings have defaults).
    example = set(_env(ROOT / ".env.example")) - {row.variable for row in rows()}
    assert example - set(first) == set()
    folder = tmp_path / "a"
    settings = _settings(folder)
    registry = load_registry(folder / settings.models_file)
    assert settings.models_file == Path("models/models.toml")
    assert first["NANKE_MODELS_DIR"] == "./models"
    assert registry.default == "sdxl" and registry.unclip is not None


def test_existing_files_are_kept_unless_forced(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("NANKE_DISCORD__TOKEN=mine\n")
    (tmp_path / ".env").chmod(0o644)
    args = ["--non-interactive", "--token", TOKEN, "--mode", "one-box", "--dir", str(tmp_path)]
    code, out = _init(*args)
    assert code == 1 and "already exist" in out and "--force" in out
    assert (tmp_path / ".env").read_text() == "NANKE_DISCORD__TOKEN=mine\n"
    assert not (tmp_path / "models.toml").exists()
    code, out = _init(*args, "--force")
    assert code == 0, out
    assert stat.S_IMODE((tmp_path / ".env").stat().st_mode) == 0o600
    assert _env(tmp_path / ".env")["NANKE_DISCORD__TOKEN"] == TOKEN


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mode", "one-box"], "--token required with --non-interactive"),
        (["--token", TOKEN], "--mode required with --non-interactive"),
        (["--token", "abc", "--mode", "one-box"], "does not look like a Discord bot token"),
        (["--token", TOKEN, "--mode", "one-box", "--model", "tiny", "--model", "sd15"],
         "tiny test models come with their own models.toml"),
        (["--token", TOKEN, "--mode", "one-box", "--model", "safety-checker"],
         "choose at least one painting model"),
        (["--token", TOKEN, "--mode", "one-box", "--model", "sd3"], "'sd3' is not one of"),
    ],
)  # fmt: skip
def test_clear_errors_and_nothing_written(tmp_path: Path, args: list[str], message: str) -> None:
    code, out = _init("--non-interactive", "--dir", str(tmp_path), *args)
    assert code != 0
    assert message in out
    assert "Traceback" not in out
    assert list(tmp_path.iterdir()) == []


def test_token_from_the_environment_keeps_it_off_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NANKE_DISCORD__TOKEN", TOKEN)
    code, out = _init("--non-interactive", "--mode", "one-box", "--dir", str(tmp_path))
    assert code == 0, out
    assert _env(tmp_path / ".env")["NANKE_DISCORD__TOKEN"] == TOKEN


def test_help_lists_the_choices() -> None:
    code, out = _init("--help")
    assert code == 0
    for word in ("--non-interactive", "--force", "one-box", "production", "sd15", "tiny"):
        assert word in out


def test_tiny_models_in_production_are_made_by_the_models_service(tmp_path: Path) -> None:
    args = ["--non-interactive", "--token", TOKEN, "--mode", "production", "--model", "tiny"]
    code, out = _init(*args, "--dir", str(tmp_path))
    assert code == 0, out
    assert not (tmp_path / "models" / "models.toml").exists()  # made with the weights
    assert "docker compose run --rm --entrypoint nanke models make-tiny-models /models" in out
    assert _env(tmp_path / ".env")["NANKE_MODELS_FILE"] == "models/models.toml"
