"""End to end over the wire: real discord.py against the fake Discord, the bot wired by the
composition root on Postgres or SQLite (`nanke run`'s default), and the embedded worker running
the tiny models. A gateway drop + resume while the job runs loses and duplicates nothing."""

from __future__ import annotations

import asyncio
import contextlib
import io

import pytest
from fake_discord import until
from PIL import Image
from sqlalchemy import text

from bot.app import build_bot
from db.migrate import upgrade
from db.sessions import create_engine
from nanke.roots.bot import open_deps
from nanke.settings import Settings


@pytest.fixture(params=["postgres", "sqlite"])
def database_url(request, tmp_path) -> str:  # type: ignore[no-untyped-def]
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_url")
        return url
    url = f"sqlite+aiosqlite:///{tmp_path / 'nanke.db'}"

    async def migrate() -> None:  # `nanke migrate`
        engine = create_engine(url)
        await upgrade(engine)
        await engine.dispose()

    asyncio.run(migrate())
    return url


async def test_imagine_end_to_end_with_the_embedded_worker(
    fake, database_url, tiny_models_toml, tmp_path
):
    settings = Settings(database_url=database_url, models_file=tiny_models_toml, data_dir=tmp_path)
    async with open_deps(settings, one_box=True) as deps:
        bot = build_bot(settings, deps, guild_ready_timeout=0.1)
        runner = asyncio.create_task(bot.start("fake-token"))
        try:
            await fake.wait_connected()
            await asyncio.wait_for(bot.wait_until_ready(), 10)
            interaction = await fake.send_slash(
                "imagine", prompt="a red fox in the snow --ar 4:1 --lora ink:0.5"
            )

            def uploads() -> list:
                return [r for r in fake.requests if any(n.endswith(".png") for n in r.files)]

            def progressed() -> bool:
                return any(
                    isinstance(r.payload, dict) and "%" in (r.payload.get("content") or "")
                    for r in fake.requests
                )

            await until(progressed, "a progress edit from the worker", timeout=60)
            await fake.drop_connection()
            await fake.wait_connected()
            await fake.redeliver(interaction)
            await until(lambda: len(uploads()) == 1, "the grid upload", timeout=60)
            await asyncio.sleep(0.3)  # a duplicate would show itself now

            assert fake.resumes == 1 and fake.identifies == 1
            (grid,) = uploads()
            assert grid.path.endswith("/messages/@original")
            png = next(iter(grid.files.values()))
            width, height = Image.open(io.BytesIO(png)).size
            assert (width, height) == (256, 128)  # 2x2 tiles of 128x64 (--ar 4:1)
            labels = [
                b.get("label") or b["emoji"]["name"]
                for row in grid.payload["components"]
                for b in row["components"]
            ]
            assert labels == ["U1", "U2", "U3", "U4", "V1", "V2", "V3", "V4", "🔄"]
            jobs = await deps.store.active_jobs(fake.user_id)
            assert jobs == []  # nothing left queued or running for the member
            async with deps.store._sessions() as session:  # exactly one job, posted
                query = text("SELECT state FROM jobs WHERE user_id = :user")
                rows = (await session.execute(query, {"user": fake.user_id})).all()
            assert [r[0] for r in rows] == ["posted"]
        finally:
            await bot.close()
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await runner
