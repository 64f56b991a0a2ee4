"""Draw the region… end to end: the button's private link, the web editor in Debian's
Chromium (Playwright), the hand-off through Postgres, admission by the bot's intake and the
result posted in the simulated Discord; and the refusals (forged, stale, reused, other
member's link, deleted job, banned member, empty/full/outside regions), none of them charged.

The bot runs on the real SqlStore (the web app and the bot share the database, as deployed);
the web app is `build_web_app` served by uvicorn on a loopback port; a test worker completes
jobs the way a worker does (claim, PNGs in storage, complete) without a GPU."""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from bot_fakes import RecordingEnqueuer, tiny_resolver
from conftest import World
from PIL import Image
from playwright.async_api import async_playwright, expect
from sqlalchemy import update

from bot.app import BotDeps, build_bot
from bot.editor_inbox import admit_submitted
from bot.services.sql_editor import SqlEditorLinks
from bot.services.sql_store import SqlStore
from db import jobs as db_jobs
from db import region_links
from db.models import RegionLink
from db.plans import Plan
from nanke.settings import Settings
from pipeline.contracts import JobEvent, JobEventKind, JobKind, JobResult
from pipeline.editor_links import EditorLink, sign
from tests.fixtures.web_app import serve_web_app
from tests.gallery.test_browser import ARTIFACTS, CHROMIUM, FLAGS

SECRET = "region-editor-test-secret-0123456789"
CREDITS = 10


@dataclass
class Web:
    url: str
    data_dir: Path


