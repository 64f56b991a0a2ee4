"""Trained LoRAs (db.lora_models.Lora): who may use which, and how many a member holds.
Repositories take a session and never commit.

`--lora NAME` resolves the member's own LoRA first, then one published to the server; another
member's private LoRA is invisible (resolving it gives None, as for an unknown name).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from sqlalchemy import ColumnElement, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.lora_models import Lora
from db.models import Job, JobState

# A /train row exists from admission on (it reserves the name); the LoRA is usable once its
# job has succeeded. Rows of a failed or cancelled run are dropped (forget_failed).
_DONE = (JobState.SUCCEEDED.value, JobState.POSTED.value)
_DEAD = (JobState.FAILED.value, JobState.CANCELLED.value)


def _ready() -> ColumnElement[bool]:
    # Correlated EXISTS: one primary-key probe per LoRA row, not a scan of all finished jobs.
    done = exists().where(Job.id == Lora.job_id, Job.state.in_(_DONE))
    return or_(Lora.job_id.is_(None), done)


@dataclass(frozen=True)
class Usage:
    count: int
    total_bytes: int


class TrainPlan(Protocol):
    """What a plan says about training (db.settings.PlanSettings satisfies it)."""

    @property
    def train(self) -> bool: ...
    @property
    def max_loras(self) -> int: ...
    @property
    def max_lora_mb(self) -> int: ...


def train_refusal(plan: TrainPlan, usage: Usage) -> str | None:
    """Why this member may not start another training run, in words for them; None: they may."""
    if not plan.train:
        return "your plan does not include training LoRAs"
    if usage.count >= plan.max_loras:
        return (
            f"you have {usage.count} LoRAs, your plan's limit: delete one with /models delete first"
        )
    if usage.total_bytes >= plan.max_lora_mb * 1024 * 1024:
        return (
            f"your LoRAs use {usage.total_bytes / 1024**2:.0f} MB, your plan's limit is "
            f"{plan.max_lora_mb} MB: delete one with /models delete first"
        )
    return None


class PublishResult(StrEnum):
    PUBLISHED = "published"
    NOT_FOUND = "not_found"
    NO_CONSENT = "no_consent"  # the owner has not agreed to share it
    NAME_TAKEN = "name_taken"  # the server already has a published LoRA of that name


async def add(session: AsyncSession, lora: Lora) -> None:
    """Insert; the (owner, name) unique key refuses a second LoRA of the same name."""
    session.add(lora)
    await session.flush()


async def name_taken(session: AsyncSession, owner_id: int, name: str) -> bool:
    found = await session.scalar(
        select(Lora.id).where(Lora.owner_id == owner_id, Lora.name == name)
    )
    return found is not None


async def resolve(
    session: AsyncSession, user_id: int, guild_id: int | None, name: str
) -> Lora | None:
    """The member's own LoRA called `name`, else the one published to this server."""
    own = await session.scalar(
        select(Lora).where(Lora.owner_id == user_id, Lora.name == name, _ready())
    )
    if own is not None or guild_id is None:
        return own
    return await session.scalar(
        select(Lora).where(Lora.guild_id == guild_id, Lora.name == name, Lora.published, _ready())
    )


async def owned(session: AsyncSession, user_id: int) -> Sequence[Lora]:
    rows = await session.scalars(
        select(Lora).where(Lora.owner_id == user_id).order_by(Lora.created_at, Lora.name)
    )
    return rows.all()


async def published(session: AsyncSession, guild_id: int) -> Sequence[Lora]:
    rows = await session.scalars(
        select(Lora).where(Lora.guild_id == guild_id, Lora.published).order_by(Lora.name)
    )
    return rows.all()


async def usage(session: AsyncSession, user_id: int) -> Usage:
    row = (
        await session.execute(
            select(func.count(Lora.id), func.coalesce(func.sum(Lora.size_bytes), 0)).where(
                Lora.owner_id == user_id
            )
        )
    ).one()
    return Usage(int(row[0]), int(row[1]))


async def delete_owned(session: AsyncSession, user_id: int, name: str) -> Lora | None:
    """Delete the member's own LoRA; the deleted row (for its storage key), or None."""
    row = await session.scalar(select(Lora).where(Lora.owner_id == user_id, Lora.name == name))
    if row is None:
        return None
    await session.execute(delete(Lora).where(Lora.id == row.id))
    return row


async def set_consent(session: AsyncSession, user_id: int, name: str, consent: bool) -> bool:
    """The owner allows (or withdraws) publishing; withdrawing also unpublishes."""
    values: dict[str, bool] = {"consent": consent}
    if not consent:
        values["published"] = False
    result = await session.execute(
        update(Lora)
        .where(Lora.owner_id == user_id, Lora.name == name)
        .values(**values)
        .returning(Lora.id)
    )
    return result.scalar_one_or_none() is not None


async def publish(session: AsyncSession, guild_id: int, owner_id: int, name: str) -> PublishResult:
    """An admin publishes a member's LoRA trained in this server (needs the owner's consent)."""
    row = await session.scalar(
        select(Lora).where(Lora.owner_id == owner_id, Lora.name == name, Lora.guild_id == guild_id)
    )
    if row is None:
        return PublishResult.NOT_FOUND
    if not row.consent:
        return PublishResult.NO_CONSENT
    clash = await session.scalar(
        select(Lora.id).where(
            Lora.guild_id == guild_id, Lora.name == name, Lora.published, Lora.id != row.id
        )
    )
    if clash is not None:
        return PublishResult.NAME_TAKEN
    await session.execute(update(Lora).where(Lora.id == row.id).values(published=True))
    return PublishResult.PUBLISHED


async def forget_failed(session: AsyncSession, user_id: int) -> None:
    """Drop the member's rows whose training run failed or was cancelled (name and quota free)."""
    await session.execute(
        delete(Lora).where(
            Lora.owner_id == user_id,
            exists().where(Job.id == Lora.job_id, Job.state.in_(_DEAD)),
        )
    )


async def set_size(session: AsyncSession, job_id: uuid.UUID, size_bytes: int) -> None:
    """The finished LoRA's size, once its job has succeeded (for /models mine and the plan)."""
    await session.execute(update(Lora).where(Lora.job_id == job_id).values(size_bytes=size_bytes))


async def ready_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these LoRAs are finished (their training job succeeded)."""
    rows = await session.scalars(select(Lora.id).where(Lora.id.in_(ids), _ready()))
    return set(rows.all())


def new_id() -> uuid.UUID:
    return uuid.uuid4()
