"""`nanke init`: what an admin decides (token, one box or production, models) → `.env` and
`models.toml`, with strong random secrets for the production stack, and the next commands.

Pure apart from `write`: `plan` turns the answers into the files' text, so the command and the
tests share one source. Secrets are made here (`secrets.token_urlsafe`: URL- and .env-safe,
since compose puts the Postgres password into a database URL); none is ever defaulted.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from nanke.models_pull import CURATED
from nanke.settings import SettingsError, require_token

Mode = Literal["one-box", "production"]
MODES: tuple[Mode, ...] = ("one-box", "production")
TINY = "tiny"
MODEL_CHOICES: tuple[str, ...] = (*CURATED, TINY)
DEFAULT_MODELS: tuple[str, ...] = ("sd15", "safety-checker")
# Bot permissions the invite asks for (docs/discord.md): View Channels, Send Messages,
# Embed Links, Attach Files, Read Message History.
INVITE_PERMISSIONS = 117760
# Production: models.toml and the weights live in this folder, mounted at /models.
PRODUCTION_MODELS_DIR = "models"


class InitError(Exception):
    """One line for the admin: what is wrong with an answer and how to fix it."""


@dataclass(frozen=True)
class Answers:
    token: str
    mode: Mode
    models: tuple[str, ...]
    application_id: int | None = None  # None: read from the token


@dataclass(frozen=True)
class Plan:
    env_text: str
    models_toml: Path  # relative to the target folder
    models_text: str | None  # None: tiny models, written with their weights
    application_id: int
    next_steps: list[str] = field(default_factory=list)

    @property
    def invite_url(self) -> str:
        return (
            f"https://discord.com/oauth2/authorize?client_id={self.application_id}"
            f"&scope=bot+applications.commands&permissions={INVITE_PERMISSIONS}"
        )


def application_id_of(token: str) -> int:
    """A bot token's first part is its user id (= the application id) in base64."""
    head = token.split(".")[0]
    try:
        text = base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    if token.count(".") != 2 or not text.isdigit():
        raise InitError(
            "that does not look like a Discord bot token (three parts separated by dots): "
            "copy it from the developer portal, Bot → Reset Token"
        )
    return int(text)


def check_models(models: tuple[str, ...]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(m.strip() for m in models if m.strip()))
    if not chosen:
        raise InitError(f"choose at least one model: {', '.join(MODEL_CHOICES)}")
    unknown = [m for m in chosen if m not in MODEL_CHOICES]
    if unknown:
        raise InitError(
            f"unknown model {unknown[0]!r}: choose from {', '.join(MODEL_CHOICES)} "
            "(other hub ids: `nanke models pull OWNER/NAME` after init)"
        )
    if TINY in chosen and len(chosen) > 1:
        raise InitError("tiny test models come with their own models.toml: choose them alone")
    if chosen != (TINY,) and not any(CURATED[m].section == "models" for m in chosen):
        raise InitError("choose at least one painting model (sd15 or sdxl), not only helpers")
    return chosen


def plan(answers: Answers, *, secret: object = None) -> Plan:
    """The files' text for these answers. `secret` is for tests: a callable → str."""
    try:
        token = require_token_text(answers.token)
    except SettingsError as exc:
        raise InitError(str(exc)) from None
    app_id = answers.application_id or application_id_of(token)
    models = check_models(answers.models)
    make = secret if callable(secret) else new_secret
    toml_dir = Path(PRODUCTION_MODELS_DIR) if answers.mode == "production" else Path(".")
    if models == (TINY,):
        toml_dir = toml_dir / "tiny-models" if answers.mode == "one-box" else toml_dir
    toml = toml_dir / "models.toml"
    if answers.mode == "production":
        env = _production_env(token, toml, make)
    else:
        env = _one_box_env(token, toml)
    models_text = None if models == (TINY,) else models_toml_text(models)
    return Plan(env, toml, models_text, app_id, next_steps(answers.mode, models, toml))


def require_token_text(token: str) -> str:
    from bot.settings import DiscordSettings

    return require_token(DiscordSettings(token=token.strip() or None))  # type: ignore[arg-type]


def new_secret() -> str:
    return secrets.token_urlsafe(24)


def _header(what: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"# Written by `nanke init` on {stamp}: {what}.\n"
        "# It holds the bot token and passwords: keep it private (mode 0600), out of git.\n"
        "# Every NANKE_ variable: docs/deploy.md (`nanke config env-table`).\n"
    )


def _one_box_env(token: str, toml: Path) -> str:
    return (
        _header("one box (`nanke run`: SQLite, in-process queue)")
        + f"NANKE_DISCORD__TOKEN={token}\n"
        + "NANKE_DATA_DIR=data\n"
        + f"NANKE_MODELS_FILE={toml.as_posix()}\n"
        + "# Discord user ids with admin rights everywhere, as a JSON list.\n"
        + "NANKE_DISCORD__ADMIN_IDS=[]\n"
    )


