"""The one JSON contract that travels from the bot to a worker (torch-free).

`JobSpec` is what a worker receives (by job id, from Postgres or the CLI's job.json): the
member's `ImagineParams` and the resolved `Generation` (both from `prompt.request`), plus the job's
kind and source image. `JobResult` and `JobEvent` come back.
"""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from db.models import JobKind
from pipeline.train_contract import TrainJob
from prompt.request import Generation, ImageRef, ImagineParams

__all__ = ["JobKind"]  # the kinds are the database's enum: one list for the table and the contract


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class UpscaleMode(StrEnum):
    SUBTLE = "subtle"
    CREATIVE = "creative"
    # U on a grid of pans, squares or region edits: its tiles are already full size, so U
    # picks the tile as it is (no GPU work, nothing charged) and the editing rows follow.
    PICK = "pick"
    # Upscale (4x): the configured GAN upscaler (models.toml [upscaler]), no diffusion.
    GAN_4X = "4x"


class PanDirection(StrEnum):
    LEFT = "left"
    RIGHT = "right"
    UP = "up"
    DOWN = "down"


class MaskShape(_Frozen):
    """A closed polygon (a rectangle has 4 points) in fractions of the image, x then y, 0..1.
    Inside it is repainted. Resolution-free, so the same shapes fit the image at any size."""

    points: tuple[tuple[float, float], ...] = Field(min_length=3, max_length=1024)

    @field_validator("points")
    @classmethod
    def _inside(cls, points: tuple[tuple[float, float], ...]) -> tuple[tuple[float, float], ...]:
        if not all(0.0 <= x <= 1.0 and 0.0 <= y <= 1.0 for x, y in points):
            raise ValueError("mask points must lie within the image (0 to 1)")
        return points


MAX_EDIT_IMAGES = 3  # /edit's images on a family that takes several (FLUX.2 [klein])


class EditSpec(_Frozen):
    """What an edit job (zoom, pan, square, vary_region, edit) does to its source image.

    Outpainting (zoom, pan, square): the source, resized to `box` (x, y, width, height), sits
    in a canvas of the generation's size; everything around it is painted. Vary (Region): the
    mask is `shapes` (drawn or a preset `region`) or a stored mask PNG `mask_key` (white =
    repaint), at the source's size. Instruction editing (`edit`, the prompt is the
    instruction): the `source` tile, or `images` a member attached (stored, by sha256; the
    first is the one edited, the others are references)."""

    factor: float | None = Field(default=None, ge=1.0, le=2.0)  # zoom out
    direction: PanDirection | None = None  # pan
    box: tuple[int, int, int, int] | None = None  # outpainting: where the source goes
    region: str | None = Field(default=None, max_length=32)  # a preset's name, for people
    shapes: tuple[MaskShape, ...] = Field(default=(), max_length=64)
    mask_key: str | None = None
    images: tuple[ImageRef, ...] = Field(default=(), max_length=MAX_EDIT_IMAGES)

    @field_validator("images")
    @classmethod
    def _stored(cls, images: tuple[ImageRef, ...]) -> tuple[ImageRef, ...]:
        if any(image.sha256 is None for image in images):  # attachments only, never URLs
            raise ValueError("an edit's images are stored images (sha256)")
        return images


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
    edit: EditSpec | None = None  # zoom, pan, square, vary_region
    train: TrainJob | None = None  # train (docs/training.md)
    describe: ImageRef | None = None  # describe: the image whose prompts are asked for
    # One-line notes for the member: a prompt feature this model family translated or ignored.
    notes: tuple[str, ...] = ()


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
    control_map_key: str | None = None  # a --cn job's preprocessed control map
    prompts: tuple[str, ...] = ()  # a describe job's four suggestions, best first
    # Each image URL the job fetched → the stored image's sha256 (refs/<sha256>.png), so its
    # follow-ups (🔄, V, U, /show) reuse the stored picture instead of fetching again.
    fetched: dict[str, str] = Field(default_factory=dict)


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
    `preview_jpeg`; a training run's also `step`, `total` and `loss` (its preview is a picture
    painted with the LoRA so far). succeeded: `result`. failed: `error`, fit for the member.
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
    step: int | None = Field(default=None, ge=0)  # training runs only
    total: int | None = Field(default=None, ge=1)
    loss: float | None = None
    result: JobResult | None = None
    error: str | None = None
    at: float = 0.0  # Unix time the event was made (informational)
