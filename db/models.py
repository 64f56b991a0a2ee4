"""The tables: guilds, users, jobs, images, quota balances + ledger, gallery entries + likes.

Invariants that must hold under concurrency live here as constraints (CHECKs, unique keys,
partial unique indexes), so no Python read-then-write can break them.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, BigId, JsonDoc


class JobKind(StrEnum):
    IMAGINE = "imagine"
    UPSCALE = "upscale"
    VARY_SUBTLE = "vary_subtle"
    VARY_STRONG = "vary_strong"
    REROLL = "reroll"
    # The editing half (docs/engine.md "Editing"): outpainting and a repainted region.
    ZOOM = "zoom"
    PAN = "pan"
    SQUARE = "square"
    VARY_REGION = "vary_region"
    # A LoRA training run (0011; docs/training.md): its own queue, `train`.
    TRAIN = "train"
    # /describe's four prompts and /edit's instruction edits (0012).
    DESCRIBE = "describe"
    EDIT = "edit"


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    POSTED = "posted"
    FAILED = "failed"
    CANCELLED = "cancelled"


class LedgerKind(StrEnum):
    ALLOWANCE = "allowance"  # the plan's credits, written when a period's balance row is created
    HOLD = "hold"  # debited at intake
    SETTLE = "settle"  # the hold became a charge (job succeeded); amount 0
    REFUND = "refund"  # the hold came back (job failed or was cancelled)
    GRANT = "grant"  # an admin added credits
    ADJUST = "adjust"  # a plan change moved this period's allowance


def _in(column: str, values: type[StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


def _now_default() -> Any:
    return func.now()


TRAIN_SUBJECTS = "pet,object,style"


class Guild(Base):
    __tablename__ = "guilds"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    allowed: Mapped[bool] = mapped_column(default=True)
    gallery_channel_id: Mapped[int | None] = mapped_column(BigInteger)
    # The server's web gallery: off until one of its admins turns it on (/admin gallery).
    gallery_public: Mapped[bool] = mapped_column(default=False, server_default=false())
    # The server's name as Discord showed it at the latest share to its gallery (the web
    # shows it); None until then.
    name: Mapped[str | None] = mapped_column(String(100))
    banned_words: Mapped[list[str]] = mapped_column(JsonDoc, default=list)
    nsfw_policy: Mapped[str] = mapped_column(String(8), default="block")
    # /train (0013): on or off, and the subjects allowed, comma-separated (no `person` until
    # an admin allows it: docs/training.md "For admins").
    train_enabled: Mapped[bool] = mapped_column(default=True, server_default=true())
    train_subjects: Mapped[str] = mapped_column(
        String(64), default=TRAIN_SUBJECTS, server_default=TRAIN_SUBJECTS
    )
    created_at: Mapped[datetime] = mapped_column(server_default=_now_default())
    updated_at: Mapped[datetime] = mapped_column(server_default=_now_default())

    __table_args__ = (CheckConstraint("nsfw_policy IN ('block', 'allow')", name="nsfw_policy"),)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    plan: Mapped[str] = mapped_column(String(32))
    # Per-user defaults for /imagine; None means "the server's default".
    sampler: Mapped[str | None] = mapped_column(String(32))
    aspect_ratio: Mapped[str | None] = mapped_column(String(16))
    model: Mapped[str | None] = mapped_column(String(64))
    quality: Mapped[float | None] = mapped_column(Float)
    remix: Mapped[bool] = mapped_column(default=False)
    stealth: Mapped[bool] = mapped_column(default=False)
    mode: Mapped[str] = mapped_column(String(8), default="fast")
    created_at: Mapped[datetime] = mapped_column(server_default=_now_default())
    updated_at: Mapped[datetime] = mapped_column(server_default=_now_default())
    # When a worker last started one of their jobs: the scheduler's round-robin key (0005).
    last_started_at: Mapped[datetime | None]

    __table_args__ = (CheckConstraint("mode IN ('fast', 'relax')", name="mode"),)


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(16))
    # The job contract's JSON (pipeline.contracts.JobSpec), stored as given.
    request: Mapped[dict[str, Any]]
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("jobs.id"))
    tile_index: Mapped[int | None] = mapped_column(SmallInteger)
    state: Mapped[str] = mapped_column(String(16), default=JobState.QUEUED.value)
    # Relaxed jobs were admitted without credits and run at low priority, uncharged.
    relaxed: Mapped[bool] = mapped_column(default=False)
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=3)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None]
    cost_milli: Mapped[int] = mapped_column(default=0)
    # The quota period the hold was taken from, so a refund goes back where it came from.
    quota_period: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None]
    # Discord: where the job came from and where its result went.
    guild_id: Mapped[int | None] = mapped_column(BigInteger)
    channel_id: Mapped[int | None] = mapped_column(BigInteger)
    interaction_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    # Post state: a poster claims the job (posting_since), then marks it posted.
    posting_since: Mapped[datetime | None]
    posted_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint(_in("kind", JobKind), name="kind"),
        CheckConstraint(_in("state", JobState), name="state"),
        CheckConstraint("tile_index BETWEEN 1 AND 4", name="tile_index"),
        CheckConstraint("attempts >= 0 AND attempts <= max_attempts", name="attempts"),
        CheckConstraint("cost_milli >= 0", name="cost"),
        CheckConstraint(
            "state <> 'running' OR (lease_owner IS NOT NULL AND lease_expires_at IS NOT NULL)",
            name="running_has_lease",
        ),
        Index("ix_jobs_user_id_state", "user_id", "state"),
        Index("ix_jobs_state_lease_expires_at", "state", "lease_expires_at"),
        Index("ix_jobs_parent_id", "parent_id"),
        # The scheduler's candidates (0005): queued jobs only, fast first, oldest first.
        Index(
            "ix_jobs_queued",
            "relaxed",
            "created_at",
            postgresql_where=text("state = 'queued'"),
            sqlite_where=text("state = 'queued'"),
        ),
        # A member's relax usage this period (0005).
        Index("ix_jobs_user_id_started_at", "user_id", "started_at"),
    )

    @property
    def model_name(self) -> str | None:
        """The model the job runs (its request's generation.model), as the scheduler reads it."""
        generation = self.request.get("generation") if isinstance(self.request, dict) else None
        model = generation.get("model") if isinstance(generation, dict) else None
        return model if isinstance(model, str) else None


class Worker(Base):
    """A live GPU worker's heartbeat (0005): the models it may load (`serves`; None: every
    model in its registry) and those it has loaded now, so the bot can tell a job no live
    worker can run, and operators can see which GPU holds what."""

    __tablename__ = "workers"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    serves: Mapped[list[str]] = mapped_column(JsonDoc)
    loaded: Mapped[list[str]] = mapped_column(JsonDoc, default=list)
    memory_budget_mb: Mapped[int | None]
    started_at: Mapped[datetime]
    seen_at: Mapped[datetime]
    # Model loads since start (the autoscaling signal "loads per hour").
    loads: Mapped[int] = mapped_column(default=0)


class Image(Base):
    __tablename__ = "images"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    index: Mapped[int] = mapped_column(SmallInteger)  # tile 1..4, as on the U/V buttons
    key: Mapped[str] = mapped_column(String(512))  # storage key
    width: Mapped[int]
    height: Mapped[int]
    seed: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("job_id", "index"),
        CheckConstraint('"index" BETWEEN 1 AND 4', name="index"),
    )


