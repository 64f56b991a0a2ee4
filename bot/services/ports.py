"""The seams between the bot's services and the data layer / job pipeline.

The bot sees jobs, accounts and guilds through these small views and protocols; the composition
root plugs in the Postgres/Redis implementations (bot/services/sql_store.py and
bot/services/adapters.py), tests may plug in
their own. Views are plain frozen dataclasses so no SQLAlchemy object leaks into the cogs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol
from uuid import UUID

from db.models import JobState
from pipeline.contracts import EditSpec, JobKind, JobResult, JobSpec, UpscaleMode
from pipeline.events import DeliveredEvent
from prompt.request import ImageRef, ImagineParams


class Mode(StrEnum):
    FAST = "fast"
    RELAX = "relax"


@dataclass(frozen=True)
class JobView:
    id: UUID
    kind: JobKind
    state: JobState
    user_id: int
    guild_id: int | None
    channel_id: int
    spec: JobSpec
    created_at: datetime
    result: JobResult | None = None
    # The safety checker's verdict per image of the result (True = flagged NSFW).
    nsfw: tuple[bool, ...] = ()
    message_id: int | None = None
    error: str | None = None
    cost_milli: int = 0
    relaxed: bool = False  # admitted without credits: runs on the relax queue


@dataclass(frozen=True)
class UserPrefs:
    sampler: str | None = None
    aspect_ratio: str | None = None
    model: str | None = None
    quality: float | None = None
    remix: bool = False
    stealth: bool = False
    mode: Mode = Mode.FAST


@dataclass(frozen=True)
class Account:
    user_id: int
    plan: str
    prefs: UserPrefs
    credits_left_milli: int
    renews_at: datetime | None
    # Plan caps: how many jobs may run and wait at once.
    max_running: int
    max_queued: int


@dataclass(frozen=True)
class GuildConfig:
    guild_id: int
    allowed: bool = True
    # Anyone in the guild may press any job's buttons (else only its author).
    everyone_can_press: bool = False
    banned_words: tuple[str, ...] = ()
    gallery_channel_id: int | None = None
    # The server's web gallery (nanke web): off until an admin turns it on.
    gallery_public: bool = False
    # /train: on or off, and the subjects allowed (`person` only when an admin allows it).
    train_enabled: bool = True
    train_subjects: tuple[str, ...] = ("pet", "object", "style")


class AdmissionStatus(StrEnum):
    CREATED = "created"
    REPLAYED = "replayed"  # same interaction seen before: the existing job
    OUT_OF_CREDITS = "out_of_credits"
    OVER_CAPS = "over_caps"


@dataclass(frozen=True)
class Admission:
    status: AdmissionStatus
    job: JobView | None = None
    detail: str = ""


@dataclass(frozen=True)
class NewJob:
    """What intake asks the store to hold quota for and insert, in one transaction."""

    # The Discord interaction: a replay of it returns the existing job. Only the first job
    # of a batch carries it; the batch stops at a replayed first job.
    interaction_id: int | None
    user_id: int
    guild_id: int | None
    channel_id: int
    spec: JobSpec
    relax: bool = False
    parent_id: UUID | None = None


@dataclass(frozen=True)
class PendingBatch:
    """An /imagine of more than 4 jobs waiting for its ✅ (kept across restarts)."""

    token: UUID
    interaction_id: int
    user_id: int
    guild_id: int | None
    channel_id: int
    requests: tuple[ImagineParams, ...]
    created_at: datetime


@dataclass(frozen=True)
class Shared:
    created: bool  # False: this image was shared before


@dataclass(frozen=True)
class DisplayNames:
    """What Discord called the server and the image's author at the share, for the web
    gallery; None where the bot could not see it (the latest known name stays)."""

    guild: str | None = None
    member: str | None = None


class Store(Protocol):
    """Jobs, accounts and guilds. Every method is one transaction."""

    async def admit(self, new: NewJob) -> Admission: ...
    async def job(self, job_id: UUID) -> JobView | None: ...
    async def queue_position(self, job_id: UUID) -> int | None: ...
    async def queue_eta(self, job_id: UUID, position: int) -> float | None: ...
    async def active_jobs(self, user_id: int) -> Sequence[JobView]: ...
    async def existing_upscale(
        self, parent_id: UUID, index: int | None, mode: UpscaleMode | None
    ) -> JobView | None:
        """The parent's upscale of this tile and mode that has not failed or been cancelled."""
        ...

    async def shown_publicly(self, job_id: UUID) -> bool:
        """Whether the web gallery serves this job's image (shared, its guild public)."""
        ...

    async def cancel(self, job_id: UUID) -> bool: ...
    async def claim_delivery(self, job_id: UUID) -> bool: ...
    async def mark_posted(self, job_id: UUID, message_id: int | None) -> None: ...
    async def set_placeholder(self, job_id: UUID, message_id: int) -> None:
        """Remember the job's waiting message (its `message_id` until the result is posted)."""
        ...

    async def account(self, user_id: int) -> Account: ...
    async def update_prefs(self, user_id: int, prefs: UserPrefs) -> None: ...
    async def grant(self, user_id: int, credits: int, by: int) -> Account: ...
    async def set_plan(self, user_id: int, plan: str) -> Account: ...
    async def is_banned(self, guild_id: int, user_id: int) -> bool: ...
    async def set_banned(self, guild_id: int, user_id: int, banned: bool) -> None: ...
    async def plans(self) -> Sequence[str]: ...

    async def guild(self, guild_id: int) -> GuildConfig: ...
    async def update_guild(self, config: GuildConfig) -> None: ...

    async def share(
        self, job_id: UUID, index: int, user_id: int, names: DisplayNames | None = None
    ) -> Shared:
        """Share the image (once) and remember the display names (at every share)."""
        ...

    async def save_pending(self, batch: PendingBatch) -> None: ...
    async def pending(self, token: UUID) -> PendingBatch | None: ...
    async def drop_pending(self, token: UUID, older_than: datetime) -> None:
        """Forget this batch and every batch created before `older_than`."""
        ...


