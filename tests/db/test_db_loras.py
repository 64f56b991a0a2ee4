"""Trained LoRAs in Postgres: private to their owner, published only with consent, one name per
owner, and the member's own LoRA wins over the server's (issue 17)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db import loras
from db.lora_models import Lora
from db.members import ensure_user

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
GUILD = 70
ANN, BEN = 1701, 1702


def lora(owner: int, name: str, size: int = 1000, guild: int | None = GUILD) -> Lora:
    return Lora(
        id=loras.new_id(),
        owner_id=owner,
        guild_id=guild,
        name=name,
        base_model="sd15",
        subject="pet",
        trigger="nkmia",
        size_bytes=size,
        storage_key=f"loras/{owner}/{name}.safetensors",
    )


@pytest.fixture
async def members(pg_session: AsyncSession) -> AsyncSession:
    for user in (ANN, BEN):
        await ensure_user(pg_session, user, "free", NOW)
    return pg_session


async def test_a_private_lora_resolves_only_for_its_owner(members: AsyncSession) -> None:
    await loras.add(members, lora(ANN, "mia"))
    mine = await loras.resolve(members, ANN, GUILD, "mia")
    assert mine is not None and mine.owner_id == ANN
    assert await loras.resolve(members, BEN, GUILD, "mia") is None


async def test_publishing_needs_the_owners_consent(members: AsyncSession) -> None:
    await loras.add(members, lora(ANN, "mia"))
    assert await loras.publish(members, GUILD, ANN, "mia") is loras.PublishResult.NO_CONSENT
    assert await loras.resolve(members, BEN, GUILD, "mia") is None
    assert await loras.set_consent(members, ANN, "mia", True)
    assert await loras.publish(members, GUILD, ANN, "mia") is loras.PublishResult.PUBLISHED
    shared = await loras.resolve(members, BEN, GUILD, "mia")
    assert shared is not None and shared.owner_id == ANN
    assert await loras.resolve(members, BEN, GUILD + 1, "mia") is None  # another server
    # Withdrawing consent unpublishes it.
    assert await loras.set_consent(members, ANN, "mia", False)
    assert await loras.resolve(members, BEN, GUILD, "mia") is None


async def test_the_members_own_lora_wins_over_the_servers(members: AsyncSession) -> None:
    await loras.add(members, lora(ANN, "style"))
    await loras.set_consent(members, ANN, "style", True)
    await loras.publish(members, GUILD, ANN, "style")
    await loras.add(members, lora(BEN, "style"))
    found = await loras.resolve(members, BEN, GUILD, "style")
    assert found is not None and found.owner_id == BEN


async def test_a_name_is_taken_once_per_owner(members: AsyncSession) -> None:
    await loras.add(members, lora(ANN, "mia"))
    assert await loras.name_taken(members, ANN, "mia")
    assert not await loras.name_taken(members, BEN, "mia")
    with pytest.raises(IntegrityError):
        async with members.begin_nested():
            await loras.add(members, lora(ANN, "mia"))


async def test_usage_counts_and_sizes_and_delete_frees_them(members: AsyncSession) -> None:
    await loras.add(members, lora(ANN, "a", size=3000))
    await loras.add(members, lora(ANN, "b", size=4000))
    assert await loras.usage(members, ANN) == loras.Usage(2, 7000)
    gone = await loras.delete_owned(members, ANN, "a")
    assert gone is not None and gone.storage_key == "loras/1701/a.safetensors"
    assert await loras.delete_owned(members, BEN, "b") is None  # not Ben's to delete
    assert [x.name for x in await loras.owned(members, ANN)] == ["b"]
    assert await loras.usage(members, ANN) == loras.Usage(1, 4000)


async def test_a_published_row_without_consent_is_refused_by_the_database(
    members: AsyncSession,
) -> None:
    row = lora(ANN, "mia")
    row.published = True
    with pytest.raises(IntegrityError):
        async with members.begin_nested():
            await loras.add(members, row)
