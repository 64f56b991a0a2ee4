"""Region editor links (db.models.RegionLink): issued by the bot, submitted once by the web
editor, claimed and settled by the bot. Repositories take a session and never commit."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import RegionLink


async def issue(
    session: AsyncSession,
    link_id: uuid.UUID,
    *,
    user_id: int,
    job_id: uuid.UUID,
    index: int,
    guild_id: int | None,
    channel_id: int,
    now: datetime,
    expires_at: datetime,
) -> None:
    session.add(
        RegionLink(
            id=link_id,
            user_id=user_id,
            job_id=job_id,
            image_index=index,
            guild_id=guild_id,
            channel_id=channel_id,
            state="issued",
            created_at=now,
            expires_at=expires_at,
        )
    )
    await session.flush()


async def get(session: AsyncSession, link_id: uuid.UUID) -> RegionLink | None:
    return await session.get(RegionLink, link_id)


async def submit(
    session: AsyncSession,
    link_id: uuid.UUID,
    *,
    prompt: str,
    shapes: list[Any],
    now: datetime,
) -> bool:
    """Use the link: one conditional UPDATE, so of two submissions at once only one wins.
    False when it was used already (or expired)."""
    result = await session.execute(
        update(RegionLink)
        .where(RegionLink.id == link_id, RegionLink.state == "issued", RegionLink.expires_at > now)
        .values(state="submitted", prompt=prompt, shapes=shapes, submitted_at=now)
        .returning(RegionLink.id)
    )
    return result.scalar_one_or_none() is not None


async def claim_submitted(session: AsyncSession) -> Sequence[RegionLink]:
    """Every submitted link, now the caller's to admit (state admitting)."""
    claimed = await session.execute(
        update(RegionLink)
        .where(RegionLink.state == "submitted")
        .values(state="admitting")
        .returning(RegionLink.id)
    )
    ids = list(claimed.scalars())
    if not ids:
        return []
    rows = await session.execute(select(RegionLink).where(RegionLink.id.in_(ids)))
    return list(rows.scalars())


async def reclaim_admitting(session: AsyncSession) -> int:
    """admitting → submitted: links a bot claimed but never settled (it stopped part-way).
    Admission is idempotent per link, so admitting one again finds the job it made."""
    result = await session.execute(
        update(RegionLink)
        .where(RegionLink.state == "admitting")
        .values(state="submitted")
        .returning(RegionLink.id)
    )
    return len(list(result.scalars()))


async def settle(
    session: AsyncSession,
    link_id: uuid.UUID,
    *,
    new_job_id: uuid.UUID | None,
    message: str | None,
) -> None:
    """queued (with the new job) or refused (with the member's message)."""
    await session.execute(
        update(RegionLink)
        .where(RegionLink.id == link_id, RegionLink.state == "admitting")
        .values(
            state="queued" if new_job_id is not None else "refused",
            new_job_id=new_job_id,
            message=message,
        )
    )


# Links the bot has not finished with (submitted, admitting) are kept whatever their age.
SPENT_STATES = ("issued", "queued", "refused")


async def delete_spent(session: AsyncSession, expired_before: datetime) -> int:
    """Delete links that expired before `expired_before` and have nothing left to do: never
    used (issued), or used and settled (queued, refused). Their tokens no longer verify, so
    neither the page nor its status poll can reach them. Returns how many went."""
    result = await session.execute(
        delete(RegionLink)
        .where(RegionLink.state.in_(SPENT_STATES), RegionLink.expires_at < expired_before)
        .returning(RegionLink.id)
    )
    return len(list(result.scalars()))
