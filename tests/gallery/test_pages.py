"""The server-rendered pages: what a visitor without JavaScript sees, escaping, removal."""

from __future__ import annotations

import re
from html import unescape

import httpx
import pytest
from fastapi import FastAPI
from markupsafe import escape
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db import gallery
from gallery.app import create_app
from gallery.sql_reader import reader_factory
from tests.gallery.conftest import GalleryDB, MemoryStore
from tests.gallery.seed import (
    ALICE,
    ALICE_NAME,
    ALICE_OLD,
    BOB,
    BOB_NAME,
    CAROL,
    GUILD_NAME,
    NOW,
    OLD_GUILD_NAME,
    PRIVATE,
    PRIVATE_NAME,
    PUBLIC,
    XSS,
    World,
)

TILE_PROMPT = re.compile(r'<p class="prompt">(.*?)</p>', re.S)
NEXT = re.compile(r'<a rel="next" href="([^"]+)"')


def tiles(html: str) -> list[str]:
    return [unescape(p) for p in TILE_PROMPT.findall(html)]


async def test_index_links_public_galleries_only(client: httpx.AsyncClient) -> None:
    r = await client.get("/")
    assert r.status_code == 200
    assert f'href="/g/{PUBLIC}"' in r.text
    assert str(PRIVATE) not in r.text