class QuotaBalance(Base):
    """What a user has left in one period ('d2026-11-23' or 'm2026-11'); no reset job needed."""

    __tablename__ = "quota_balances"

    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"), primary_key=True)
    period_key: Mapped[str] = mapped_column(String(16), primary_key=True)
    allowance_milli: Mapped[int] = mapped_column(BigInteger)
    balance_milli: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (CheckConstraint("balance_milli >= 0", name="balance_not_negative"),)


class QuotaLedger(Base):
    """Every change to a balance; a period's balance is the sum of its rows."""

    __tablename__ = "quota_ledger"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    job_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("jobs.id"))
    kind: Mapped[str] = mapped_column(String(16))
    amount_milli: Mapped[int] = mapped_column(BigInteger)  # signed change to the balance
    period_key: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]

    __table_args__ = (
        CheckConstraint(_in("kind", LedgerKind), name="kind"),
        CheckConstraint(
            "job_id IS NOT NULL OR kind IN ('allowance', 'grant', 'adjust')", name="job_required"
        ),
        UniqueConstraint("job_id", "kind"),
        # A hold ends exactly once: settled or refunded, never both.
        Index(
            "uq_quota_ledger_job_outcome",
            "job_id",
            unique=True,
            postgresql_where=text("kind IN ('settle', 'refund')"),
            sqlite_where=text("kind IN ('settle', 'refund')"),
        ),
        Index("ix_quota_ledger_user_id_period_key", "user_id", "period_key"),
    )


