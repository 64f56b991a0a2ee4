"""The reconciler deletes region editor links nobody can use any more (issue 14): expired and
never used, or used and settled. Links the bot still has to admit stay, whatever their age."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db import region_links
from db.models import RegionLink
from pipeline.events import InMemoryEvents
from pipeline.reconciler import LINK_GRACE, Reconciler, default_queue_of
from pipeline.settings import PipelineSettings
from tests.fixtures.db_helpers import new_user_id
from tests.pipeline.harness import NoDispatch

NOW = datetime.now(UTC)


async def _link(
    sessions: async_sessionmaker[AsyncSession], state: str, expires_in: timedelta
) -> uuid.UUID:
    link_id = uuid.uuid4()
    async with sessions.begin() as session:
        await region_links.issue(
            session,
            link_id,
            user_id=new_user_id(),
            job_id=uuid.uuid4(),
            index=1,
            guild_id=None,
            channel_id=1,
            now=NOW - timedelta(minutes=15) + expires_in,
            expires_at=NOW + expires_in,
        )
        if state != "issued":
            await session.execute(
                update(RegionLink).where(RegionLink.id == link_id).values(state=state)
            )
    return link_id


async def test_a_pass_deletes_spent_links_and_keeps_live_and_pending_ones(
    pg_sessions: async_sessionmaker[AsyncSession],
) -> None:
    long_ago = -(LINK_GRACE + timedelta(minutes=5))
    spent = [
        await _link(pg_sessions, "issued", long_ago),  # never opened, or opened and left
        await _link(pg_sessions, "queued", long_ago),  # used: its job was admitted
        await _link(pg_sessions, "refused", long_ago),  # used: refused with a message
    ]
    kept = [
        await _link(pg_sessions, "issued", timedelta(minutes=10)),  # still usable
        await _link(pg_sessions, "issued", -timedelta(minutes=1)),  # within the grace
        await _link(pg_sessions, "submitted", long_ago),  # the bot has not admitted it yet
        await _link(pg_sessions, "admitting", long_ago),  # a bot stopped part-way
    ]
    reconciler = Reconciler(
        pg_sessions,
        NoDispatch(),
        InMemoryEvents(),
        PipelineSettings(),
        queue_of=default_queue_of(lambda model: "sd15"),
        clock=lambda: NOW,
    )

    done = await reconciler.run_once()

    assert done.links_deleted >= len(spent)
    async with pg_sessions() as session:
        rows = await session.execute(
            select(RegionLink.id).where(RegionLink.id.in_([*spent, *kept]))
        )
        left = set(rows.scalars())
    assert left == set(kept)
    await reconciler.run_once()  # a second pass leaves the live and pending ones alone too
    async with pg_sessions() as session:
        rows = await session.execute(select(RegionLink.id).where(RegionLink.id.in_(kept)))
        assert set(rows.scalars()) == set(kept)