async def test_grid_page_sorts_and_searches_with_plain_links_and_forms(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get(f"/g/{PUBLIC}")
    assert page.status_code == 200
    assert tiles(page.text)[0] == "old lighthouses of brittany"  # newest first by default
    # Sort tabs and the search form are plain links / a GET form: no script needed.
    assert f'href="/g/{PUBLIC}?sort=top"' in page.text
    assert re.search(rf'<form class="search" method="get" action="/g/{PUBLIC}"', page.text)
    top = await client.get(f"/g/{PUBLIC}", params={"sort": "top", "q": "fox"})
    assert tiles(top.text) == ["red fox sleeping in snow", "watercolor fox cub"]
    assert 'value="fox"' in top.text  # the search box keeps the query
    none = await client.get(f"/g/{PUBLIC}", params={"q": "zeppelin"})
    assert tiles(none.text) == []
    assert "No shared image matches" in none.text


async def test_next_page_links_walk_the_whole_gallery(
    sessions: async_sessionmaker[AsyncSession], store: MemoryStore
) -> None:
    app = create_app(reader_factory(sessions), store, page_size=3)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://g.test") as client:
        url: str | None = f"/g/{PUBLIC}?sort=trending"
        seen: list[str] = []
        while url:
            r = await client.get(unescape(url))
            assert r.status_code == 200
            assert len(tiles(r.text)) <= 3
            seen += tiles(r.text)
            match = NEXT.search(r.text)
            url = match.group(1) if match else None
        api = (await client.get(f"/api/g/{PUBLIC}?sort=trending")).json()
        assert seen == [i["prompt"] for i in api["items"]]
        assert len(seen) == 8


async def test_member_page(client: httpx.AsyncClient) -> None:
    r = await client.get(f"/g/{PUBLIC}/u/{BOB}")
    assert r.status_code == 200
    assert sorted(tiles(r.text)) == sorted([XSS, "red fox sleeping in snow"])
    assert (await client.get(f"/g/{PRIVATE}/u/{BOB}")).status_code == 404


async def test_names_are_the_ones_discord_showed_at_the_latest_share(
    client: httpx.AsyncClient, gallery_db: GalleryDB
) -> None:
    index = (await client.get("/")).text
    assert escape(GUILD_NAME) in index and "<b>&</b>" not in index
    assert OLD_GUILD_NAME not in index and PRIVATE_NAME not in index  # private: never shown
    grid = (await client.get(f"/g/{PUBLIC}")).text
    assert f'<h1><a href="/g/{PUBLIC}">{escape(GUILD_NAME)}</a></h1>' in grid
    assert escape(ALICE_NAME) in grid and ALICE_OLD not in grid
    assert escape(BOB_NAME) in grid and "<script>alert(" not in grid
    assert f">Member {str(CAROL)[-6:]}</a>" in grid  # no name recorded: a short label
    assert str(PUBLIC) not in re.sub(r'="[^"]*"', "", grid)  # ids only in links, never shown
    bob = (await client.get(f"/g/{PUBLIC}/u/{BOB}")).text
    assert f"<title>{escape(BOB_NAME)} · {escape(GUILD_NAME)}" in bob
    image = (await client.get(f"/i/{gallery_db.seeded.by_prompt['watercolor fox cub']}")).text
    assert escape(GUILD_NAME) in image and escape(ALICE_NAME) in image
    api = (await client.get(f"/api/g/{PUBLIC}/u/{BOB}")).json()
    assert {item["author"]["name"] for item in api["items"]} == {BOB_NAME}


async def test_html_in_a_prompt_is_shown_as_text(
    client: httpx.AsyncClient, gallery_db: GalleryDB
) -> None:
    image_id = gallery_db.seeded.by_prompt[XSS]
    pages = [
        await client.get(f"/g/{PUBLIC}"),
        await client.get(f"/g/{PUBLIC}/u/{BOB}"),
        await client.get(f"/i/{image_id}"),
        await client.get(f"/g/{PUBLIC}", params={"q": XSS}),  # echoed search text
    ]
    for page in pages:
        assert page.status_code == 200
        assert "<script>alert" not in page.text
        assert "<img src=x" not in page.text
        assert "&lt;script&gt;alert(" in page.text
    detail = pages[2].text
    assert "<h1" in detail and unescape(detail).count(XSS) >= 2  # heading and command box
    # The command box holds the prompt as an attribute value, quotes escaped.
    assert 'value="/imagine &lt;script&gt;alert(&#34;pwn&#34;)' in detail


async def test_image_page_shows_everything_needed_to_remake_it(
    client: httpx.AsyncClient, gallery_db: GalleryDB
) -> None:
    image_id = gallery_db.seeded.by_prompt["a lighthouse at dusk, oil painting"]
    html = unescape((await client.get(f"/i/{image_id}")).text)
    for expected in [
        "a lighthouse at dusk, oil painting",
        'Negative prompt</dt><dd class="negative">blurry, text',
        "<dt>Model</dt><dd>sd15",
        "<dt>Sampler</dt><dd>dpm++_2m_karras",
        "<dt>Steps</dt><dd>28",
        "<dt>CFG</dt><dd>6.5",
        "<dt>Seed</dt><dd>1234",
        "<dt>Size</dt><dd>512×768",
        "❤ 5",
        "2026-11-01 13:00 UTC",
        f'src="/media/{image_id}/full.png"',
        f'href="/g/{PUBLIC}/u/{ALICE}"',
    ]:
        assert expected in html, expected
    command = re.search(r'<input id="command"[^>]*>', html)
    assert command is not None
    assert "readonly" in command.group(0)
    assert 'value="/imagine a lighthouse at dusk, oil painting --no blurry, text' in command.group(
        0
    )


@pytest.mark.parametrize(
    "path", [f"/g/{PRIVATE}", "/g/12", "/g/abc", "/i/nope", f"/g/{PUBLIC}/u/1"]
)
async def test_missing_pages_are_html_404s(client: httpx.AsyncClient, path: str) -> None:
    r = await client.get(path)
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert "not public" in r.text


async def test_pages_carry_a_short_shared_cache(client: httpx.AsyncClient) -> None:
    for path in ("/", f"/g/{PUBLIC}", f"/api/g/{PUBLIC}"):
        r = await client.get(path)
        assert r.headers["cache-control"] == "public, max-age=30", path


async def test_a_removed_entry_disappears_everywhere(
    app: FastAPI,
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    store: MemoryStore,
) -> None:
    async with sessions() as session, session.begin():
        world = World(session)
        _, image_id = await world.image("soon to be removed", ALICE, PUBLIC)
        entry_id = await world.share(image_id, "soon to be removed", ALICE, PUBLIC, NOW, likes=3)
    store.blobs.update(world.seeded.blobs)
    urls = [
        f"/i/{image_id}",
        f"/api/i/{image_id}",
        f"/media/{image_id}/thumb.webp",
        f"/media/{image_id}/full.png",
    ]
    try:
        for url in urls:
            assert (await client.get(url)).status_code == 200, url
        assert "soon to be removed" in tiles((await client.get(f"/g/{PUBLIC}")).text)
    finally:
        async with sessions() as session, session.begin():
            assert await gallery.remove(session, entry_id)  # what an admin's removal does
    for url in urls:
        assert (await client.get(url)).status_code == 404, url
    assert "soon to be removed" not in tiles((await client.get(f"/g/{PUBLIC}")).text)
    assert "soon to be removed" not in (await client.get(f"/api/g/{PUBLIC}/u/{ALICE}")).text
    assert (await client.get("/api/guilds")).json()["items"][0]["entries"] == 8


async def test_links_keep_the_reverse_proxy_prefix(app: FastAPI) -> None:
    # Served under /gallery (uvicorn --root-path /gallery, the proxy keeping the prefix).
    transport = httpx.ASGITransport(app=app, root_path="/gallery")
    async with httpx.AsyncClient(transport=transport, base_url="http://g.test") as client:
        page = await client.get(f"/gallery/g/{PUBLIC}")
        assert page.status_code == 200
        assert 'href="/gallery/static/gallery.css"' in page.text
        assert re.search(r'href="/gallery/i/[0-9a-f-]{36}"', page.text)
        assert f'action="/gallery/g/{PUBLIC}"' in page.text
        assert (await client.get("/gallery/static/gallery.css")).status_code == 200
        api = (await client.get(f"/gallery/api/g/{PUBLIC}")).json()
        assert api["items"][0]["thumbnail_url"].startswith("/gallery/media/")


async def test_security_headers_allow_only_our_own_scripts(client: httpx.AsyncClient) -> None:
    for path in ("/", f"/g/{PUBLIC}", "/i/nope", f"/api/g/{PUBLIC}"):
        r = await client.get(path)
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp
        assert re.search(r"script-src 'sha256-[A-Za-z0-9+/=]+';", csp), csp
        assert "unsafe-inline" not in csp
        assert r.headers["x-content-type-options"] == "nosniff"


async def test_discord_job_links_lead_to_the_image_page(
    client: httpx.AsyncClient, gallery_db: GalleryDB
) -> None:
    seeded = gallery_db.seeded
    image_id = seeded.by_prompt["red fox sleeping in snow"]
    job_id = seeded.jobs[image_id]
    for form in (str(job_id), job_id.hex):  # the bot's 🔗 Web uses the hex form
        r = await client.get(f"/j/{form}")
        assert r.status_code == 302
        assert r.headers["location"] == f"/i/{image_id}"
    private = seeded.by_prompt[f"secret art of {PRIVATE}"]
    assert seeded.unshared is not None
    for hidden in (seeded.jobs[private], seeded.jobs[seeded.unshared]):
        assert (await client.get(f"/j/{hidden.hex}")).status_code == 404


async def test_head_requests_are_answered(client: httpx.AsyncClient, gallery_db: GalleryDB) -> None:
    image_id = gallery_db.seeded.by_prompt["watercolor fox cub"]
    for path in (
        "/",
        f"/g/{PUBLIC}",
        f"/i/{image_id}",
        f"/api/g/{PUBLIC}",
        f"/media/{image_id}/full.png",
    ):
        assert (await client.head(path)).status_code == 200, path
    assert (await client.head(f"/g/{PRIVATE}")).status_code == 404
