"""Per-server rules the Discord bot's admins set: member bans and who may press buttons.
Repositories take a session and never commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.dialect import insert
from db.models import GuildBan, GuildButtonAccess


async def is_banned(session: AsyncSession, guild_id: int, user_id: int) -> bool:
    found = await session.scalar(
        select(GuildBan.user_id).where(GuildBan.guild_id == guild_id, GuildBan.user_id == user_id)
    )
    return found is not None


async def ban(
    session: AsyncSession, guild_id: int, user_id: int, by: int | None, now: datetime
) -> None:
    await session.execute(
        insert(session, GuildBan)
        .values(guild_id=guild_id, user_id=user_id, banned_by=by, created_at=now)
        .on_conflict_do_nothing()
    )


async def unban(session: AsyncSession, guild_id: int, user_id: int) -> None:
    await session.execute(
        delete(GuildBan).where(GuildBan.guild_id == guild_id, GuildBan.user_id == user_id)
    )


async def everyone_can_press(session: AsyncSession, guild_id: int) -> bool:
    value = await session.scalar(
        select(GuildButtonAccess.everyone).where(GuildButtonAccess.guild_id == guild_id)
    )
    return bool(value)


async def set_everyone_can_press(
    session: AsyncSession, guild_id: int, everyone: bool, now: datetime
) -> None:
    stmt = insert(session, GuildButtonAccess).values(
        guild_id=guild_id, everyone=everyone, updated_at=now
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[GuildButtonAccess.guild_id],
            set_={"everyone": everyone, "updated_at": now},
        )
    )
