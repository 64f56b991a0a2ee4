"""`nanke migrate` and `nanke admin …` against a real database, as an operator runs them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from db import jobs, quota
from db.plans import Plan
from db.sessions import create_engine, session_factory
from nanke.cli import cli
from tests.fixtures.db_helpers import new_user_id, submission, submit

PLANS_ENV = '{"free": {"credits": 25}, "pro": {"credits": 200, "period": "month"}}'


@pytest.fixture
def operator_env(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("NANKE_DATABASE_URL", postgres_url)
    monkeypatch.setenv("NANKE_PLANS", PLANS_ENV)
    return postgres_url


def _nanke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_quota_show_grant_and_plan_set(operator_env: str) -> None:
    user = new_user_id()
    day = datetime.now(UTC).strftime("d%Y-%m-%d")
    code, out = _nanke("admin", "quota", "show", str(user))
    assert code == 0, out
    assert f"plan free · period {day} · 25 of 25 credits left · running 0/3, queued 0/10" in out

    code, out = _nanke("admin", "quota", "grant", f"<@{user}>", "2.5", "--note", "prize")
    assert code == 0, out
    assert "27.5 left" in out

    code, out = _nanke("admin", "quota", "grant", str(user), "--", "-100")
    assert code == 1 and "has 27.5 credits left" in out and "cannot take 100" in out

    code, out = _nanke("admin", "plan", "set", str(user), "pro")
    assert code == 0, out
    assert "200 of 200 credits left in m" in out
    code, out = _nanke("admin", "quota", "show", str(user))
    assert "plan pro" in out and "200 of 200" in out

    code, out = _nanke("admin", "plan", "set", str(user), "gold")
    assert code == 2 and "configured plans: free, pro" in out

    # The grant went through the ledger like any other balance change.
    async def check() -> None:
        engine = create_engine(operator_env)
        async with session_factory(engine)() as s:
            balance = await quota.balance(s, user, Plan(25_000), datetime.now(UTC))
            assert balance.balance_milli == 27_500
        await engine.dispose()

    asyncio.run(check())


def test_quota_show_counts_active_jobs(operator_env: str) -> None:
    user = new_user_id()

    async def prepare() -> None:
        engine = create_engine(operator_env)
        async with session_factory(engine).begin() as s:
            now = datetime.now(UTC)
            running = submission(user)
            await submit(s, running, now=now)
            await submit(s, submission(user), now=now)
            assert await jobs.claim(s, running.job_id, "w", now) is not None
        await engine.dispose()

    asyncio.run(prepare())
    code, out = _nanke("admin", "quota", "show", str(user))
    assert code == 0 and "23 of 25 credits left · running 1/3, queued 1/10" in out


def test_bad_user_is_a_usage_error(operator_env: str) -> None:
    code, out = _nanke("admin", "quota", "show", "alice")
    assert code == 2 and "not a Discord user id" in out


def test_migrate_then_admin_on_a_fresh_sqlite_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NANKE_DATABASE_URL", raising=False)
    monkeypatch.setenv("NANKE_DATA_DIR", str(tmp_path / "data"))
    code, out = _nanke("admin", "quota", "show", "1")
    assert code == 1 and "run `nanke migrate` first" in out
    code, out = _nanke("migrate")
    assert code == 0 and f"is at revision {_head_revision()}" in out
    code, out = _nanke("migrate")  # idempotent
    assert code == 0, out
    code, out = _nanke("admin", "quota", "show", "1")
    assert code == 0 and "25 of 25 credits left" in out


def test_migrate_reports_an_unreachable_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NANKE_DATABASE_URL", "postgresql+asyncpg://nanke:secret@127.0.0.1:1/x")
    code, out = _nanke("migrate")
    assert code == 1 and "cannot use the database" in out
    assert "secret" not in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("quota", "grant", "1", "99999999999999999"), "grant at most 1,000,000,000 credits"),
        (("quota", "grant", "1", "--", "-1e30"), "grant at most 1,000,000,000 credits"),
        (("quota", "show", "99999999999999999999"), "too large for a Discord user id"),
    ],
)
def test_out_of_range_numbers_are_usage_errors_before_the_database(
    args: tuple[str, ...], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An unreachable database: the command must refuse before it gets there (no SQL dump).
    monkeypatch.setenv("NANKE_DATABASE_URL", "postgresql+asyncpg://nanke@127.0.0.1:1/x")
    code, out = _nanke("admin", *args)
    assert code == 2 and message in out, out


def test_migrate_to_an_unknown_revision_is_a_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NANKE_DATABASE_URL", raising=False)
    monkeypatch.setenv("NANKE_DATA_DIR", str(tmp_path / "data"))
    result = CliRunner().invoke(cli, ["migrate", "--revision", "nope"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "cannot migrate to 'nope'" in result.output and "nope" in result.output


def _head_revision() -> str:
    from alembic.script import ScriptDirectory

    from db.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def test_gallery_public_and_private_by_guild_id(operator_env: str) -> None:
    """Off until an operator (or a server admin with /admin gallery) turns it on; what
    the web gallery lists follows."""
    from db import gallery_browse, guilds

    guild = new_user_id()

    async def state() -> tuple[bool, bool]:
        engine = create_engine(operator_env)
        try:
            async with session_factory(engine)() as session:
                saved = await guilds.get_settings(session, guild)
                return saved.gallery_public, await gallery_browse.public_guild(session, guild)
        finally:
            await engine.dispose()

    assert asyncio.run(state()) == (False, False)
    code, out = _nanke("admin", "gallery", "public", str(guild))
    assert code == 0 and f"server {guild}'s web gallery is public" in out
    assert asyncio.run(state()) == (True, True)
    code, out = _nanke("admin", "gallery", "private", str(guild))
    assert code == 0 and "is private" in out
    assert asyncio.run(state()) == (False, False)
    code, out = _nanke("admin", "gallery", "open", str(guild))
    assert code == 2 and "public" in out and "private" in out