class GalleryEntry(Base):
    __tablename__ = "gallery_entries"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    image_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("images.id", ondelete="CASCADE"),
        unique=True,  # shared once
    )
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    guild_id: Mapped[int | None] = mapped_column(BigInteger)
    prompt: Mapped[str] = mapped_column(Text)
    like_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    # The post in the guild's gallery channel (set once posted), deleted with the entry.
    post_channel_id: Mapped[int | None] = mapped_column(BigInteger)
    post_message_id: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        CheckConstraint("like_count >= 0", name="like_count"),
        Index("ix_gallery_entries_guild_id_created_at", "guild_id", "created_at"),
        Index("ix_gallery_entries_guild_id_like_count", "guild_id", "like_count"),
        Index("ix_gallery_entries_user_id_created_at", "user_id", "created_at"),
        # Full-text search on prompts (Postgres only; SQLite falls back to LIKE).
        Index(
            "ix_gallery_entries_prompt_fts",
            func.to_tsvector(text("'english'"), text("prompt")),
            postgresql_using="gin",
        ).ddl_if(dialect="postgresql"),
    )


class MemberName(Base):
    """A member's display name in one server, as Discord showed it when an image of theirs
    was last shared to the gallery; the web gallery shows it (the bot never lists members)."""

    __tablename__ = "member_names"

    guild_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    display_name: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime]


class GalleryLike(Base):
    __tablename__ = "gallery_likes"

    entry_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("gallery_entries.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"), primary_key=True)
    created_at: Mapped[datetime]


class GuildBan(Base):
    """A member banned from Nanke in one server (bans are per server, set by its admins)."""

    __tablename__ = "guild_bans"

    guild_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    banned_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime]


class GuildButtonAccess(Base):
    """Servers where anyone may press any job's buttons (the default is only its author)."""

    __tablename__ = "guild_button_access"

    guild_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    everyone: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime]


class PendingBatch(Base):
    """An /imagine that makes more than 4 jobs, waiting for its ✅ (15 minutes): kept here so
    a bot restart does not lose it. The requests are the parsed ImagineParams as JSON."""

    __tablename__ = "pending_batches"

    token: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger)
    guild_id: Mapped[int | None] = mapped_column(BigInteger)
    channel_id: Mapped[int] = mapped_column(BigInteger)
    interaction_id: Mapped[int] = mapped_column(BigInteger)
    requests: Mapped[list[dict[str, Any]]] = mapped_column(JsonDoc)
    created_at: Mapped[datetime]


class RegionLink(Base):
    """A "Draw the region…" link (pipeline/editor_links.py signs its id): issued by the bot,
    submitted once by the web editor, then admitted (or refused) by the bot's intake.

    state: issued → submitted (the web's one conditional UPDATE: usable once) → admitting (the
    bot's claim) → queued (`new_job_id`) or refused (`message`, for the page)."""

    __tablename__ = "region_links"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger)
    job_id: Mapped[uuid.UUID]
    image_index: Mapped[int] = mapped_column(SmallInteger)
    guild_id: Mapped[int | None] = mapped_column(BigInteger)
    channel_id: Mapped[int] = mapped_column(BigInteger)  # where the result is posted
    state: Mapped[str] = mapped_column(String(16), default="issued")
    prompt: Mapped[str | None] = mapped_column(Text)
    shapes: Mapped[list[Any] | None] = mapped_column(JsonDoc)
    message: Mapped[str | None] = mapped_column(Text)
    new_job_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    submitted_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint(
            "state IN ('issued', 'submitted', 'admitting', 'queued', 'refused')", name="state"
        ),
        Index("ix_region_links_state", "state"),
    )


# Registered on Base.metadata with the rest (migrations and tests read it from here).
from db.lora_models import Lora  # noqa: E402, F401
