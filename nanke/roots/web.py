"""The composition root of the web process (`nanke web`): settings → database → storage → app."""

from __future__ import annotations

from typing import Any

from nanke.settings import Settings


def build_web_app(settings: Settings, *, page_size: int) -> Any:
    """The gallery app on the configured database and storage (StorageError if that is wrong)."""
    from db.sessions import create_engine, session_factory
    from gallery.app import create_app
    from gallery.editor import EditorContext
    from gallery.sql_reader import reader_factory
    from gallery.storage_blobs import StorageBlobs
    from pipeline.storage import build_storage

    storage = build_storage(settings.storage, settings.data_dir)
    engine = create_engine(settings.effective_database_url)
    sessions = session_factory(engine)

    async def metrics() -> str:
        from datetime import UTC, datetime

        from db.queue_stats import queue_stats
        from pipeline.metrics import render_prometheus

        async with sessions() as session:
            return render_prometheus(await queue_stats(session, datetime.now(UTC)))

    token = settings.metrics_token
    secret = settings.editor_secret
    return create_app(
        reader_factory(sessions),
        StorageBlobs(storage),
        page_size=page_size,
        on_close=engine.dispose,
        metrics=metrics,
        metrics_token=None if token is None else token.get_secret_value(),
        editor_context=EditorContext(secret.get_secret_value().encode(), sessions)
        if secret
        else None,
    )


def probe_database(settings: Settings) -> None:
    """Read one gallery row, so `nanke web` fails at start (not with a 500 on every page) when
    the database is unreachable or not migrated; database errors propagate to the caller."""
    import asyncio

    from sqlalchemy import select

    from db.models import GalleryEntry, Image, Job
    from db.sessions import create_engine

    async def probe() -> None:
        engine = create_engine(settings.effective_database_url)
        try:
            async with engine.connect() as conn:
                for column in (GalleryEntry.id, Image.id, Job.id):
                    await conn.execute(select(column).limit(1))
        finally:
            await engine.dispose()

    asyncio.run(probe())
