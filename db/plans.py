"""Plans (credits per period, job caps) and the period keys that make resets unnecessary."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, Protocol

Period = Literal["day", "month"]


class PlanLimits(Protocol):
    """What the data layer needs to know about a plan (settings' plan entries satisfy it)."""

    @property
    def credits_milli(self) -> int: ...
    @property
    def period(self) -> Period: ...
    @property
    def max_running(self) -> int: ...
    @property
    def max_queued(self) -> int: ...


@dataclass(frozen=True)
class Plan:
    credits_milli: int
    period: Period = "day"
    max_running: int = 3
    max_queued: int = 10


def period_key(period: Period, now: datetime) -> str:
    """'d2026-11-23' or 'm2026-11' in UTC: a new period simply gets a new balance row."""
    if now.tzinfo is None:
        raise ValueError("period_key needs an aware datetime")
    utc = now.astimezone(UTC)
    return utc.strftime("d%Y-%m-%d" if period == "day" else "m%Y-%m")
