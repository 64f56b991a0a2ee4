"""Guild settings and per-user defaults on Postgres."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from db import guilds, members
from tests.fixtures.db_helpers import NOW, new_user_id


async def test_guild_settings_default_then_partial_updates(pg_session: AsyncSession) -> None:
    guild = new_user_id()
    assert await guilds.get_settings(pg_session, guild) == guilds.GuildSettings(guild)
    first = await guilds.update_settings(
        pg_session, guild, {"gallery_channel_id": 123, "nsfw_policy": "allow"}, NOW
    )
    second = await guilds.update_settings(
        pg_session, guild, {"allowed": False, "banned_words": ["gore"]}, NOW
    )
    assert first.gallery_channel_id == 123 and first.nsfw_policy == "allow"
    assert second == guilds.GuildSettings(
        guild,
        allowed=False,
        gallery_channel_id=123,
        gallery_public=False,
        banned_words=["gore"],
        nsfw_policy="allow",
    )


async def test_user_defaults(pg_session: AsyncSession) -> None:
    user = new_user_id()
    created = await members.update_settings(pg_session, user, {}, "free", NOW)
    assert (created.plan, created.mode, created.remix, created.sampler) == (
        "free",
        "fast",
        False,
        None,
    )
    changed = await members.update_settings(
        pg_session,
        user,
        {"aspect_ratio": "16:9", "model": "sd15", "quality": 0.5, "remix": True, "mode": "relax"},
        "free",
        NOW,
    )
    assert (changed.aspect_ratio, changed.model, changed.quality, changed.remix, changed.mode) == (
        "16:9",
        "sd15",
        0.5,
        True,
        "relax",
    )
