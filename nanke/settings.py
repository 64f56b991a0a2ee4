"""Typed settings, read once by the composition root and passed in; nothing reads env elsewhere.

Every field can be set with a `NANKE_`-prefixed environment variable or a `.env` file
(`NANKE_DATABASE_URL=postgresql+asyncpg://…`). Nested sections use `__`
(`NANKE_DISCORD__TOKEN=…`).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Values people paste from examples; a bot started with one fails fast instead of at login.
_PLACEHOLDERS = {"", "changeme", "change-me", "your-token-here", "token", "xxx", "todo"}


class SettingsError(ValueError):
    """A setting is missing or invalid for the command being run."""


class DiscordSettings(BaseModel):
    token: SecretStr | None = None
    # Discord user ids that are Nanke admins everywhere, beside members with Manage Server.
    admin_ids: list[int] = Field(default_factory=list)
    # Guilds to sync slash commands to at once (global sync can take up to an hour).
    dev_guild_ids: list[int] = Field(default_factory=list)

    def require_token(self) -> str:
        value = self.token.get_secret_value().strip() if self.token else ""
        if value.lower() in _PLACEHOLDERS:
            raise SettingsError(
                "NANKE_DISCORD__TOKEN is not set (or is a placeholder): create a bot in the "
                "Discord developer portal and put its token in .env"
            )
        return value


class PipelineSettings(BaseModel):
    """Job pipeline timings (docs/pipeline.md). Env: NANKE_PIPELINE__LEASE_S=…"""

    # A job that runs longer is aborted by its worker; the broker's visibility timeout must
    # exceed it, or Redis hands a still-running job to a second worker.
    job_timeout_s: float = Field(default=900.0, gt=0)
    visibility_timeout_s: float = Field(default=3600.0, gt=0)
    # A claim lasts lease_s unless its worker heartbeats (every heartbeat_s) to extend it.
    lease_s: float = Field(default=60.0, gt=0)
    heartbeat_s: float = Field(default=15.0, gt=0)
    max_attempts: int = Field(default=3, ge=1, le=20)
    reconcile_interval_s: float = Field(default=15.0, gt=0)
    # A queued job missing from the broker for this long is published again.
    republish_after_s: float = Field(default=30.0, ge=0)
    events_stream: str = "nanke:events"
    events_maxlen: int = Field(default=10_000, ge=100)
    preview_interval_s: float = Field(default=1.0, ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> PipelineSettings:
        if self.visibility_timeout_s <= self.job_timeout_s:
            raise ValueError(
                "pipeline.visibility_timeout_s must exceed pipeline.job_timeout_s, or a long "
                "job is delivered to a second worker while the first still runs"
            )
        if self.heartbeat_s * 2 > self.lease_s:
            raise ValueError("pipeline.heartbeat_s must be at most half of pipeline.lease_s")
        return self


class StorageSettings(BaseModel):
    """Where images live. Env: NANKE_STORAGE__BACKEND=s3, NANKE_STORAGE__S3_BUCKET=…"""

    backend: Literal["local", "s3"] = "local"
    # None → <data_dir>/images
    local_dir: Path | None = None
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None  # MinIO: http://minio:9000
    s3_region: str = "us-east-1"
    s3_access_key: str | None = None
    s3_secret_key: SecretStr | None = None
    s3_prefix: str = ""


class PlanSettings(BaseModel):
    """One quota plan: credits per period and how many jobs may be running / waiting.

    A default 2x2 SD 1.5 grid (512², 30 steps, 4 images) costs 1 credit.
    """

    credits: Decimal = Field(default=Decimal(25), ge=0, decimal_places=3)
    period: Literal["day", "month"] = "day"
    max_running: int = Field(default=3, ge=1)
    max_queued: int = Field(default=10, ge=0)

    @property
    def credits_milli(self) -> int:
        return int(self.credits * 1000)


def _default_plans() -> dict[str, PlanSettings]:
    return {"free": PlanSettings()}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="NANKE_",
        env_file=".env",
        env_nested_delimiter="__",
        extra="ignore",
    )

    # None → embedded default (SQLite file under data_dir); else a SQLAlchemy async URL.
    database_url: str | None = None
    # None → in-process queue; else a Celery broker URL (redis://…).
    broker_url: str | None = None
    # Redis for job events; defaults to the broker when that is Redis.
    events_url: str | None = None
    data_dir: Path = Path("data")
    models_file: Path = Path("models.toml")
    # Public base URL of the web gallery, for 🔗 Web buttons; None hides them.
    gallery_url: str | None = None
    log_level: str = "INFO"
    discord: DiscordSettings = Field(default_factory=DiscordSettings)
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    # Quota plans by name (NANKE_PLANS='{"free": {"credits": 25}, "pro": {...}}'); new users
    # get default_plan.
    plans: dict[str, PlanSettings] = Field(default_factory=_default_plans)
    default_plan: str = "free"
    # Relax mode: members out of credits (or in relax mode) still queue, uncharged, at low
    # priority.
    relax_mode: bool = False

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
