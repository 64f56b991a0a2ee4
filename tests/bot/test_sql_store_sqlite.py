"""The same SqlStore tests on SQLite, the embedded default of `nanke run` (migrated by the same
Alembic code): this module's `pg_sessions` shadows the Postgres fixture."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from test_sql_store import (  # noqa: F401  (collected again here, on SQLite)
    intake,
    store,
    test_a_long_prompt_is_charged_per_chunk_beyond_the_third,
    test_a_pending_batch_is_kept_in_the_database,
    test_a_replay_after_a_failure_mid_batch_creates_the_rest_once,
    test_accounts_prefs_plans_grants_and_per_server_bans,
    test_an_upscale_is_shared_once,
    test_an_upscale_pressed_again_reuses_the_first_and_charges_once,
    test_cancel_refunds_and_a_result_is_claimed_for_posting_once,
    test_caps_and_credits_are_enforced_by_the_database,
    test_guild_rules_round_trip,
    test_intake_holds_credits_queues_and_replays,
    test_shown_publicly_follows_the_gallery_rules,
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
