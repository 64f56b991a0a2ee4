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

    @property
    def credits_milli(self) -> int:
        return int(self.credits * 1000)


def default_plans() -> dict[str, PlanSettings]:
    return {"free": PlanSettings()}
