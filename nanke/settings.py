"""Typed settings, read once by the composition root and passed in; nothing reads env elsewhere.

Every field can be set with a `NANKE_`-prefixed environment variable or a `.env` file
(`NANKE_DATABASE_URL=postgresql+asyncpg://…`). Nested sections use `__`
(`NANKE_DISCORD__TOKEN=…`).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.settings import DiscordSettings
from db.settings import PlanSettings, default_plans
from inference.settings import WorkerSettings
from pipeline.editor_links import MIN_SECRET_LEN
from pipeline.settings import ImageFetchSettings, PipelineSettings, StorageSettings

# Values people paste from examples; a bot started with one fails fast instead of at login.
_PLACEHOLDERS = {"", "changeme", "change-me", "your-token-here", "token", "xxx", "todo"}


class SettingsError(ValueError):
    """A setting is missing or invalid for the command being run."""


def require_token(discord: DiscordSettings) -> str:
    """The bot token, or a SettingsError that says how to get one."""
    value = discord.token.get_secret_value().strip() if discord.token else ""
    if value.lower() in _PLACEHOLDERS:
        raise SettingsError(
            "NANKE_DISCORD__TOKEN is not set (or is a placeholder): create a bot in the "
            "Discord developer portal and put its token in .env"
        )
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="NANKE_",
        env_file=".env",
        env_nested_delimiter="__",
        extra="ignore",
    )

    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy async URL, e.g. postgresql+asyncpg://nanke@127.0.0.1/nanke; "
        "unset: a SQLite file in data_dir (one box).",
    )
    broker_url: str | None = Field(
        default=None,
        description="Celery broker, e.g. redis://127.0.0.1:6379/0; unset: the in-process queue "
        "(one box).",
    )
    events_url: str | None = Field(
        default=None, description="Redis for job events; unset: the broker, when it is Redis."
    )
    data_dir: Path = Field(
        default=Path("data"), description="Local state: the SQLite file, image storage."
    )
    models_file: Path = Field(
        default=Path("models.toml"), description="The model registry (docs/engine.md)."
    )
    packs_file: Path | None = Field(
        default=None,
        description="The prompt packs /pack offers (TOML, docs/training.md); unset: the packs "
        "Nanke ships (inference/packs_default.toml).",
    )
    gallery_url: str | None = Field(
        default=None,
        description="Public base URL of the web gallery, for 🔗 Web buttons; unset hides them.",
    )
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR.")
    bot_name: str | None = Field(
        default=None,
        description="The bot's name in the job-events consumer group (keep it stable across "
        "restarts); unset: bot@<hostname>.",
    )
    library_logs: bool = Field(
        default=False,
        description="Show diffusers'/transformers' own notices and progress bars (debugging).",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="GET /metrics (web, and a worker's --metrics-port) asks for `Authorization: "
        "Bearer <it>`; unset: /metrics on the web is off, a worker's metrics port answers anyone.",
    )
    editor_secret: SecretStr | None = Field(
        default=None,
        description="Signs the region editor's links (HMAC-SHA256; at least 16 characters, e.g. "
        "`openssl rand -hex 32`); with gallery_url set, Draw the region… appears under upscaled "
        "images. The bot and the web app must share it.",
    )
    discord: DiscordSettings = Field(default_factory=DiscordSettings)
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    images: ImageFetchSettings = Field(default_factory=ImageFetchSettings)
    # The engine: device, dtype, compile, previews, warm-up, threads (inference/settings.py).
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    plans: dict[str, PlanSettings] = Field(
        default_factory=default_plans,
        description='Quota plans by name, JSON: {"free": {"credits": 25, "period": "day", '
        '"max_running": 3, "max_queued": 10}, "pro": {...}}.',
    )
    default_plan: str = Field(default="free", description="The plan new members get.")
    relax_mode: bool = Field(
        default=False,
        description="Members out of credits (or in relax mode) still queue, uncharged, at low "
        "priority.",
    )

    @field_validator("database_url", "broker_url", "events_url", "gallery_url", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # `.env.example` leaves optional URLs as `NAME=`: empty means "not configured".
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str | None) -> str | None:
        # The data layer is async-only: a sync or unparsable URL would fail later, obscurely.
        if value is None:
            return None
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            driver = make_url(value).drivername
        except ArgumentError:
            driver = ""
        if driver not in {"postgresql+asyncpg", "sqlite+aiosqlite"}:
            raise ValueError(
                "database_url must be a postgresql+asyncpg:// or sqlite+aiosqlite:/// URL, "
                "e.g. postgresql+asyncpg://nanke@127.0.0.1/nanke"
            )
        return value

    @field_validator("editor_secret", mode="before")
    @classmethod
    def _secret_long_enough(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        if isinstance(value, str) and len(value.strip()) < MIN_SECRET_LEN:
            raise ValueError(
                f"editor_secret must be at least {MIN_SECRET_LEN} characters "
                "(e.g. the output of `openssl rand -hex 32`)"
            )
        return value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("log_level must be DEBUG, INFO, WARNING or ERROR")
        return level

    @model_validator(mode="after")
    def _known_default_plan(self) -> Settings:
        if self.default_plan not in self.plans:
            raise ValueError(
                f"default_plan {self.default_plan!r} is not one of the configured plans "
                f"({', '.join(sorted(self.plans))})"
            )
        return self

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'nanke.db').as_posix()}"

    @property
    def effective_events_url(self) -> str | None:
        if self.events_url:
            return self.events_url
        if self.broker_url and self.broker_url.startswith(("redis://", "rediss://")):
            return self.broker_url
        return None


def load_settings(**overrides: object) -> Settings:
    """Build settings from env/.env plus explicit overrides (the CLI's flags)."""
    return Settings(**overrides)  # type: ignore[arg-type]
