"""Region editor links in Postgres: a link is used once, even by two submissions at once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from db import region_links

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
SHAPES = [{"points": [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]]}]


async def _issue(session: AsyncSession, expires: datetime) -> uuid.UUID:
    link_id = uuid.uuid4()
    await region_links.issue(
        session,
        link_id,
        user_id=7,
        job_id=uuid.uuid4(),
        index=1,
        guild_id=70,
        channel_id=700,
        now=NOW,
        expires_at=expires,
    )
    return link_id


async def test_a_link_is_submitted_once_then_claimed_once_and_settled(
    pg_session: AsyncSession,
) -> None:
    link_id = await _issue(pg_session, NOW + timedelta(minutes=15))
    assert await region_links.submit(pg_session, link_id, prompt="a fox", shapes=SHAPES, now=NOW)
    again = await region_links.submit(pg_session, link_id, prompt="a cat", shapes=[], now=NOW)
    assert not again, "a used link cannot be used again"
    claimed = await region_links.claim_submitted(pg_session)
    assert [(r.id, r.prompt, r.shapes) for r in claimed] == [(link_id, "a fox", SHAPES)]
    assert await region_links.claim_submitted(pg_session) == []
    job_id = uuid.uuid4()
    await region_links.settle(pg_session, link_id, new_job_id=job_id, message=None)
    row = await region_links.get(pg_session, link_id)
    assert row is not None and (row.state, row.new_job_id) == ("queued", job_id)


async def test_an_expired_link_cannot_be_submitted(pg_session: AsyncSession) -> None:
    link_id = await _issue(pg_session, NOW)
    assert not await region_links.submit(pg_session, link_id, prompt="x", shapes=SHAPES, now=NOW)
    row = await region_links.get(pg_session, link_id)
    assert row is not None and row.state == "issued"
