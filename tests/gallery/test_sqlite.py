"""The embedded default: `nanke web` over the SQLite database, where search is a word match."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from db.migrate import upgrade
from db.sessions import create_engine, session_factory
from gallery.app import create_app
from gallery.sql_reader import reader_factory
from tests.gallery.conftest import MemoryStore
from tests.gallery.seed import PRIVATE, PUBLIC, seed


@pytest.fixture
async def sqlite_client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'nanke.db'}")
    await upgrade(engine)
    async with session_factory(engine)() as session, session.begin():
        seeded = await seed(session)
    app = create_app(reader_factory(session_factory(engine)), MemoryStore(seeded.blobs))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://g.test") as client:
        yield client
    await engine.dispose()


async def test_listings_search_and_pages_on_sqlite(sqlite_client: httpx.AsyncClient) -> None:
    for sort in ("new", "top", "trending"):
        seen: list[str] = []
        cursor = None
        while True:
            params = {"sort": sort, "limit": 3, **({"cursor": cursor} if cursor else {})}
            body = (await sqlite_client.get(f"/api/g/{PUBLIC}", params=params)).json()
            seen += [i["prompt"] for i in body["items"]]
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == len(set(seen)) == 8, sort
    top = (await sqlite_client.get(f"/api/g/{PUBLIC}?sort=top&limit=2")).json()["items"]
    assert [i["likes"] for i in top] == [12, 7]
    found = (await sqlite_client.get(f"/api/g/{PUBLIC}?q=LIGHTHOUSE")).json()["items"]
    assert len(found) == 3
    assert (await sqlite_client.get(f"/g/{PRIVATE}")).status_code == 404
    assert (await sqlite_client.get(f"/i/{found[0]['id']}")).status_code == 200