def _production_env(token: str, toml: Path, make: object) -> str:
    assert callable(make)
    flower = f"nanke:{make()}"
    return (
        _header("production (docker compose: Postgres, Redis, workers)")
        + "COMPOSE_PROJECT_NAME=nanke\n"
        + f"NANKE_DISCORD__TOKEN={token}\n"
        + f"POSTGRES_PASSWORD={make()}\n"
        + "NANKE_DISCORD__ADMIN_IDS=[]\n"
        + "# Public URL of the web gallery, for the 🔗 Web buttons (empty hides them).\n"
        + "NANKE_GALLERY_URL=\n"
        + "NANKE_GALLERY_BIND=127.0.0.1\n"
        + "NANKE_GALLERY_PORT=8080\n"
        + "NANKE_GALLERY_TRUSTED_PROXIES=127.0.0.1\n"
        + "# models.toml and local weights: mounted read-only at /models in the bot and workers;\n"
        + "# `docker compose run --rm models pull NAME` adds to it (writable by uid 1000).\n"
        + f"NANKE_MODELS_DIR=./{PRODUCTION_MODELS_DIR}\n"
        + "# For nanke commands run on the host (compose sets /models/models.toml inside).\n"
        + f"NANKE_MODELS_FILE={toml.as_posix()}\n"
        + "NANKE_WORKER_GPU=0\n"
        + "# A worker without a CUDA device refuses to start; cpu paints on the CPU (slow).\n"
        + "# NANKE_WORKER__DEVICE=cpu\n"
        + "NANKE_STORAGE__BACKEND=local\n"
        + "NANKE_STORAGE__S3_BUCKET=nanke\n"
        + "NANKE_STORAGE__S3_ENDPOINT_URL=http://minio:9000\n"
        + "# With `--profile minio` / `--profile flower` (made by nanke init; change freely).\n"
        + "MINIO_ROOT_USER=nanke\n"
        + f"MINIO_ROOT_PASSWORD={make()}\n"
        + f"FLOWER_BASIC_AUTH={flower}\n"
    )


def models_toml_text(models: tuple[str, ...]) -> str:
    lines = [
        "# Written by `nanke init`. Entries name Hugging Face hub ids: `nanke models pull NAME`",
        "# downloads each into the model cache (HF_HOME). Format: docs/engine.md.",
        "",
    ]
    first = True
    for name in models:
        curated = CURATED[name]
        if curated.section == "models":
            lines += ["[[models]]", f'name = "{name}"', f'source = "{curated.hub_id}"']
            lines += [f'family = "{curated.family}"']
            lines += ["default = true"] if first else []
            first = False
        else:
            lines += [f"[{curated.section}]", f'source = "{curated.hub_id}"']
        lines.append("")
    return "\n".join(lines)


def next_steps(mode: Mode, models: tuple[str, ...], toml: Path) -> list[str]:
    if mode == "one-box":
        # Tiny models are written by init itself.
        fetch = [] if models == (TINY,) else [f"nanke models pull {m}" for m in models]
        return [*fetch, "nanke migrate", "nanke doctor", "nanke run"]
    if models == (TINY,):
        fetch = [
            "docker compose run --rm --entrypoint nanke models make-tiny-models /models",
        ]
    else:
        fetch = [f"docker compose run --rm models pull {m}" for m in models]
    return [
        # The containers' user (uid 1000) writes models.toml and reads the weights.
        f"sudo chown -R 1000:1000 {PRODUCTION_MODELS_DIR}",
        "docker compose build",
        *fetch,
        "docker compose up -d",
        "docker compose exec worker nanke doctor",
    ]


def write(target: Path, found: Plan, *, force: bool) -> list[Path]:
    """Write .env (mode 0600) and models.toml under `target`; refuse to overwrite without
    `force`. Returns the paths written."""
    env = target / ".env"
    toml = target / found.models_toml
    wanted = [env] + ([toml] if found.models_text is not None else [])
    existing = [p for p in (env, toml) if p.exists()]
    if existing and not force:
        names = " and ".join(str(p) for p in existing)
        raise InitError(f"{names} already exist(s): pass --force to overwrite")
    try:
        target.mkdir(parents=True, exist_ok=True)
        _write_private(env, found.env_text)
        if found.models_text is not None:
            toml.parent.mkdir(parents=True, exist_ok=True)
            toml.write_text(found.models_text, encoding="utf-8")
    except OSError as exc:
        raise InitError(f"cannot write {exc.filename or target}: {exc.strerror or exc}") from None
    return wanted


def _write_private(path: Path, text: str) -> None:
    # Created 0600 from the start (no window where another user could read the token), and
    # an existing file (--force) is tightened before it is rewritten.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
