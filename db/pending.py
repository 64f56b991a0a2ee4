"""Batches waiting for their ✅ (db.models.PendingBatch). Repositories take a session and
never commit."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import PendingBatch


async def save(
    session: AsyncSession,
    token: uuid.UUID,
    *,
    user_id: int,
    guild_id: int | None,
    channel_id: int,
    interaction_id: int,
    requests: list[dict[str, Any]],
    now: datetime,
) -> None:
    session.add(
        PendingBatch(
            token=token,
            user_id=user_id,
            guild_id=guild_id,
            channel_id=channel_id,
            interaction_id=interaction_id,
            requests=requests,
            created_at=now,
        )
    )
    await session.flush()


async def get(session: AsyncSession, token: uuid.UUID) -> PendingBatch | None:
    return await session.get(PendingBatch, token)


async def drop(session: AsyncSession, token: uuid.UUID, older_than: datetime) -> None:
    """Forget this batch, and every batch created before `older_than` (expired)."""
    await session.execute(
        delete(PendingBatch)
        .where((PendingBatch.token == token) | (PendingBatch.created_at < older_than))
        .execution_options(synchronize_session=False)
    )
