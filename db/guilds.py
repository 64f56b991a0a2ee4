"""Per-server settings; a server with no row gets the defaults. Never commits."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, TypedDict

from sqlalchemy.ext.asyncio import AsyncSession

from db.dialect import insert
from db.models import TRAIN_SUBJECTS, Guild


@dataclass(frozen=True)
class GuildSettings:
    guild_id: int
    allowed: bool = True
    gallery_channel_id: int | None = None
    gallery_public: bool = False  # the web gallery is opt-in per server
    banned_words: list[str] = field(default_factory=list)
    nsfw_policy: Literal["block", "allow"] = "block"
    train_enabled: bool = True
    train_subjects: str = TRAIN_SUBJECTS


class GuildSettingsChange(TypedDict, total=False):
    allowed: bool
    gallery_channel_id: int | None
    gallery_public: bool
    banned_words: list[str]
    nsfw_policy: Literal["block", "allow"]
    train_enabled: bool
    train_subjects: str


async def get_settings(session: AsyncSession, guild_id: int) -> GuildSettings:
    row = await session.get(Guild, guild_id, populate_existing=True)
    if row is None:
        return GuildSettings(guild_id)
    return GuildSettings(
        guild_id=row.id,
        allowed=row.allowed,
        gallery_channel_id=row.gallery_channel_id,
        gallery_public=row.gallery_public,
        banned_words=list(row.banned_words),
        nsfw_policy="allow" if row.nsfw_policy == "allow" else "block",
        train_enabled=row.train_enabled,
        train_subjects=row.train_subjects,
    )


async def update_settings(
    session: AsyncSession, guild_id: int, changes: GuildSettingsChange, now: datetime
) -> GuildSettings:
    """Upsert only the given fields (one statement, safe against a concurrent first write)."""
    defaults = GuildSettings(guild_id)
    values = {
        "allowed": defaults.allowed,
        "gallery_channel_id": defaults.gallery_channel_id,
        "gallery_public": defaults.gallery_public,
        "banned_words": defaults.banned_words,
        "nsfw_policy": defaults.nsfw_policy,
        "train_enabled": defaults.train_enabled,
        "train_subjects": defaults.train_subjects,
        **changes,
    }
    stmt = insert(session, Guild).values(id=guild_id, created_at=now, updated_at=now, **values)
    await session.execute(
        stmt.on_conflict_do_update(index_elements=[Guild.id], set_={**changes, "updated_at": now})
    )
    return await get_settings(session, guild_id)