@pytest.fixture(scope="module")
def web(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    """The web app the composition root builds, served on a free loopback port."""
    data_dir = tmp_path_factory.mktemp("editor-data")
    with serve_web_app(postgres_url, data_dir, SECRET) as url:
        yield Web(url, data_dir)


class DirImages:
    """The bot's image reads, from the same local storage the web app serves."""

    def __init__(self, root: Path) -> None:
        self.root = root

    async def read(self, key: str) -> bytes:
        return (self.root / "images" / key).read_bytes()


@pytest.fixture
def world(pg_sessions, web: Web) -> World:  # type: ignore[no-untyped-def]
    store = SqlStore(
        pg_sessions,
        {"free": Plan(CREDITS * 1000, "day", 3, 10)},
        default_plan="free",
        relax_enabled=False,
    )
    deps = BotDeps(
        store=store,
        enqueuer=RecordingEnqueuer(),
        resolver=tiny_resolver(),
        images=DirImages(web.data_dir),  # type: ignore[arg-type]
        editor_links=SqlEditorLinks(pg_sessions),
    )
    return World(store, deps.images, deps.enqueuer, None, deps)  # type: ignore[arg-type]


@pytest.fixture
def simcord_bot(world: World, web: Web):  # type: ignore[no-untyped-def]
    settings = Settings(gallery_url=web.url, editor_secret=SECRET)
    return build_bot(settings, world.deps, pump_events=False)


async def _finish(scene, sessions, web: Web, job_id: uuid.UUID) -> None:  # type: ignore[no-untyped-def]
    """Run a queued job as a worker would (no GPU): claim, PNGs in storage, complete."""
    now = datetime.now(UTC)
    async with sessions() as session, session.begin():
        claim = await db_jobs.claim(session, job_id, "test-worker", now)
        job = await db_jobs.get(session, job_id)
    assert claim is not None and job is not None
    gen = job.request["generation"]
    size = (gen["width"], gen["height"])
    keys = []
    for i in range(gen["batch"]):
        buffer = io.BytesIO()
        Image.new("RGB", size, (40 * i, 120, 200)).save(buffer, "PNG")
        key = f"{job_id}/{i + 1}.png"
        (web.data_dir / "images" / key).parent.mkdir(parents=True, exist_ok=True)
        (web.data_dir / "images" / key).write_bytes(buffer.getvalue())
        keys.append(key)
    grid = None
    if len(keys) == 4:
        grid = keys[0]  # any PNG will do for the message
    result = JobResult(
        job_id=job_id,
        image_keys=tuple(keys),
        grid_key=grid,
        seeds=tuple(range(len(keys))),
        width=size[0],
        height=size[1],
        infotext="test",
    )
    async with sessions() as session, session.begin():
        done = await db_jobs.complete(
            session, job_id, claim.attempt, now, result=result.model_dump(mode="json")
        )
    assert done
    event = JobEvent(job_id=job_id, kind=JobEventKind.SUCCEEDED, result=result)
    await scene.bot.delivery.handle(event)
    await scene.env.settle()


def _components(message) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    return {
        (c.get("label") or c.get("placeholder") or ""): c
        for row in message.components
        for c in row["components"]
    }


async def _upscaled(scene, sessions, web: Web):  # type: ignore[no-untyped-def]
    grid = await scene.alice.slash(scene.channel, "imagine", prompt="a red fox")
    await _finish(scene, sessions, web, scene.world.enqueuer.sent[-1])
    pressed = await scene.alice.click(grid.response, label="U3")
    upscale_id = scene.world.enqueuer.sent[-1]
    await _finish(scene, sessions, web, upscale_id)
    return pressed.response, upscale_id


async def _link(scene, message, member=None) -> str:  # type: ignore[no-untyped-def]
    clicked = await (member or scene.alice).click(message, label="Draw the region…")
    assert clicked.ephemeral, "the link is private to the member who pressed"
    return str(_components(clicked.response)["Open the region editor"]["url"])


async def _lasso(page, box) -> None:  # type: ignore[no-untyped-def]
    """A freehand loop in the top band of the image."""
    path = [(0.1, 0.1), (0.3, 0.08), (0.5, 0.1), (0.45, 0.3), (0.2, 0.3), (0.1, 0.2)]
    x0, y0 = path[0]
    await page.mouse.move(box["x"] + box["width"] * x0, box["y"] + box["height"] * y0)
    await page.mouse.down()
    for x, y in path[1:]:
        await page.mouse.move(box["x"] + box["width"] * x, box["y"] + box["height"] * y, steps=3)
    await page.mouse.up()


async def test_draw_a_rectangle_submit_and_the_edit_is_posted_in_discord(
    scene, pg_sessions, web: Web
) -> None:
    message, upscale_id = await _upscaled(scene, pg_sessions, web)
    url = await _link(scene, message)
    assert url.startswith(f"{web.url}/edit/")
    before = await scene.world.store.account(scene.alice.id)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = await browser.new_page(viewport={"width": 900, "height": 900})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        await page.goto(url)
        assert await page.input_value("#prompt") == "a red fox"  # Remix: prefilled
        await page.wait_for_function("document.getElementById('source').naturalWidth > 0")
        box = await page.locator("#mask").bounding_box()
        assert box is not None
        await page.mouse.move(box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.25)
        await page.mouse.down()
        await page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
        await page.mouse.move(box["x"] + box["width"] * 0.75, box["y"] + box["height"] * 0.75)
        await page.mouse.up()
        await page.click("#tool-lasso")
        for attempt in range(2):  # a lasso, undone, then drawn again
            await _lasso(page, box)
            if attempt == 0:
                await page.click("#undo")
        await page.fill("#prompt", "a red fox wearing a hat")
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "region-editor.png"), full_page=True)
        await page.click("#submit")
        await expect(page.locator("#status")).to_contain_text("checking")

        admitted = await admit_submitted(scene.bot)  # the bot's once-a-second pass, by hand
        await scene.env.settle()
        assert len(admitted) == 1 and admitted[0].queued is not None
        await expect(page.locator("#status")).to_contain_text("Queued", timeout=10_000)
        assert errors == []

        await page.goto(url)  # usable once
        await expect(page.locator("p.error")).to_contain_text("used already")
        await browser.close()

    edit = await scene.world.store.job(scene.world.enqueuer.sent[-1])
    assert edit is not None and edit.kind is JobKind.VARY_REGION
    assert edit.user_id == scene.alice.id and edit.spec.source.job_id == upscale_id
    assert edit.spec.params.prompt == "a red fox wearing a hat"
    shape, lasso = edit.spec.edit.shapes  # the undone lasso is not among them
    xs = [x for x, _ in shape.points]
    assert min(xs) == pytest.approx(0.25, abs=0.02) and max(xs) == pytest.approx(0.75, abs=0.02)
    assert len(lasso.points) >= 5 and all(0.05 <= y <= 0.35 for _, y in lasso.points)
    after = await scene.world.store.account(scene.alice.id)
    assert after.credits_left_milli < before.credits_left_milli, "charged like a button"
    waiting = scene.channel.history()[-1]
    assert "a red fox wearing a hat" in waiting.content and not waiting.attachments

    # The bot stopped between admitting and settling: admitting again finds the same job.
    async with pg_sessions() as session, session.begin():
        await session.execute(update(RegionLink).values(state="admitting"))
    assert await scene.bot.editor.resume() == 1
    (replay,) = await admit_submitted(scene.bot)
    assert replay.queued is not None and replay.queued.job.id == edit.id
    assert (await scene.world.store.account(scene.alice.id)) == after, "charged once"
    assert scene.channel.history()[-1].id == waiting.id

    await _finish(scene, pg_sessions, web, edit.id)
    posted = scene.channel.history()[-1]
    assert posted.attachments and "a red fox wearing a hat" in posted.content
    labels = [c.label for row in posted.components for c in row.children]
    assert labels[:4] == ["U1", "U2", "U3", "U4"], "the result comes with its buttons"


