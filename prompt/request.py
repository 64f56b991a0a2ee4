"""What a member asks for, as the prompt language reads it, and the fully resolved recipe.

`ImagineParams` is what a member asked for, with unset values left unset (None) so per-user and
per-model defaults can fill them. `Generation` is the fully resolved recipe the engine runs.
Pure data (pydantic, no discord, no torch): the parser builds them, the job contract carries them.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")  # model names
# LoRA names are file stems as downloaded: inner spaces allowed (`<lora:my style:0.7>`).
LORA_NAME_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_. -]{0,62}[A-Za-z0-9_.-])?")
MAX_SEED = 2**32 - 1
ControlModule = Literal["canny", "depth", "lineart"]
CONTROL_MODULES: tuple[ControlModule, ...] = ("canny", "depth", "lineart")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PromptPart(_Frozen):
    """One `::` part of a multi-prompt; text may still hold A1111 attention syntax."""

    text: str
    weight: float = 1.0


class DynThres(_Frozen):
    """Imagen's dynamic thresholding on latents, as A1111's Dynamic Thresholding ("CFG Scale
    Fix") extension applies it: the CFG-guided prediction is clamped at its `percentile`
    (per channel, around the mean) and scaled to the range guidance at `mimic` would give."""

    percentile: float = Field(ge=50.0, le=100.0)
    mimic: float = Field(default=7.0, ge=1.0, le=30.0)


class LoraRef(_Frozen):
    """A LoRA and its strength: `weight` on the text encoder(s), `unet_weight` on the UNet
    (None: the same as `weight`; A1111's `<lora:name:te:unet>`)."""

    name: str
    weight: float = Field(default=1.0, ge=-2.0, le=2.0)
    unet_weight: float | None = Field(default=None, ge=-2.0, le=2.0)
    # A member's trained LoRA (/train): its storage key, set by the bot once it has checked who
    # may use it; the worker fetches the file. None: a file in the server's LoRA folder.
    key: str | None = Field(default=None, max_length=200)
    # The model a trained LoRA was trained on (set with `key`): a job on a model of another
    # family is refused before it is charged (inference/resolve.py).
    base_model: str | None = Field(default=None, max_length=100)

    @model_validator(mode="before")
    @classmethod
    def _one_form(cls, data: Any) -> Any:
        # A UNet weight equal to the text-encoder weight is no separate weight: one form each.
        if (
            isinstance(data, dict)
            and data.get("unet_weight") is not None
            and data["unet_weight"] == data.get("weight", 1.0)
        ):
            return {**data, "unet_weight": None}
        return data

    @model_serializer(mode="wrap")
    def _compact(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # No `unet_weight` key unless set: jobs, job.json and `nanke parse` look as before.
        data: dict[str, Any] = handler(self)
        if data.get("unet_weight") is None:
            data.pop("unet_weight", None)
        for optional in ("key", "base_model"):
            if data.get(optional) is None:
                data.pop(optional, None)
        return data

    @property
    def unet(self) -> float:
        return self.weight if self.unet_weight is None else self.unet_weight

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        # A name, never a path: it is looked up in the LoRA folder by file stem.
        if not LORA_NAME_RE.fullmatch(value) or ".." in value or "  " in value:
            raise ValueError(f"invalid LoRA name {value!r}")
        return value


MAX_IMAGE_PROMPTS = 5  # image prompts (URLs at the start and attachments), as Midjourney
MAX_STYLE_REFS = 5
SHA256_RE = re.compile(r"[0-9a-f]{64}")


class ImageRef(_Frozen):
    """An image a member gave: a URL the worker fetches when the job runs, or a stored
    (attached) image by its content address, `refs/<sha256>.png` in storage."""

    url: str | None = Field(default=None, min_length=8, max_length=2048)
    sha256: str | None = None

    @model_validator(mode="after")
    def _one(self) -> ImageRef:
        if (self.url is None) == (self.sha256 is None):
            raise ValueError("an image is a URL or a stored image's sha256, exactly one")
        if self.sha256 is not None and not SHA256_RE.fullmatch(self.sha256):
            raise ValueError("invalid image sha256")
        if self.url is not None and not re.fullmatch(r"(?i)https?://\S+", self.url):
            raise ValueError("an image URL starts with https://")
        return self

    @model_serializer(mode="wrap")
    def _compact(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return {k: v for k, v in data.items() if v is not None}

    @property
    def label(self) -> str:
        """How records show it: the hash's first 12 digits, or the URL."""
        return self.sha256[:12] if self.sha256 is not None else str(self.url)


class Reference(_Frozen):
    """One resolved image input of a generation: its role, the image and the adapter scale."""

    role: Literal["image", "style", "object"]
    image: ImageRef
    scale: float = Field(ge=0.0, le=5.0)


class ControlRef(_Frozen):
    """ControlNet (`--cn MODULE IMAGE --cw W`): the structure of an image (its edges, depth or
    line drawing, the `module`'s map of it) steers the picture, at `weight` 0 … 2.

    `image`: a URL the worker fetches, or the stored image (content-addressed, as image prompts:
    pipeline/job_images.py); None when the prompt named none (refused before a job is made)."""

    module: ControlModule
    image: ImageRef | None = None
    weight: float = Field(default=1.0, ge=0.0, le=2.0)


_IMAGE_FIELDS = (
    "images",
    "image_weight",
    "style_refs",
    "style_weight",
    "object_ref",
    "object_weight",
    "references",
    "control",  # ControlNet (--cn)
    "blend",
    "fast",  # not an image, but as rare: jobs without --fast serialise as before
)


def _without_unused_images(data: dict[str, Any]) -> dict[str, Any]:
    # No image keys unless used: jobs without images serialise exactly as before issue 15.
    for key in _IMAGE_FIELDS:
        value = data.get(key)
        if key in data and (value is None or value is False or value in ((), [])):
            del data[key]
    return data


class ImagineParams(_Frozen):
    """What the member asked for (the parser's output). None means 'use the default'."""

    @model_serializer(mode="wrap")
    def _compact(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return _without_unused_images(handler(self))

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
    fast: bool = False  # --fast: the model's cache accelerator (docs/engine.md)
    clip_skip: int | None = Field(default=None, ge=1, le=12)
    rescale: float | None = Field(default=None, ge=0.0, le=1.0)  # CFG rescale φ
    dynthres: DynThres | None = None  # dynamic thresholding (the "CFG Scale Fix")
    control: ControlRef | None = None  # --cn / --cw
    # Image inputs (issue 15): image prompts, --iw, --sref/--sw, --oref/--ow.
    images: tuple[ImageRef, ...] = Field(default=(), max_length=MAX_IMAGE_PROMPTS)
    image_weight: float | None = Field(default=None, ge=0.0, le=3.0)
    style_refs: tuple[ImageRef, ...] = Field(default=(), max_length=MAX_STYLE_REFS)
    style_weight: int | None = Field(default=None, ge=0, le=1000)
    object_ref: ImageRef | None = None
    object_weight: int | None = Field(default=None, ge=0, le=1000)
    blend: bool = False  # /blend: the images alone, no text (the prompt is empty)


class Generation(_Frozen):
    """A fully resolved recipe: everything the engine needs, nothing left to defaults."""

    @model_serializer(mode="wrap")
    def _compact(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return _without_unused_images(handler(self))

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
    fast: bool = False  # the transformer's cache (First-Block-Cache / TaylorSeer) on
    clip_skip: int | None = Field(default=None, ge=1, le=12)
    loras: tuple[LoraRef, ...] = ()
    batch: int = Field(default=4, ge=1, le=4)
    rescale: float = Field(default=0.0, ge=0.0, le=1.0)  # CFG rescale φ (0: off)
    dynthres: DynThres | None = None  # dynamic thresholding (None: off)
    control: ControlRef | None = None  # ControlNet (None: off)
    references: tuple[Reference, ...] = ()  # image prompts and references (IP-Adapter)
    blend: bool = False  # /blend: unCLIP fuses the images' embeddings where configured
