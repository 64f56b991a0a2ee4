"""What intake returns and who it serves: the requester, a queued job, an /imagine's result."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from bot.services.access import Place
from bot.services.ports import JobView


@dataclass(frozen=True)
class Requester:
    """Who asked, where, and through which Discord interaction."""

    interaction_id: int
    user_id: int
    guild_id: int | None
    channel_id: int

    @property
    def place(self) -> Place:
        return Place(self.user_id, self.guild_id)


@dataclass(frozen=True)
class Queued:
    job: JobView
    position: int | None
    replayed: bool = False
    # An upscale pressed again: the job that already upscales that tile (nothing charged).
    reused: bool = False


@dataclass(frozen=True)
class IntakeResult:
    queued: tuple[Queued, ...] = ()
    # Set when the request needs a confirmation click before anything is charged.
    confirm_token: UUID | None = None
    pending_count: int = 0
    # A batch that stopped part-way (credits or caps ran out), said to the member.
    note: str | None = None