async def _post(web: Web, url: str, shapes: list, prompt: str = "a red fox"):  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient() as client:
        return await client.post(url, json={"prompt": prompt, "shapes": shapes})


RECT = [{"points": [[0.1, 0.1], [0.4, 0.1], [0.4, 0.4], [0.1, 0.4]]}]


async def test_refusals_charge_nothing(scene, pg_sessions, web: Web) -> None:
    message, upscale_id = await _upscaled(scene, pg_sessions, web)
    url = await _link(scene, message)
    credits = (await scene.world.store.account(scene.alice.id)).credits_left_milli
    sent = len(scene.world.enqueuer.sent)
    async with httpx.AsyncClient() as client:
        token = url.rsplit("/", 1)[1]
        forged = await client.get(url.replace(token, token[:-3] + "AAA"))
        assert forged.status_code == 403 and "not valid" in forged.text

        # Regions the engine would refuse: said on the page, the link still usable.
        empty = await _post(web, url, [])
        assert empty.status_code == 400 and "selects nothing" in empty.json()["error"]
        full = [{"points": [[0, 0], [1, 0], [1, 1], [0, 1]]}]
        assert "whole image" in (await _post(web, url, full)).json()["error"]
        outside = [{"points": [[0.5, 0.5], [1.5, 0.5], [0.5, 1.2]]}]
        out = await _post(web, url, outside)
        assert out.status_code == 400 and "outside the image" in out.json()["error"]
        assert (await client.get(url)).status_code == 200

        # Banned between the link and the submission: the bot's intake refuses it.
        await scene.world.store.set_banned(scene.guild.id, scene.alice.id, True)
        accepted = await _post(web, url, RECT)
        assert accepted.status_code == 202
        assert (await _post(web, url, RECT)).status_code == 410, "reused"
        (refused,) = await admit_submitted(scene.bot)
        assert refused.queued is None and "banned" in (refused.refusal or "")
        status = (await client.get(f"{url}/status")).json()
        assert status["state"] == "refused" and "banned" in status["message"]
        await scene.world.store.set_banned(scene.guild.id, scene.alice.id, False)

        # Another member's link: bob may not press alice's button; a link made out to alice
        # and changed to bob is forged.
        other = await scene.bob.click(message, label="Draw the region…")
        assert other.ephemeral and "Only the member who made this image" in other.response.content

        # Stale (expired) and a deleted job's link.
        for job_id, expires in ((upscale_id, 1), (uuid.uuid4(), int(time.time()) + 900)):
            link = EditorLink(uuid.uuid4(), scene.alice.id, job_id, 1, expires)
            async with pg_sessions() as session, session.begin():
                await region_links.issue(
                    session,
                    link.link_id,
                    user_id=link.user_id,
                    job_id=job_id,
                    index=1,
                    guild_id=scene.guild.id,
                    channel_id=scene.channel.id,
                    now=datetime.now(UTC),
                    expires_at=datetime.fromtimestamp(max(expires, 2), UTC),
                )
            page = await client.get(f"{web.url}/edit/{sign(link, SECRET.encode())}")
            expected = (403, "expired") if expires == 1 else (410, "deleted")
            assert (page.status_code, expected[1] in page.text) == (expected[0], True)
    assert (await scene.world.store.account(scene.alice.id)).credits_left_milli == credits
    assert len(scene.world.enqueuer.sent) == sent, "nothing admitted"
