"""The one JSON contract that travels from the bot to a worker (torch-free).

`ImagineParams` is what a member asked for, with unset values left unset (None) so per-user and
per-model defaults can fill them. `Generation` is the fully resolved recipe the engine runs.
`JobSpec` is what a worker receives (by job id, from Postgres or the CLI's job.json).
"""

from __future__ import annotations

import re
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

LORA_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
MAX_SEED = 2**32 - 1


class JobKind(StrEnum):
    IMAGINE = "imagine"
    UPSCALE = "upscale"
    VARY_SUBTLE = "vary_subtle"
    VARY_STRONG = "vary_strong"
    REROLL = "reroll"


class UpscaleMode(StrEnum):
    SUBTLE = "subtle"
    CREATIVE = "creative"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PromptPart(_Frozen):
    """One `::` part of a multi-prompt; text may still hold A1111 attention syntax."""

    text: str
    weight: float = 1.0


class LoraRef(_Frozen):
    name: str
    weight: float = Field(default=1.0, ge=-2.0, le=2.0)

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        # A name, never a path: it is looked up in the LoRA folder by file stem.
        if not LORA_NAME_RE.fullmatch(value) or ".." in value:
            raise ValueError(f"invalid LoRA name {value!r}")
        return value


class ImagineParams(_Frozen):
    """What the member asked for (the parser's output). None means 'use the default'."""

    prompt: str
    parts: tuple[PromptPart, ...]
    negative_prompt: str | None = None
    aspect_ratio: str | None = None  # "16:9", lowest terms
    cfg: float | None = None
    sampler: str | None = None  # canonical sampler name
    loras: tuple[LoraRef, ...] = ()
    seed: int | None = Field(default=None, ge=0, le=MAX_SEED)
    steps: int | None = Field(default=None, ge=1, le=150)
    quality: float | None = None  # 0.25, 0.5, 1 or 2
    model: str | None = None
    chaos: int | None = Field(default=None, ge=0, le=100)
    tile: bool = False
    clip_skip: int | None = Field(default=None, ge=1, le=12)


class Generation(_Frozen):
    """A fully resolved recipe: everything the engine needs, nothing left to defaults."""

    model: str
    prompt: str
    parts: tuple[PromptPart, ...]
    negative_prompt: str = ""
    width: int = Field(ge=64, le=4096)
    height: int = Field(ge=64, le=4096)
    steps: int = Field(ge=1, le=300)
    cfg: float = Field(ge=1.0, le=30.0)
    sampler: str
    seed: int = Field(ge=0, le=MAX_SEED)  # tile i (0-based) uses seed + i
    chaos: int = Field(default=0, ge=0, le=100)
    tile: bool = False
    clip_skip: int | None = Field(default=None, ge=1, le=12)
    loras: tuple[LoraRef, ...] = ()
    batch: int = Field(default=4, ge=1, le=4)


class SourceImage(_Frozen):
    """The tile an upscale or variation starts from."""

    job_id: UUID
    index: int = Field(ge=1, le=4)  # 1-based, as on the U1–U4 / V1–V4 buttons
    key: str  # storage key of that tile's PNG


class JobSpec(_Frozen):
    job_id: UUID
    kind: JobKind
    params: ImagineParams  # as asked: reroll, remix and /show start from these
    generation: Generation  # as resolved and run
    source: SourceImage | None = None
    upscale_mode: UpscaleMode | None = None


class JobResult(_Frozen):
    """What a finished job produced; images are storage keys, never bytes."""

    job_id: UUID
    image_keys: tuple[str, ...]  # tile 1..n
    grid_key: str | None = None  # the 2x2 grid, for imagine/vary/reroll
    seeds: tuple[int, ...]
    width: int
    height: int
    infotext: str  # A1111 `parameters` text of tile 1
    timings_ms: dict[str, float] = Field(default_factory=dict)
    nsfw: tuple[bool, ...] = ()  # safety checker flag per image_keys entry; () when unchecked


class JobEventKind(StrEnum):
    QUEUED = "queued"
    STARTED = "started"
    PROGRESS = "progress"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


# A progress preview travels inline in the event (a small JPEG), never through storage: it is
# worthless a second later, so writing and cleaning up an object per preview is pure cost.
MAX_PREVIEW_BYTES = 24_000


class JobEvent(_Frozen):
    """Something that happened to a job, for the bot to show (docs/pipeline.md).

    queued: `position` jobs ahead. started: `attempt`. progress: `percent` and optionally
    `preview_jpeg`. succeeded: `result`. failed: `error`, a message fit for the member.
    """

    # Bytes go over JSON as base64.
    model_config = ConfigDict(
        frozen=True, extra="forbid", ser_json_bytes="base64", val_json_bytes="base64"
    )

    job_id: UUID
    kind: JobEventKind
    attempt: int | None = None
    position: int | None = Field(default=None, ge=0)
    percent: float | None = Field(default=None, ge=0, le=100)
    preview_jpeg: bytes | None = Field(default=None, max_length=MAX_PREVIEW_BYTES)
    result: JobResult | None = None
    error: str | None = None
    at: float = 0.0  # Unix time the event was made (informational)
