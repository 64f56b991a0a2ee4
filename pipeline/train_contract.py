"""The training part of a `train` job's contract (torch-free): what to train and where the
pictures and the LoRA live in storage. The JobSpec's `generation` describes the 4 samples
(the caption as prompt, the base model, the training resolution), which are the job's images.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

TRAIN_QUEUE = "nanke.train"  # training jobs have a queue of their own (docs/training.md)


class TrainJob(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=2, max_length=32)
    subject: str = Field(max_length=16)
    trigger: str = Field(max_length=16)
    steps: int = Field(ge=1, le=5000)
    resolution: int = Field(ge=64, le=2048)
    image_keys: tuple[str, ...] = Field(min_length=1, max_length=20)
    lora_key: str  # where the finished LoRA goes
    checkpoint_every: int = Field(default=100, ge=1)
    # A preview picture every this many steps (0: none); see `preview_interval`.
    preview_every: int = Field(default=200, ge=0)
    time_limit_s: float | None = Field(default=None, gt=0)  # the plan's train_minutes


def preview_interval(preview_every: int, steps: int) -> int:
    """The steps between previews: `preview_every`, but a short run still shows one halfway
    (800 steps at 200: 200, 400, 600; 100 steps: 50). 0 stays 0 (no previews)."""
    if preview_every <= 0 or steps < 2:
        return 0
    return min(preview_every, steps // 2)
