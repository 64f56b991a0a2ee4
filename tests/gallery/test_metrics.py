"""GET /metrics on the web process (#18): the queue in Prometheus text for whoever bears the
configured token, and nothing for anyone else (it is operator detail)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.queue_stats import queue_stats
from gallery.app import create_app
from gallery.sql_reader import reader_factory
from pipeline.metrics import render_prometheus
from tests.gallery.conftest import NOW, MemoryStore


async def _get(app: object, headers: dict[str, str]) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://gallery.test") as c:
        return await c.get("/metrics", headers=headers)


async def test_metrics_need_the_token(
    sessions: async_sessionmaker[AsyncSession], store: MemoryStore
) -> None:
    async def metrics() -> str:
        async with sessions() as session:
            return render_prometheus(await queue_stats(session, datetime.now(UTC)))

    readers = reader_factory(sessions, clock=lambda: NOW)
    app = create_app(readers, store, metrics=metrics, metrics_token="s3cret")
    ok = await _get(app, {"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200 and ok.headers["content-type"].startswith("text/plain")
    assert "# TYPE nanke_queue_jobs gauge" in ok.text
    assert (await _get(app, {})).status_code == 401
    assert (await _get(app, {"Authorization": "Bearer guess"})).status_code == 401
    # No token configured: there is no /metrics at all.
    closed = create_app(readers, store, metrics=metrics)
    assert (await _get(closed, {"Authorization": "Bearer s3cret"})).status_code == 404
