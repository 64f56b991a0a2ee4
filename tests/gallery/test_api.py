"""The JSON API against the seeded Postgres: orderings, search, keyset pages, members, privacy."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gallery.app import create_app
from gallery.sql_reader import reader_factory
from tests.gallery.conftest import GalleryDB, MemoryStore
from tests.gallery.seed import (
    ALICE,
    BANNED,
    BOB,
    EMPTY,
    NOW,
    PRIVATE,
    PUBLIC,
    PUBLIC_ENTRIES,
    T0,
)

CASTLE = ("castle on a hill", ALICE, 0.5, 0)  # the shared upscale, oldest entry
ALL = [*PUBLIC_ENTRIES, CASTLE]


async def _walk(
    client: httpx.AsyncClient, url: str, limit: int, **query: str
) -> list[dict[str, Any]]:
    """Every item of a listing, following next_cursor page by page."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(50):
        params: dict[str, Any] = {**query, "limit": limit, **({"cursor": cursor} if cursor else {})}
        r = await client.get(url, params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["items"]) <= limit
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("pagination did not end")


def _prompts(items: list[dict[str, Any]]) -> list[str]:
    return [i["prompt"] for i in items]


def _trending(entry: tuple[str, int, float, int]) -> tuple[float, float]:
    """likes / (age in hours + 2)², then newest first: the Discord listing's definition."""
    _, _, hours, likes = entry
    age = (NOW - (T0 + timedelta(hours=hours))).total_seconds() / 3600
    return (likes / (age + 2) ** 2, hours)


EXPECTED = {
    "new": [e[0] for e in sorted(ALL, key=lambda e: -e[2])],
    "top": [e[0] for e in sorted(ALL, key=lambda e: (-e[3], -e[2]))],
    "trending": [e[0] for e in sorted(ALL, key=_trending, reverse=True)],
}


async def test_guild_list_shows_only_public_galleries_with_entries(
    client: httpx.AsyncClient,
) -> None:
    body = (await client.get("/api/guilds")).json()
    assert body["items"] == [
        {"id": str(PUBLIC), "name": body["items"][0]["name"], "entries": 8, "url": f"/g/{PUBLIC}"}
    ]


@pytest.mark.parametrize("sort", ["new", "top", "trending"])
async def test_sorting(client: httpx.AsyncClient, sort: str) -> None:
    r = await client.get(f"/api/g/{PUBLIC}", params={"sort": sort})
    assert _prompts(r.json()["items"]) == EXPECTED[sort]
    assert r.json()["next_cursor"] is None


def test_trending_differs_from_new_and_top() -> None:
    # Otherwise the trending test above could pass with either of the other orderings.
    assert EXPECTED["trending"] not in (EXPECTED["new"], EXPECTED["top"])


@pytest.mark.parametrize("sort", ["new", "top", "trending"])
@pytest.mark.parametrize("limit", [1, 3])
async def test_keyset_pages_cover_the_listing_once(
    client: httpx.AsyncClient, sort: str, limit: int
) -> None:
    items = await _walk(client, f"/api/g/{PUBLIC}", limit, sort=sort)
    assert _prompts(items) == EXPECTED[sort]


async def test_full_text_search_stems_and_supports_web_syntax(client: httpx.AsyncClient) -> None:
    async def search(q: str) -> list[str]:
        r = await client.get(f"/api/g/{PUBLIC}", params={"q": q, "sort": "new"})
        assert r.status_code == 200
        return _prompts(r.json()["items"])

    # "lighthouses" matches "lighthouse" through the English stemmer, newest first.
    assert await search("lighthouse") == [
        "old lighthouses of brittany",
        "lighthouse in a storm, dramatic waves",
        "a lighthouse at dusk, oil painting",
    ]
    assert await search("lighthouse -storm") == [
        "old lighthouses of brittany",
        "a lighthouse at dusk, oil painting",
    ]
    assert await search("fox") == ["watercolor fox cub", "red fox sleeping in snow"]
    assert await search("secret") == []  # only private guilds have those
    assert await search("zeppelin") == []


async def test_search_pages_with_top_sort(client: httpx.AsyncClient) -> None:
    items = await _walk(client, f"/api/g/{PUBLIC}", 1, sort="top", q="lighthouse")
    assert _prompts(items) == [
        "a lighthouse at dusk, oil painting",  # 5 likes
        "old lighthouses of brittany",  # 2
        "lighthouse in a storm, dramatic waves",  # 0
    ]


async def test_member_listing(client: httpx.AsyncClient) -> None:
    items = await _walk(client, f"/api/g/{PUBLIC}/u/{ALICE}", 2, sort="new")
    assert _prompts(items) == [e[0] for e in sorted(ALL, key=lambda e: -e[2]) if e[1] == ALICE]
    assert {i["author"]["id"] for i in items} == {str(ALICE)}
    bob = (await client.get(f"/api/g/{PUBLIC}/u/{BOB}")).json()["items"]
    assert len(bob) == 2  # his private-guild entries are not here


