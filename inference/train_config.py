"""What a LoRA training run is asked to do, and the defaults per model family (torch-free).

The bot prices and explains a `/train` run from these before charging, and the worker and
`nanke train` run exactly this request (`inference/worker/trainer.py`).
"""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from inference.errors import BadRequestError


class Subject(StrEnum):
    """What the photos show; the class word goes into every caption ("a photo of T person")."""

    PERSON = "person"
    PET = "pet"
    OBJECT = "object"
    STYLE = "style"


MIN_IMAGES = 5
MAX_IMAGES = 20
NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{1,31}")
TRIGGER_RE = re.compile(r"[a-z][a-z0-9]{2,15}")


class FamilyDefaults(BaseModel):
    """Defaults for one family, with the GPU cost they were estimated at (estimates, not
    measurements: see docs/training.md)."""

    model_config = ConfigDict(frozen=True)

    resolution: int  # the side of the bucket area (training pixel area = resolution²)
    steps: int
    rank: int
    learning_rate: float
    seconds_per_step_24gb: float  # estimated, batch 1, gradient checkpointing, bf16/fp16
    seconds_per_step_h100: float
    memory_gb: float  # estimated peak GPU memory with these defaults


FAMILY_TRAIN_DEFAULTS: dict[str, FamilyDefaults] = {
    "sd15": FamilyDefaults(
        resolution=512,
        steps=800,
        rank=16,
        learning_rate=1e-4,
        seconds_per_step_24gb=0.25,
        seconds_per_step_h100=0.10,
        memory_gb=7.0,
    ),
    "sd2": FamilyDefaults(
        resolution=768,
        steps=800,
        rank=16,
        learning_rate=1e-4,
        seconds_per_step_24gb=0.45,
        seconds_per_step_h100=0.18,
        memory_gb=11.0,
    ),
    "sdxl": FamilyDefaults(
        resolution=1024,
        steps=1000,
        rank=16,
        learning_rate=1e-4,
        seconds_per_step_24gb=1.1,
        seconds_per_step_h100=0.40,
        memory_gb=20.0,
    ),
}
SUBJECT_CLASS = {  # the class word of the caption
    Subject.PERSON: "person",
    Subject.PET: "pet",
    Subject.OBJECT: "object",
    Subject.STYLE: "style",
}


class TrainRequest(BaseModel):
    """One training run. `steps` etc. left unset take the family's defaults (`settle`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=2, max_length=32)
    model: str  # the base model's name in models.toml
    subject: Subject = Subject.OBJECT
    trigger: str = Field(default="", max_length=16)
    steps: int = Field(ge=1, le=5000)
    resolution: int = Field(ge=64, le=2048)
    rank: int = Field(ge=1, le=128)
    learning_rate: float = Field(gt=0, le=0.1)
    batch_size: int = Field(default=1, ge=1, le=8)
    checkpoint_every: int = Field(default=100, ge=1)
    preview_every: int = Field(default=200, ge=0)  # 0: no previews
    prior_images: int = Field(default=0, ge=0, le=200)  # > 0: prior preservation
    prior_weight: float = Field(default=1.0, ge=0, le=10)
    sample_steps: int = Field(default=25, ge=1, le=100)
    seed: int = Field(default=0, ge=0)

    @property
    def caption(self) -> str:
        """The instance caption: the trigger and the subject's class word."""
        if self.subject is Subject.STYLE:
            return f"an image in {self.trigger} style"
        return f"a photo of {self.trigger} {SUBJECT_CLASS[self.subject]}"

    @property
    def class_caption(self) -> str:
        """The prior-preservation caption: the class without the trigger."""
        if self.subject is Subject.STYLE:
            return "an image"
        return f"a photo of a {SUBJECT_CLASS[self.subject]}"


def check_name(name: str) -> str:
    """A LoRA name: 2-32 characters, lower-case letters, digits, `-` and `_`."""
    if not NAME_RE.fullmatch(name):
        raise BadRequestError(
            f"LoRA name {name!r} is not allowed: use 2-32 characters, lower-case letters, "
            "digits, - and _, starting with a letter or digit"
        )
    return name


def default_trigger(name: str) -> str:
    """A rare-looking token from the name ("nk" + its letters), so captions stay distinct."""
    letters = re.sub(r"[^a-z]", "", name.lower())[:10]
    return f"nk{letters or 'lora'}"


def check_trigger(trigger: str) -> str:
    if not TRIGGER_RE.fullmatch(trigger):
        raise BadRequestError(
            f"trigger {trigger!r} is not allowed: use 3-16 lower-case letters and digits, "
            "starting with a letter (a rare word works best, e.g. `sks` or `nkmia`)"
        )
    return trigger


def build_request(
    name: str,
    model: str,
    family: str,
    *,
    subject: Subject = Subject.OBJECT,
    trigger: str | None = None,
    steps: int | None = None,
    resolution: int | None = None,
    **extra: object,
) -> TrainRequest:
    """The request with this family's defaults filled in; user errors are BadRequestErrors."""
    defaults = FAMILY_TRAIN_DEFAULTS.get(family)
    if defaults is None:
        raise BadRequestError(f"model {model!r} ({family}) cannot be trained on yet")
    if steps is not None and not 1 <= steps <= 5000:
        raise BadRequestError(f"steps must be between 1 and 5000, not {steps}")
    fields: dict[str, object] = {
        "rank": defaults.rank,
        "learning_rate": defaults.learning_rate,
        **extra,
        "name": check_name(name),
        "model": model,
        "subject": subject,
        "trigger": check_trigger(trigger or default_trigger(name)),
        "steps": steps or defaults.steps,
        "resolution": resolution or defaults.resolution,
    }
    return TrainRequest.model_validate(fields)


def estimated_gpu_seconds(family: str, steps: int, *, h100: bool = False) -> float:
    """An estimate (not a measurement) of the GPU time of `steps` steps, samples included."""
    defaults = FAMILY_TRAIN_DEFAULTS[family]
    per_step = defaults.seconds_per_step_h100 if h100 else defaults.seconds_per_step_24gb
    return steps * per_step + 30.0  # + loading the model and painting the 4 samples
