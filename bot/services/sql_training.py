"""The bot's LoraStore on Postgres (or SQLite): db/loras.py and db/train_jobs.py, one
transaction per method."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.training import StoredLora, TrainPlan
from db import loras, train_jobs
from db.lora_models import Lora


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SqlTraining:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._sessions = sessions
        self._now = clock

    async def lookup(self, user_id: int, guild_id: int | None, name: str) -> StoredLora | None:
        async with self._sessions() as session:
            row = await loras.resolve(session, user_id, guild_id, name)
            return None if row is None else _view(row, ready=True)

    async def mine(self, user_id: int) -> Sequence[StoredLora]:
        async with self._sessions.begin() as session:
            await loras.forget_failed(session, user_id)
            rows = await loras.owned(session, user_id)
            ready = await loras.ready_ids(session, [r.id for r in rows])
            return [_view(r, ready=r.id in ready) for r in rows]

    async def delete(self, user_id: int, name: str) -> StoredLora | None:
        async with self._sessions.begin() as session:
            row = await loras.delete_owned(session, user_id, name)
            return None if row is None else _view(row, ready=True)

    async def set_consent(self, user_id: int, name: str, consent: bool) -> bool:
        async with self._sessions.begin() as session:
            return await loras.set_consent(session, user_id, name, consent)

    async def publish(self, guild_id: int, owner_id: int, name: str) -> str:
        async with self._sessions.begin() as session:
            return (await loras.publish(session, guild_id, owner_id, name)).value

    async def refusal(self, user_id: int, plan: TrainPlan) -> str | None:
        async with self._sessions.begin() as session:
            await loras.forget_failed(session, user_id)
            return loras.train_refusal(plan, await loras.usage(session, user_id))

    async def name_taken(self, user_id: int, name: str) -> bool:
        async with self._sessions.begin() as session:
            await loras.forget_failed(session, user_id)
            return await loras.name_taken(session, user_id, name)

    async def reserve(self, lora: StoredLora) -> bool:
        row = Lora(
            id=lora.id,
            owner_id=lora.owner_id,
            guild_id=lora.guild_id,
            name=lora.name,
            base_model=lora.base_model,
            subject=lora.subject,
            trigger=lora.trigger,
            size_bytes=lora.size_bytes,
            storage_key=lora.storage_key,
            job_id=lora.job_id,
        )
        try:
            async with self._sessions.begin() as session:
                await loras.add(session, row)
        except IntegrityError:  # (owner, name) is taken
            return False
        return True

    async def set_size(self, job_id: uuid.UUID, size_bytes: int) -> None:
        async with self._sessions.begin() as session:
            await loras.set_size(session, job_id, size_bytes)

    async def cancel_running(
        self, job_id: uuid.UUID, user_id: int, refund_milli: int
    ) -> int | None:
        async with self._sessions.begin() as session:
            return await train_jobs.cancel_running(
                session, job_id, user_id, refund_milli, self._now()
            )


def _view(row: Lora, *, ready: bool) -> StoredLora:
    return StoredLora(
        id=row.id,
        owner_id=row.owner_id,
        guild_id=row.guild_id,
        name=row.name,
        base_model=row.base_model,
        subject=row.subject,
        trigger=row.trigger,
        size_bytes=row.size_bytes,
        storage_key=row.storage_key,
        created_at=row.created_at,
        job_id=row.job_id,
        published=row.published,
        consent=row.consent,
        ready=ready,
    )
