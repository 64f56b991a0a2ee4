"""Quota plan settings (credits per period, job caps); `nanke.settings` composes them into
`Settings.plans`. They satisfy `db.plans.PlanLimits`."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field


class PlanSettings(BaseModel):
    """One quota plan: credits per period and how many jobs may be running / waiting.

    A default 2x2 SD 1.5 grid (512², 30 steps, 4 images) costs 1 credit.
    """

    credits: Decimal = Field(default=Decimal(25), ge=0, decimal_places=3)
    period: Literal["day", "month"] = "day"
    max_running: int = Field(default=3, ge=1)
    max_queued: int = Field(default=10, ge=0)
    # LoRA training (/train, docs/training.md).
    train: bool = Field(default=True, description="Members on this plan may train LoRAs.")
    max_loras: int = Field(default=5, ge=0, description="Trained LoRAs a member may keep.")
    max_lora_mb: int = Field(
        default=500, ge=0, description="Total size of the LoRAs a member may keep, in MB."
    )
    train_minutes: int = Field(
        default=60, ge=1, description="Longest a training run may take; it fails after this."
    )
    train_preview_every: int = Field(
        default=200,
        ge=0,
        description="A training run shows a preview picture every this many steps (at least "
        "one halfway through a shorter run; 0: none).",
    )

    @property
    def credits_milli(self) -> int:
        return int(self.credits * 1000)


def default_plans() -> dict[str, PlanSettings]:
    return {"free": PlanSettings()}
