"""The region editor's links on SQLite, the embedded database of `nanke run` (one box): the
bot issues, the web marks it used once, the bot claims and settles it."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from bot.services.sql_editor import SqlEditorLinks
from db import region_links
from db.migrate import upgrade
from db.sessions import create_engine, session_factory
from pipeline.contracts import MaskShape
from pipeline.editor_links import EditorLink

TRIANGLE = {"points": [[0.1, 0.1], [0.6, 0.2], [0.3, 0.7]]}


async def test_issue_submit_once_claim_and_settle_on_sqlite(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'nanke.db'}")
    try:
        await upgrade(engine)
        sessions = session_factory(engine)
        links = SqlEditorLinks(sessions)
        link = EditorLink(uuid.uuid4(), 7, uuid.uuid4(), 1, int(time.time()) + 900)
        await links.issue(link, guild_id=70, channel_id=700)
        for expected in (True, False):  # the web's submission, then a reuse
            async with sessions() as session, session.begin():
                used = await region_links.submit(
                    session, link.link_id, prompt="a fox", shapes=[TRIANGLE], now=datetime.now(UTC)
                )
            assert used is expected
        (request,) = await links.claim()
        assert (request.user_id, request.job_id, request.channel_id) == (7, link.job_id, 700)
        assert request.shapes == (MaskShape.model_validate(TRIANGLE),)
        assert await links.claim() == []
        assert await links.reclaim() == 1, "claimed, never settled (the bot stopped)"
        (again,) = await links.claim()
        assert again == request
        await links.settle(link.link_id, job_id=None, message="You are banned.")
        async with sessions() as session:
            row = await region_links.get(session, link.link_id)
        assert row is not None and (row.state, row.message) == ("refused", "You are banned.")
    finally:
        await engine.dispose()
