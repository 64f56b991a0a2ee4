"""The migrations build the schema the models describe, and undo it cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from db.migrate import current_revision, downgrade, upgrade
from db.models import Base
from db.sessions import create_engine

TABLES = {table.name for table in Base.metadata.sorted_tables}


async def _schema_diff(engine: AsyncEngine) -> list[object]:
    async with engine.connect() as conn:
        return await conn.run_sync(
            lambda sync: compare_metadata(
                MigrationContext.configure(sync, opts={"compare_type": True}), Base.metadata
            )
        )


async def _tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
    return set(names) - {"alembic_version"}


async def test_models_match_migrated_schema(pg_engine: AsyncEngine) -> None:
    assert await _schema_diff(pg_engine) == []


async def test_prompt_search_has_a_gin_index(pg_engine: AsyncEngine) -> None:
    async with pg_engine.connect() as conn:
        definition = await conn.scalar(
            text("SELECT indexdef FROM pg_indexes WHERE indexname = :name"),
            {"name": "ix_gallery_entries_prompt_fts"},
        )
    assert definition is not None and "USING gin" in definition
    assert "to_tsvector('english'::regconfig, prompt)" in definition


async def test_upgrade_downgrade_upgrade_on_postgres(fresh_postgres_url: str) -> None:
    engine = create_engine(fresh_postgres_url)
    try:
        await upgrade(engine)
        assert await _tables(engine) == TABLES
        assert await current_revision(engine) is not None
        await downgrade(engine, "base")
        assert await _tables(engine) == set()
        assert await current_revision(engine) is None
        await upgrade(engine)
        assert await _schema_diff(engine) == []
    finally:
        await engine.dispose()


# The full-text index is Postgres-only (ddl_if); alembic says it cannot compare it on SQLite.
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based")
async def test_upgrade_downgrade_on_sqlite(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'nanke.db'}")
    try:
        await upgrade(engine)
        assert await _tables(engine) == TABLES
        assert await _schema_diff(engine) == []
        await downgrade(engine, "base")
        assert await _tables(engine) == set()
    finally:
        await engine.dispose()


async def test_0004_makes_every_existing_gallery_private(fresh_postgres_url: str) -> None:
    """Servers were public without choosing it; after 0004 each admin opts in again."""
    engine = create_engine(fresh_postgres_url)
    try:
        await upgrade(engine, "0003")
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO guilds (id, allowed, gallery_public, banned_words, nsfw_policy)"
                    " VALUES (1, true, true, '[]', 'block')"
                )
            )
        await upgrade(engine)
        async with engine.begin() as conn:
            assert (
                await conn.scalar(text("SELECT gallery_public FROM guilds WHERE id = 1")) is False
            )
            await conn.execute(
                text(
                    "INSERT INTO guilds (id, allowed, banned_words, nsfw_policy)"
                    " VALUES (2, true, '[]', 'block')"
                )
            )
            assert (
                await conn.scalar(text("SELECT gallery_public FROM guilds WHERE id = 2")) is False
            )
    finally:
        await engine.dispose()


async def test_0007_lets_jobs_be_edits_on_both_databases(
    fresh_postgres_url: str, tmp_path: Path
) -> None:
    """Zoom, pan, square and vary_region jobs are stored; an unknown kind still is not."""
    edits = ("zoom", "pan", "square", "vary_region")
    pg = create_engine(fresh_postgres_url)
    lite = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'nanke.db'}")
    try:
        for engine in (pg, lite):
            await upgrade(engine)
        async with pg.connect() as conn:
            pg_check = await conn.scalar(
                text("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = :n"),
                {"n": "ck_jobs_kind"},
            )
        async with lite.connect() as conn:
            lite_table = await conn.scalar(
                text("SELECT sql FROM sqlite_master WHERE name = 'jobs'")
            )
        for definition in (pg_check, lite_table):
            assert all(f"'{kind}'" in definition for kind in edits), definition
            assert "'imagine'" in definition and "'bogus'" not in definition
        assert lite_table.count("CONSTRAINT ck_jobs_kind") == 1
        await downgrade(pg, "0004")  # no edit jobs: the old constraint comes back
        async with pg.connect() as conn:
            old = await conn.scalar(
                text("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = :n"),
                {"n": "ck_jobs_kind"},
            )
        assert "'zoom'" not in old and "'reroll'" in old
    finally:
        await pg.dispose()
        await lite.dispose()
