"""The region editor's links on the data layer (db/region_links.py): one transaction each."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.editor import EditRequest
from db import region_links
from pipeline.contracts import MaskShape
from pipeline.editor_links import EditorLink


class SqlEditorLinks:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def issue(self, link: EditorLink, *, guild_id: int | None, channel_id: int) -> None:
        async with self._sessions() as session, session.begin():
            await region_links.issue(
                session,
                link.link_id,
                user_id=link.user_id,
                job_id=link.job_id,
                index=link.index,
                guild_id=guild_id,
                channel_id=channel_id,
                now=datetime.now(UTC),
                expires_at=datetime.fromtimestamp(link.expires_at, UTC),
            )

    async def claim(self) -> Sequence[EditRequest]:
        async with self._sessions() as session, session.begin():
            rows = await region_links.claim_submitted(session)
            out = []
            for row in rows:
                try:  # the web checked them; a row that does not parse is refused, not retried
                    shapes = tuple(MaskShape.model_validate(s) for s in row.shapes or ())
                except ValidationError:
                    shapes = ()
                out.append(
                    EditRequest(
                        link_id=row.id,
                        user_id=row.user_id,
                        job_id=row.job_id,
                        index=row.image_index,
                        guild_id=row.guild_id,
                        channel_id=row.channel_id,
                        prompt=row.prompt or "",
                        shapes=shapes,
                    )
                )
            return out

    async def reclaim(self) -> int:
        async with self._sessions() as session, session.begin():
            return await region_links.reclaim_admitting(session)

    async def settle(self, link_id: UUID, *, job_id: UUID | None, message: str | None) -> None:
        async with self._sessions() as session, session.begin():
            await region_links.settle(session, link_id, new_job_id=job_id, message=message)