async def test_image_detail_has_the_recipe_and_command(
    client: httpx.AsyncClient, gallery_db: GalleryDB
) -> None:
    image_id = gallery_db.seeded.by_prompt["a lighthouse at dusk, oil painting"]
    body = (await client.get(f"/api/i/{image_id}")).json()
    assert body["likes"] == 5
    assert body["author"]["id"] == str(ALICE)
    assert body["recipe"]["negative_prompt"] == "blurry, text"
    assert body["recipe"]["sampler"] == "dpm++_2m_karras"
    assert body["command"] == (
        "/imagine a lighthouse at dusk, oil painting --no blurry, text --ar 2:3 --cfg 6.5"
        " --sampler dpm++_2m_karras --seed 1234 --steps 28 --model sd15"
    )


async def test_an_upscale_is_remade_from_the_tile_it_upscaled(
    client: httpx.AsyncClient, gallery_db: GalleryDB
) -> None:
    body = (await client.get(f"/api/i/{gallery_db.seeded.upscaled}")).json()
    assert body["recipe"]["seed"] == 5002  # the parent's tile 3, not the upscaler's seed 99
    assert body["recipe"]["loras"] == [{"name": "watercolor", "weight": 0.7}]
    assert "--lora watercolor:0.7 --seed 5002 " in body["command"]
    # The images its parent was made with, named by hash (as its PNG parameters) and weight.
    assert body["recipe"]["inputs"] == [
        "Image prompt 3f2a9c01b7de (0.5)",
        "ControlNet canny abababababab (0.8)",
    ]
    page = (await client.get(f"/i/{gallery_db.seeded.upscaled}")).text
    assert "Reference images" in page and "ControlNet canny abababababab (0.8)" in page


@pytest.mark.parametrize(
    "path",
    [
        f"/api/g/{PRIVATE}",
        f"/api/g/{BANNED}",
        f"/api/g/{PRIVATE}/u/{BOB}",
        "/api/g/123",
        "/api/g/not-a-number",
        "/api/g/99999999999999999999999",
        f"/api/g/{PUBLIC}/u/{PRIVATE}",  # nobody with public images
        "/api/i/not-a-uuid",
        "/api/i/00000000-0000-0000-0000-000000000000",
    ],
)
async def test_private_or_unknown_is_404(client: httpx.AsyncClient, path: str) -> None:
    r = await client.get(path)
    assert r.status_code == 404
    assert "not public" in r.json()["error"]


async def test_private_unshared_and_banned_images_are_404(
    client: httpx.AsyncClient, gallery_db: GalleryDB
) -> None:
    seeded = gallery_db.seeded
    hidden = [
        seeded.by_prompt[f"secret art of {PRIVATE}"],
        seeded.by_prompt[f"secret art of {BANNED}"],
        seeded.unshared,
    ]
    for image_id in hidden:
        for path in (
            f"/api/i/{image_id}",
            f"/i/{image_id}",
            f"/media/{image_id}/thumb.webp",
            f"/media/{image_id}/full.png",
        ):
            assert (await client.get(path)).status_code == 404, path


async def test_public_gallery_without_entries_is_empty_not_missing(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get(f"/api/g/{EMPTY}")
    assert r.status_code == 200
    assert r.json()["items"] == []


@pytest.mark.parametrize(
    "params",
    [{"cursor": "garbage!"}, {"cursor": "WyJ0b3AiLDVd"}, {"sort": "oldest"}, {"limit": 0}],
)
async def test_bad_parameters_are_400_with_a_message(
    client: httpx.AsyncClient, params: dict[str, Any]
) -> None:
    r = await client.get(f"/api/g/{PUBLIC}", params=params)
    assert r.status_code == 400
    assert r.json()["error"]


async def test_a_cursor_from_another_sort_is_refused(client: httpx.AsyncClient) -> None:
    cursor = (await client.get(f"/api/g/{PUBLIC}?sort=top&limit=1")).json()["next_cursor"]
    r = await client.get(f"/api/g/{PUBLIC}", params={"sort": "new", "cursor": cursor})
    assert r.status_code == 400
    assert "another listing" in r.json()["error"]


async def test_trending_pages_keep_the_time_of_the_first_page(
    sessions: async_sessionmaker[AsyncSession], store: MemoryStore
) -> None:
    # A clock that jumps a day per request: without the first page's time in the cursor,
    # scores would shift between pages and entries would repeat or go missing.
    ticks = iter(NOW + timedelta(days=n) for n in range(100))
    app = create_app(reader_factory(sessions, clock=lambda: next(ticks)), store)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://g.test") as client:
        items = await _walk(client, f"/api/g/{PUBLIC}", 2, sort="trending")
    assert _prompts(items) == EXPECTED["trending"]
