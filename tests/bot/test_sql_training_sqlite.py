"""The /train LoRA store tests on SQLite, the embedded default of `nanke run`: this module's
`pg_sessions` shadows the Postgres fixture."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from test_sql_training import (  # noqa: F401  (collected again here, on SQLite)
    sessions,
    test_a_succeeded_run_is_usable_by_its_owner_only,
    test_reserve_ready_cancel_and_refund,
)

from db.migrate import upgrade
from db.sessions import create_engine, session_factory


@pytest.fixture
async def pg_sessions(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'nanke.db'}")
    try:
        await upgrade(engine)
        yield session_factory(engine)
    finally:
        await engine.dispose()
