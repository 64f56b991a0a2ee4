"""Fixtures for the web gallery: a fresh Postgres database with the seeded world, the app over
it, and an httpx client on the app (ASGI transport, no sockets).

The gallery gets a database of its own (migrated with Alembic), not the shared session
database of tests/fixtures/postgres.py: its tests assert exact listings (every public guild,
every entry), which rows committed by other suites would change."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from db.migrate import upgrade
from db.sessions import create_engine, session_factory
from gallery.app import create_app
from gallery.sql_reader import reader_factory
from tests.gallery.seed import NOW, Seeded, seed

ADMIN_DSN = os.environ.get("NANKE_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")


class MemoryStore:
    """Storage double that counts reads and writes (thumbnail caching is observable)."""

    def __init__(self, blobs: dict[str, bytes]) -> None:
        self.blobs = dict(blobs)
        self.reads: list[str] = []
        self.writes: list[str] = []

    async def get(self, key: str) -> bytes | None:
        self.reads.append(key)
        return self.blobs.get(key)

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        self.writes.append(key)
        self.blobs[key] = data


@dataclass
class GalleryDB:
    url: str
    seeded: Seeded


async def _create(name: str) -> None:
    conn = await asyncpg.connect(ADMIN_DSN)  # fails loudly if Postgres is not running
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def _drop(name: str) -> None:
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def _prepare(url: str) -> Seeded:
    engine = create_engine(url)
    try:
        await upgrade(engine)  # the real migrations, as `nanke migrate` runs them
        async with session_factory(engine)() as session, session.begin():
            return await seed(session)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def gallery_db() -> Iterator[GalleryDB]:
    name = f"nanke_gallery_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    asyncio.run(_create(name))
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    try:
        yield GalleryDB(url, asyncio.run(_prepare(url)))
    finally:
        asyncio.run(_drop(name))


@pytest.fixture
async def engine(gallery_db: GalleryDB) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(gallery_db.url)
    yield eng
    await eng.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)


@pytest.fixture
def store(gallery_db: GalleryDB) -> MemoryStore:
    return MemoryStore(gallery_db.seeded.blobs)


@pytest.fixture
def app(sessions: async_sessionmaker[AsyncSession], store: MemoryStore) -> FastAPI:
    return create_app(reader_factory(sessions, clock=lambda: NOW), store)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gallery.test") as c:
        yield c