class Enqueuer(Protocol):
    async def enqueue(self, job: JobView) -> None: ...


class ImageStore(Protocol):
    async def read(self, key: str) -> bytes: ...

    async def store_upload(self, data: bytes) -> str:
        """A member's image through the safe intake (pipeline/image_intake.py), stored by its
        content address; its sha256. A refusal is an InvalidPrompt (nothing charged)."""
        ...


class Resolver(Protocol):
    """Turns what a member asked for into the job a worker runs (inference/resolve.py)."""

    def imagine(self, job_id: UUID, params: ImagineParams, prefs: UserPrefs) -> JobSpec: ...
    def describe(self, job_id: UUID, image: ImageRef) -> JobSpec:
        """/describe's job for one image; a resolve error when /describe is not set up."""
        ...

    def prompt_from_image(self, data: bytes) -> tuple[str, list[str]]:
        """An uploaded A1111/Civitai image's parameters as (prompt, notes on what is left out);
        raises a NankeError for an upload that is no readable image or holds no parameters."""
        ...

    def edit(
        self,
        job_id: UUID,
        params: ImagineParams,
        images: tuple[ImageRef, ...],
        size: tuple[int, int],
    ) -> JobSpec:
        """/edit: the instruction applied to attached images (the first, of `size`, edited)."""
        ...

    def follow_up(
        self,
        job_id: UUID,
        parent: JobSpec,
        kind: JobKind,
        index: int | None,
        source_key: str | None,
        upscale_mode: UpscaleMode | None = None,
        params: ImagineParams | None = None,
        prefs: UserPrefs | None = None,
        edit: EditSpec | None = None,
    ) -> JobSpec:
        """U/V/🔄 and the edits from a finished parent; `params` replaces the prompt (remix);
        `edit` says what an edit does (zoom factor, pan direction, region)."""
        ...


class EventSource(Protocol):
    """The pipeline's event reader: unacknowledged events come back after a restart."""

    async def read(self, *, count: int = 100, block_s: float = 1.0) -> list[DeliveredEvent]: ...
    async def ack(self, entry_ids: Sequence[str]) -> None: ...
